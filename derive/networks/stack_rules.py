"""Each layer's backward rule derived from its per-element graph and shown equal to the rule the
stack applies.

For every layer of a stack (with its options, 2-D or 4-D as it sits there) a small generic instance
is built in SymPy: symbols for its input, its parameters and the upstream gradient G, the layer's
forward element by element (the same forward code, on SymPy expressions; the activation layers
through their `Function` records), and L = Σ G ⊙ Y (a loss layer: its loss). SymPy differentiates
L with respect to every element; the matrix rule (the layer's backward code) is evaluated on the
same generic values in 50-digit arithmetic, at two random points, and the two must agree on
every element. The record printed: the rule as the layer row writes it, whether it was shown
equal, and one worked element (the SymPy derivative of the first element).
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..engine.numeric import number_of
from ..engine.ops import LAYERS
from ..engine.precision import mp as mpmath
from .stackops import MP, SYM, kernel

DIGITS = 50
POINTS = 2


@dataclass(frozen=True)
class LayerRule:
    """One backward rule of one layer: d{array} = rhs, shown equal to the per-element derivatives.

    name: "Affine ∂L/∂W1"; lhs: "dW1"; rhs: the rule as the layer row writes it; checked: equal on
    every element of the generic instance at every point; element: (w_11, ∂L/∂w_11 in SymPy on the
    generic instance), None where that is too long to print; instance: the instance's shapes.
    """
    name: str
    lhs: str
    rhs: str
    checked: bool
    description: str = ""
    element: tuple | None = None
    instance: dict | None = None
    position: int = 0
    layer: str = ""


def _instance_shapes(name: str, options: dict, ndim: int, W=None) -> dict:
    """role -> shape of a small generic instance of layer `name`."""
    if name == "affine":
        return {"X": (2, 3), "W": (3, 2), "b": (2,)}
    if name == "batchnorm":
        return {"X": (3, 2), "gamma": (2,), "beta": (2,)} if ndim == 2 else \
            {"X": (2, 2, 1, 2), "gamma": (2,), "beta": (2,)}
    if name == "conv":
        kh, kw = (min(W.shape[2], 3), min(W.shape[3], 3)) if W is not None else (2, 2)
        s, pad = options["stride"], options["pad"]
        size = lambda k: next((o - 1) * s + k - 2 * pad for o in range(2, 9) if (o - 1) * s + k - 2 * pad >= 1)  # noqa: E731
        return {"X": (1, 1, size(kh), size(kw)), "W": (2, 1, kh, kw), "b": (2,)}
    if name in ("max_pool", "avg_pool"):  # two windows down, one across: overlapping when stride < size
        return {"X": (1, 1, options["stride"] + options["size"], options["size"])}
    if name == "dropout":
        return {"X": (2, 3), "mask": (2, 3)}
    return {"X": (2, 3)}  # activations and losses (their targets: T of the same shape)


def _symbols(role: str, shape) -> np.ndarray:
    base = role.lower() if role != "gamma" and role != "beta" else role
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sp.Symbol(f"{base}_{''.join(str(i + 1) for i in idx)}", real=True)
    return out


def _point(rng: random.Random, syms: dict, shapes: dict, name: str) -> dict:
    """Random exact values, all different and nonzero (no kink, no tie); a 0/1 mask; soft targets."""
    point = {}
    pool = rng.sample(range(1, 400), sum(a.size for a in syms.values()))
    for role, arr in syms.items():
        for idx in np.ndindex(arr.shape):
            v = sp.Rational(pool.pop() * rng.choice((-1, 1)), 97)
            if role == "mask":
                v = sp.Integer((sum(idx) + 1) % 2 if sum(idx) else 1)
            point[arr[idx]] = v
    if "T" in syms:
        t = syms["T"]
        for r in range(t.shape[0]):
            row = [sp.Rational(rng.randint(1, 9)) for _ in range(t.shape[1])]
            for c in range(t.shape[1]):
                point[t[r, c]] = row[c] / sum(row)
    return point


@functools.lru_cache(maxsize=64)
def derive_layer(name: str, options: tuple, ndim: int, mean: bool, wshape: tuple | None = None) -> tuple:
    """((role, checked, element), ...): layer `name`'s rule for each gradient, against SymPy."""
    opts = dict(options)
    W = np.empty(wshape) if wshape else None
    shapes = _instance_shapes(name, opts, ndim, W)
    rec = LAYERS[name]
    syms = {role: _symbols(role, s) for role, s in shapes.items()}
    params = {role: syms[role] for role, _ in rec.own}
    fwd, back = kernel(name)
    if rec.loss:
        syms["T"] = _symbols("t", shapes["X"])
        L, _ = fwd(syms["X"], syms["T"], opts, SYM, mean)
    else:
        y, _ = fwd(syms["X"], params, opts, SYM)
        syms["G"] = _symbols("g", y.shape)
        L = (syms["G"] * y).sum()
    roles = ["X"] + [role for role, _ in rec.own if role != "mask"]
    derivs = {role: np.frompyfunc(lambda s: sp.diff(L, s), 1, 1)(syms[role]) for role in roles}
    rng = random.Random(f"{name}{options}{ndim}")
    ok = {role: True for role in roles}
    with mpmath.workdps(DIGITS):
        for _ in range(POINTS):
            point = _point(rng, syms, shapes, name)
            exact = np.frompyfunc(lambda s, pt=point: mpmath.mpf(sp.N(pt[s], DIGITS)), 1, 1)
            mp = {role: exact(a).astype(object) for role, a in syms.items()}
            mparams = {role: mp[role] for role, _ in rec.own}
            if rec.loss:
                _, cache = fwd(mp["X"], mp["T"], opts, MP, mean)
                got = {"X": back(mp["T"], cache, opts, MP, mean)}
            else:
                _, cache = fwd(mp["X"], mparams, opts, MP)
                dx, local = back(mp["G"], cache, mparams, opts, MP)
                got = {"X": dx, **local}
            for role in roles:
                for idx in np.ndindex(shapes[role]):
                    want = number_of(derivs[role][idx].xreplace(point))  # (thread-safe, unlike sp.N)
                    have = got[role][idx]
                    if abs(want - have) > mpmath.mpf(10) ** (-DIGITS + 10) * max(1, abs(want)):
                        ok[role] = False
    first = tuple(0 for _ in range(len(shapes["X"])))
    shown = dict(derivs)
    if rec.loss:  # the loss layer's element in its outputs y and targets t, as the textbook writes it
        shown["X"] = _in_outputs(derivs["X"][first], syms["X"], syms["T"])
    else:
        shown = {role: derivs[role][first[:len(shapes[role])]] for role in roles}
    return tuple((role, ok[role], _worked(syms[role][first[:len(shapes[role])]], shown[role])) for role in roles)


