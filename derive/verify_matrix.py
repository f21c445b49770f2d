"""Verify a matrix-form gradient of a [layers] problem (`X^T dY` for ∂L/∂W), and say what is wrong.

The answer is read by `latex_input.parse_matrix_answer` into a small matrix AST (never evaluated as
code) and computed with numpy at many random draws of the problem's matrices (X, W, B, dY or the
targets T, each of the problem's shape; T rows drawn as one-hot rows or distributions summing to 1).
The reference at each draw is the engine's own per-element gradient (the derivation's local
derivatives swept backward at those values, `verify.Engine`), laid out as the matrix. "Correct"
needs agreement at every draw.

Diagnosis: shape errors name both shapes; otherwise the answer is compared with the reference
transposed, negated, scaled (2, ½, 1/N), with the gradients of the other matrices, and with small
edits of the answer itself (one factor transposed or not, two factors swapped, one matrix in place
of another, a column sum added, changed or removed); an edit that makes the answer equal to the
reference at every draw names the mistake. Every wrong verdict has a counterexample: the drawn
matrices, the expected matrix and the answer's matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from .errors import ParseError
from .latex_input import parse_matrix_answer

DRAWS = 20
REL = 1e-9
MAX_NODES = 60  # a matrix answer longer than this is refused (the edit search grows with its size)
PAIR_NODES = 25  # two-edit diagnoses only for answers up to this size


class ShapeError(Exception):
    pass


@dataclass(frozen=True)
class Layout:
    """Which matrices the problem has, their graph nodes and shapes."""
    names: tuple  # names an answer may use
    grads: tuple  # matrices with a gradient (--wrt)
    nodes: dict  # key -> 2-D list of node names (B: one row)
    upstream: str  # "dY" (affine alone) or "dA" (with Softmax-with-Loss)
    inputs: tuple  # the drawn matrices shown in a counterexample
    batch: int


def layout(solution) -> Layout:
    from .networks import build
    p = solution.problem
    meta = build(p).meta
    cells: dict = {}
    for node, (key, r, c) in meta.items():
        cells.setdefault(key, {})[(r, c)] = node
    nodes = {}
    for key, cell in cells.items():
        rows, cols = max(r for r, _ in cell), max(c for _, c in cell)
        nodes[key] = [[cell[(r, c)] for c in range(1, cols + 1)] for r in range(1, rows + 1)]
    affine = p.stack[0] == "affine"
    swl = p.stack[-1] == "softmax_with_loss"
    grads = tuple(k for k in ("X", "W", "B") if k in nodes and affine) + (("A",) if swl else ())
    upstream = "dA" if swl else "dY"
    names = tuple(k for k in ("X", "W", "B", "A", "Y", "T") if k in nodes) + (upstream,)
    inputs = tuple(k for k in ("X", "W", "B", "A", "T", "dY") if k in p.arrays)
    return Layout(names, grads, nodes, upstream, inputs, p.batch)


def label(key: str) -> str:
    return f"∂L/∂{key}"


def shape_text(shape) -> str:
    return "a number" if shape == () else f"{shape[0]}×{shape[1]}"


# ---------------------------------------------------------------- printing the AST

_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "T": 4}


def show(ast, outer: int = 0) -> str:
    """Plain text: Xᵀ·dY, colsum(dY), Y − T."""
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        return ast[1]
    if kind == "ones":
        return "1ᵀ"
    if kind == "call":
        return f"{ast[1]}({show(ast[2])})"
    p = _PREC[kind]
    if kind == "T":
        inner = show(ast[1], 5)
        s = inner + "ᵀ"
    elif kind == "neg":
        s = "−" + show(ast[1], p)
    else:
        sym = {"add": " + ", "sub": " − ", "mul": "·", "div": "/"}[kind]
        s = show(ast[1], p) + sym + show(ast[2], p + (kind in ("sub", "div")))
    return f"({s})" if p < outer or (kind == "T" and outer > 4) else s


def tex(ast, outer: int = 0) -> str:
    """LaTeX of the AST; every piece is a fixed string or a name/number the parser accepted."""
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        n = ast[1]
        return rf"\frac{{\partial L}}{{\partial {n[1]}}}" if n.startswith("d") and len(n) == 2 else n
    if kind == "ones":
        return r"\mathbf{1}^{\top}"
    if kind == "call":
        return rf"\operatorname{{{ast[1]}}}\left({tex(ast[2])}\right)"
    p = _PREC[kind]
    if kind == "T":
        s = "{" + tex(ast[1], 5) + r"}^{\top}"
    elif kind == "neg":
        s = "-" + tex(ast[1], p)
    elif kind == "div":
        s = rf"\frac{{{tex(ast[1])}}}{{{tex(ast[2])}}}"
    else:
        sym = {"add": " + ", "sub": " - ", "mul": r" \, "}[kind]
        s = tex(ast[1], p) + sym + tex(ast[2], p + (kind == "sub"))
    return rf"\left({s}\right)" if p < outer else s


# ---------------------------------------------------------------- evaluating the AST

class _Ones:
    pass


ONES = _Ones()


def shape(v):
    return () if np.ndim(v) == 0 else v.shape


def evaluate(ast, env: dict):
    """The AST with numpy; raises ShapeError naming the operation and both shapes."""
    kind = ast[0]
    if kind == "num":
        return float(ast[1])
    if kind == "name":
        return env[ast[1]]
    if kind == "ones":
        return ONES
    a = evaluate(ast[1] if kind != "call" else ast[2], env)
    if a is ONES and kind != "mul":
        raise ShapeError("1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right")
    if kind == "T":
        return a if np.ndim(a) == 0 else a.T
    if kind == "neg":
        return -a
    if kind == "call":
        f = ast[1]
        if np.ndim(a) == 0:
            raise ShapeError(f"{f}({show(ast[2])}) needs a matrix, and {show(ast[2])} is a number")
        if f == "colsum":
            return a.sum(axis=0, keepdims=True)
        if f == "rowsum":
            return a.sum(axis=1, keepdims=True)
        if f == "sum":
            return float(a.sum())
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    b = evaluate(ast[2], env)
    sa, sb = shape(a), shape(b)
    what = f"{show(ast)} is not defined: "
    if kind in ("add", "sub"):
        if b is ONES:
            raise ShapeError("1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right")
        if sa != sb:
            word = "plus" if kind == "add" else "minus"
            raise ShapeError(what + f"{shape_text(sa)} {word} {shape_text(sb)}")
        return a + b if kind == "add" else a - b
    if kind == "div":
        if b is ONES or sb != ():
            raise ShapeError(what + "dividing by a matrix")
        if b == 0:
            raise ShapeError(what + "division by zero")
        return a / b
    # a product
    if b is ONES:
        raise ShapeError("1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right")
    if a is ONES:
        if sb == ():
            raise ShapeError("1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right")
        return b.sum(axis=0, keepdims=True)
    if sa == () or sb == ():
        return a * b
    if sa[1] != sb[0]:
        raise ShapeError(what + f"{show(ast[1])} is {shape_text(sa)} and {show(ast[2])} is "
                         f"{shape_text(sb)} (a {shape_text(sa)} times a {shape_text(sb)} matrix: the "
                         f"inner sizes {sa[1]} and {sb[0]} differ)")
    return a @ b


def same(a, b) -> bool:
    if a is None or b is None or a is ONES or shape(a) != shape(b):
        return False
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.max(np.abs(b), initial=0)), float(np.max(np.abs(a), initial=0)), 1e-12)
    return bool(np.all(np.abs(a - b) <= REL * scale))


def safe_eval(ast, env):
    try:
        return evaluate(ast, env)
    except (ShapeError, FloatingPointError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------- draws

class Draws:
    """The problem's own values, then random draws, each with every named matrix and every gradient."""

    def __init__(self, solution, lay: Layout, seed: int = 0, count: int = DRAWS):
        from .verify import Engine
        self.lay = lay
        self.engine = Engine(solution.derivation, solution.problem.inputs, seed,
                             draw=self.draw_for(solution, lay))
        self.envs, self.refs, self.points = [], [], []
        for i in range(count):
            s = self.engine.sample(i)
            if s is None:
                break
            self.envs.append(self.matrices(s))
            self.refs.append(self.gradients(s))
            self.points.append(s)

    @staticmethod
    def draw_for(solution, lay: Layout):
        """(rng, i) -> a random point of the leaves: near the problem's values on even draws, in
        [−3, 3] on odd ones; each row of T one-hot (odd) or a distribution summing to 1 (even)."""
        base = solution.problem.inputs
        t_nodes = {n for row in lay.nodes.get("T", []) for n in row}

        def draw(rng, i):
            point = {}
            for name, v in base.items():
                if name not in t_nodes:
                    r = rng.uniform(-3, 3) if i % 2 else float(v) + rng.uniform(-1, 1)
                    point[name] = Fraction(round(r, 3)).limit_denominator(1000)
            for row in lay.nodes.get("T", []):
                if i % 2:
                    hot = rng.randrange(len(row))
                    weights = [int(c == hot) for c in range(len(row))]
                else:
                    weights = [rng.randint(0, 4) for _ in row]
                    if sum(weights) == 0:
                        weights[rng.randrange(len(row))] = 1
                for name, w in zip(row, weights):
                    point[name] = Fraction(w, sum(weights))
            return point
        return draw

    def matrices(self, s) -> dict:
        nodes = self.lay.nodes
        env = {k: np.array([[float(s.values[n]) for n in row] for row in rows]) for k, rows in nodes.items()}
        if self.lay.upstream == "dA":
            env["dA"] = np.array([[float(s.grads[n]) for n in row] for row in nodes["A"]])
        return env

    def gradients(self, s) -> dict:
        return {k: np.array([[float(s.grads[n]) for n in row] for row in self.lay.nodes[k]])
                for k in self.lay.grads}


