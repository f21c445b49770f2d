"""Common mistakes as changes of the reference derivation, each named in the problem's terms.

For one instance (one concrete gradient), `mutations` lists label -> spec, where spec(sample) is
the gradient the mistake would give at that sample (a reverse sweep with changed local
derivatives). Edges are grouped by how they read in the rule's letters, so that a mistake has one
name for every instance: "missing factor ∂net_k/∂h_j = w_kj" drops the weight from every term of
the sum over k. Per-term mistakes ("the contribution through net_2 ...") name the unit.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..engine.compiled import compiled
from ..engine.ops import FUNCTION_TABLE, LOSSES
from ..engine.parse import symbol
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..i18n import N_, _
from .answers import diagnosis, text
from .showing import ast_of, show_plain


def _alternatives(op: str, act: sp.Symbol, net: sp.Symbol, generic: dict):
    """Other activations' derivatives written at a unit of `op` (out `act`, net input `net`): each record
    `op` is confused with (its record's `confused`; only these, so that a missing σ′ on a sigmoid unit is
    not called softplus′ = σ(net)), in the unit's own terms (σ′ = h(1 − h)) and in the net
    (σ′(net) = σ(net)(1 − σ(net)), SymPy's derivative); (label, expression in act and net)."""
    def shown(expr):
        return show_plain(ast_of(expr.xreplace(generic)))
    own = FUNCTION_TABLE[op]
    out, seen = [], {own.own_derivative(act, net)}
    for f in (FUNCTION_TABLE[n] for n in own.confused if n != op):
        for expr, at in ((f.own_derivative(act, net), ""), (sp.diff(f.make(net), net), f"({shown(net)})")):
            if expr in seen:
                continue
            seen.add(expr)
            label = f"{shown(expr)} ({_(f.unit)})" if expr.is_Number else f"{f.prime_plain}{at} = {shown(expr)}"
            out.append((f.name, label, expr))
    return out


def relevant_edges(engine, node: str):
    """Edges (p, c, local expr) on some path from `node` to the output, and the nodes above it."""
    graph = engine.graph
    desc, stack = {node}, [node]
    while stack:
        for c in graph.consumers(stack.pop()):
            if c not in desc:
                desc.add(c)
                stack.append(c)
    relevant = engine.relevant
    edges = [(g.node, c.via, c.local.expr) for g in engine.steps if g.node in desc
             for c in g.contributions if c.via in relevant]
    return edges, desc


class Sweep:
    """A mistake as changed local derivatives: spec(sample) -> the mutated gradient of `node`."""

    def __init__(self, node: str, changes):
        self.node, self.changes = node, changes  # [(edge, fn(sample, edge, value) -> new value)]

    def __call__(self, sample):
        change = {e: fn(sample, e, sample.local[e]) for e, fn in self.changes}
        return sample.sweep(change, stop=self.node)[self.node]


class Seed:
    """The chain stops at the nodes `at`: each ∂L/∂at is taken as 1 (the upstream gradient left out)."""

    def __init__(self, node: str, at):
        self.node, self.at = node, tuple(at)

    def __call__(self, sample):
        return sample.sweep({("seed", a): mpmath.mpf(1) for a in self.at}, stop=self.node)[self.node]


class Times:
    """The gradient times the local derivative of an edge below it (the chain went past)."""

    def __init__(self, node: str, edge):
        self.node, self.edge = node, edge

    def __call__(self, sample):
        return sample.grads[self.node] * sample.local[self.edge]


def _halves(local) -> list:
    """1 − x² as the two factors (1 − x, 1 + x), each with the other; else []."""
    if local.is_Add and len(local.args) == 2 and sp.S.One in local.args:
        other = next(a for a in local.args if a != 1)
        if other.could_extract_minus_sign() and (-other).is_Pow and (-other).exp == 2:
            x = (-other).base
            return [(1 - x, 1 + x), (1 + x, 1 - x)]
    return []


def _value_at(expr, sample):
    try:
        return compiled(expr)(sample.env)
    except (KeyError, ZeroDivisionError, ValueError, TypeError):
        return None


def _set(es, fn):
    return [((p, c), fn) for p, c, _ in es]


def _ratio(expr_of):
    """A change that divides each edge's value by an expression of that edge (None when 0)."""
    def fn(sample, e, v):
        d = _value_at(expr_of[e], sample)
        return v / d if d not in (None, 0) else mpmath.nan
    return fn


def mutations(engine, target, inst) -> dict:
    """label -> spec(sample) for one instance; labels read the same for every instance."""
    names, bind, node = target.names, inst.bindings, inst.node
    graph, out = engine.graph, engine.out

    def G(n):
        return names.generic_of(n, bind, True)

    def T(n):
        return names.generic_of(n, bind, False)

    def show(expr, f=G):
        return text(expr.xreplace({s: symbol(f(s.name)) for s in expr.free_symbols if s.name in graph}))

    edges, desc = relevant_edges(engine, node)
    muts: dict = {}
    groups: dict = {}
    for p, c, local in edges:
        groups.setdefault(f"∂{G(c)}/∂{G(p)} = {show(local)}", []).append((p, c, local))
    consumers: dict = {}
    for p, c, local in edges:
        consumers.setdefault(p, []).append((c, local))

    for lab, es in groups.items():
        local0 = es[0][2]
        if local0 != 1:
            muts[diagnosis("missing-factor", N_("missing factor {factor}"), factor=lab)] = \
                Sweep(node, _set(es, lambda s, e, v: mpmath.mpf(1)))
            muts[diagnosis("factor-twice", N_("the factor {factor} appears twice"), factor=lab)] = \
                Sweep(node, _set(es, lambda s, e, v: v * v))
            muts[diagnosis("sign-in-factor", N_("sign error in the factor {factor}"), factor=lab)] = \
                Sweep(node, _set(es, lambda s, e, v: -v))
        if local0.is_Mul:
            for factor in local0.args:
                if factor.is_Number and abs(factor) == 1:
                    continue
                wanted = show(factor)
                per_edge = {}
                for p, c, local in es:
                    f = next((a for a in (local.args if local.is_Mul else ()) if show(a) == wanted), None)
                    per_edge[(p, c)] = f
                if all(f is not None for f in per_edge.values()):
                    rest = show(sp.Mul(*[a for a in local0.args if a is not factor]))
                    muts[diagnosis("part-of-factor", N_("only part of {factor}: the factor {part} is missing (the "
                                   "answer has {rest})"), factor=lab, part=wanted, rest=rest)] = \
                        Sweep(node, _set(es, _ratio(per_edge)))
        halves = _halves(local0)
        for part, rest in halves:  # tanh′ = 1 − h² = (1 − h)(1 + h): one of the two
            wanted = show(part)
            per_edge = {(p, c): _halves(local)[halves.index((part, rest))][0] if len(_halves(local)) == len(halves)
                        else None for p, c, local in es}
            if all(v is not None for v in per_edge.values()):
                muts[diagnosis("part-of-factor", N_("only part of {factor} = {parts}: the answer has {part}"),
                               factor=lab, parts=f"({show(part)})({show(rest)})", part=wanted)] = \
                    Sweep(node, _set(es, lambda s, e, v, pe=per_edge: _value_at(pe[e], s)))
        for pw in sorted(local0.atoms(sp.Pow), key=str):
            if pw.exp.is_Integer and pw.exp <= -2:
                per_edge = {(p, c): local.xreplace({a: a.base ** (a.exp + 1) for a in local.atoms(sp.Pow)
                                                    if a.exp == pw.exp})
                            for p, c, local in es}
                muts[diagnosis("quotient-rule", N_("the denominator {denominator} in {factor} is not squared (quotient "
                               "rule: the denominator is squared)"), denominator=show(pw.base),
                               factor=lab)] = \
                    Sweep(node, _set(es, lambda s, e, v, pe=per_edge: _value_at(pe[e], s)))
        c0, p0 = es[0][1], es[0][0]
        unit = FUNCTION_TABLE.get(graph.node(c0).op)
        if unit is not None and unit.activation and graph.node(c0).parents == (p0,):
            rate = unit.own_derivative(symbol(c0), symbol(p0))
            own = show_plain(ast_of(rate)) if rate.is_Number else unit.prime_plain
            generic = {symbol(c0): symbol(G(c0)), symbol(p0): symbol(G(p0))}
            for _other, label, form in _alternatives(unit.name, symbol(c0), symbol(p0), generic):
                per_edge = {(p, c): form.xreplace({symbol(c0): symbol(c), symbol(p0): symbol(p)}) for p, c, _ in es}
                muts[diagnosis("wrong-activation", N_("the derivative of the wrong activation: {wrong} where {right} "
                               "belongs ({activation} {unit}, {factor})"), wrong=label, right=own,
                               unit=G(c0), activation=_(unit.unit), factor=lab)] = \
                    Sweep(node, _set(es, lambda s, e, v, pe=per_edge: _value_at(pe[e], s)))
            muts.update(_activation_mix_ups(unit, rate, own, G(p0), lab, node, es))
        muts.update(_term_signs(local0, es, lab, node, show))
        if c0 == out or graph.node(c0).op in LOSSES:
            muts.update(_head_mix_ups(engine, es, node, show))
        if c0 != out and any(graph.consumers(c) for _, c, _ in es):
            upstream = {(p, c): symbol("∂" + out + "/∂" + c) for p, c, _ in es}
            up = f"∂{out}/∂{G(c0)}" + _as_delta(engine, names, c0, bind)
            muts[diagnosis("missing-upstream", N_("the upstream gradient {upstream} is missing in the contribution "
                           "through {quantity}"), upstream=up, quantity=G(c0))] = \
                Sweep(node, _set(es, _ratio(upstream)))
            muts[diagnosis("upstream-twice", N_("the upstream gradient {upstream} appears twice in the contribution "
                           "through {quantity}"), upstream=up, quantity=G(c0))] = \
                Sweep(node, _set(es, lambda s, e, v: v * s.grads[e[1]]))

    for p, cs in consumers.items():
        if len(cs) < 2:
            continue
        for c, local in cs:
            e = (p, c)
            muts[diagnosis("missing-path", N_("{quantity} is used {count} times: missing the contribution "
                                              "through {via} ({term})"), quantity=G(p), count=len(cs), via=T(c),
                           term=f"∂{out}/∂{T(c)} · {show(local, T)}")] = \
                Sweep(node, [(e, lambda s, e, v: mpmath.mpf(0))])
            if local != 1:
                muts[diagnosis("missing-factor", N_("the contribution through {via} is missing the factor {factor}"),
                               via=T(c), factor=f"∂{T(c)}/∂{T(p)} = {show(local, T)}")] = \
                    Sweep(node, [(e, lambda s, e, v: mpmath.mpf(1))])
            if c != out and graph.consumers(c):
                muts[diagnosis("missing-upstream", N_("the contribution through {via} is missing its upstream gradient "
                               "{upstream}"), via=T(c), upstream=f"∂{out}/∂{T(c)}")] = \
                    Sweep(node, [(e, _ratio({e: symbol("∂" + out + "/∂" + c)}))])
        if len(cs) > 2:
            for c, _local in cs:
                others = [(p, o) for o, _ in cs if o != c]
                muts[diagnosis("missing-path", N_("{quantity} is used {count} times: only the contribution "
                                                  "through {via} was counted; the contributions of every use "
                                                  "must be added"),
                               quantity=G(p), count=len(cs),
                               via=T(c))] = \
                    Sweep(node, [(e, lambda s, e, v: mpmath.mpf(0)) for e in others])

    with_gradient = {g.node for g in engine.steps}
    for p in graph.node(node).parents:  # the chain went past the quantity
        if p not in with_gradient:
            continue
        c = next((c for c in engine.derivation.gradient(p).contributions if c.via == node), None)
        if c is not None and c.local.expr != 1:
            muts[diagnosis("chain-past", N_("an extra factor {factor}: the chain went past {quantity}"),
                           factor=f"∂{G(node)}/∂{G(p)} = {show(c.local.expr)}", quantity=G(node))] = \
                Times(node, (p, node))
    stops: dict = {}
    for n in sorted(desc):  # the chain stopped early
        if n not in (node, out) and n in engine.relevant:
            stops.setdefault(G(n), []).append(n)
    for lab, at in stops.items():
        muts[diagnosis("chain-stops", N_("missing the upstream gradient {upstream}: the chain stops at {quantity}"),
                       upstream=f"∂{out}/∂{lab}", quantity=lab)] = Seed(node, at)
    return muts


def _activation_mix_ups(unit, rate, own: str, net: str, lab: str, node: str, es) -> dict:
    """The activation itself where its derivative belongs (relu(z) for relu′(z)); for a derivative
    with two values (relu′ = 1[z > 0]) the two values swapped: 1[z < 0]."""
    out = {diagnosis("activation-for-derivative", N_("the activation {wrong} where its derivative {right} belongs "
                     "({factor})"), wrong=f"{unit.plain}({net})", right=own, factor=lab):
           Sweep(node, _set(es, lambda s, e, v: s.values[e[1]]))}
    if rate.has(sp.Heaviside) and len(rate.free_symbols) == 1:
        z = next(iter(rate.free_symbols))
        below, above = rate.subs(z, -1), rate.subs(z, 1)
        if below.is_Number and above.is_Number and below != above:
            flip = lambda s, e, v, t=below + above: mpmath.mpf(str(t)) - v  # noqa: E731
            out[diagnosis("flipped-indicator", N_("the indicator is reversed: {wrong} where {right} belongs "
                          "({factor})"), wrong=f"1[{net} < 0]", right=f"1[{net} > 0]", factor=lab)] = \
                Sweep(node, _set(es, flip))
    return out


def _term_signs(local0, es, lab: str, node: str, show) -> dict:
    """A local derivative that is a sum (o − t, 1 − h²) with the sign of one term flipped: o + t."""
    local0 = local0 if local0.is_Add else sp.expand(local0)  # −(t − o) as o − t
    if not local0.is_Add or len(local0.args) > 4:
        return {}
    out = {}
    for i, term in enumerate(local0.args):
        wrong, per_edge = local0 - 2 * term, {}
        for p, c, local in es:
            local = local if local.is_Add else sp.expand(local)
            terms = local.args if local.is_Add else ()
            if len(terms) != len(local0.args):
                return out
            per_edge[(p, c)] = local - 2 * terms[i]
        out[diagnosis("sign-in-term", N_("sign error in one term of {factor}: {wrong} where {right} belongs"),
                      factor=lab, wrong=show(wrong), right=show(local0))] = \
            Sweep(node, _set(es, lambda s, e, v, pe=per_edge: _value_at(pe[e], s)))
    return out


def _tidy(expr):
    """−o(o − 1) as o(1 − o): a leading minus sign taken into a difference."""
    c, rest = expr.as_coeff_Mul()
    factors = rest.args if rest.is_Mul else (rest,)
    add = next((a for a in factors if a.is_Add), None)
    if c >= 0 or add is None:
        return expr
    return sp.Mul(-c, *[a for a in factors if a is not add], -add)


@lru_cache(maxsize=64)
def _softmax_diagonal(o):
    """∂o_k/∂z_k of o_k = e^{z_k} / (e^{z_k} + R) in o_k's own terms (SymPy's derivative)."""
    e, rest = sp.symbols("e R", positive=True)
    return sp.factor(sp.simplify((e * sp.diff(e / (e + rest), e)).subs(e, o * rest / (1 - o))))


def _head_mix_ups(engine, es, node: str, show) -> dict:
    """A loss taken from the output nets (softmax or sigmoid with cross-entropy, ∂L/∂z = o − t): the
    output activation's derivative multiplied in again, and the loss's derivative by the output
    ∂L/∂o (the activation's derivative left out), both from the loss's record."""
    graph = engine.graph
    loss_node = graph.node(es[0][1])
    loss = LOSSES.get(loss_node.op)
    half = len(loss_node.parents) // 2
    if loss is None or not loss.from_logits or 2 * half != len(loss_node.parents):
        return {}
    z, t = [symbol(n) for n in loss_node.parents[:half]], [symbol(n) for n in loss_node.parents[half:]]
    o = []
    for zi in z:
        c = next((c for c in engine.derivation.gradient(zi.name).contributions if c.via == loss_node.name), None)
        outs = [x for x in (c.local.expr.free_symbols if c else ()) if x not in t and x.name in graph]
        if len(outs) != 1:
            return {}
        o.append(outs[0])
    in_o = loss.expr(t, o, z).xreplace({graph.node(x.name).expr: x for x in o})  # −Σ t log o, not log softmax(z)
    by_o = sp.diff(in_o, o[z.index(symbol(es[0][0]))]) if symbol(es[0][0]) in z else 0
    extra, lost = {}, {}
    for p, c, local in es:
        if symbol(p) not in z:
            return {}
        i = z.index(symbol(p))
        op = graph.node(o[i].name).op
        f = FUNCTION_TABLE.get(op)
        prime = f.own_derivative(o[i], z[i]) if f is not None else _softmax_diagonal(o[i]) if op == "softmax" else None
        if prime is None or prime.has(z[i]):
            return {}
        extra[(p, c)], lost[(p, c)] = local * prime, sp.diff(in_o, o[i])
    right, first = show(es[0][2]), es[0][2]
    out = {diagnosis("output-derivative-twice", N_("an extra factor {factor}, the output activation's derivative: "
                     "∂{loss}/∂{net} = {right} already includes it (the loss is taken from the net input)"),
                     factor=show(_tidy(sp.factor(extra[es[0][:2]] / first))), loss=show(symbol(loss_node.name)),
                     net=show(symbol(es[0][0])), right=right):
           Sweep(node, _set(es, lambda s, e, v: _value_at(extra[e], s)))}
    if by_o != 0 and all(v != 0 for v in lost.values()):
        out[diagnosis("loss-by-output", N_("this is ∂{loss}/∂{output} = {wrong}, the loss's derivative by the output: "
                      "the output activation's derivative is missing (∂{loss}/∂{net} = {right})"),
                      loss=show(symbol(loss_node.name)), output=show(o[z.index(symbol(es[0][0]))]),
                      wrong=show(by_o), net=show(symbol(es[0][0])), right=right)] = \
            Sweep(node, _set(es, lambda s, e, v: _value_at(lost[e], s)))
    return out


def _as_delta(engine, names, node, bind) -> str:
    """ " (δ_k)" when the node is a net input whose gradient the problem names δ."""
    sym = next((s for s, n in engine.deltas.items() if n == node), None)
    if sym is None:
        return ""
    d = names.generic_of(sym.name, bind, True)
    return f" ({'' if engine.delta_sign == 1 else '−'}{d})"
