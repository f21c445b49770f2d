"""Numbers from SymPy expressions without code generation.

`evaluate(expr, env, lib)` walks an expression with a backend: `MP` (mpmath, high precision,
for proofs) or `NP` (numpy, vectorised, so a batch of perturbed points runs in one pass).
`forward(graph, inputs, lib)` evaluates every node in topological order.
"""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from .ops import relu, sigmoid

PRECISION = 50  # decimal digits for proofs


class MP:
    """mpmath backend (scalars)."""

    @staticmethod
    def const(x):
        if isinstance(x, sp.Rational):
            return mpmath.mpf(x.p) / x.q
        return mpmath.mpf(str(x))

    exp = staticmethod(mpmath.exp)
    log = staticmethod(mpmath.log)
    tanh = staticmethod(mpmath.tanh)

    @staticmethod
    def sigmoid(x):
        return 1 / (1 + mpmath.exp(-x))

    @staticmethod
    def relu(x):
        return x if x > 0 else mpmath.mpf(0)

    @staticmethod
    def step(x):
        return mpmath.mpf(1) if x > 0 else (mpmath.mpf(0) if x < 0 else mpmath.mpf("0.5"))

    @staticmethod
    def sign(x):
        return mpmath.sign(x)

    abs = staticmethod(abs)

    @staticmethod
    def max(*xs):
        return max(xs)

    @staticmethod
    def min(*xs):
        return min(xs)

    @staticmethod
    def pow(b, e):
        return mpmath.power(b, e)


class NP:
    """numpy backend (float64 arrays)."""

    @staticmethod
    def const(x):
        return float(x)

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    tanh = staticmethod(np.tanh)

    @staticmethod
    def sigmoid(x):
        return 0.5 * (1 + np.tanh(0.5 * x))

    @staticmethod
    def relu(x):
        return np.maximum(x, 0.0)

    @staticmethod
    def step(x):
        return np.heaviside(x, 0.5)

    sign = staticmethod(np.sign)
    abs = staticmethod(np.abs)

    @staticmethod
    def max(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out

    @staticmethod
    def min(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.minimum(out, x)
        return out

    @staticmethod
    def pow(b, e):
        return np.power(b, e)


_UNARY = {
    sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sigmoid: "sigmoid", relu: "relu",
    sp.Abs: "abs", sp.Heaviside: "step", sp.sign: "sign",
}


def evaluate(expr: sp.Expr, env: dict, lib=MP):
    """The value of `expr` with symbols taken from `env` (Symbol -> number or array)."""
    cache: dict = {}

    def ev(e):
        if e in cache:
            return cache[e]
        if e.is_Symbol:
            try:
                v = env[e]
            except KeyError:
                raise KeyError(f"no value for {e}") from None
        elif e.is_Number:
            v = lib.const(e)
        elif e.is_Add:
            v = ev(e.args[0])
            for a in e.args[1:]:
                v = v + ev(a)
        elif e.is_Mul:
            v = ev(e.args[0])
            for a in e.args[1:]:
                v = v * ev(a)
        elif e.is_Pow:
            base, ex = e.args
            if ex.is_Integer:
                b = ev(base)
                n = int(ex)
                v = b**n if n >= 0 else 1 / (b ** (-n))
            else:
                v = lib.pow(ev(base), ev(ex))
        elif e.func in _UNARY:
            # Heaviside(x, H0) carries its value at 0 as a second argument; the backend owns it.
            v = getattr(lib, _UNARY[e.func])(ev(e.args[0]))
        elif e.func is sp.Max:
            v = lib.max(*(ev(a) for a in e.args))
        elif e.func is sp.Min:
            v = lib.min(*(ev(a) for a in e.args))
        elif e is sp.S.Pi or e is sp.E:
            v = lib.const(sp.N(e, PRECISION + 10))
        else:
            raise TypeError(f"cannot evaluate {e.func.__name__} in {expr}")
        cache[e] = v
        return v

    return ev(expr if isinstance(expr, sp.Basic) else sp.Float(expr))


def value_of(expr, env: dict, lib=NP):
    """`evaluate`, with the common cases (a bare symbol, a number) answered directly."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        return lib.const(expr)
    return evaluate(expr, env, lib)


def to_mp(value) -> mpmath.mpf:
    """An input value (int, float, Fraction, str) as an exact mpmath number."""
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(str(value))


def forward(graph, inputs: dict, lib=MP, overrides: dict | None = None) -> dict:
    """Values of every node: `inputs` by name; `overrides` pins nodes to given values."""
    overrides = overrides or {}
    values: dict[str, object] = {}
    env: dict = {}
    for node in graph.nodes:
        if node.name in overrides:
            v = overrides[node.name]
        elif node.is_input:
            v = inputs[node.name]
        else:
            v = evaluate(node.expr, env, lib)
        values[node.name] = v
        env[node.symbol] = v
    return values


def forward_values(graph, inputs: dict, small: int = 200) -> dict:
    """Node -> number: mpmath at the proof's precision for graphs up to `small` nodes (the
    values then carry that precision into reverse mode), numpy float64 for bigger ones."""
    if len(graph.nodes) <= small:
        with mpmath.workdps(PRECISION):
            return forward(graph, {k: to_mp(v) for k, v in inputs.items()})
    vals = forward(graph, {k: float(v) for k, v in inputs.items()}, NP)
    return {k: float(v) for k, v in vals.items()}
