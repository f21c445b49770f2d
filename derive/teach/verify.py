"""Verify a student's expression for a gradient, and say exactly what is wrong.

    verify(solution, wrt, answer_text) -> Verdict(correct, diagnosis, counterexample, reference, ...)

Equivalence: the answer may use any named quantity of the problem (graph nodes such as sigy, o_k,
h_j, δ_k). Named quantities are functions of the independent inputs, so both sides are compared
as functions of the inputs:
  * numerically, at many random points of the inputs in 50-digit mpmath (the forward pass gives
    every named quantity, the derivation's own local derivatives give the reference gradient),
    skipping points where either side is undefined, huge, or at a kink of relu/abs/max;
    one point of disagreement decides "wrong";
  * symbolically, for small graphs, by `simplify(answer - reference) == 0` with everything
    substituted back to the inputs, under a time budget (inconclusive results are reported).
"correct" needs agreement at every point and no symbolic contradiction.

Diagnosis: the answer is compared with mutations of the reference computed the same way, each a
common mistake named in the problem's terms: a sign error, a factor 2 (a loss without ½), a
missing or repeated chain-rule factor ∂c/∂p of one edge of the graph, a missing path of a quantity
used several times (a missing sum over the next layer), a wrong quantity or index, the gradient of
another quantity. Every wrong verdict carries a counterexample with both values.

[layers] problems (Affine, Softmax-with-Loss): --wrt a whole matrix (X, W, B, A) is checked in
matrix form by teach.matrix_answers; an element (W[1,2] or w_12) goes through the same engine as
above, with random draws whose target rows sum to 1.
"""
from __future__ import annotations

import re

import mpmath
import sympy as sp

from ..engine import numeric
from ..networks.resolver import concretize, letter
from .answers import Instance, MatrixVerdict, Target, Verdict, VerifyError, answer_expr, text
from .matrix_answers import Draws, verify_matrix
from .mistakes import diagnose
from .reading import resolve_known
from .sampling import DIGITS, POINTS, SYMBOLIC_NODES, SYMBOLIC_SECONDS, Engine, _in_inputs, _value, close, symbolic_zero
from .targets import _index_letters, layer_element_targets, layout, targets_of

__all__ = ["MatrixVerdict", "Verdict", "VerifyError", "targets_of", "text", "verify"]


def verify(solution, wrt: str, answer_text: str, seed: int = 0, points: int = POINTS) -> Verdict:
    """Decide whether `answer_text` is ∂output/∂wrt of the solved problem, and diagnose it."""
    draw = None
    if getattr(solution.problem, "kind", "") == "layers":
        lay = layout(solution)
        if re.sub(r"\s", "", wrt) in lay.grads:
            return verify_matrix(solution, re.sub(r"\s", "", wrt), answer_text, seed)
        targets = layer_element_targets(solution, lay)
        draw = Draws.draw_for(solution, lay)
        matrices = ", ".join(lay.grads)
    else:
        targets = targets_of(solution)
        matrices = ""
    key = resolve_known(wrt, targets) or _concrete_key(wrt, targets)
    if key is None:
        listed = ", ".join(targets) if not matrices else \
            f"a matrix ({matrices}) or one element ({', '.join(list(targets)[:4])}, ...)"
        raise VerifyError(f"--wrt {wrt!r} is not a quantity with a gradient in this problem; "
                          f"expected {'one of: ' if not matrices else ''}{listed}")
    target = targets[key]
    answer = answer_expr(target, answer_text)
    engine = Engine(solution.derivation, solution.inputs, seed, target.extra_env, draw)
    with mpmath.workdps(DIGITS):
        if target.rule is not None:
            unbound = _index_letters(answer) - set(target.indices) - {"l"}
            if unbound:
                return _unbound(engine, target, answer, sorted(unbound), points)
        missing = _missing_quantities(engine, target, answer)
        if missing:
            return missing
        return _decide(engine, target, answer, points)


