"""Diagnosis: the common mistakes that reproduce a wrong answer at every compared point.

Candidates, each computed from the reference derivation at the same samples as the answer: a sign
error, a factor 2 (a loss without ½), the changes of the derivation in `mutations` (a missing,
repeated or half factor, the wrong activation's derivative, a denominator not squared, a missing
path or upstream gradient, the chain stopping early or going past), the gradient of another
quantity, the reference with one quantity or index replaced (x_i for h_j, w_jk for w_kj), then a
sign or factor 2 on top of one change, a constant ratio, an extra or missing factor that is one
named quantity, a contribution counted twice, and an answer right for some units only.
"""
from __future__ import annotations

import re
import threading
from fractions import Fraction
from itertools import permutations, product

import sympy as sp

from .. import i18n
from ..engine import numeric
from ..engine.parse import symbol
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..i18n import N_
from .answers import GENERIC, VerifyError, code_of, diagnosis, text
from .mutations import mutations
from .sampling import ABS_TOL, DIGITS, _value, close
from .vocabulary import letter, parse_tag


def generic_message(target) -> str:
    return diagnosis("generic", N_("the answer is not {label}, and no single common mistake (sign, factor 2, a missing "
                     "or repeated chain-rule factor, a missing path, a wrong quantity) explains the difference"),
                     label=target.label)


class Judge:
    """Compares candidate values with the answer's at the used samples (a few first, then all)."""

    def __init__(self, engine, target, used, expected, got):
        self.engine, self.target = engine, target
        self.used, self.expected, self.got = used, expected, got
        self.insts = target.instances
        self.quick = range(min(4, len(used)))
        self.cache: dict = {}

    def matches(self, fn, rows, against=None) -> bool:
        against = self.got if against is None else against
        for j in rows:
            for k, inst in enumerate(self.insts):
                try:
                    with mpmath.workdps(DIGITS):
                        v = fn(self.used[j], k, inst)
                except (ZeroDivisionError, ValueError, TypeError, KeyError, VerifyError):
                    return False
                if v is None or isinstance(v, str) or not mpmath.isfinite(v) or not close(v, against[j][k]):
                    return False
        return True

    def expected_at(self, sample, k):
        return self.target.scale * sample.grads[self.insts[k].node]

    def confirmed(self, fn) -> bool:
        return self.matches(fn, self.quick) and self.matches(fn, range(len(self.used)))

    def generic_value(self, expr, k, sample):
        """A generic expression (vocabulary objects) for instance k at a sample."""
        key = (expr, k)
        if key not in self.cache:
            try:
                self.cache[key] = self.target.names.concretize(expr, self.insts[k].bindings)
            except VerifyError:
                self.cache[key] = None
        conc = self.cache[key]
        if conc is None:
            return None
        sample.provide(conc)
        v = _value(conc, sample)
        return None if isinstance(v, str) else v


def diagnose(engine, target, used, expected, got) -> list[str]:
    found = _diagnose(engine, target, used, expected, got)
    spoken = _spoken(engine.graph, target) if target.kind == "scalar" else {}
    return [_respoken(d, spoken) for d in found] if spoken else found


def _composed(node, graph) -> bool:
    """A gate named by auto-staging (wx, wxpb, tanhwxpb, sigy, sum_1), not by the problem's author."""
    from ..engine.stage import _BINARY_JOIN, _UNARY_NAME, _WORD
    name, parents = node.name, node.parents
    if re.fullmatch("(?:" + "|".join(map(re.escape, set(_WORD.values()))) + r")(?:_\d+)?", name):
        return True
    if len(parents) == 1:
        return name == _UNARY_NAME.get(node.op, "\0") + parents[0] or (node.op == "pow" and name.startswith(parents[0]))
    return len(parents) == 2 and name == parents[0] + _BINARY_JOIN.get(node.op, "\0") + parents[1]


def _spoken(graph, target) -> dict:
    """Auto-staged gate name -> the expression it stands for in the problem's own names (short ones),
    parenthesized unless a single call: the student wrote f = tanh(w·x + b), never saw wxpb."""
    auto = {n.name: n for n in graph.steps if n.name not in (graph.output, target.wrt) and _composed(n, graph)}
    out = {}
    for name, node in auto.items():
        expr = node.expr
        for _i in range(len(auto)):
            inner = {s: auto[s.name].expr for s in expr.free_symbols if s.name in auto}
            if not inner:
                break
            expr = expr.xreplace(inner)
        plain = text(expr)
        if len(plain) <= 40:
            out[name] = plain if re.fullmatch(r"\w+\((?:[^()]|\([^()]*\))*\)", plain) else f"({plain})"
    return out


