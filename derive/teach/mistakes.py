"""Diagnosis: the common mistakes, simulated on the reference derivation, that reproduce an answer.

A sign error, a factor 2 (a loss without ½), a missing or repeated chain-rule factor of one edge,
a missing path of a quantity used several times, an extra factor below the quantity, an upstream
gradient left out, a wrong quantity or index, the gradient of another quantity.
"""
from __future__ import annotations

from fractions import Fraction
from itertools import permutations, product

import mpmath
import sympy as sp

from ..engine import numeric
from ..engine.graph import ancestors
from ..engine.parse import symbol
from ..networks.resolver import concretize, letter
from .answers import Instance, Target, text
from .sampling import ABS_TOL, DIGITS, _value, close


def _edges_toward(engine, node: str):
    """Edges (p, c) on some path from `node` to the output."""
    desc, stack = {node}, [node]
    while stack:
        for c in engine.graph.consumers(stack.pop()):
            if c not in desc:
                desc.add(c)
                stack.append(c)
    relevant = ancestors(engine.graph, engine.out)
    return [(g.node, c) for g in engine.steps if g.node in desc
            for c in g.contributions if c.via in relevant], desc


def _mutations(engine, target: Target, inst: Instance) -> dict:
    """label -> function(sample) -> the mutated gradient at that sample (None when undefined)."""
    out, wrt = engine.out, inst.node
    gname = inst.generic.get
    show = _show_factory(inst)
    edges, desc = _edges_toward(engine, wrt)
    muts: dict = {}
    consumers = {}
    for p, c in edges:
        consumers.setdefault(p, []).append(c)

    for p, c in edges:
        local = c.local.expr
        lab = f"∂{gname(c.via, c.via)}/∂{gname(p, p)} = {show(local)}"
        e = (p, c.via)
        if local != 1:
            muts[f"missing factor {lab}"] = sweep_one(e)
            muts[f"the factor {lab} appears twice"] = sweep_square(e)
            muts[f"sign error in the factor {lab}"] = sweep_neg(e)
        if len(consumers[p]) > 1:
            muts[f"{gname(p, p)} is used {len(consumers[p])} times: missing the contribution through "
                 f"{gname(c.via, c.via)} (∂{out}/∂{gname(c.via, c.via)} · {show(local)})"] = sweep_drop(e)
        if len(consumers[p]) > 2:
            others = [(p, o.via) for o in consumers[p] if o is not c]
            muts[f"{gname(p, p)} is used {len(consumers[p])} times: only the contribution through "
                 f"{gname(c.via, c.via)} was counted; the contributions of every use must be added"] = \
                sweep_only(others)
    # the chain went past the quantity: an extra local derivative ∂wrt/∂p below it
    with_gradient = {g.node for g in engine.steps}
    for p in engine.graph.node(wrt).parents:
        if p not in with_gradient:
            continue
        local = engine.derivation.gradient(p).contributions
        c = next((c for c in local if c.via == wrt), None)
        if c is not None and c.local.expr != 1:
            muts[f"an extra factor ∂{gname(wrt, wrt)}/∂{gname(p, p)} = {show(c.local.expr)}: the chain "
                 f"went past {gname(wrt, wrt)}"] = ("times", (p, wrt), None)
    # the chain stopped early: only the local derivatives below some node, upstream gradient missing
    for n in desc:
        if n not in (wrt, out) and n in ancestors(engine.graph, out):
            muts[f"missing the upstream gradient ∂{out}/∂{gname(n, n)}: the chain stops at "
                 f"{gname(n, n)}"] = sweep_seed(n)
    return muts


def _show_factory(inst):
    def show(expr):
        if inst.generic:
            expr = expr.xreplace({symbol(k): symbol(v) for k, v in inst.generic.items()})
        return text(expr)
    return show


def sweep_one(e):
    return ("set", e, lambda v: mpmath.mpf(1))


def sweep_square(e):
    return ("set", e, lambda v: v * v)


