"""Verify a student's expression for a gradient, and say exactly what is wrong.

    verify(solution, wrt, answer_text, delta_sign=None) -> Verdict(correct, diagnosis, counterexample, ...)

Reading: `reading.read_answer` (plain or LaTeX; sums, ∂E/∂o_k, σ′, an equation whose left side must
name --wrt), shown back as `read_as`. The answer may use any named quantity of the problem (graph
nodes such as sigy, o_k, h_j, δ_k, ∂E/∂o_k); δ means delta_sign · ∂L/∂net (the problem's
[network] delta, or `delta_sign`). Named quantities are functions of the independent inputs, so
both sides are compared numerically at many random points of the inputs in 50-digit mpmath (the
forward pass gives every named quantity, the derivation's own local derivatives the reference),
skipping points where either side is undefined, huge or at a kink of relu/abs/max; a generic
answer (w_kj) must hold for every instance (every k, j); one point of disagreement decides "wrong".

Diagnosis (`mistakes`), and before it what the answer's form shows: a sum whose bounds leave units
out, an index neither bound nor summed (a missing sum), a unit that does not exist, a number where
an expression was expected, the other sign convention for δ, Mitchell's letterless δ_1 read in the
other layer. Every wrong verdict carries a counterexample with both values.

[layers] problems: --wrt a whole matrix (X, W, B, A) goes to `matrix_answers`; an element (W[1,2]
or w_12) through the engine above, with random draws whose target rows sum to 1.
"""
from __future__ import annotations

import re
import threading
import weakref

import sympy as sp

from ..engine import numeric
from ..engine.parse import symbol
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..errors import ParseError
from ..i18n import N_, _
from .answers import (
    GENERIC,
    Diagnosis,
    MatrixVerdict,
    Target,
    Verdict,
    VerifyError,
    _split_name,
    answer_expr,
    cannot_read,
    code_of,
    diagnosis,
    is_generic,
    text,
    unknown_name,
)
from .reading import UnknownName, read_answer
from .sampling import DIGITS, POINTS, Engine, _value, close
from .showing import show_plain, show_tex, spelled_out
from .targets import find_target, layer_element_targets, layout, reduced, targets_of, unknown_wrt, whole
from .vocabulary import FULL, NoSuchQuantity, letter, parse_tag

__all__ = ["MatrixVerdict", "Verdict", "VerifyError", "targets_of", "text", "verify"]


