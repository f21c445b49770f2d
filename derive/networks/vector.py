"""Nielsen's BP1–BP4 in matrix form, each evaluated with numpy and compared with the per-unit results.

Every element is compared in float64 first; where float64 cannot resolve an element (a tanh unit
at |z| = 12.5 leaves 1 − tanh² with 6 correct digits), the rule is evaluated again on the exact
values (50-digit mpmath in numpy object arrays) before anything is called a mismatch.
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..engine import numeric
from ..engine.check import relative_error
from ..engine.ops import ACTIVATIONS
from ..engine.steps import Derivation
from .built import Built
from .index import EXACT_AGREE, FLOAT_AGREE
from .resolver import Resolver
from .results import VectorRule

SIGMA_PRIME = sp.Function("sigma'")


class _Matrices(dict):
    """name -> numpy array (units × samples) of the forward values, δ's, weights and gradients,
    made when first read: floats, or with `exact` the 50-digit values in object arrays."""

    def __init__(self, built: Built, d: Derivation, exact: bool = False):
        super().__init__()
        nm, N = built.names, built.names.batch
        value = (lambda n: d.exact[n]) if exact else d.values.__getitem__
        grad = d.grads.__getitem__ if exact else d.gradient_value
        samples = range(1, N + 1)
        units = lambda m: range(1, nm.sizes[m] + 1)  # noqa: E731
        self.makers = {"y": lambda: [[value(nm.target(j, n)) for n in samples] for j in units(nm.D)]}
        for m in range(0, nm.D + 1):
            self.makers[f"a^{m + 1}"] = lambda m=m: [[value(nm.act(m, j, n)) for n in samples] for j in units(m)]
            if m == 0:
                continue
            W, B = built.param_nodes[f"W{m}"], built.param_nodes.get(f"b{m}")
            self.makers[f"z^{m + 1}"] = lambda m=m: [[value(nm.net(m, j, n)) for n in samples] for j in units(m)]
            self.makers[f"delta^{m + 1}"] = lambda m=m: [[built.delta_sign * grad(nm.net(m, j, n)) for n in samples]
                                                         for j in units(m)]
            self.makers[f"w^{m + 1}"] = lambda W=W: [[value(w) for w in row] for row in W]
            self.makers[f"∂{d.output}/∂w^{m + 1}"] = lambda W=W: [[grad(w) for w in row] for row in W]
            if B is not None:
                self.makers[f"∂{d.output}/∂b^{m + 1}"] = lambda B=B: [[grad(b)] for b in B]
        if not built.logits:
            self.makers["nabla_a C"] = lambda: [[grad(nm.act(nm.D, j, n)) for n in samples] for j in units(nm.D)]
        self.dtype = object if exact else float

    def __missing__(self, name):
        arr = self[name] = np.array(self.makers[name](), dtype=self.dtype)
        return arr


def mat_eval(e, env, funcs, lib=numeric.NP):
    """A SymPy matrix expression evaluated with numpy arrays for its MatrixSymbols (floats with
    `NP`, mpmath numbers in object arrays with `MP`)."""
    if isinstance(e, sp.MatrixSymbol):
        return env[e.name]
    if isinstance(e, sp.OneMatrix):
        return np.ones(e.shape, dtype=object if lib is numeric.MP else float)
    if isinstance(e, sp.Transpose):
        return mat_eval(e.arg, env, funcs, lib).T
    if isinstance(e, sp.MatMul):
        out = None
        for a in e.args:
            v = lib.const(a) if a.is_Number else mat_eval(a, env, funcs, lib)
            out = v if out is None else (out * v if np.ndim(v) == 0 or np.ndim(out) == 0 else out @ v)
        return out
    if isinstance(e, sp.HadamardProduct):
        out = mat_eval(e.args[0], env, funcs, lib)
        for a in e.args[1:]:
            out = out * mat_eval(a, env, funcs, lib)
        return out
    if isinstance(e, sp.MatAdd):
        return sum(mat_eval(a, env, funcs, lib) for a in e.args)
    if isinstance(e, ElementwiseApplyFunction):
        lam = funcs["sigma'"]  # the one elementwise function of the BP rules
        (x,) = lam.variables
        inner = mat_eval(e.expr, env, funcs, lib)
        if lib is numeric.MP:
            return np.frompyfunc(lambda v: numeric.evaluate(lam.expr, {x: v}, lib), 1, 1)(inner)
        return numeric.evaluate(lam.expr, {x: inner}, lib)
    raise TypeError(f"cannot evaluate {type(e).__name__}")


def _agree(got, want, exact_got, exact_want, d) -> bool:
    """Elementwise agreement: float64 first, then the exact values for what float64 cannot resolve."""
    if got.shape != want.shape:
        return False
    g, w = got.ravel(), want.ravel()
    bad = np.flatnonzero(np.abs(g - w) > FLOAT_AGREE * np.maximum(np.maximum(np.abs(g), np.abs(w)), 1e-12))
    if not len(bad):
        return True
    with mpmath.workdps(d.digits):
        g, w = exact_got().ravel(), exact_want().ravel()
        floor = mpmath.mpf(10) ** (-(3 * d.digits // 5)) * max(1, abs(d.exact[d.output]))
        return all(relative_error(g[i], w[i], floor) <= EXACT_AGREE for i in bad)


def vector_rules(built: Built, d: Derivation, rules_=()) -> tuple[VectorRule, ...]:
    """Nielsen's BP1–BP4 per layer, each evaluated and compared with the per-unit results."""
    nm = built.names
    D, N, C = nm.D, nm.batch, d.output
    env = _Matrices(built, d)
    exact = _Matrices(built, d, exact=True)
    M = lambda name, rows, cols=N: sp.MatrixSymbol(name, rows, cols)  # noqa: E731
    z = sp.Symbol("z", real=True)
    rules = []

    def add(name, lhs, rhs, description, lam=None):
        where = {"sigma'": lam} if lam is not None else {}
        got = mat_eval(rhs, env, where)
        ok = _agree(np.asarray(got, dtype=float), env[lhs.name],
                    lambda: np.asarray(mat_eval(rhs, exact, where, numeric.MP), dtype=object),
                    lambda: exact[lhs.name], d)
        rules.append(VectorRule(name, lhs, rhs, ok, description, where, display=displayed(built, d, lhs, rhs)))

    for m in range(D, 0, -1):
        L = m + 1
        n_m = nm.sizes[m]
        act = built.graph.node(nm.act(m, 1, 1)).op
        lam = None
        if act != "softmax":
            lam = sp.Lambda(z, sp.diff(ACTIVATIONS[act](z), z))
        if m == D:
            if act == "softmax" or built.logits:  # the loss reads the nets: δ^L is its own formula
                res = Resolver(built)
                f = rules_[0]  # the output layer's δ rule comes first
                rhs = _to_matrix(f.expr, res, n_m, N)
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L from the loss written in the output nets")
            else:
                rhs = _signed(built, sp.HadamardProduct(M("nabla_a C", n_m),
                                                        ElementwiseApplyFunction(SIGMA_PRIME, M(f"z^{L}", n_m))))
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L = ∇_a C ⊙ σ'(z^L)", lam)
        else:
            nxt = nm.sizes[m + 1]
            rhs = sp.HadamardProduct(sp.MatMul(sp.Transpose(M(f"w^{L + 1}", nxt, n_m)), M(f"delta^{L + 1}", nxt)),
                                     ElementwiseApplyFunction(SIGMA_PRIME, M(f"z^{L}", n_m)))
            add(f"BP2 (l = {L})", M(f"delta^{L}", n_m), rhs, "δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)", lam)
    for m in range(D, 0, -1):
        L = m + 1
        n_m, prev = nm.sizes[m], nm.sizes[m - 1]
        if nm.bias(m, 1) in built.graph:
            rhs = M(f"delta^{L}", n_m) if N == 1 else sp.MatMul(M(f"delta^{L}", n_m), sp.OneMatrix(N, 1))
            rhs = _signed(built, rhs)
            add(f"BP3 (l = {L})", M(f"∂{C}/∂b^{L}", n_m, 1), rhs, "∂C/∂b^l = δ^l (summed over the batch)")
        rhs = _signed(built, sp.MatMul(M(f"delta^{L}", n_m), sp.Transpose(M(f"a^{L - 1}", prev))))
        add(f"BP4 (l = {L})", M(f"∂{C}/∂w^{L}", n_m, prev), rhs, "∂C/∂w^l = δ^l (a^{l−1})ᵀ")
    return tuple(rules)