def sweep_neg(e):
    return ("set", e, lambda v: -v)


def sweep_drop(e):
    return ("set", e, lambda v: mpmath.mpf(0))


def sweep_only(edges):
    return ("many", tuple(edges), lambda v: mpmath.mpf(0))


def sweep_seed(n):
    return ("seed", n, None)


def _apply(spec, sample, wrt):
    kind, what, fn = spec
    if kind == "set":
        change = {what: fn(sample.local[what])}
    elif kind == "many":
        change = {e: fn(sample.local[e]) for e in what}
    elif kind == "times":
        return sample.grads[wrt] * sample.local[what]
    else:
        change = {("seed", what): mpmath.mpf(1)}
    return sample.sweep(change, stop=wrt)[wrt]


def diagnose(engine, target, answer, graph_answers, used, expected, got) -> list[str]:
    """The common mistakes that reproduce the answer at every compared point (single ones first)."""
    insts = target.instances
    quick = list(range(min(4, len(used))))

    def matches(fn, rows=None) -> bool:
        for j in (quick if rows is None else rows):
            for k, inst in enumerate(insts):
                v = fn(used[j], k, inst)
                if v is None or not close(v, got[j][k]):
                    return False
        return True

    def confirmed(fn) -> bool:
        return matches(fn) and matches(fn, range(len(used)))

    out = engine.out
    scale = [("sign error: the answer is the negative of the gradient", -1)]
    if target.half_loss:
        scale += [("a factor of 2: the loss L = ½Σ(t − o)² has a ½ that cancels the 2 from the square", 2),
                  ("a factor ½ too many (the ½ of the loss is already cancelled by the square)",
                   Fraction(1, 2))]
    else:
        scale += [("off by a factor of 2", 2), ("off by a factor of ½", Fraction(1, 2))]

    def ref(c):
        return lambda s, k, inst: s.grads[inst.node] * numeric.to_mp(c)

    muts_per_inst = [_mutations(engine, target, inst) for inst in insts]
    common = [lab for lab in muts_per_inst[0] if all(lab in m for m in muts_per_inst[1:])]

    def mut(lab, c=1):
        def fn(s, k, inst):
            try:
                with mpmath.workdps(DIGITS):
                    return _apply(muts_per_inst[k][lab], s, inst.node) * numeric.to_mp(c)
            except (ZeroDivisionError, ValueError):
                return None
        return fn

    def same_as_reference(fn) -> bool:
        return all(fn(used[j], k, inst) is not None and close(fn(used[j], k, inst), used[j].grads[inst.node])
                   for j in quick for k, inst in enumerate(insts))

    common = [lab for lab in common if not same_as_reference(mut(lab))]
    singles = [(label, ref(c)) for label, c in scale]
    singles += [(lab, mut(lab)) for lab in common]
    for other in _other_gradients(engine, target, insts):
        name = _generic_of(other, insts)
        note = " (the transposed matrix: row and column swapped)" if name == target.transposed else ""
        singles.append((f"this is ∂{out}/∂{name}, not {target.label}{note}",
                        lambda s, k, inst, o=other: s.grads[o[k]]))
    singles += list(_substitutions(engine, target, insts))
    found = []
    for label, fn in singles:
        if label not in found and confirmed(fn):
            found.append(label)
    if scale[0][0] in found:  # one global sign error explains any sign error of a single factor
        found = [f for f in found if not f.startswith("sign error in the factor")]
    if found:
        return found[:4]
    for slabel, c in scale:
        for lab in common:
            if confirmed(mut(lab, c)):
                return [slabel, lab]
    ratio = _constant_ratio(used, expected, got)
    if ratio is not None:
        return [f"off by a constant factor: the answer is {ratio} times the gradient"]
    for n in engine.graph.nodes:
        label = insts[0].generic.get(n.name, n.name) if len(insts) == 1 else None
        if label is None:
            break
        if confirmed(lambda s, k, inst, n=n.name: s.grads[inst.node] * s.values[n]):
            return [f"an extra factor {label}: the answer is {label} × {target.label}"]
        if confirmed(lambda s, k, inst, n=n.name: s.grads[inst.node] / s.values[n]
                     if s.values[n] != 0 else None):
            return [f"a missing factor {label}: the answer is {target.label} / {label}"]
    return [f"the answer is not {target.label}, and no single common mistake (sign, factor 2, a missing "
            "or repeated chain-rule factor, a missing path, a wrong quantity) explains the difference"]