def verify(solution, wrt: str, answer_text: str, seed: int = 0, points: int = POINTS,
           delta_sign: int | None = None) -> Verdict:
    """Decide whether `answer_text` is ∂output/∂wrt (or δ) of the solved problem, and diagnose it."""
    draw = None
    if solution.derivation is None:  # a layer stack: an answer to one layer's rule (matrix.stack)
        from .matrix.stack import verify_stack
        v = verify_stack(solution, wrt, answer_text, seed)
        return _with(v, read_as=v.answer_text, read_as_tex=v.answer_tex)
    solution = scaled(solution, (wrt, answer_text))
    kind = getattr(solution.problem, "kind", "scalar")
    if kind == "layers":
        from .matrix.answers import Draws, verify_matrix  # numpy matrix answers: only for [layers]
        lay = layout(solution)
        if re.sub(r"\s", "", wrt) in lay.grads:
            v = verify_matrix(solution, re.sub(r"\s", "", wrt), answer_text, seed)
            return _with(v, read_as=v.answer_text, read_as_tex=v.answer_tex)
        targets = layer_element_targets(solution, lay)
        draw = Draws.draw_for(solution, lay)
    else:
        targets = _cached(solution, ("targets", delta_sign), lambda: targets_of(solution, delta_sign))
    key = find_target(wrt, targets)
    if key is None:
        raise unknown_wrt(wrt, targets, kind == "layers" and lay.grads, whole(solution.problem))
    target = targets[key]
    if target.kind == "element":
        target.extra["elements"] = {t.extra["leaf"]: k for k, t in targets.items() if t.extra.get("leaf")}
    reading = spelled_out(_read(answer_text, target), target.names, _split_name)
    shown = [show_plain(a) for a in ((reading.lhs,) if reading.lhs else ()) + reading.parts]
    shown_tex = [show_tex(a) for a in ((reading.lhs,) if reading.lhs else ()) + reading.parts]
    sign = delta_sign if delta_sign is not None else getattr(solution.problem, "delta_sign", 1)
    engine = _cached(solution, ("engine", sign, seed),
                     lambda: Engine(solution.derivation, solution.inputs, seed, _deltas(solution), sign, draw))
    verdicts = [_judge(engine, target, ast, points) for ast in reading.parts]
    if reading.lhs is not None:
        wrong_side = _check_lhs(reading.lhs, target, targets)
        if wrong_side:
            v = verdicts[0]
            verdicts.insert(0, Verdict(False, [wrong_side] + ([] if v.correct else v.diagnosis),
                                       v.counterexample, v.reference, v.wrt, v.label, v.answer, v.method,
                                       v.points, notes=v.notes))
    verdict = next((v for v in verdicts if not v.correct), verdicts[-1])
    if len(verdicts) > 1 and not verdict.correct and len(reading.parts) > 1:
        i = verdicts.index(verdict) - (1 if reading.lhs is not None and verdicts[0] is verdict else 0)
        if 0 <= i < len(reading.parts) and len(reading.parts) > 1:
            verdict = _with(verdict, diagnosis=[diagnosis("right-side", N_("the right side number {number} ({side}) is "
                                                          "wrong"), number=i + 1, side=shown[-len(reading.parts) + i])]
                            + list(verdict.diagnosis))
    notes = verdict.notes
    if whole(solution.problem) is not solution.problem:
        notes = (*notes, _("checked on every unit of a {sizes} network of the same form (the same activations, "
                           "loss and notation; an index-form rule does not depend on the layer sizes)").format(
            sizes="-".join(map(str, solution.problem.sizes))))
    return _with(verdict, read_as=" = ".join(shown), read_as_tex=" = ".join(shown_tex), notes=notes)


def scaled(solution, texts):
    """`solution`, or for a big network the solved smaller copy its answers are checked on
    (targets.reduced; solved once per copy while `solution` lives)."""
    copy = reduced(solution.problem, texts)
    if copy is solution.problem:
        return solution
    from ..pipeline import solve
    return _cached(solution, ("reduced", copy.sizes, copy.batch), lambda: solve(copy))


_CACHE: dict = {}  # id(solution) -> (weak reference, {key: targets or engine}): a class's answers share them
_CACHE_LOCK = threading.RLock()  # threads verifying at once share the cache (issue 27)


def _cached(solution, key, make):
    """What `make` builds for this solution, built once while the solution lives (batch mode checks
    many answers against one solution: the targets and the sampled points are the same)."""
    with _CACHE_LOCK:
        entry = _CACHE.get(id(solution))
        if entry is None or entry[0]() is not solution:
            for k in [k for k, (ref, _) in _CACHE.items() if ref() is None]:
                _CACHE.pop(k, None)
            entry = _CACHE[id(solution)] = (weakref.ref(solution), {})
        store = entry[1]
        if key not in store:
            store[key] = make()
        return store[key]


def _with(v: Verdict, **changes) -> Verdict:
    from dataclasses import replace
    return replace(v, **changes)


def _read(answer_text, target: Target):
    try:
        return read_answer(answer_text, target.names)
    except UnknownName as e:
        raise unknown_name(e.name, target) from None
    except ParseError as e:
        raise VerifyError(cannot_read(e)) from None


def _deltas(solution) -> dict:
    """δ symbol -> the net node whose gradient it stands for (networks only)."""
    extra = getattr(solution, "extra", None)
    deltas = getattr(extra, "deltas", None) or {}
    return {symbol(dname): net for net, dname in deltas.items()}


