"""Matrix layers over a batch (Affine Y = X·W + B, Softmax-with-Loss), derived per element.

Node names follow the seeds: x_nd, w_dm, b_m, y_nm (affine alone); with Softmax-with-Loss the
scores are a_nm, the softmax outputs y_nm, the targets t_nm, and L = −Σ_n Σ_m t_nm log y_nm
(summed over the batch). The upstream values dY become leaves g_nm. Every element's gradient
comes from the one reverse mode (SymPy local derivatives); the matrix forms ∂L/∂X = ∂L/∂Y·Wᵀ,
∂L/∂W = Xᵀ·∂L/∂Y, ∂L/∂B = column sums of ∂L/∂Y and ∂L/∂A = Y − T are then checked against those
elements, symbolically and numerically (`matrix_rules`).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.graph import Graph, Node
from ..engine.parse import symbol
from ..engine.reverse import linear_derivative
from ..engine.steps import partial
from .built import Built, indexed
from .index import close
from .local import _softmax_names
from .results import VectorRule


def _join(*idx, wide=False):
    return ("," if wide else "").join(str(i) for i in idx)


def build_layers(p):
    a = p.arrays
    affine = p.stack[0] == "affine"
    swl = p.stack[-1] == "softmax_with_loss"
    if affine:
        N, D = len(a["X"]), len(a["X"][0])
        M = len(a["W"][0])
    else:
        N, M = len(a["A"]), len(a["A"][0])
        D = 0
    wide = max(N, D, M) > 9
    j = lambda *i: _join(*i, wide=wide)  # noqa: E731
    leaves, inputs, param_nodes, steps, meta = [], {}, {}, [], {}

    def leaf_matrix(key, base, rows, cols, arr):
        names = tuple(tuple(f"{base}_{j(r, c)}" for c in range(1, cols + 1)) for r in range(1, rows + 1))
        for r, row in enumerate(names):
            for c, name in enumerate(row):
                leaves.append(Node(name))
                inputs[name] = arr[r][c]
                meta[name] = (key, r + 1, c + 1)
        return names

    out_base = "a" if swl else "y"
    params = []
    if affine:
        param_nodes["X"] = leaf_matrix("X", "x", N, D, a["X"])
        param_nodes["W"] = leaf_matrix("W", "w", D, M, a["W"])
        params += ["X", "W"]
        if p.bias:
            B = tuple(f"b_{m}" for m in range(1, M + 1))
            for m, name in enumerate(B):
                leaves.append(Node(name))
                inputs[name] = a["B"][m]
                meta[name] = ("B", 1, m + 1)
            param_nodes["B"] = B
            params.append("B")
        for n in range(1, N + 1):
            for m in range(1, M + 1):
                terms = tuple((f"x_{j(n, d)}", f"w_{j(d, m)}") for d in range(1, D + 1))
                if p.bias:
                    terms += ((f"b_{m}",),)
                name = f"{out_base}_{j(n, m)}"
                steps.append(Node(name, parents=tuple(f for t in terms for f in t), op="affine", terms=terms))
                meta[name] = ("Y" if not swl else "A", n, m)
    else:
        param_nodes["A"] = leaf_matrix("A", "a", N, M, a["A"])
        params.append("A")
    outs = [[f"{out_base}_{j(n, m)}" for m in range(1, M + 1)] for n in range(1, N + 1)]
    softmax = {}
    if swl:
        targets = leaf_matrix("T", "t", N, M, a["T"])
        loss_terms = []
        for n in range(1, N + 1):
            exps = [sp.exp(symbol(z)) for z in outs[n - 1]]
            total = sp.Add(*exps)
            ys = {z: f"y_{j(n, m)}" for m, z in enumerate(outs[n - 1], 1)}
            softmax[n] = (total, ys, [symbol(t) for t in targets[n - 1]])
            for m, z in enumerate(outs[n - 1], 1):
                steps.append(Node(ys[z], exps[m - 1] / total, tuple(outs[n - 1]), "softmax"))
                meta[ys[z]] = ("Y", n, m)
            for m in range(1, len(outs[n - 1]) + 1):
                loss_terms.append(symbol(targets[n - 1][m - 1]) * sp.log(exps[m - 1] / total))
        parents = tuple(z for row in outs for z in row) + tuple(t for row in targets for t in row)
        steps.append(Node("L", -sp.Add(*loss_terms), parents, "softmax_with_loss"))
    else:
        g = leaf_matrix("dY", "g", N, M, a["dY"])
        terms = tuple((g[n][m], outs[n][m]) for n in range(N) for m in range(M))
        steps.append(Node("L", parents=tuple(f for t in terms for f in t), op="upstream", terms=terms))
    graph = Graph(tuple(leaves) + tuple(steps), "L")
    wanted = tuple(x for k in params for _, x in indexed(param_nodes[k]))
    b = Built(graph, inputs, tuple(params), param_nodes, wanted, None, meta, softmax, True)
    return b


def local_derivative(b: Built, node, parent: str):
    """∂node/∂parent by SymPy; Softmax-with-Loss rewritten in the outputs' names and Σ_k t_k = 1."""
    if node.terms is not None:
        return linear_derivative(node, parent)
    d = sp.diff(node.expr, symbol(parent))
    if node.op in ("softmax", "softmax_with_loss"):
        key = b.meta[parent][1] if node.op == "softmax_with_loss" else b.meta[node.name][1]
        total, outs, targets = b.softmax[key]
        d = _softmax_names(d, total, outs)
        if node.op == "softmax_with_loss":
            ys = sorted({symbol(o) for o in outs.values()} & d.free_symbols, key=str)
            d = sp.collect(sp.expand(d), ys).xreplace({sp.Add(*targets): sp.Integer(1)})
    return d


