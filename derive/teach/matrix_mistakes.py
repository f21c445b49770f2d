"""Diagnosis of a wrong matrix-form answer: small edits of the answer itself (a factor
transposed, two factors swapped, one matrix for another, a column sum added or removed) and
simple relations to the reference (transposed, negated, scaled, another matrix's gradient).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .matrix_ast import ShapeError, evaluate, label, safe_eval, same, shape, shape_text, show

PAIR_NODES = 25  # two-edit diagnoses only for answers up to this size


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