def _check_lhs(lhs, target: Target, targets) -> str | None:
    """The left side of `∂E/∂w_kj = …` must name --wrt; a δ on the left must be the δ asked for."""
    if lhs[0] == "grad":
        key = find_target(lhs[2], targets)
        if key is None and target.kind == "element":
            key = find_target(lhs[2], {target.extra.get("leaf", ""): 1}) and target.wrt
        if key == target.wrt and not target.is_delta:
            return None
        return diagnosis("left-side", N_("the left side {side} is not {label}: the question asks for {label}"),
                         side=f"∂{lhs[1]}/∂{lhs[2]}", label=target.label)
    key = find_target(lhs[1], targets)
    if key == target.wrt and target.is_delta:
        return None
    return diagnosis("left-side", N_("the left side {side} is not {label}: the question asks for {label}"),
                     side=lhs[1], label=target.label)


# ---------------------------------------------------------------- one side of an answer

def _judge(engine, target: Target, ast, points: int) -> Verdict:
    expr = answer_expr(target, ast)
    expr, ambiguous = target.names.resolve(expr)
    readings = target.names.readings(ambiguous) if ambiguous else [{}]
    if len(readings) > 1:  # any reading that is right is taken; else the first one a diagnosis explains
        for r in readings:
            with mpmath.workdps(DIGITS):
                v = _decide(engine, target, expr.xreplace(r), points, None, quick=True)
            if v.correct:
                return _with(v, notes=(*v.notes, _reading_note(target, r)))
    results = []
    for r in readings[:4]:
        with mpmath.workdps(DIGITS):
            v = _decide(engine, target, expr.xreplace(r) if r else expr, points, ast)
        if r and len(readings) > 1:
            v = _with(v, notes=(*v.notes, _reading_note(target, r)))
        if not any(is_generic(d) for d in v.diagnosis):
            return v
        results.append(v)
    return results[0]


def _reading_note(target: Target, reading: dict) -> str:
    """How Mitchell's letterless names were read: δ_1 as delta^o_1 (the output layer)."""
    bind = target.instances[0].bindings
    parts = []
    for a, b in reading.items():
        try:
            parts.append(_("{name} as {reading}").format(name=target.names.label(a),
                                                          reading=target.names.concrete_name(b, bind)))
        except VerifyError:
            parts.append(_("{name} in layer {layer}").format(
                name=target.names.label(a), layer=target.names.layer(parse_tag(b.base)[1:], bind)))
    return _("read {readings} (a name without a layer letter could mean either layer)").format(
        readings=", ".join(parts))


def _allowed_letters(target: Target) -> set:
    return set(target.indices) | {k for i in target.instances for k in i.bindings}


def _index_letters(expr) -> set:
    """Index letters used outside any sum that binds them."""
    if isinstance(expr, sp.Sum):
        return _index_letters(expr.function) - {str(v) for v, *_ in expr.limits}
    if isinstance(expr, sp.Indexed):
        return {str(i) for i in expr.indices if i.is_Symbol}
    out = set()
    for a in expr.args:
        out |= _index_letters(a)
    return out


def _decide(engine, target: Target, expr, points: int, ast=None, search: bool = True,
            quick: bool = False) -> Verdict:
    unbound = sorted(_index_letters(expr) - _allowed_letters(target) - {"l"})
    if unbound:
        if not search or quick:
            return _structural(engine, target, expr, [diagnosis("unbound-index", N_("the index {index} is not bound"),
                                                                index=unbound[0])])
        return _unbound(engine, target, expr, unbound, points)
    try:
        graph_answers = [target.names.concretize(expr, inst.bindings) for inst in target.instances]
    except NoSuchQuantity as e:
        return _structural(engine, target, expr, [Diagnosis(str(e), "no-such-unit")])
    v = _compare(engine, target, expr, graph_answers, points, diagnose_it=False)
    if v.correct or quick:
        return v
    first, alone = [], False
    if ast is not None:  # what the form shows (a sum cut short, the other δ convention) may say it all
        first, alone = _form_diagnoses(engine, target, expr, graph_answers, ast, points, v)
        if first and alone and all(code_of(d) != "number" for d in first):
            return _with(v, diagnosis=first)  # the mistakes need not be simulated
    v = _compare(engine, target, expr, graph_answers, points)  # the same points, now diagnosed
    if ast is None:
        return v
    if any(code_of(d) == "number" for d in first):  # a number is told apart by the diagnosis
        first, alone = _form_diagnoses(engine, target, expr, graph_answers, ast, points, v)
    if first:
        rest = [] if alone else [d for d in v.diagnosis if not is_generic(d)]
        return _with(v, diagnosis=first + rest)
    return v