def _respoken(d, spoken: dict):
    """The diagnosis, carrying its values told in the problem's own names (`spoken`) and the gate
    names replaced (`gates`): feedback for an answer that uses none of them tells it so."""
    values = getattr(d, "values", None)
    if not values or not d.msgid:
        return d
    pattern = re.compile(r"(?<![\w^])(" + "|".join(sorted(map(re.escape, spoken), key=len, reverse=True))
                         + r")(?![\w])")
    renamed = {k: pattern.sub(lambda m: spoken[m.group(1)], v) if isinstance(v, str) else v
               for k, v in values.items()}
    if renamed != values:
        d.spoken, d.gates = renamed, frozenset(spoken)
    return d


_MUTATIONS_LOCK = threading.Lock()


def _diagnose(engine, target, used, expected, got) -> list[str]:
    j = Judge(engine, target, used, expected, got)
    scale_of = target.scale
    scales = [(diagnosis("sign", N_("sign error: the answer is the negative of the gradient")), -1)]
    if target.half_loss:
        scales += [(diagnosis("factor-2", N_("a factor of 2: the loss L = ½Σ(t − o)² has a ½ that cancels the 2 from "
                              "the square")), 2),
                   (diagnosis("factor-half", N_("a factor ½ too many (the ½ of the loss is already cancelled by the "
                              "square)")), Fraction(1, 2))]
    else:
        scales += [(diagnosis("factor-2", N_("off by a factor of 2")), 2),
                   (diagnosis("factor-half", N_("off by a factor of ½")), Fraction(1, 2))]
    if getattr(target.names, "batch", 1) > 1:  # before the ½: with N = 2 both read 1/2
        scales.insert(1, (diagnosis("batch-size", N_("divided by the batch size N = {n} (averaged over the batch): the "
                          "loss adds the samples' losses, so the gradient is a sum over n without 1/N"),
                          n=target.names.batch), Fraction(1, target.names.batch)))

    def ref(c):
        return lambda s, k, inst: scale_of * s.grads[inst.node] * numeric.to_mp(c)

    with _MUTATIONS_LOCK:  # one cache per engine and language (labels are text), shared by threads
        caches = target.extra.setdefault("mutations", {})
        cache = caches.get((id(engine), i18n.current()))
        if cache is None or cache["engine"] is not engine:
            if len(caches) > 8:
                caches.clear()
            cache = caches[(id(engine), i18n.current())] = {
                "engine": engine, "per": [mutations(engine, target, inst) for inst in j.insts], "values": {}}
    muts, values = cache["per"], cache["values"]
    common = [lab for lab in muts[0] if all(lab in m for m in muts[1:])]

    def mutated(lab, s, k):
        """A mistake's gradient at a sample, computed once per engine (it does not depend on the answer)."""
        key = (lab, k, id(s))
        if key not in values:
            values[key] = muts[k][lab](s)
        return values[key]

    def mut(lab, c=1):
        return lambda s, k, inst: scale_of * mutated(lab, s, k) * numeric.to_mp(c)

    unchanged = [lab for lab in common if j.matches(mut(lab), j.quick, j.expected)]
    common = [lab for lab in common if lab not in unchanged]
    singles = [(label, ref(c)) for label, c in scales]
    singles += [(lab, mut(lab)) for lab in common]
    singles += list(_other_gradients(engine, target))
    if target.kind == "scalar":  # few candidates: the wrong quantity is named beside the rest
        singles += list(_scalar_substitutions(j))
    found = _confirmed(j, singles)
    if scales[0][0] in found:  # one global sign error explains any sign error of a single factor
        found = [f for f in found if code_of(f) != "sign-in-factor"]
    if found:
        return found[:4]
    found = _confirmed(j, _substitutions(j))
    if found:
        return found[:4]
    for slabel, c in scales:
        for lab in common:
            if j.confirmed(mut(lab, c)):
                lab = type(lab)(lab, code_of(lab), lab.msgid, lab.values)
                lab.together = True  # both mistakes at once: shown together, not as alternatives
                return [slabel, lab]
    return _ratios(j) or _contribution_twice(j) or _extra_term(j) or _some_units(j) or [generic_message(target)]


def _confirmed(j: Judge, candidates) -> list[str]:
    found = []
    for label, fn in candidates:
        if label not in found and j.confirmed(fn):
            found.append(label)
    return found