# ---------------------------------------------------------------- mistakes

def _paths(ast, path=()):
    """Every subtree with its path (a tuple of child positions)."""
    yield path, ast
    kind = ast[0]
    if kind in ("T", "neg"):
        yield from _paths(ast[1], path + (1,))
    elif kind == "call":
        yield from _paths(ast[2], path + (2,))
    elif kind in ("add", "sub", "mul", "div"):
        yield from _paths(ast[1], path + (1,))
        yield from _paths(ast[2], path + (2,))


def _put(ast, path, new):
    if not path:
        return new
    i = path[0]
    return ast[:i] + (_put(ast[i], path[1:], new),) + ast[i + 1:]


def _edits(ast, names):
    """(description, edited AST) for small edits of the student's answer."""
    for path, node in _paths(ast):
        kind = node[0]
        parent = _at(ast, path[:-1]) if path else None
        if kind == "name":
            if not (parent and parent[0] == "T"):
                yield f"{node[1]} needs a transpose: {node[1]}ᵀ", _put(ast, path, ("T", node))
            for other in names:
                if other != node[1]:
                    yield f"the wrong matrix: {node[1]} where {other} belongs", _put(ast, path, ("name", other))
            for other in names:
                if other != node[1] and path:
                    yield (f"a missing term: {node[1]} − {other} where {node[1]} stands",
                           _put(ast, path, ("sub", node, ("name", other))))
        elif kind == "T":
            yield f"{show(node)} should not be transposed: {show(node[1])}", _put(ast, path, node[1])
        elif kind == "mul" and node[1][0] not in ("num",) and node[2][0] != "num":
            swapped = ("mul", node[2], node[1])
            yield (f"factors in the wrong order: {show(node)} should be {show(swapped)}",
                   _put(ast, path, swapped))
        elif kind == "call":
            f = node[1]
            for g, why in (("colsum", "column sums (one per column, summed over the batch rows)"),
                           ("rowsum", "row sums")):
                if g != f:
                    yield (f"summed the wrong way: {f}(…) where {g}(…) belongs — {why}",
                           _put(ast, path, ("call", g, node[2])))
            yield f"{f}(…) is not part of this gradient", _put(ast, path, node[2])
    for other in names:  # a missing term: Y where Y − T belongs
        yield f"a missing term −{other}", ("sub", ast, ("name", other))
        yield f"a missing term +{other}", ("add", ast, ("name", other))