def _form_diagnoses(engine, target, expr, graph_answers, ast, points, v) -> tuple[list[str], bool]:
    """What the answer's form shows: narrowed sum bounds, a number, the other δ convention; and
    whether that says it all (the other diagnoses are dropped)."""
    out = []
    narrowed = [lim for s in expr.atoms(sp.Sum) for lim in s.limits if lim[2].is_Integer or lim[1] != 1]
    if narrowed:
        full = expr.xreplace({s: sp.Sum(s.function, *[(v, 1, FULL) if (v, lo, hi) in narrowed else (v, lo, hi)
                                                      for v, lo, hi in s.limits]) for s in expr.atoms(sp.Sum)})
        full, _ambiguous = target.names.resolve(full)
        letters = ", ".join(str(lim[0]) for lim in narrowed)
        bounds = ", ".join(f"{v} = {lo}..{hi}" for v, lo, hi in narrowed)
        try:
            right = _decide(engine, target, full, points, search=False).correct
        except VerifyError:
            right = False
        batch = [str(v) for v, _, _ in narrowed] == ["n"] and getattr(target.names, "batch", 1) > 1
        message = ((N_("the sum over {letters} covers only {bounds}, not every sample of the batch; with the whole "
                    "range the answer would be right")) if right else
                   N_("the sum over {letters} covers only {bounds}, not every sample of the batch")) if batch else \
            ((N_("the sum over {letters} covers only {bounds}, not every unit of the layer; with the whole range the "
              "answer would be right")) if right else
             N_("the sum over {letters} covers only {bounds}, not every unit of the layer"))
        out.append(diagnosis("narrow-sum", message, letters=letters, bounds=bounds))
        if right:
            return out, True
    if not expr.free_symbols and not expr.atoms(sp.Sum, sp.Indexed, sp.Function):
        message, at_point = _number(engine, target, expr)
        if at_point or any(is_generic(d) for d in v.diagnosis):
            return out + [message], True
    convention = _other_convention(engine, target, graph_answers, points)
    if convention:
        return [convention], True
    return out, False


def _number(engine, target: Target, expr) -> tuple[str, bool]:
    """The message for a plain number, and whether it is the value at the problem's own point."""
    s = engine.sample(0)
    value = float(expr)
    own = [float(target.scale * s.grads[i.node]) for i in target.instances] if s else []
    if own and any(abs(value - x) <= 5e-3 * max(abs(x), 1e-12) for x in own) and s.fractions == engine.base:
        return diagnosis("number", N_("an expression was expected; your number is the value at the given point "
                         "({label} = {value} there), but the gradient must be written as a formula in the "
                         "problem's quantities"), label=target.label, value=f"{own[0]:.10g}"), True
    if len(own) == 1:
        return diagnosis("number", N_("an expression was expected, not a number; the number is not the value of "
                         "{label} either (it is {value} at the given point)"), label=target.label,
                         value=f"{own[0]:.10g}"), False
    return diagnosis("number", N_("an expression was expected, not a number; the number is not the value of {label} "
                     "either"), label=target.label), False