def matrix_rules(b: Built, d) -> tuple:
    """The matrix forms, each checked element by element against the per-unit records."""
    rules = []
    pn = b.param_nodes
    affine = "W" in pn
    swl = d.graph.node("L").op == "softmax_with_loss"
    out_key = "A" if swl else "Y"
    outs_by = {(n, m): name for name, (key, n, m) in b.meta.items() if key == out_key}
    N = max(n for n, _ in outs_by)
    M = max(m for _, m in outs_by)
    grad_sym = sp.Matrix(N, M, lambda r, c: partial("L", outs_by[(r + 1, c + 1)]))
    grad_val = np.array([[d.gradient(outs_by[(r, c)]).value for c in range(1, M + 1)] for r in range(1, N + 1)])

    def record_matrix(key):
        names = pn[key] if isinstance(pn[key][0], tuple) else (pn[key],)
        exprs = sp.Matrix([[d.gradient(x).expr for x in row] for row in names])
        vals = np.array([[d.gradient(x).value for x in row] for row in names])
        return exprs, vals

    def value_matrix(key):
        names = pn[key] if isinstance(pn[key][0], tuple) else (pn[key],)
        return sp.Matrix([[symbol(x) for x in row] for row in names]), \
            np.array([[d.values[x] for x in row] for row in names])

    def add(name, lhs, rhs, explicit, numeric_rhs, key, description):
        exprs, vals = record_matrix(key)
        symbolic = all(sp.expand(a - e) == 0 for a, e in zip(exprs, explicit))
        numeric_ok = numeric_rhs.shape == vals.shape and all(
            close(float(x), float(y)) for x, y in zip(numeric_rhs.ravel(), vals.ravel()))
        rules.append(VectorRule(name, lhs, rhs, symbolic and numeric_ok, description,
                                element=element_form(lhs, rhs)))

    G = sp.MatrixSymbol(f"∂L/∂{out_key}", N, M)
    if affine:
        Wsym, Wval = value_matrix("W")
        Xsym, Xval = value_matrix("X")
        D = Wsym.shape[0]
        W, X = sp.MatrixSymbol("W", D, M), sp.MatrixSymbol("X", N, D)
        add("Affine ∂L/∂X", sp.MatrixSymbol("∂L/∂X", N, D), sp.MatMul(G, sp.Transpose(W)),
            grad_sym * Wsym.T, grad_val @ Wval.T, "X", "∂L/∂X = ∂L/∂Y · Wᵀ")
        add("Affine ∂L/∂W", sp.MatrixSymbol("∂L/∂W", D, M), sp.MatMul(sp.Transpose(X), G),
            Xsym.T * grad_sym, Xval.T @ grad_val, "W", "∂L/∂W = Xᵀ · ∂L/∂Y")
        if "B" in pn:
            ones = sp.OneMatrix(1, N)
            add("Affine ∂L/∂B", sp.MatrixSymbol("∂L/∂B", 1, M), sp.MatMul(ones, G),
                sp.ones(1, N) * grad_sym, np.ones((1, N)) @ grad_val, "B", "∂L/∂B = column sums of ∂L/∂Y")
    if swl:
        # the per-element local derivative of the loss, read as a matrix formula by its names
        first = outs_by[(1, 1)]
        local = d.gradient(first).contributions[0].local.expr
        Ysym = sp.Matrix(N, M, lambda r, c: symbol(b.softmax[r + 1][1][outs_by[(r + 1, c + 1)]]))
        Tsym = sp.Matrix(N, M, lambda r, c: b.softmax[r + 1][2][c])
        y11, t11 = Ysym[0, 0], Tsym[0, 0]
        coeffs = sp.Poly(local, y11, t11)
        cy, ct = coeffs.coeff_monomial(y11), coeffs.coeff_monomial(t11)
        Y, T = sp.MatrixSymbol("Y", N, M), sp.MatrixSymbol("T", N, M)
        rhs = sp.MatAdd(sp.MatMul(cy, Y) if cy != 1 else Y, sp.MatMul(ct, T) if ct != 1 else T)
        explicit = sp.Matrix(N, M, lambda r, c: cy * Ysym[r, c] + ct * Tsym[r, c])
        env = {s: d.values[s.name] for s in list(Ysym) + list(Tsym)}
        num = np.array([[float(explicit[r, c].xreplace(env)) for c in range(M)] for r in range(N)])
        exprs = sp.Matrix(N, M, lambda r, c: d.gradient(outs_by[(r + 1, c + 1)]).contributions[0].local.expr)
        symbolic = all(sp.expand(a - e) == 0 for a, e in zip(exprs, explicit))
        numeric_ok = all(close(float(x), float(y)) for x, y in zip(num.ravel(), grad_val.ravel()))
        lhs = sp.MatrixSymbol("∂L/∂A", N, M)
        rules.append(VectorRule("Softmax-with-Loss", lhs, rhs, symbolic and numeric_ok,
                                "∂L/∂A = Y − T (per row, targets summing to 1)", element=element_form(lhs, rhs)))
    return tuple(rules)


