"""Diagnosis of a wrong matrix-form answer: small edits of the answer itself (a factor
transposed, two factors swapped, one matrix for another, a column sum added or removed) and
simple relations to the reference (transposed, negated, scaled, another matrix's gradient).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ...i18n import N_
from ..answers import code_of, diagnosis
from .tree import ShapeError, evaluate, label, safe_eval, same, shape, shape_text, show

PAIR_NODES = 25  # two-edit diagnoses only for answers up to this size


def _paths(ast, path=()):
    """Every subtree with its path (a tuple of child positions)."""
    yield path, ast
    kind = ast[0]
    if kind in ("T", "neg", "slice"):
        yield from _paths(ast[1], path + (1,))
    elif kind == "call":
        yield from _paths(ast[2], path + (2,))
    elif kind in ("add", "sub", "mul", "div", "had"):
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
                yield (diagnosis("transpose-factor", N_("{name} needs a transpose: {transposed}"), name=node[1],
                                 transposed=f"{node[1]}ᵀ"), _put(ast, path, ("T", node)))
            for other in names:
                if other != node[1]:
                    yield (diagnosis("wrong-matrix", N_("the wrong matrix: {name} where {other} belongs"), name=node[1],
                                     other=other), _put(ast, path, ("name", other)))
            for other in names:
                if other != node[1] and path:
                    yield (diagnosis("missing-term", N_("a missing term: {term} where {name} stands"),
                                     term=f"{node[1]} − {other}", name=node[1]),
                           _put(ast, path, ("sub", node, ("name", other))))
        elif kind == "T":
            yield (diagnosis("transpose-factor", N_("{transposed} should not be transposed: {name}"),
                             transposed=show(node), name=show(node[1])), _put(ast, path, node[1]))
        elif kind == "mul" and node[1][0] not in ("num",) and node[2][0] != "num":
            swapped = ("mul", node[2], node[1])
            yield (diagnosis("order", N_("factors in the wrong order: {product} should be {swapped}"),
                             product=show(node), swapped=show(swapped)), _put(ast, path, swapped))
        elif kind == "mul" and node[1][0] == "num" and path:
            yield (diagnosis("extra-factor", N_("an extra factor {factor} on {term}"), factor=show(node[1]),
                             term=show(node[2])), _put(ast, path, node[2]))
        elif kind == "had":
            yield from _hadamard_edits(ast, path, node)
        elif kind == "slice":
            why = N_("{slice} is one row of {matrix} (one sample) where the sum of its rows over the batch, "
                     "colsum({matrix}), belongs") if node[2] is not None else \
                N_("{slice} is one column of {matrix} where the sum of its rows over the batch, colsum({matrix}), "
                   "belongs")
            yield (diagnosis("one-slice", why, slice=show(node), matrix=show(node[1])),
                   _put(ast, path, ("call", "colsum", node[1])))
        elif kind == "call":
            f = node[1]
            for g, why in (("colsum", N_("summed the wrong way: {call} where {right} belongs — column sums (one per "
                                      "column, summed over the batch rows)")),
                           ("rowsum", N_("summed the wrong way: {call} where {right} belongs — row sums"))):
                if g != f:
                    yield (diagnosis("sum-direction", why, call=f"{f}(…)", right=f"{g}(…)"),
                           _put(ast, path, ("call", g, node[2])))
            yield (diagnosis("extra-call", N_("{call} is not part of this gradient"), call=f"{f}(…)"),
                   _put(ast, path, node[2]))
    for other in names:  # a missing term: Y where Y − T belongs
        yield diagnosis("missing-term", N_("a missing term {term}"), term=f"−{other}"), ("sub", ast, ("name", other))
        yield diagnosis("missing-term", N_("a missing term {term}"), term=f"+{other}"), ("add", ast, ("name", other))


def _hadamard_edits(ast, path, node):
    """A ⊙ B with one factor too many (Y ⊙ (Y − T)), or ⊙ where − or + belongs (Y ⊙ T for Y − T)."""
    for keep, drop in ((node[1], node[2]), (node[2], node[1]))[:1 if node[1] == node[2] else 2]:
        yield (diagnosis("extra-factor", N_("an extra elementwise factor {factor}: {wrong} where {right} belongs"),
                         factor=show(drop), wrong=show(node), right=show(keep)), _put(ast, path, keep))
    for op in ("sub", "add") if not {node[1][0], node[2][0]} & {"add", "sub", "had"} else ():
        right = (op, node[1], node[2])
        yield (diagnosis("wrong-operation", N_("the wrong operation: {wrong} where {right} belongs"), wrong=show(node),
                         right=show(right)), _put(ast, path, right))


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
            found.append(diagnosis("sign", N_("sign error: T − Y where Y − T belongs (∂L/∂A = Y − T)")))
        scales = {-1: diagnosis("sign", N_("sign error: the answer is {negated}"), negated=f"−{lab}"),
                  0.5: diagnosis("factor-2", N_("off by a factor of 2")),
                  2: diagnosis("factor-half", N_("off by a factor of ½"))}
        if n > 1:
            over = diagnosis("batch-size", N_("divided by the batch size N = {size} once more: this loss already "
                                              "averages over the batch (reduction = \"mean\")"), size=n) \
                if getattr(lay, "reduction", "sum") == "mean" else \
                diagnosis("batch-size", N_("divided by the batch size N = {size}: this loss is summed over the "
                                           "batch, not averaged"), size=n)
            batch = {n: over,
                     1 / n: diagnosis("batch-size", N_("multiplied by the batch size N = {size}"), size=n)}
            for c, text in batch.items():
                scales[c] = type(text)(f"{text} — {scales[c]}", code_of(text)) if c in scales else text
        scales = list(scales.items())
        for c, text in scales:
            if not found and confirmed(lambda j, c=c: c * ans(j)):
                found.append(text)
        if shape(got0) != () and confirmed(lambda j: ans(j).T):
            found.append(diagnosis("transposed", N_("a transposed matrix: the answer is {transposed}, {shape}; {label} "
                                   "has the shape of {key}, {expected}"), transposed=f"({lab})ᵀ",
                                   shape=shape_text(shape(got0)), label=lab, key=key,
                                   expected=shape_text(refs[0][key].shape)))
        for other in lay.grads:
            if other == key:
                continue
            if holds_other(ans, refs, other, envs):
                found.append(diagnosis("other-gradient", N_("this is {other}, not {label}"), other=label(other),
                                       label=lab))
        if key == "B" and shape(got0) == (n, refs[0]["B"].shape[1]) and \
                confirmed(lambda j: ans(j).sum(axis=0, keepdims=True)):
            found.append(_column_sum(lab, lay))
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
            found.append(_column_sum(lab, lay))
    if found:
        return found[:3]
    # two edits at once (X dYᵀ for Xᵀ dY), only among the transposes and swaps
    small = [(t, e) for t, e in edits if code_of(t) not in ("wrong-matrix", "missing-term")]
    if sum(1 for _ in _paths(ast)) > PAIR_NODES:
        small = []
    for i, (t1, _e1) in enumerate(small):
        for t2, _e2 in small[i + 1:]:
            both = _two_edits(ast, t1, t2, names)
            if both is not None and confirmed(lambda j, e=both: evaluate(e, envs[j])):
                return [diagnosis("two-edits", N_("{first}; and {second}"), first=t1, second=t2)]
    ratio = _ratio(ast, envs, refs, key)
    if ratio is not None:
        return [diagnosis("ratio", N_("off by a constant factor: the answer is {ratio} times {label}"), ratio=ratio,
                          label=lab)]
    return [diagnosis("generic", N_("the answer is not {label}, and no single common mistake (a transposed matrix, "
                      "factors in the wrong order, a sign, a factor 2, a missing column sum, the wrong matrix) "
                      "explains it"), label=lab)]


def _column_sum(lab, lay):
    return diagnosis("column-sum", N_("forgot the column sum: B is added to every row, so {label} sums the rows of "
                     "{upstream} over the batch: {sum}"), label=lab, upstream=lay.upstream,
                     sum=f"colsum({lay.upstream})")


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
