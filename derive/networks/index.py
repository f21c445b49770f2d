"""Index-form rules (δ, weight and bias per layer), each checked against every instance.

Mitchell: one rule per layer; Nielsen: one per run of layers with the same activation.
"""
from __future__ import annotations

import itertools

import sympy as sp

from ..engine import numeric
from ..engine.parse import symbol
from ..engine.steps import Derivation, partial
from .built import Built
from .chains import _delta_symbol, _named_upstream, delta_factors
from .resolver import Resolver, _conc, letter
from .results import IndexRule


def close(a: float, b: float) -> bool:
    """Two float results of the same quantity agree (relative 1e-9)."""
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12)


def index_rules(built: Built, d: Derivation) -> tuple[IndexRule, ...]:
    """δ, weight and bias rules per layer (Nielsen: per run of layers with one activation)."""
    res = Resolver(built)
    nm, D = built.names, built.names.D
    p = built
    env = {symbol(k): v for k, v in d.values.items()}
    for g in d.steps:
        if g.node in p.meta and p.meta[g.node][0] == "net":
            env[_delta_symbol(p, g.node)] = g.value
    acts = [built.graph.node(nm.act(l, 1, 1)).op for l in range(1, D + 1)]
    groups = [[D]]
    for l in range(D - 1, 0, -1):
        if nm.nielsen and groups[-1][0] != D and acts[l - 1] == acts[groups[-1][0] - 1]:
            groups[-1].append(l)
        else:
            groups.append([l])
    rules = []
    sample = ["n"] if nm.batch > 1 else []
    for group in groups:
        r = group[0]  # the representative layer (highest in the group)
        net = nm.net(r, 1, 1)
        def gen(e, r=r):
            return res.generalize(e, r)
        gnet = gen(symbol(net))
        factors = []
        for f in delta_factors(built, d, net):
            if f.num == d.output and f.den == nm.act(r, 1, 1) and r < D:
                # Σ over the next layer: one generic term, summed over its letter
                c = d.gradient(f.den).contributions[0]
                term = gen(_named_upstream(built, d, c))
                factors.append((res.label(gen(symbol(d.output))), res.label(gen(symbol(f.den))),
                                sp.Sum(term, (letter(res._letter(r + 1, r)), 1, res.size_symbol(r + 1, r)))))
            else:
                factors.append((res.label(gen(symbol(f.num))) if f.num != d.output else d.output,
                                res.label(gen(symbol(f.den))), gen(f.expr)))
        delta_expr = _product([f[2] for f in factors])
        free = sample + [res._letter(r, r)]
        ranges = {res._letter(r, r): (1, nm.sizes[r])}
        if r < D:
            ranges[res._letter(r + 1, r)] = (1, nm.sizes[r + 1])
        if nm.batch > 1:
            ranges["n"] = (1, nm.batch)
        layer_range = {}
        if nm.nielsen and r < D:
            layer_range = {"l": (min(group) + 1, max(group) + 1)}
        gdelta = res.generic(nm.delta(r, 1, 1), r)
        rules.append(_rule(res, res.label(gdelta), gdelta, tuple(factors), delta_expr, free,
                           {**ranges, **layer_range}, group, env, d, "delta"))
        for kind, leaf in (("w", nm.weight(r, 1, 1)), ("b", nm.bias(r, 1))):
            if leaf not in built.graph:
                continue
            c = d.gradient(leaf).contributions[0]
            local = (res.label(gnet), res.label(gen(symbol(leaf))), gen(c.local.expr))
            fs = tuple(factors) + (local,)
            expr = _product([f[2] for f in fs])
            if nm.batch > 1:
                expr = sp.Sum(expr, (letter("n"), 1, nm.batch))
            rng = dict(ranges)
            lf = [res._letter(r, r)]
            if kind == "w":
                lf.append(res._letter(r - 1, r))
                rng[res._letter(r - 1, r)] = (1, nm.sizes[r - 1])
            glhs = res.label(gen(symbol(leaf)))
            rules.append(_rule(res, glhs, partial(d.output, glhs), fs, expr, lf, {**rng, **layer_range},
                               group, env, d, kind))
    return tuple(rules)


def _product(exprs):
    return exprs[0] if len(exprs) == 1 else sp.Mul(*exprs, evaluate=False)


def _rule(res, target, lhs, factors, expr, free, ranges, group, env, d, kind) -> IndexRule:
    nm = res.nm
    instances = []
    ok = True
    free = list(free)
    for r in sorted(group):
        for bind in _bindings(free, ranges, r, res):
            if nm.nielsen:
                bind["l"] = r + 1
            conc = _conc(expr, bind, res)
            idx = [bind[x] for x in free if x != "n"]
            n = bind.get("n", 1)
            if kind == "delta":
                node = nm.net(r, idx[0], n)
            elif kind == "w":
                node = nm.weight(r, idx[0], idx[1])
            else:
                node = nm.bias(r, idx[0])
            value = float(numeric.value_of(conc, env))
            ok = ok and close(value, d.gradient(node).value)
            instances.append((dict(bind), node, conc, value))
    return IndexRule(target, lhs, factors, expr, tuple(free), dict(ranges), tuple(instances), ok, res)


def _bindings(free, ranges, r, res):
    """Every assignment of the free letters for layer r (letter sizes depend on the layer)."""
    nm = res.nm
    sizes = []
    for x in free:
        if x == "n":
            sizes.append(nm.batch)
        elif nm.nielsen:
            sizes.append(nm.sizes[r] if x == "j" else nm.sizes[r - 1])
        else:
            sizes.append(ranges[x][1])
    for combo in itertools.product(*[range(1, s + 1) for s in sizes]):
        yield dict(zip(free, combo))