def _signed(built: Built, rhs):
    """−rhs under Mitchell's δ = −∂L/∂net (BP1, BP3 and BP4 change sign; BP2 does not)."""
    return rhs if built.delta_sign == 1 else sp.MatMul(-1, rhs)


def _to_matrix(expr, res: Resolver, rows: int, cols: int):
    """An elementwise generic formula (o_k − t_k) as a matrix expression (a^L − y)."""
    def conv(e):
        if isinstance(e, sp.Indexed):
            role, m = res.layer_of(str(e.base.label), [str(i) for i in e.indices], {})
            return sp.MatrixSymbol("y" if role == "target" else
                                   {"act": "a", "net": "z", "delta": "delta"}[role] + f"^{m + 1}", rows, cols)
        if e.is_Number:
            return sp.MatMul(e, sp.OneMatrix(rows, cols)) if e != 1 else sp.OneMatrix(rows, cols)
        if e.is_Add:
            return sp.MatAdd(*[conv(a) for a in e.args])
        if e.is_Mul:
            nums = [a for a in e.args if a.is_Number]
            mats = [conv(a) for a in e.args if not a.is_Number]
            body = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats)
            return sp.MatMul(*nums, body) if nums else body
        raise TypeError(f"not elementwise: {e}")
    return conv(expr)


