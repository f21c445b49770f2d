"""Nielsen's BP1–BP4 in matrix form, each evaluated with numpy and compared with the per-unit results.

What is printed is what is checked: σ′(z^l) is written from the activation record's derivative in
the layer's own terms (a ⊙ (1 − a), 1 − a ⊙ a, 1[z > 0], σ(z) for softplus), the rule is renamed
into the section's notation, and that displayed right-hand side is the expression evaluated.
Every element is compared in float64 first; where float64 cannot resolve an element (a tanh unit
at |z| = 12.5 leaves 1 − tanh² with 6 correct digits), the rule is evaluated again on the exact
values (50-digit mpmath in numpy object arrays) before anything is called a mismatch.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..engine import numeric
from ..engine.check import relative_error
from ..engine.ops import FUNCTION_TABLE
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..engine.steps import Derivation
from .built import Built
from .index import EXACT_AGREE, FLOAT_AGREE
from .resolver import Resolver
from .results import VectorRule


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


def mat_eval(e, env, lib=numeric.NP):
    """A SymPy matrix expression evaluated with numpy arrays for its MatrixSymbols (floats with
    `NP`, mpmath numbers in object arrays with `MP`); an elementwise function is its Lambda."""
    if isinstance(e, sp.MatrixSymbol):
        return env[e.name]
    if isinstance(e, sp.OneMatrix):
        return np.ones(e.shape, dtype=object if lib is numeric.MP else float)
    if isinstance(e, sp.Transpose):
        return mat_eval(e.arg, env, lib).T
    if isinstance(e, sp.MatMul):
        out = None
        for a in e.args:
            v = lib.const(a) if a.is_Number else mat_eval(a, env, lib)
            out = v if out is None else (out * v if np.ndim(v) == 0 or np.ndim(out) == 0 else out @ v)
        return out
    if isinstance(e, sp.HadamardProduct):
        out = mat_eval(e.args[0], env, lib)
        for a in e.args[1:]:
            out = out * mat_eval(a, env, lib)
        return out
    if isinstance(e, sp.HadamardPower) and e.exp.is_Integer and e.exp > 0:
        base = mat_eval(e.base, env, lib)
        out = base
        for _ in range(int(e.exp) - 1):
            out = out * base
        return out
    if isinstance(e, sp.MatAdd):
        return sum(mat_eval(a, env, lib) for a in e.args)
    if isinstance(e, ElementwiseApplyFunction):
        lam = e.function
        (x,) = lam.variables
        inner = mat_eval(e.expr, env, lib)
        if lib is numeric.MP:
            return np.frompyfunc(lambda v: numeric.evaluate(lam.expr, {x: v}, lib), 1, 1)(inner)
        return np.broadcast_to(numeric.evaluate(lam.expr, {x: inner}, lib), inner.shape)
    raise TypeError(f"cannot evaluate {type(e).__name__}")


class _Shown(dict):
    """The matrices by their names in the section's notation (h, net^h, W^o), read from `env`."""

    def __init__(self, env, names: dict):
        super().__init__()
        self.env, self.names = env, names

    def __missing__(self, name):
        return self.env[self.names.get(name, name)]


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
    """Nielsen's BP1–BP4 per layer, each printed as evaluated and compared with the per-unit results."""
    nm = built.names
    D, N, C = nm.D, nm.batch, d.output
    env = _Matrices(built, d)
    exact = _Matrices(built, d, exact=True)
    M = lambda name, rows, cols=N: sp.MatrixSymbol(name, rows, cols)  # noqa: E731
    rules = []

    def add(name, lhs, rhs, description, layer):
        shown_lhs, shown_rhs, names = displayed(built, d, lhs, rhs)
        got = mat_eval(shown_rhs, _Shown(env, names))  # the displayed right-hand side, evaluated
        ok = _agree(np.asarray(got, dtype=float), env[lhs.name],
                    lambda: np.asarray(mat_eval(shown_rhs, _Shown(exact, names), numeric.MP), dtype=object),
                    lambda: exact[lhs.name], d)
        rules.append(VectorRule(name, lhs, rhs, ok, description, display=(shown_lhs, shown_rhs), layer=layer))

    def times_derivative(m, upstream):
        """upstream ⊙ σ′(z^l) of layer m, σ′ in the layer's own terms (no factor where σ′ = 1)."""
        L = m + 1
        prime = derivative_matrix(built, m, M(f"a^{L}", nm.sizes[m]), M(f"z^{L}", nm.sizes[m]))
        return upstream if prime is None else sp.HadamardProduct(upstream, prime)

    for m in range(D, 0, -1):
        L = m + 1
        n_m = nm.sizes[m]
        act = built.graph.node(nm.act(m, 1, 1)).op
        if m == D:
            if FUNCTION_TABLE.get(act) is None or built.logits:  # the loss reads the nets: δ^L is its own formula
                res = Resolver(built)
                f = rules_[0]  # the output layer's δ rule comes first
                rhs = _to_matrix(f.expr, res, n_m, N)
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L from the loss written in the output nets", L)
            else:
                rhs = _signed(built, times_derivative(m, M("nabla_a C", n_m)))
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L = ∇_a C ⊙ σ'(z^L)", L)
        else:
            nxt = nm.sizes[m + 1]
            rhs = times_derivative(m, sp.MatMul(sp.Transpose(M(f"w^{L + 1}", nxt, n_m)), M(f"delta^{L + 1}", nxt)))
            add(f"BP2 (l = {L})", M(f"delta^{L}", n_m), rhs, "δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)", L)
    for m in range(D, 0, -1):
        L = m + 1
        n_m, prev = nm.sizes[m], nm.sizes[m - 1]
        if nm.bias(m, 1) in built.graph:
            rhs = M(f"delta^{L}", n_m) if N == 1 else sp.MatMul(M(f"delta^{L}", n_m), sp.OneMatrix(N, 1))
            rhs = _signed(built, rhs)
            add(f"BP3 (l = {L})", M(f"∂{C}/∂b^{L}", n_m, 1), rhs, "∂C/∂b^l = δ^l (summed over the batch)", L)
        rhs = _signed(built, sp.MatMul(M(f"delta^{L}", n_m), sp.Transpose(M(f"a^{L - 1}", prev))))
        add(f"BP4 (l = {L})", M(f"∂{C}/∂w^{L}", n_m, prev), rhs, "∂C/∂w^l = δ^l (a^{l−1})ᵀ", L)
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


