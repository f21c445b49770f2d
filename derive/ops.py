"""Activations and primitive functions as SymPy Functions, each with its derivative rule.

The rule tables here are the only place that knows which user function names exist and how
each one differentiates. Derivatives are written so that, after `diff`, the gate's own output
can be substituted back (σ(u)(1 − σ(u)) -> s(1 − s), 1 − tanh(u)² -> 1 − t², exp(u) -> e).
"""
from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):
    """σ(x) = 1 / (1 + e^(−x)), with σ' = σ(1 − σ)."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class relu(sp.Function):
    """relu(x) = max(0, x), with relu' = step(x) (the Heaviside step; a kink at 0)."""

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

    def _eval_is_real(self):
        return self.args[0].is_real


# name written by the user -> (SymPy constructor, number of arguments (None = 2 or more), op)
FUNCTIONS: dict[str, tuple] = {
    "exp": (sp.exp, 1, "exp"),
    "log": (sp.log, 1, "log"),
    "ln": (sp.log, 1, "log"),
    "sigmoid": (sigmoid, 1, "sigmoid"),
    "σ": (sigmoid, 1, "sigmoid"),
    "sigma": (sigmoid, 1, "sigmoid"),
    "tanh": (sp.tanh, 1, "tanh"),
    "relu": (relu, 1, "relu"),
    "abs": (sp.Abs, 1, "abs"),
    "max": (sp.Max, None, "max"),
}


def function_names() -> str:
    return ", ".join(sorted(k for k in FUNCTIONS if k.isascii()))
