"""The rule tables: user functions, network activations and losses, each with its derivative.

The only place that knows which function names exist and how each one differentiates. Derivatives
are written so that, after `diff`, the gate's own output can be substituted back
(σ(u)(1 − σ(u)) -> s(1 − s), 1 − tanh(u)² -> 1 − t², exp(u) -> e). A new activation or loss is
one row in ACTIVATIONS or LOSSES below.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


class softplus(sp.Function):
    """softplus(x) = log(1 + e^x), with softplus' = σ: −log σ(z) = softplus(−z) and
    −log(1 − σ(z)) = softplus(z), the stable forms of the cross-entropy losses (from the logit)."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class RealAbs(sp.Function):
    """|u| differentiated on the reals: d|u| = sign(u)·du (SymPy's Abs assumes complex u and
    leaks re, im, arg into the derivative of |x^x| or |log(x)·y|). Used only inside `diff`."""

    def fdiff(self, argindex=1):
        return sp.sign(self.args[0])


def real_diff(expr: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
    """∂expr/∂wrt with every quantity real: |u| differentiates to sign(u)·u′ (a kink at u = 0)."""
    if expr.has(sp.Abs):
        return sp.diff(expr.replace(sp.Abs, RealAbs), wrt).replace(RealAbs, sp.Abs)
    return sp.diff(expr, wrt)


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


# ---------------------------------------------------------------- network activations and losses

# name -> the unit's output as a function of its net input (None: softmax, built per layer as
# exp(z_j) / Σ_k exp(z_k); allowed on the output layer only)
ACTIVATIONS: dict[str, Callable | None] = {
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "identity": lambda z: z,
    "softmax": None,
}


@dataclass(frozen=True)
class Loss:
    """One sample's loss, from its targets `t`, outputs `o` and output nets `z` (symbol lists).

    expr: the textbook form in the outputs o; logits: the same loss written from the output nets
        z for the given output activation (`act`), the form derive computes, differentiates and
        proves when present (stable where the outputs saturate: log σ(z) = −softplus(−z); and
        softmax with cross-entropy differentiates to o − t, never through the softmax Jacobian).
    outputs: the output activations it accepts; unit_targets: targets must lie in [0, 1];
    half: the ½ of ½Σ(t − o)² (so a factor 2 in an answer is "a loss without ½").
    """
    expr: Callable[[list, list, list], sp.Expr]
    outputs: tuple[str, ...]
    unit_targets: bool = False
    half: bool = False
    logits: Callable[[list, list, str], sp.Expr] | None = None
    description: str = ""

    @property
    def from_logits(self) -> bool:
        return self.logits is not None


def _log_softmax_loss(t, z):
    """−Σ t_j log(e^(z_j) / Σ_k e^(z_k)): Softmax-with-Loss."""
    total = sp.Add(*[sp.exp(zk) for zk in z])
    return -sp.Add(*[ti * sp.log(sp.exp(zi) / total) for ti, zi in zip(t, z)])


def _cross_entropy_logits(t, z, act):
    if act == "softmax":
        return _log_softmax_loss(t, z)
    return sp.Add(*[ti * softplus(-zi) for ti, zi in zip(t, z)])  # −t log σ(z)


LOSSES: dict[str, Loss] = {
    "mse": Loss(lambda t, o, z: sp.Rational(1, 2) * sp.Add(*[(ti - oi) ** 2 for ti, oi in zip(t, o)]),
                ("sigmoid", "tanh", "relu", "identity"), half=True, description="½Σ(t − o)²"),
    "cross_entropy": Loss(lambda t, o, z: -sp.Add(*[ti * sp.log(oi) for ti, oi in zip(t, o)]),
                          ("softmax", "sigmoid"), unit_targets=True, logits=_cross_entropy_logits,
                          description="−Σ t log o"),
    "softmax_cross_entropy": Loss(
        lambda t, o, z: _log_softmax_loss(t, z), ("softmax",), unit_targets=True,
        logits=lambda t, z, act: _log_softmax_loss(t, z),
        description="Softmax-with-Loss, −Σ t log softmax(z)"),
    "binary_cross_entropy": Loss(
        lambda t, o, z: -sp.Add(*[ti * sp.log(oi) + (1 - ti) * sp.log(1 - oi) for ti, oi in zip(t, o)]),
        ("sigmoid",), unit_targets=True,
        logits=lambda t, z, act: sp.Add(*[ti * softplus(-zi) + (1 - ti) * softplus(zi) for ti, zi in zip(t, z)]),
        description="−Σ [t log o + (1 − t) log(1 − o)]"),
}
