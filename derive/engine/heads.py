"""The SymPy heads and numeric forms of derive's own functions (σ, relu, softplus, leaky ReLU, ELU,
swish), read through their records in `ops`; `real_diff` differentiates |u| on the reals.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from .precision import mp

# ---------------------------------------------------------------- SymPy heads of derive's own functions


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


class leaky_relu(sp.Function):
    """leaky_relu(x, α) = x for x > 0, αx otherwise; leaky_relu' = step(x) + α step(−x) (a kink at 0)."""
    nargs = 2

    def fdiff(self, argindex=1):
        x, a = self.args
        if argindex != 1:  # ∂/∂α
            return x * sp.Heaviside(-x)
        return sp.Heaviside(x) + a * sp.Heaviside(-x)

    @classmethod
    def eval(cls, x, a):
        if x.is_Number and a.is_Number:
            return x if x > 0 else a * x

    def _eval_is_real(self):
        return self.args[0].is_real


class elu(sp.Function):
    """elu(x, α) = x for x > 0, α(e^x − 1) otherwise; elu' = step(x) + step(−x)(elu(x) + α)."""
    nargs = 2

    def fdiff(self, argindex=1):
        x, a = self.args
        if argindex != 1:
            return (1 - sp.Heaviside(x)) * (sp.exp(x) - 1)
        return sp.Heaviside(x) + sp.Heaviside(-x) * (elu(x, a) + a)

    @classmethod
    def eval(cls, x, a):
        if x.is_Number and a.is_Number:
            return x if x > 0 else a * (sp.exp(x) - 1)

    def _eval_is_real(self):
        return self.args[0].is_real


class swish(sp.Function):
    """swish(x) = x σ(x) (SiLU), with swish' = σ(x) + swish(x)(1 − σ(x))."""

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sigmoid(x) + swish(x) * (1 - sigmoid(x))

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Zero

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return x / (1 + sp.exp(-x))

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


# ---------------------------------------------------------------- numeric helpers (mpmath, numpy, complex step)


class OutOfDomain(ValueError):
    """Raised by a backend for an argument outside the function's domain (re-raised by numeric)."""


def _re(x):
    return np.real(x)


def _mp_log(x):
    if x <= 0:
        raise OutOfDomain(f"log of {mp.nstr(x, 6)} (log needs a positive argument)")
    return mp.log(x)


def _mp_sqrt(x):
    if x < 0:
        raise OutOfDomain(f"sqrt of {mp.nstr(x, 6)} (sqrt needs an argument ≥ 0)")
    return mp.sqrt(x)


def _mp_step(x):
    return mp.mpf(1) if x > 0 else (mp.mpf(0) if x < 0 else mp.mpf("0.5"))


def _mp_softplus(x):  # log(1 + e^x) without overflow or cancellation
    return x + mp.log1p(mp.exp(-x)) if x > 0 else mp.log1p(mp.exp(x))


def _mp_sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _cs_softplus(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(_re(x) > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))


def _cs_step(x):
    r = _re(x)
    return np.where(r > 0, 1.0, np.where(r < 0, 0.0, 0.5)) + 0j


def _reduce(pick):
    def f(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = pick(out, x)
        return out
    return f


def _cs_pick(greater: bool):
    def pick(out, x):
        return np.where((_re(x) > _re(out)) if greater else (_re(x) < _re(out)), x, out)
    return _reduce(pick)
