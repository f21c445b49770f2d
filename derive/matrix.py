"""Matrix layers over a batch: Affine Y = X·W + B and Softmax-with-Loss, derived per element.

Problem files (kind "layers"):

    title = "Affine layer Y = X·W + B"
    [layers]
    stack = ["affine"]             # ["affine"], ["softmax_with_loss"] or ["affine", "softmax_with_loss"]
    bias = true                    # optional; false drops B
    [values]
    X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]     # N × D: one sample per row
    W = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]   # D × M
    B = [0.1, -0.1]                            # M, added to every row
    dY = [[1.0, -2.0], [0.5, 0.25]]            # N × M: the upstream gradient ∂L/∂Y when the stack
                                               #   ends with affine (L = Σ dY ∘ Y, so ∂L/∂Y = dY)
    # T = [[0, 1], [1, 0]]         # N × M one-hot targets when the stack ends with softmax_with_loss
    # A = [[0.3, 2.9], [1.0, -1]]  # N × M scores when the stack is only softmax_with_loss

Node names follow the seeds: x_nd, w_dm, b_m, y_nm (affine alone); with Softmax-with-Loss the
scores are a_nm, the softmax outputs y_nm, the targets t_nm, and L = −Σ_n Σ_m t_nm log y_nm
(summed over the batch). The upstream values dY become leaves g_nm. Every element's gradient
comes from per-element reverse mode (SymPy local derivatives); the matrix forms ∂L/∂X = ∂L/∂Y·Wᵀ,
∂L/∂W = Xᵀ·∂L/∂Y, ∂L/∂B = column sums of ∂L/∂Y and ∂L/∂A = Y − T are then checked against those
elements, symbolically and numerically.
"""
from __future__ import annotations

import time

import numpy as np
import sympy as sp

from .errors import ProblemError
from .graph import Graph, Node
from .parse import symbol
from .problem import header
from .steps import Chain, Factor, partial

STACKS = (("affine",), ("softmax_with_loss",), ("affine", "softmax_with_loss"))


def load_layers(data: dict, source: str):
    from .networks import NetworkProblem, _array, _shape
    title, description = header(data, source, "layers")
    spec = data["layers"]
    if not isinstance(spec, dict):
        raise ProblemError(source, "[layers]", 'expected a table with stack = ["affine", ...]')
    for key in spec:
        if key not in ("stack", "bias"):
            raise ProblemError(source, f"[layers] {key}", "unknown key; expected stack or bias")
    stack = spec.get("stack")
    if not isinstance(stack, list) or tuple(stack) not in STACKS:
        raise ProblemError(source, "[layers] stack", "expected one of "
                           + ", ".join(str(list(s)) for s in STACKS) + f"; got {stack!r}")
    stack = tuple(stack)
    bias = spec.get("bias", True)
    if not isinstance(bias, bool):
        raise ProblemError(source, "[layers] bias", f"expected true or false, got {bias!r}")
    affine = stack[0] == "affine"
    swl = stack[-1] == "softmax_with_loss"
    names = (["X", "W"] + (["B"] if bias else []) if affine else ["A"]) + (["T"] if swl else ["dY"])
    raw = data.get("values")
    if not isinstance(raw, dict):
        raise ProblemError(source, "[values]", f"expected a table with the arrays {', '.join(names)}")
    for key in raw:
        if key not in names:
            raise ProblemError(source, f"[values] {key}", f"unknown array; expected {', '.join(names)}")
    arrays = {}
    for key in names:
        if key not in raw:
            raise ProblemError(source, f"[values] {key}", "missing")
        arrays[key] = _array(raw[key], source, f"[values] {key}")

    def need(key, shape, what):
        got = _shape(arrays[key])
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            raise ProblemError(source, f"[values] {key}", f"expected {what}; got shape {got}")
        return got

    if affine:
        n, d = need("X", (None, None), "an N × D list of rows (one sample per row)")
        _, m = need("W", (d, None), f"a {d} × M list of rows (W has one row per column of X)")
        if bias:
            need("B", (m,), f"a list of {m} biases (one per column of W)")
    else:
        n, m = need("A", (None, None), "an N × M list of score rows")
    last = "T" if swl else "dY"
    need(last, (n, m), f"an {n} × {m} list of rows (the shape of the layer's output)")
    if swl:
        for row in arrays["T"]:
            if sum(row) != 1 or any(v < 0 for v in row):
                raise ProblemError(source, "[values] T", "expected each row to be a probability "
                                   "distribution summing to 1 (one-hot labels)")
    return NetworkProblem(title, source, "layers", "matrix", (), (), "softmax_with_loss" if swl else "upstream",
                          bias, stack, arrays, n, description)