def _with_bindings(target, extra: dict) -> Target:
    """The same target with more index letters bound (to evaluate an answer with a stray index)."""
    from dataclasses import replace
    insts = [Instance({**inst.bindings, **extra}, inst.node,
                      lambda e, b={**inst.bindings, **extra}: concretize(target.rule, e, b).doit(),
                      inst.generic) for inst in target.instances]
    return replace(target, instances=insts)


def _missing_quantities(engine, target, answer):
    """A wrong verdict if the answer names a unit that does not exist for some binding."""
    known = set(engine.graph._index) | {s.name for s in engine.extra_env}
    for inst in target.instances:
        try:
            names = {s.name for s in inst.to_graph(answer).free_symbols}
        except (KeyError, IndexError):
            names = {"?"}
        absent = sorted(names - known)
        if absent:
            where = ", ".join(f"{k} = {v}" for k, v in inst.bindings.items())
            diag = [f"the answer refers to {absent[0]}, which does not exist"
                    + (f" (for {where})" if where else "") + ": an index is out of its range"]
            cx = {"point": {k: float(v) for k, v in engine.base.items()}, "expected":
                  _num(engine.sample(0).grads[inst.node]) if engine.sample(0) else None,
                  "got": None, "quantities": {}, "own_point": True}
            if inst.bindings:
                cx["instance"] = dict(inst.bindings)
                cx["element"] = inst.node
            return Verdict(False, diag, cx, target.reference, target.wrt, target.label, answer,
                           "structural", 0)
    return None


def _unbound(engine, target, answer, letters, points):
    """An answer with an index that is neither an index of the target nor summed over."""
    u = letters[0]
    shown = ", ".join(target.indices)
    diag = []
    try:
        summed = target.summable(u, answer)
        if not _missing_quantities(engine, target, summed) and _decide(engine, target, summed, points).correct:
            diag.append(f"a missing sum over {u}: the answer is one term of Σ_{u}; {target.wrt} depends "
                        f"on every unit {u} of the next layer")
    except VerifyError:
        pass
    if not diag:
        for b in target.indices:
            renamed = answer.xreplace({letter(u): letter(b)})
            if _index_letters(renamed) - set(target.indices) - {"l"} or _missing_quantities(engine, target, renamed):
                continue
            v = _decide(engine, target, renamed, points)
            specific = [d for d in v.diagnosis if not d.startswith("the answer is not")]
            if specific:
                diag += [d.replace(f"_{b}", f"_{u}") if d.startswith("the wrong") else d for d in specific]
                break
    diag.insert(0, f"the index {u} is not bound: {target.wrt} has the indices {shown}, and {u} is not "
                   "summed over")
    fixed = _with_bindings(target, {x: 1 for x in letters})
    v = _missing_quantities(engine, fixed, answer) or _decide(engine, fixed, answer, points)
    cx = v.counterexample
    if cx is not None:
        cx = {**cx, "note": f"evaluated with {', '.join(f'{x} = 1' for x in letters)}"}
    return Verdict(False, diag, cx, target.reference, target.wrt, target.label, answer, v.method,
                   v.points)


def _concrete_key(wrt, targets):
    compact = re.sub(r"\s", "", wrt)
    return compact if compact in targets else None