def _other_gradients(engine, target):
    """∂L/∂(another quantity), named alike for every instance (scalar: every other node)."""
    insts, names, out = target.instances, target.names, engine.out
    elements = target.extra.get("elements", {})
    per = []
    for inst in insts:
        table = {}
        for g in engine.steps:
            if g.node in (inst.node, out):
                continue
            name = elements.get(g.node) or names.generic_of(g.node, inst.bindings, True)
            table.setdefault(name, g.node)
        per.append(table)
    for name in per[0]:
        if name == target.wrt or not all(name in t for t in per[1:]):
            continue
        nodes = [t[name] for t in per]
        label = diagnosis("other-gradient", N_("this is {other}, not {label} (the transposed matrix: row and column "
                          "swapped)") if name == target.transposed else N_("this is {other}, not {label}"),
                          other=f"∂{out}/∂{name}", label=target.label)
        yield (label,
               lambda s, k, inst, nodes=nodes: target.scale * s.grads[nodes[k]])


def calibrated(j: Judge) -> list:
    """The rule's generic formulas (expanded, and with δ of its own layer) with δ in this
    problem's convention (rules may write δ = ∂L/∂net either way): the variants that equal the
    expected values at the first samples."""
    if "calibrated" in j.target.extra:
        return j.target.extra["calibrated"]
    found = []
    for g in (j.target.generic, j.target.extra.get("delta_form")):
        if g is None:
            continue
        deltas = {x: -x for x in g.atoms(sp.Indexed) if parse_tag(x.base)[0] == "delta"}
        flipped = g.xreplace(deltas) if deltas else g
        for cand in (g, flipped, -g, -flipped):
            rows = range(min(2, len(j.used)))
            if j.matches(lambda s, k, inst, c=cand: j.generic_value(c, k, s), rows, j.expected):
                found.append(cand)
                break
    j.target.extra["calibrated"] = found
    return found


def _replace_nth(expr, old, new, n: int):
    """`expr` with only the n-th occurrence (preorder) of `old` replaced."""
    count = [0]

    def walk(e):
        if e == old:
            count[0] += 1
            return new if count[0] - 1 == n else e
        if e.is_Atom or isinstance(e, sp.Indexed) or not e.args:
            return e
        args = [walk(a) for a in e.args]
        return e.func(*args) if any(a is not b for a, b in zip(args, e.args)) else e
    return walk(expr)


def _occurrences(expr, old) -> int:
    if expr == old:
        return 1
    if expr.is_Atom or isinstance(expr, sp.Indexed):
        return 0
    return sum(_occurrences(a, old) for a in expr.args)


def _options(g, names, bases, letters):
    role, kind, d = parse_tag(g.base)
    per = names.batch > 1 and role in ("act", "net", "delta", "target")
    head, units = (g.indices[:1], g.indices[1:]) if per else ((), g.indices)
    options = [g.base[tuple(head) + p] for p in permutations(units)]
    choices = list(dict.fromkeys([u for u in units if u.is_Symbol] + letters))
    options += [b[tuple(head) + idx] for b, n in bases.items() if n == len(g.indices)
                for idx in product(choices, repeat=len(units))]
    if kind in ("a", "r", "L"):  # the same quantity one layer up or down
        from .vocabulary import _tag
        options += [_tag(role, kind, d + step)[g.indices] for step in (-1, 1)]
    return options