def _other_convention(engine, target: Target, graph_answers, points) -> str | None:
    """The answer is right if δ meant the other sign convention (−δ of this problem)."""
    uses_delta = any(s in engine.deltas for ga in graph_answers for s in ga.free_symbols)
    if not (uses_delta or target.is_delta) or not engine.deltas:
        return None
    other = -engine.delta_sign
    n = 0
    for i in range(points):
        s = engine.sample(i)
        if s is None:
            break
        env = dict(s.env)
        for sym, node in engine.deltas.items():
            env[sym] = other * s.grads[node]
        for inst, ga in zip(target.instances, graph_answers):
            want = (other if target.is_delta else 1) * s.grads[inst.node]
            got = _value(ga, s, env)
            if got == "kink":
                continue
            if got is None or not close(got, want):
                return None
            n += 1
    if not n:
        return None
    mitchell = _("−∂L/∂net (Mitchell's δ_k = o_k(1 − o_k)(t_k − o_k))")
    this = "∂L/∂net" if engine.delta_sign == 1 else mitchell
    that = mitchell if engine.delta_sign == 1 else "∂L/∂net"
    return diagnosis("delta-convention", N_("right under the other sign convention for δ: the answer takes δ = {that}, "
                     "but in this problem δ = {this}, so its sign is reversed"),
                     that=that, this=this)


def _compare(engine, target: Target, expr, graph_answers, points: int, diagnose_it: bool = True) -> Verdict:
    insts = target.instances
    expected, got, used = [], [], []  # per used sample: per-instance values
    undefined = 0
    i = 0
    while len(used) < points:
        s = engine.sample(i)
        i += 1
        if s is None:
            break
        for ga in graph_answers:
            s.provide(ga)
        e_vals = [target.scale * s.grads[inst.node] for inst in insts]
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
            return _wrong(target, expr, engine, used, expected, got,
                          [diagnosis("undefined", N_("the answer is undefined (division by zero, not a real number, or "
                                     "overflowing) at points where the gradient exists"))], _("numeric"),
                          undefined_sample=engine.sample(0))
        raise VerifyError(_("could not find enough points where the problem is defined to compare"))
    mismatch = [(j, k) for j in range(len(used)) for k in range(len(insts))
                if not close(expected[j][k], got[j][k])]
    method = _("numeric ({points} random points, {digits} digits)").format(points=len(used), digits=DIGITS)
    if not mismatch and undefined <= len(used) // 2:
        return Verdict(True, [], None, target.reference, target.wrt, target.label, expr, method, len(used))
    if not mismatch:
        return _wrong(target, expr, engine, used, expected, got,
                      [diagnosis("undefined", N_("the answer is undefined (not a real number) at most points where "
                                 "the gradient exists"))], method)
    from .mistakes import diagnose  # the mistakes are simulated only for a wrong answer
    found = diagnose(engine, target, used, expected, got) if diagnose_it else [Diagnosis(GENERIC, "generic")]
    return _wrong(target, expr, engine, used, expected, got, found, method, mismatch=mismatch,
                  graph_answers=graph_answers)


def _structural(engine, target: Target, expr, diagnosis) -> Verdict:
    s = engine.sample(0)
    inst = target.instances[0]
    cx = {"point": {k: float(v) for k, v in engine.base.items()},
          "expected": float(target.scale * s.grads[inst.node]) if s else None,
          "got": None, "quantities": {}, "own_point": True}
    if inst.bindings:
        cx["instance"] = {k: v for k, v in inst.bindings.items() if k != "l" or len(inst.bindings) == 1}
        cx["element"] = inst.node
    return Verdict(False, diagnosis, cx, target.reference, target.wrt, target.label, expr, _("structural"), 0)