def _decide(engine, target: Target, answer: sp.Expr, points: int) -> Verdict:
    insts = target.instances
    graph_answers = [inst.to_graph(answer) for inst in insts]
    expected, got, used = [], [], []  # per used sample: per-instance values
    undefined = 0
    i = 0
    while len(used) < points:
        s = engine.sample(i)
        i += 1
        if s is None:
            break
        e_vals = [s.grads[inst.node] for inst in insts]
        g_vals = [_value(ga, s) for ga in graph_answers]
        if any(v == "kink" for v in g_vals):
            continue
        if any(v is None for v in g_vals):
            undefined += 1
            continue
        expected.append(e_vals)
        got.append(g_vals)
        used.append(s)
    if len(used) < min(points, 5):
        if undefined:
            return _wrong(target, answer, engine, used, expected, got,
                          ["the answer is undefined (division by zero, not a real number, or overflowing) at points "
                           "where the gradient exists"], "numeric", undefined_sample=engine.sample(0))
        raise VerifyError("could not find enough points where the problem is defined to compare")
    mismatch = [(j, k) for j in range(len(used)) for k in range(len(insts))
                if not close(expected[j][k], got[j][k])]
    numeric_ok = not mismatch and undefined <= len(used) // 2
    method = f"numeric ({len(used)} random points, {DIGITS} digits)"
    if numeric_ok:
        proved = _symbolic(engine, target, insts, graph_answers)
        if proved is False:
            return _wrong(target, answer, engine, used, expected, got,
                          ["symbolic simplification shows the difference is a nonzero constant"],
                          "symbolic")
        method += "; symbolic: " + {True: "simplify(answer − reference) = 0",
                                    None: "inconclusive within the time budget",
                                    "skipped": f"skipped (more than {SYMBOLIC_NODES} nodes)"}[proved]
        return Verdict(True, [], None, target.reference, target.wrt, target.label, answer, method,
                       len(used))
    if not mismatch:
        return _wrong(target, answer, engine, used, expected, got,
                      ["the answer is undefined (not a real number) at most points where the gradient "
                       "exists"], method)
    diagnosis = diagnose(engine, target, answer, graph_answers, used, expected, got)
    return _wrong(target, answer, engine, used, expected, got, diagnosis, method, mismatch=mismatch)


def _symbolic(engine, target, insts, graph_answers):
    if len(engine.graph.nodes) > SYMBOLIC_NODES:
        return "skipped"
    full = _in_inputs(engine.graph)
    deltas = {}
    for sym, node in engine.extra_env.items():
        closed = engine.derivation.gradient(node).closed
        if closed is None:
            return "skipped"
        deltas[sym] = closed
    verdicts = []
    budget = SYMBOLIC_SECONDS / max(1, len(insts))
    for inst, ga in zip(insts, graph_answers):
        g = engine.derivation.gradient(inst.node)
        if g.closed is None:
            return "skipped"
        verdicts.append(symbolic_zero((ga.xreplace(deltas) - g.closed).xreplace(full), budget))
        if verdicts[-1] is not True:
            return verdicts[-1]
    return True


def _wrong(target, answer, engine, used, expected, got, diagnosis, method, mismatch=None,
           undefined_sample=None):
    cx = None
    if mismatch:
        # prefer the problem's own point when the answer is already wrong there
        j, k = mismatch[0]
        cx = _counterexample(target, answer, used[j], target.instances[k], expected[j][k], got[j][k])
    elif undefined_sample is not None:
        inst = target.instances[0]
        cx = _counterexample(target, answer, undefined_sample, inst,
                             undefined_sample.grads[inst.node], None)
    elif used:
        inst = target.instances[0]
        cx = _counterexample(target, answer, used[0], inst, expected[0][0], got[0][0])
    return Verdict(False, diagnosis, cx, target.reference, target.wrt, target.label, answer, method,
                   len(used))


def _num(v):
    if v is None:
        return None
    return float(v)


def _counterexample(target, answer, sample, inst, expected, got) -> dict:
    point = {k: _num(numeric.to_mp(v)) for k, v in sample.fractions.items()}
    names = sorted({str(s) for s in inst.to_graph(answer).free_symbols} | {inst.node})
    quantities = {inst.generic.get(n, n): _num(sample.values[n]) for n in names if n in sample.values}
    cx = {"point": point, "expected": _num(expected), "got": _num(got), "quantities": quantities,
          "own_point": sample is sample.engine.samples[0] and sample.fractions == sample.engine.base}
    if inst.bindings:
        cx["instance"] = dict(inst.bindings)
        cx["element"] = inst.node
    return cx