def _substitutions(j: Judge):
    """The reference with one quantity replaced by another: the wrong input, index, layer or weight
    (one occurrence or all of them)."""
    target = j.target
    names = target.names
    if target.kind == "scalar" or not hasattr(names, "nm"):  # a layer problem's element: plain symbols
        yield from _scalar_substitutions(j)
        return
    bases = {}
    for nm in names.shown():
        g = names.get(nm)
        if isinstance(g, sp.Indexed):
            bases.setdefault(g.base, len(g.indices))
    letters = [letter(x) for x in target.indices if x != "n"] or \
        [letter(x) for x in sorted({k for i in target.instances for k in i.bindings} - {"l", "n"})]
    seen = set()
    for ref in calibrated(j):
        atoms = sorted(ref.atoms(sp.Indexed), key=str)
        for g in atoms:
            count = _occurrences(ref, g)
            for new in dict.fromkeys(_options(g, names, bases, letters)):
                new = names.get(names.label(new)) or new  # as the same name typed reads (Mitchell's w_jk)
                if new == g:
                    continue
                index = names.label(new).split("_")[0] == names.label(g).split("_")[0]
                layer = "^" in names.label(g) and names.label(new).split("^")[0] == names.label(g).split("^")[0]
                label = diagnosis("wrong-index" if index else "wrong-layer" if layer else "wrong-quantity",
                                  N_("the wrong index: {new} where {old} belongs") if index else
                                  N_("one layer off: {new} where {old} belongs") if layer else
                                  N_("the wrong quantity: {new} where {old} belongs"),
                                  new=names.label(new), old=names.label(g))
                if target.kind == "element":
                    try:
                        bind = target.instances[0].bindings
                        label = type(label)(label + i18n._(" ({new} where {old} belongs)").format(
                            new=names.concrete_name(new, bind), old=names.concrete_name(g, bind)), label.code)
                    except VerifyError:
                        pass  # a summed index: the generic names say it
                variants = [ref.xreplace({g: new})] + ([_replace_nth(ref, g, new, n) for n in range(count)]
                                                       if count > 1 else [])
                for expr in variants:
                    if expr in seen:
                        continue
                    seen.add(expr)
                    yield label, (lambda s, k, inst, e=expr: j.generic_value(e, k, s))
        w_atoms = [g for g in atoms if parse_tag(g.base)[0] == "w"]
        if w_atoms:  # every weight with its indices swapped: the transposed weight matrix
            expr = ref.xreplace({g: g.base[g.indices[1], g.indices[0]] for g in w_atoms})
            yield (diagnosis("transposed", N_("the weights are transposed: w with its two indices swapped throughout "
                             "(the row of W where its column belongs)")),
                   lambda s, k, inst, e=expr: j.generic_value(e, k, s))


def _scalar_substitutions(j: Judge):
    engine, inst = j.engine, j.insts[0]
    ref = engine.derivation.gradient(inst.node).closed
    if ref is None:
        return
    names = [n.name for n in engine.graph.nodes if n.name != engine.out]
    for s in sorted(ref.free_symbols, key=str):
        for m in names:
            if m == s.name:
                continue
            expr = ref.xreplace({s: symbol(m)})
            yield (diagnosis("wrong-quantity", N_("the wrong quantity: {new} where {old} belongs"), new=m, old=s.name),
                   lambda smp, k, i, e=expr: _plain(e, smp))


def _plain(expr, sample):
    v = _value(expr, sample)
    return None if isinstance(v, str) else v


def _named_values(j: Judge) -> dict:
    """Quantities named alike for every instance: label -> per-instance value function (sample ->
    value): every node, every δ (this problem's convention) and every gradient ∂L/∂(node)."""
    names, engine = j.target.names, j.engine
    out_name = engine.out
    deltas = {str(sym): (sym, node) for sym, node in engine.deltas.items()}
    per = []
    for inst in j.insts:
        table = {}
        for n in engine.graph.nodes:
            if n.name == out_name:
                continue
            lab = names.generic_of(n.name, inst.bindings, True)
            table.setdefault(lab, lambda s, n=n.name: s.values[n])
            if engine.derivation.has(n.name):
                table.setdefault(f"∂{out_name}/∂{lab}", lambda s, n=n.name: s.grads[n])
        for dname, (sym, _node) in deltas.items():
            lab = names.generic_of(dname, inst.bindings, True)
            table.setdefault(lab, lambda s, sym=sym: s.env[sym])
        for g in engine.steps:  # every local derivative: an extra chain-rule factor
            for c in g.contributions:
                if c.local.expr == 1:
                    continue
                shown = text(c.local.expr.xreplace({x: symbol(names.generic_of(x.name, inst.bindings, True))
                                                    for x in c.local.expr.free_symbols}))
                lab = (f"∂{names.generic_of(c.via, inst.bindings, True)}/"
                       f"∂{names.generic_of(g.node, inst.bindings, True)}")
                table.setdefault(f"{lab} = {shown}", lambda s, e=(g.node, c.via): s.local[e])
        per.append(table)
    return {lab: [t[lab] for t in per] for lab in per[0] if all(lab in t for t in per[1:])}