def _unbound(engine, target: Target, expr, letters, points) -> Verdict:
    """An answer with an index that is neither an index of the target nor summed over."""
    u = letters[0]
    shown = ", ".join(x for x in target.indices) or ", ".join(sorted(_allowed_letters(target) - {"l"}))
    diag = []
    try:
        summed, _ambiguous = target.names.resolve(sp.Sum(expr, (letter(u), 1, FULL)))
        if _decide(engine, target, summed, points, search=False).correct:
            batch = u == "n" and getattr(target.names, "batch", 1) > 1
            message = N_("a missing sum over {index}: the answer is one term of Σ_{index}; {label} depends on every "
                         "sample of the batch {index}") if batch else \
                N_("a missing sum over {index}: the answer is one term of Σ_{index}; {label} depends on every unit "
                   "of the next layer {index}")
            diag.append(diagnosis("missing-sum", message, index=u, label=target.label))
    except VerifyError:
        pass
    if not diag:
        for b in sorted(_allowed_letters(target) - {"l"}):
            renamed = expr.xreplace({letter(u): letter(b)})
            if _index_letters(renamed) - _allowed_letters(target) - {"l"}:
                continue
            try:
                v = _decide(engine, target, renamed, points, search=False)
            except VerifyError:
                continue
            specific = [_rename_index(d, b, u) for d in v.diagnosis if not is_generic(d)]
            if v.correct:
                diag.append(diagnosis("wrong-index", N_("the index {index} stands where {other} belongs"), index=u,
                                      other=b))
                break
            if specific:
                diag += specific
                break
    diag.insert(0, diagnosis("unbound-index", N_("the index {index} is not bound: {label} has the indices {indices}, "
                             "and {index} is not summed over"), index=u, label=target.label, indices=shown))
    bound = {x: 1 for x in letters}
    try:
        graph_answers = [target.names.concretize(expr, {**inst.bindings, **bound}) for inst in target.instances]
        v = _compare(engine, target, expr, graph_answers, min(points, 5))
        cx = v.counterexample
    except VerifyError:
        cx = _structural(engine, target, expr, diag).counterexample
    if cx is not None:
        cx = {**cx, "note": _("evaluated with {values}").format(values=", ".join(f"{x} = 1" for x in letters))}
    return Verdict(False, diag, cx, target.reference, target.wrt, target.label, expr, _("structural"), 0)


def _rename_index(d, b: str, u: str):
    """A wrong-quantity diagnosis found with the index b in place of the unbound u, told with u: the
    first name after the colon ("the wrong index: w_jb where …") gets its subscript's b back as u."""
    if code_of(d) not in ("wrong-index", "wrong-quantity"):
        return d
    return Diagnosis(re.sub(rf"^([^:]*: \S+?)_(\w*){b}", rf"\1_\g<2>{u}", d), code_of(d))


def _wrong(target, answer, engine, used, expected, got, diagnosis, method, mismatch=None,
           undefined_sample=None, graph_answers=None):
    cx = None
    if mismatch:
        j, k = mismatch[0]
        cx = _counterexample(target, graph_answers[k] if graph_answers else None, used[j], target.instances[k],
                             expected[j][k], got[j][k])
    elif undefined_sample is not None:
        inst = target.instances[0]
        cx = _counterexample(target, None, undefined_sample, inst,
                             target.scale * undefined_sample.grads[inst.node], None)
    elif used:
        inst = target.instances[0]
        cx = _counterexample(target, None, used[0], inst, expected[0][0], got[0][0])
    return Verdict(False, diagnosis, cx, target.reference, target.wrt, target.label, answer, method, len(used))


def _num(v):
    return None if v is None else float(v)


def _counterexample(target, graph_answer, sample, inst, expected, got) -> dict:
    point = {k: _num(numeric.to_mp(v)) for k, v in sample.fractions.items()}
    names = sorted({str(s) for s in (graph_answer.free_symbols if graph_answer is not None else ())
                    if str(s) in sample.values} | {inst.node})
    quantities = {n: _num(sample.values[n]) for n in names if n in sample.values}
    cx = {"point": point, "expected": _num(expected), "got": _num(got), "quantities": quantities,
          "own_point": sample is sample.engine.samples[0] and sample.fractions == sample.engine.base}
    if inst.bindings:
        cx["instance"] = {k: v for k, v in inst.bindings.items() if k != "l"} or dict(inst.bindings)
        if "l" in inst.bindings and len(inst.bindings) > 1:
            cx["instance"]["l"] = inst.bindings["l"]
        cx["element"] = inst.node
    return cx