def _at(ast, path):
    for i in path:
        ast = ast[i]
    return ast


def diagnose(ast, key, lay, draws, got0) -> list:
    envs, refs = draws.envs, draws.refs
    lab = label(key)
    n = lay.batch

    def holds(fn, rows=None) -> bool:
        for j in rows if rows is not None else range(len(envs)):
            try:
                if not same(fn(j), refs[j][key]):
                    return False
            except (ShapeError, FloatingPointError, ZeroDivisionError):
                return False
        return True

    def confirmed(fn) -> bool:
        return holds(fn, range(min(3, len(envs)))) and holds(fn)

    found = []
    ans = lambda j: evaluate(ast, envs[j])  # noqa: E731
    if got0 is not None:
        if ast[0] == "sub" and ast[1] == ("name", "T") and ast[2] == ("name", "Y") and \
                confirmed(lambda j: -ans(j)):
            found.append("sign error: T − Y where Y − T belongs (∂L/∂A = Y − T)")
        scales = {-1: f"sign error: the answer is −{lab}", 0.5: "off by a factor of 2",
                  2: "off by a factor of ½"}
        if n > 1:
            batch = {n: f"divided by the batch size N = {n}: this loss is summed over the batch, "
                        "not averaged", 1 / n: f"multiplied by the batch size N = {n}"}
            for c, text in batch.items():
                scales[c] = f"{scales[c]} — {text}" if c in scales else text
        scales = list(scales.items())
        for c, text in scales:
            if not found and confirmed(lambda j, c=c: c * ans(j)):
                found.append(text)
        if shape(got0) != () and confirmed(lambda j: ans(j).T):
            found.append(f"a transposed matrix: the answer is ({lab})ᵀ, {shape_text(shape(got0))}; "
                         f"{lab} has the shape of {key}, {shape_text(refs[0][key].shape)}")
        for other in lay.grads:
            if other == key:
                continue
            if holds_other(ans, refs, other, envs):
                found.append(f"this is {label(other)}, not {lab}")
        if key == "B" and shape(got0) == (n, refs[0]["B"].shape[1]) and \
                confirmed(lambda j: ans(j).sum(axis=0, keepdims=True)):
            found.append(f"forgot the column sum: B is added to every row, so {lab} sums the rows of "
                         f"{lay.upstream} over the batch: colsum({lay.upstream})")
    if found:
        return found
    names = tuple(x for x in lay.names if x != f"d{key}")
    edits = list(_edits(ast, names))
    for text, edited in edits:
        if confirmed(lambda j, e=edited: evaluate(e, envs[j])):
            found.append(text)
    if not found and key == "B":
        wrapped = ("call", "colsum", ast)
        if confirmed(lambda j: evaluate(wrapped, envs[j])):
            found.append(f"forgot the column sum: B is added to every row, so {lab} sums the rows of "
                         f"{lay.upstream} over the batch: colsum({lay.upstream})")
    if found:
        return found[:3]
    # two edits at once (X dYᵀ for Xᵀ dY), only among the transposes and swaps
    small = [(t, e) for t, e in edits if not t.startswith(("the wrong matrix", "a missing term"))]
    if sum(1 for _ in _paths(ast)) > PAIR_NODES:
        small = []
    for i, (t1, _) in enumerate(small):
        for t2, _ in small[i + 1:]:
            both = _two_edits(ast, t1, t2, names)
            if both is not None and confirmed(lambda j, e=both: evaluate(e, envs[j])):
                return [f"{t1}; and {t2}"]
    ratio = _ratio(ast, envs, refs, key)
    if ratio is not None:
        return [f"off by a constant factor: the answer is {ratio} times {lab}"]
    return [f"the answer is not {lab}, and no single common mistake (a transposed matrix, factors in "
            "the wrong order, a sign, a factor 2, a missing column sum, the wrong matrix) explains it"]