def derivative_matrix(built: Built, m: int, act_matrix, net_matrix):
    """σ′(z) of layer m's activation elementwise, in the layer's own terms: the record's
    `own_derivative` at the layer's outputs and nets (h ⊙ (1 − h) for a sigmoid, 1 − h ⊙ h for tanh,
    1[net > 0] for relu, σ(net) for softplus); None where it is 1 (an identity layer)."""
    node = built.graph.node(built.names.act(m, 1, 1))
    record = FUNCTION_TABLE[node.op]
    params = node.expr.args[1:] if node.expr.func is record.sympy else ()  # leaky_relu's α
    a, z = sp.Dummy("a", real=True), sp.Symbol("z", real=True)
    prime = record.own_derivative(a, z, *params)
    if prime == 1:
        return None
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
            # the textbook's order: the activation before what is made of it, h ⊙ (1 − h)
            mats = sorted((conv(t) for t in e.args if not t.is_Number),
                          key=lambda m: not isinstance(m, sp.MatrixSymbol))
            body = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats)
            return sp.MatMul(*nums, body) if nums else body
        if e.is_Pow and e.exp.is_Integer and e.exp > 1:
            return sp.HadamardProduct(*[conv(e.base)] * int(e.exp))
        if a not in e.free_symbols:  # a function of the net input (relu's step, softplus' σ)
            return _apply(sp.Lambda(z, e), net_matrix)
        if z not in e.free_symbols:  # a function of the activation (softsign's (1 − |a|)²)
            return _apply(sp.Lambda(a, e), act_matrix)
        raise TypeError(f"cannot write {e} elementwise")
    return conv(prime)


def _apply(lam, matrix):
    """f applied elementwise to a matrix symbol."""
    if matrix.shape == (1, 1):  # SymPy would apply f to the 1×1 matrix itself and fail
        return sp.Basic.__new__(ElementwiseApplyFunction, lam, matrix)
    return ElementwiseApplyFunction(lam, matrix)


def displayed(built: Built, d: Derivation, lhs, rhs) -> tuple:
    """(lhs, rhs, names): the rule in the section's notation (its matrices renamed, nothing else
    changed) and each printed matrix name -> its Nielsen name."""
    nm = built.names
    rename = {}
    for m in rhs.atoms(sp.MatrixSymbol) | lhs.atoms(sp.MatrixSymbol) | {lhs}:
        if isinstance(m, sp.MatrixSymbol):
            rename[m] = sp.MatrixSymbol(_section_name(nm, m.name, nm.D, d.output), *m.shape)

    def shown(e):
        if isinstance(e, sp.MatrixSymbol):
            return rename.get(e, e)
        if isinstance(e, ElementwiseApplyFunction):
            return _apply(e.function, shown(e.expr))
        if not e.args:
            return e
        return e.func(*[shown(a) for a in e.args])
    return shown(lhs), shown(rhs), {new.name: old.name for old, new in rename.items()}