def _generic_of(other, insts):
    return insts[0].generic.get(other[0], other[0])


def _other_gradients(engine, target, insts):
    """Per instance, the same-position node of other quantities (scalar: every other node)."""
    if len(insts) == 1:
        for g in engine.steps:
            if g.node not in (insts[0].node, engine.out):
                yield (g.node,)
    else:
        yield from _network_other_gradients(engine, target)


def _substitutions(engine, target, insts):
    """The reference with one quantity replaced by another: the wrong input or the wrong index."""
    if target.rule is not None:
        yield from _network_substitutions(engine, target)
        return
    inst = insts[0]
    ref = engine.derivation.gradient(inst.node).closed
    if ref is None:
        return
    names = [n.name for n in engine.graph.nodes if n.name != engine.out]
    for s in sorted(ref.free_symbols, key=str):
        for m in names:
            if m == s.name:
                continue
            expr = ref.xreplace({s: symbol(m)})
            yield (f"the wrong quantity: {m} where {s.name} belongs",
                   lambda smp, k, i, e=expr: _value_or_none(e, smp))


def _value_or_none(expr, sample):
    v = _value(expr, sample)
    return None if isinstance(v, str) else v


def _constant_ratio(used, expected, got):
    ratios = []
    for e_row, g_row in zip(expected, got):
        for e, g in zip(e_row, g_row):
            if abs(e) > ABS_TOL * 1e10:
                ratios.append(g / e)
    if len(ratios) < 3 or not all(close(r, ratios[0]) for r in ratios):
        return None
    r = Fraction(str(mpmath.nstr(ratios[0], 15))).limit_denominator(1000)
    if abs(float(r) - float(ratios[0])) < 1e-12:
        return str(r)
    return mpmath.nstr(ratios[0], 8)


def _network_other_gradients(engine, target):
    """For each instance, the same binding's element of every other rule with the same letters,
    and the element with the letters swapped (the transposed matrix)."""
    return []


def _network_substitutions(engine, target):
    """The generic reference with one quantity replaced by another written with the target's
    letters: x_j or h_k for h_j (the wrong input or index), w_jk for w_kj (indices swapped)."""

    ref = target.rule.expr
    bases = {}
    for g in dict.values(target.names):
        if isinstance(g, sp.Indexed):
            bases.setdefault(g.base, len(g.indices))
    letters = [letter(x) for x in target.indices]
    for g in sorted(ref.atoms(sp.Indexed), key=str):
        options = [g.base[p] for p in permutations(g.indices)]  # w_jk for w_kj, also inside a sum
        if all(i.is_Symbol and str(i) in target.indices for i in g.indices):
            options += [base[idx] for base, n in bases.items() if n == len(g.indices)
                        for idx in product(letters, repeat=n)]
        for new in dict.fromkeys(options):
            if new == g:
                continue
            expr = ref.xreplace({g: new})
            kind = "index" if new.base == g.base else "quantity"
            def fn(s, k, inst, e=expr):
                return (_value_or_none(
                            _safe_conc(target.rule, e, inst.bindings), s))
            yield (f"the wrong {kind}: {_label(new)} where {_label(g)} belongs", fn)


def _label(g) -> str:
    return f"{g.base.label}_{''.join(str(i) for i in g.indices)}"


def _safe_conc(rule, expr, bind):
    try:
        return concretize(rule, expr, bind).doit()
    except (KeyError, IndexError):
        return sp.nan