def holds_other(ans, refs, other, envs):
    try:
        return all(same(ans(j), refs[j][other]) for j in range(len(envs)))
    except (ShapeError, FloatingPointError, ZeroDivisionError):
        return False


def _two_edits(ast, t1, t2, names):
    """Apply the edit described by t1, then the edit described by t2 in the result."""
    first = dict(_edits(ast, names)).get(t1)
    if first is None:
        return None
    return dict(_edits(first, names)).get(t2)


def _ratio(ast, envs, refs, key):
    rs = []
    for env, ref in zip(envs, refs):
        got = safe_eval(ast, env)
        if got is None or shape(got) != ref[key].shape:
            return None
        r = ref[key]
        mask = np.abs(r) > 1e-9
        if not mask.any():
            continue
        rs.extend((np.asarray(got)[mask] / r[mask]).tolist())
    if len(rs) < 3 or not np.allclose(rs, rs[0], rtol=1e-9, atol=0):
        return None
    f = Fraction(rs[0]).limit_denominator(1000)
    return str(f) if abs(float(f) - rs[0]) < 1e-9 else f"{rs[0]:.8g}"


# ---------------------------------------------------------------- the verdict

def _matrix_list(a):
    if a is None or a is ONES:
        return None
    if np.ndim(a) == 0:
        return float(a)
    if np.ndim(a) == 1:
        return [float(x) for x in a]
    return [[float(x) for x in row] for row in np.asarray(a)]