def _join(*idx, wide=False):
    return ("," if wide else "").join(str(i) for i in idx)


def build_layers(p):
    from .networks import Built, _indexed
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
                terms, parents = [], []
                for d in range(1, D + 1):
                    x, w = f"x_{j(n, d)}", f"w_{j(d, m)}"
                    terms.append(sp.Mul(symbol(x), symbol(w)))
                    parents += [x, w]
                if p.bias:
                    terms.append(symbol(f"b_{m}"))
                    parents.append(f"b_{m}")
                name = f"{out_base}_{j(n, m)}"
                steps.append(Node(name, sp.Add(*terms), tuple(parents), "affine"))
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
            for m, z in enumerate(outs[n - 1], 1):
                loss_terms.append(symbol(targets[n - 1][m - 1]) * sp.log(exps[m - 1] / total))
        parents = tuple(z for row in outs for z in row) + tuple(t for row in targets for t in row)
        steps.append(Node("L", -sp.Add(*loss_terms), parents, "softmax_with_loss"))
    else:
        g = leaf_matrix("dY", "g", N, M, a["dY"])
        expr = sp.Add(*[symbol(g[n][m]) * symbol(outs[n][m]) for n in range(N) for m in range(M)])
        parents = tuple(x for n in range(N) for m in range(M) for x in (g[n][m], outs[n][m]))
        steps.append(Node("L", expr, parents, "upstream"))
    graph = Graph(tuple(leaves) + tuple(steps), "L")
    wanted = tuple(x for k in params for _, x in _indexed(param_nodes[k]))
    b = Built(graph, inputs, tuple(params), param_nodes, wanted, None, meta, softmax, True)
    return b


def local_derivative(b, node, parent: str):
    """∂node/∂parent by SymPy; Softmax-with-Loss rewritten in the outputs' names and Σ_k t_k = 1."""
    from .networks import _linear_derivative, _softmax_names, _terms_with
    p = symbol(parent)
    if node.op in ("affine", "upstream"):
        return sp.Add(*[_linear_derivative(a, p) for a in _terms_with(node, p)])
    d = sp.diff(node.expr, p)
    if node.op in ("softmax", "softmax_with_loss"):
        key = b.meta[parent][1] if node.op == "softmax_with_loss" else b.meta[node.name][1]
        total, outs, targets = b.softmax[key]
        d = _softmax_names(d, total, outs)
        if node.op == "softmax_with_loss":
            ys = sorted({symbol(o) for o in outs.values()} & d.free_symbols, key=str)
            d = sp.collect(sp.expand(d), ys).xreplace({sp.Add(*targets): sp.Integer(1)})
    return d


def _chain(d, leaf: str) -> Chain:
    g = d.gradient(leaf)
    if len(g.contributions) == 1:
        c = g.contributions[0]
        factors = [Factor(c.via, leaf, c.local.expr, c.local.value)]
        if c.via != d.output:
            up = d.gradient(c.via)
            factors.insert(0, Factor(d.output, c.via, up.expr, up.value))
    else:
        factors = [Factor(d.output, leaf, g.expr, g.value)]
    expr = factors[0].expr if len(factors) == 1 else sp.Mul(*(f.expr for f in factors), evaluate=False)
    return Chain(d.output, leaf, tuple(factors), expr, g.value)


def _matrix_rules(b, d) -> tuple:
    """The matrix forms, each checked element by element against the per-unit records."""
    from .networks import VectorRule, _close
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
            _close(float(x), float(y)) for x, y in zip(numeric_rhs.ravel(), vals.ravel()))
        rules.append(VectorRule(name, lhs, rhs, symbolic and numeric_ok, description))

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
        numeric_ok = all(_close(float(x), float(y)) for x, y in zip(num.ravel(), grad_val.ravel()))
        rules.append(VectorRule("Softmax-with-Loss", sp.MatrixSymbol("∂L/∂A", N, M), rhs,
                                symbolic and numeric_ok, "∂L/∂A = Y − T (per row, targets summing to 1)"))
    return tuple(rules)


def solve_layers(problem):
    from .networks import NetworkResult, _nested, derive_and_prove
    from .pipeline import Solution
    b, d, chains, report, timings = derive_and_prove(
        problem, local_derivative, lambda b, d, leaf: _chain(d, leaf))
    t0 = time.perf_counter()
    vrules = _matrix_rules(b, d)
    timings["rules"] = time.perf_counter() - t0
    result = NetworkResult(
        "matrix", d.values["L"], {k: _nested(v, str) for k, v in b.param_nodes.items()},
        {k: _nested(v, lambda leaf: d.gradient(leaf).value) for k, v in b.param_nodes.items()},
        chains, (), vrules, {}, "L", {}, timings, None)
    return Solution(problem, d, report, result)