def _in_outputs(expr, x: np.ndarray, t: np.ndarray):
    """A loss layer's derivative written in its softmax outputs y (e^{x_nk} = y_nk · Σ_m e^{x_nm}) and
    its targets, using that each row of y and of t sums to 1; unchanged when it holds no exp."""
    if not expr.has(sp.exp):
        return expr
    y = _symbols("y", x.shape)
    sums = [sp.Symbol(f"S_{n + 1}", positive=True) for n in range(x.shape[0])]
    out = expr.subs({sp.exp(x[idx]): y[idx] * sums[idx[0]] for idx in np.ndindex(*x.shape)})
    last = x.shape[1] - 1
    out = out.subs({a[n, last]: 1 - sum(a[n, :last]) for n in range(x.shape[0]) for a in (y, t)})
    out = sp.factor(sp.simplify(out))
    return out if not out.has(*sums) else expr


WORKED_OPS = 24  # a worked element longer than this (BatchNorm's ∂L/∂x in the raw inputs) is not printed


def _worked(symbol, expr) -> tuple | None:
    """(element, its derivative) for the report, in the shorter of its written and simplified
    forms; None when even that is too long to teach from."""
    ops = sp.count_ops(expr)
    short = sp.simplify(expr) if ops < 200 else expr
    best = short if sp.count_ops(short) < ops else expr
    return (symbol, best) if sp.count_ops(best) <= WORKED_OPS else None


def layer_rules(p, passes=()) -> tuple:
    """One LayerRule per gradient of every layer of stack `p` (and its loss layer)."""
    ndims = {ps.position: ps.x.ndim for ps in passes}
    rules = []
    mean = p.reduction == "mean"
    for layer in p.layers:
        rec = LAYERS[layer.name]
        wshape = tuple(p.arrays[layer.arrays["W"]].shape) if layer.name == "conv" else None
        derived = derive_layer(layer.name, tuple(sorted(layer.options.items())), ndims.get(layer.position, 2),
                               mean, wshape)
        text = dict(rec.backward)
        for role, checked, element in derived:
            target = p.input_name if role == "X" and layer.position == 1 else layer.arrays.get(role, "X")
            lhs = f"d{target}" if role != "X" else f"dX{layer.position}"
            rules.append(LayerRule(f"{rec.label} ∂L/∂{role}", lhs, text[role], checked, rec.forward, element,
                                   None, layer.position, layer.name))
    if p.loss in LAYERS:
        rec = LAYERS[p.loss]
        for role, checked, element in derive_layer(p.loss, (), 2, mean):
            rhs = dict(rec.backward)[role] + (" (÷ N)" if mean else "")
            rules.append(LayerRule(f"{rec.label} ∂L/∂X", "dScores", rhs, checked, rec.forward, element, None,
                                   len(p.layers) + 1, p.loss))
    return tuple(rules)