def reference_expr(solution, key):
    for rule in getattr(solution.extra, "vector_rules", ()):
        if str(rule.lhs) == label(key):
            return rule.rhs
    rows = len(solution.extra.params[key])
    cols = len(solution.extra.params[key][0]) if isinstance(solution.extra.params[key][0], list) else rows
    return sp.MatrixSymbol(label(key), rows, cols)


def verify_matrix(solution, key: str, answer_text: str, seed: int = 0, points: int = DRAWS):
    from .verify import MatrixVerdict, VerifyError
    lay = layout(solution)
    try:
        ast = parse_matrix_answer(answer_text, lay.names)
    except ParseError as e:
        raise VerifyError(f"cannot read the answer: {e}") from None
    size = sum(1 for _ in _paths(ast))
    if size > MAX_NODES:
        raise VerifyError(f"cannot read the answer: it has {size} parts; a matrix answer has at most "
                          f"{MAX_NODES} (names, numbers, operations)")
    if any(node == ("name", f"d{key}") for _, node in _paths(ast)):
        raise VerifyError(f"the answer uses d{key} = {label(key)}, the gradient it should express; "
                          f"write it with {', '.join(n for n in lay.names if n != f'd{key}')}")
    draws = Draws(solution, lay, seed, points)
    if len(draws.envs) < min(points, 5):
        raise VerifyError("could not find enough points where the problem is defined to compare")
    ref_expr = reference_expr(solution, key)
    used = sorted({node[1] for _, node in _paths(ast) if node[0] == "name"})
    method = f"numeric ({len(draws.envs)} random draws of {', '.join(lay.inputs)}; numpy)"
    expected_shape = draws.refs[0][key].shape

    def verdict(correct, diagnosis, j=None, got=None):
        cx = None
        if not correct:
            s = draws.points[j]
            cx = {"point": {k: _matrix_list(_input(draws.envs[j], k, solution)) for k in lay.inputs},
                  "expected": _matrix_list(draws.refs[j][key]), "got": _matrix_list(got),
                  "quantities": {k: _matrix_list(draws.envs[j][k]) for k in used if k not in lay.inputs},
                  "shapes": {"expected": shape_text(expected_shape),
                             "answer": None if got is None or got is ONES else shape_text(shape(got))},
                  "own_point": j == 0 and s.fractions == draws.engine.base}
        return MatrixVerdict(correct, diagnosis, cx, ref_expr, key, label(key), sp.Symbol(show(ast)),
                             method, len(draws.envs), answer_text=show(ast), answer_tex=tex(ast))

    try:
        got0 = evaluate(ast, draws.envs[0])
    except ShapeError as e:
        diag = [str(e)] + diagnose(ast, key, lay, draws, None)
        return verdict(False, _dedupe(diag), 0, None)
    if got0 is ONES:
        return verdict(False, ["1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right"], 0)
    if shape(got0) != expected_shape:
        diag = [f"the answer is {shape_text(shape(got0))}, {label(key)} is {shape_text(expected_shape)} "
                f"(the shape of {key})"]
        return verdict(False, _dedupe(diag + diagnose(ast, key, lay, draws, got0)), 0, got0)
    for j, env in enumerate(draws.envs):
        got = evaluate(ast, env)
        if not same(got, draws.refs[j][key]):
            return verdict(False, diagnose(ast, key, lay, draws, got0), j, got)
    return verdict(True, [], None)


def _dedupe(items):
    out = []
    for i in items:
        if i not in out and not i.startswith("the answer is not ∂L/∂"):
            out.append(i)
    return out or items


def _input(env, key, solution):
    """A drawn input as written in the file: B as one list."""
    v = env[key]
    return v[0] if key == "B" else v