def _ratios(j: Judge):
    ratios = []
    for e_row, g_row in zip(j.expected, j.got):
        for e, g in zip(e_row, g_row):
            if abs(e) > ABS_TOL * 1e10:
                ratios.append(g / e)
    flat = [g for g_row in j.got for g in g_row]
    if len(ratios) >= 3 and all(close(r, ratios[0]) for r in ratios) \
            and not (ratios[0] == 0 and any(g != 0 for g in flat)):  # 0 where it should not be, not 0 times
        r = Fraction(str(mpmath.nstr(ratios[0], 15))).limit_denominator(1000)
        shown = str(r) if abs(float(r) - float(ratios[0])) < 1e-12 else mpmath.nstr(ratios[0], 8)
        return [diagnosis("ratio", N_("off by a constant factor: the answer is {ratio} times {label}"), ratio=shown,
                          label=j.target.label)]
    graph, label = j.engine.graph, j.target.label
    named = _named_values(j)
    for name, fns in named.items():
        def times(s, k, inst, fns=fns):
            return j.expected_at(s, k) * fns[k](s)

        def over(s, k, inst, fns=fns):
            v = fns[k](s)
            return j.expected_at(s, k) / v if v != 0 else None
        if j.confirmed(times):
            node = name if name in graph else None
            quotient = node and [c for c in graph.consumers(node) if graph.node(c).op in ("inv", "div")]
            if quotient:
                return [diagnosis("quotient-rule", N_("the quotient rule's denominator is not squared: the answer is "
                                  "{name} × {label} (a 1/{name}² became 1/{name})"), name=name, label=label)]
            short = name.split(" = ")[0]
            return [diagnosis("extra-factor", N_("an extra factor {factor}: the answer is {name} × {label}"),
                              factor=name, name=short, label=label)]
        if j.confirmed(over):
            den = _denominator(graph, name)
            if den:  # 1/den where 1/den² belongs reads as "missing a factor 1/den"
                return [diagnosis("quotient-rule", N_("the quotient rule's denominator is not squared: the answer is "
                                  "{name} × {label} (a 1/{name}² became 1/{name})"), name=den, label=label)]
            short = name.split(" = ")[0]
            return [diagnosis("missing-factor", N_("a missing factor {factor}: the answer is {label} / {name}"),
                              factor=name, name=short, label=label)]
    return None


def _denominator(graph, name: str) -> str | None:
    """The denominator of a quotient node (invden = 1/den: den), else None."""
    if name not in graph:
        return None
    node = graph.node(name)
    if node.op == "inv" and node.parents:
        return node.parents[0]
    if node.op == "div" and len(node.parents) == 2:
        return node.parents[1]
    return None


def _contribution_twice(j: Judge):
    engine = j.engine
    per = []
    for inst in j.insts:
        g = engine.derivation.gradient(inst.node)
        per.append({j.target.names.generic_of(c.via, inst.bindings, False): (inst.node, c.via)
                    for c in g.contributions})
    for name in per[0]:
        if not all(name in t for t in per[1:]) or len(per[0]) < 2:
            continue
        edges = [t[name] for t in per]

        def twice(s, k, inst, edges=edges):
            e = edges[k]
            return j.target.scale * (s.grads[inst.node] + s.grads[e[1]] * s.local[e])
        if j.confirmed(twice):
            return [diagnosis("counted-twice", N_("the contribution through {name} is counted twice"), name=name)]
    return None


def _extra_term(j: Judge):
    """The answer minus the gradient is one constant or one named quantity: an extra term."""
    diffs = [g - e for e_row, g_row in zip(j.expected, j.got) for e, g in zip(e_row, g_row)]
    if len(diffs) >= 3 and all(close(d, diffs[0]) for d in diffs):
        return [diagnosis("extra-term", N_("an extra constant term: the answer is {label} + {value}"),
                          label=j.target.label, value=mpmath.nstr(diffs[0], 8))]
    for name, fns in _named_values(j).items():
        for sign in (1, -1):
            if j.confirmed(lambda s, k, inst, fns=fns, sign=sign: j.expected_at(s, k) + sign * fns[k](s)):
                return [diagnosis("extra-term", N_("an extra term {sign} {term}: the answer is {label} {sign} {name}"),
                                  sign="+" if sign == 1 else "−", term=name, label=j.target.label,
                                  name=name.split(" = ")[0])]
    return None


def _some_units(j: Judge):
    """Right for some instances only: a unit number where an index letter belongs."""
    if len(j.insts) < 2:
        return None
    right = [k for k in range(len(j.insts))
             if all(close(j.expected[r][k], j.got[r][k]) for r in range(len(j.used)))]
    if not right or len(right) == len(j.insts):
        return None
    where = "; ".join(", ".join(f"{a} = {b}" for a, b in j.insts[k].bindings.items() if a != "l") for k in right)
    return [diagnosis("some-units", N_("the answer is {label} only for {where}: a fixed unit (a number) stands where "
                                       "an index letter belongs, or a quantity of one unit is used for all"),
                      label=j.target.label,
                      where=where)]


__all__ = ["GENERIC", "diagnose", "generic_message", "text"]