# ---------------------------------------------------------------- the rules as a section prints them

def _section_name(nm, name: str, D: int, loss: str) -> str:
    """A Nielsen matrix name (a^3, z^2, delta^3, w^3, ∂C/∂b^2, nabla_a C) in the section's notation."""
    if nm.nielsen:
        return name
    if name.startswith("∂"):
        num, den = name[1:].split("/∂")
        return f"∂{num}/∂{_section_name(nm, den, D, loss)}"
    if name == "nabla_a C":
        return f"nabla_{nm.act(D, 1)[0]} {loss}"
    if name == "y":
        return "t"
    base, _, layer = name.partition("^")
    m = int(layer) - 1
    tag = "o" if m == D else "h"
    if base == "a":
        return nm.act(m, 1).split("_")[0]
    return {"z": f"net^{tag}", "delta": f"delta^{tag}", "w": f"W^{tag}", "b": f"b^{tag}"}[base]


def _derivative_display(lam, act_matrix, net_matrix):
    """σ'(z) as a section prints it: in the layer's own activations, elementwise (h ⊙ (1 − h) for a
    sigmoid, 1 − h ⊙ h for tanh, 1[net > 0] for relu), read off the derived Lambda."""
    (z,) = lam.variables
    a = sp.Symbol("a")
    expr = lam.expr
    for f in (ACTIVATIONS.get(k) for k in ("sigmoid", "tanh")):
        expr = expr.replace(f(z), a) if f is not None else expr
    ones = sp.OneMatrix(*act_matrix.shape)

    def conv(e):
        if e == a:
            return act_matrix
        if e.is_Number:
            return ones if e == 1 else sp.MatMul(e, ones)
        if e.is_Add:
            return sp.MatAdd(*[conv(t) for t in e.args])
        if e.is_Mul:
            nums = [t for t in e.args if t.is_Number]
            mats = [conv(t) for t in e.args if not t.is_Number]
            body = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats)
            return sp.MatMul(*nums, body) if nums else body
        if e.is_Pow and e.exp.is_Integer and e.exp > 1:
            return sp.HadamardProduct(*[conv(e.base)] * int(e.exp))
        if z in e.free_symbols:  # a function of the net input itself (relu's step)
            if net_matrix.shape == (1, 1):  # SymPy would apply step() to the 1×1 matrix itself and fail
                return sp.Basic.__new__(ElementwiseApplyFunction, sp.Lambda(z, e), net_matrix)
            return ElementwiseApplyFunction(sp.Lambda(z, e), net_matrix)
        raise TypeError(f"cannot display {e}")
    return conv(expr)


def displayed(built: Built, d: Derivation, lhs, rhs) -> tuple:
    """(lhs, rhs) in the section's notation, with the activation's own derivative."""
    nm = built.names
    rename = {}
    for m in rhs.atoms(sp.MatrixSymbol) | lhs.atoms(sp.MatrixSymbol) | {lhs}:
        if isinstance(m, sp.MatrixSymbol):
            rename[m] = sp.MatrixSymbol(_section_name(nm, m.name, nm.D, d.output), *m.shape)

    def shown(e):
        if isinstance(e, ElementwiseApplyFunction) and "sigma'" in str(e.function):
            layer = int(e.expr.name.split("^")[1]) - 1
            act = built.graph.node(nm.act(layer, 1, 1)).op
            z = sp.Symbol("z", real=True)
            lam = sp.Lambda(z, sp.diff(ACTIVATIONS[act](z), z))
            a_name = _section_name(nm, f"a^{layer + 1}", nm.D, d.output)
            return _derivative_display(lam, sp.MatrixSymbol(a_name, *e.expr.shape), rename[e.expr])
        if isinstance(e, sp.MatrixSymbol):
            return rename.get(e, e)
        if isinstance(e, sp.HadamardProduct):  # an identity layer's derivative 1 is no factor
            kept = []
            for x in (shown(a) for a in e.args):
                if not isinstance(x, sp.OneMatrix):
                    kept += list(x.args) if isinstance(x, sp.HadamardProduct) else [x]
            return kept[0] if len(kept) == 1 else sp.HadamardProduct(*kept)
        if not e.args:
            return e
        return e.func(*[shown(a) for a in e.args])
    return shown(lhs), shown(rhs)