# ---------------------------------------------------------------- one element of a matrix rule

_LETTERS = {"X": ("i", "j"), "W": ("j", "k"), "B": ("", "k"), "A": ("i", "k"), "Y": ("i", "k"), "T": ("i", "k")}


def _element(e, r: str, c: str, free: set):
    """Element (r, c) of a matrix expression in element names (x_ij, ∂L/∂y_ik), sums written out
    as sympy.Sum over the letter the product contracts (the letter neither side keeps)."""
    if isinstance(e, sp.MatrixSymbol):
        base = e.name.rsplit("∂", 1)[-1] if e.name.startswith("∂") else e.name
        sub = f"{r}{c}" if e.shape[0] > 1 else c
        elem = f"{base.lower()}_{sub}"
        return partial("L", elem) if e.name.startswith("∂") else symbol(elem)
    if isinstance(e, sp.OneMatrix):
        return sp.Integer(1)
    if isinstance(e, sp.Transpose):
        return _element(e.arg, c, r, free)
    if isinstance(e, sp.MatAdd):
        return sp.Add(*[_element(a, r, c, free) for a in e.args], evaluate=False)
    if isinstance(e, sp.MatMul):
        coeff = sp.Mul(*[a for a in e.args if a.is_Number])
        mats = [a for a in e.args if not a.is_Number]
        if len(mats) == 1:
            inner = _element(mats[0], r, c, free)
            return inner if coeff == 1 else sp.Mul(coeff, inner, evaluate=False)
        left, right = mats
        k = next(x for x in "ijk" if x not in free)
        size = left.shape[1]
        parts = [x for x in (_element(left, r, k, free | {k}), _element(right, k, c, free | {k})) if x != 1]
        body = parts[0] if len(parts) == 1 else sp.Mul(*parts, evaluate=False)
        return sp.Sum(body, (symbol(k), 1, size))
    raise TypeError(f"no element form for {type(e).__name__}")


def element_form(lhs, rhs) -> tuple:
    """(∂L/∂x_ij, Σ_k ∂L/∂y_ik w_jk): one element of the matrix rule `lhs = rhs`, in index form."""
    key = lhs.name.rsplit("∂", 1)[-1]
    r, c = _LETTERS[key]
    left = _element(lhs, r, c, {r, c})
    return left, _element(rhs, r, c, {r, c} - {""})
