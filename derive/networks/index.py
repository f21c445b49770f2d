"""Index-form rules (δ, weight and bias per layer), each checked against every instance.

Mitchell: one rule per layer; Nielsen: one per run of layers with the same activation. Every
instance is checked at once: the generic formula is evaluated with numpy over its index letters
(each letter an axis, each Σ a sum over one), compared with the per-unit results, and any element
float64 cannot resolve is evaluated again from its concrete formula in 50-digit arithmetic.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..engine import numeric
from ..engine.check import relative_error
from ..engine.parse import symbol
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..engine.steps import Derivation, partial
from .built import Built
from .chains import _named_upstream, delta_factors, negate
from .resolver import Resolver, _conc, letter
from .results import IndexRule, Lazy

FLOAT_AGREE = 1e-9  # float64 results of one quantity by two formulas agree this closely
EXACT_AGREE = 1e-20  # ... and at 50 digits


def close(a: float, b: float) -> bool:
    """Two float results of the same quantity agree (relative 1e-9)."""
    return abs(a - b) <= FLOAT_AGREE * max(abs(a), abs(b), 1e-12)


class Values:
    """A network's numbers by name: forward values, and δ names read as ∂L/∂net (float or exact)."""

    def __init__(self, built: Built, d: Derivation):
        self.d = d
        self.sign = built.delta_sign
        self.delta_net = {built.names.delta(l, idx[0], n): net for net, (role, l, idx, n) in built.meta.items()
                          if role == "net" and d.has(net)}

    def __contains__(self, name) -> bool:
        return name in self.d.values or name in self.delta_net

    def __getitem__(self, name):  # exact (mpmath), for NameEnv
        if name in self.delta_net:
            return self.sign * self.d.grads[self.delta_net[name]]
        return self.d.exact[name]

    def float(self, name) -> float:
        if name in self.delta_net:
            return self.sign * self.d.gradient_value(self.delta_net[name])
        return self.d.values[name]


def index_rules(built: Built, d: Derivation) -> tuple[IndexRule, ...]:
    """δ, weight and bias rules per layer (Nielsen: per run of layers with one activation)."""
    res = Resolver(built)
    nm, D = built.names, built.names.D
    values = Values(built, d)
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
                limits = (letter(res._letter(r + 1, r)), 1, res.size_symbol(r + 1, r))
                total = (sp.Sum(term, limits) if built.delta_sign == 1  # Mitchell's sign: −Σ_k δ_k w_kj
                         else sp.Mul(-1, sp.Sum(negate(term), limits), evaluate=False))
                factors.append((res.label(gen(symbol(d.output))), res.label(gen(symbol(f.den))), total))
            else:
                factors.append((res.label(gen(symbol(f.num))) if f.num != d.output else d.output,
                                res.label(gen(symbol(f.den))), gen(f.expr)))
        delta_expr = _product([f[2] for f in factors])
        if built.delta_sign == -1:  # δ = −∂L/∂net
            delta_expr = negate(delta_expr)
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
                           {**ranges, **layer_range}, group, values, d, "delta"))
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
                               group, values, d, kind))
    return tuple(rules)


def _product(exprs):
    return exprs[0] if len(exprs) == 1 else sp.Mul(*exprs, evaluate=False)


def _rule(res, target, lhs, factors, expr, free, ranges, group, values, d, kind) -> IndexRule:
    nm = res.nm
    free = list(free)
    binds, nodes, got = [], [], []
    ok = True
    for r in sorted(group):
        layer = {"l": r + 1} if nm.nielsen else {}
        letters = {x: (1, s) for x, s in zip(free, _sizes(free, ranges, r, res))}
        shape = tuple(b - a + 1 for a, b in letters.values())
        grid, axes = _grid(expr, res, layer, letters, values.float, numeric.NP)
        vals = np.broadcast_to(_align(grid, axes, free), shape).ravel().tolist()
        layer_binds = [{**bind, **layer} for bind in _bindings(free, ranges, r, res)]
        if kind == "w":  # the bindings run over (unit, input) as the weight matrix's rows do
            layer_nodes = [w for row in res.built.param_nodes[f"W{r}"] for w in row]
        elif kind == "b":
            layer_nodes = list(res.built.param_nodes[f"b{r}"])
        else:
            layer_nodes = [nm.net(r, b[free[-1]], b.get("n", 1)) for b in layer_binds]
        binds += layer_binds
        scale = res.built.delta_sign if kind == "delta" else 1  # a δ is delta_sign · ∂L/∂net
        ref = np.array([scale * d.gradient_value(node) for node in layer_nodes])
        v = np.array(vals)
        bad = np.flatnonzero(np.abs(v - ref) > FLOAT_AGREE * np.maximum(np.maximum(np.abs(v), np.abs(ref)), 1e-12))
        if len(bad):  # float64 cannot tell (a saturated unit's h(1 − h)): every instance again in 50 digits
            with mpmath.workdps(d.digits):
                grid, axes = _grid(expr, res, layer, letters, values.__getitem__, numeric.MP)
                exact = np.broadcast_to(_align(grid, axes, free), shape).ravel()
                floor = mpmath.mpf(10) ** (-(3 * d.digits // 5)) * max(1, abs(d.exact[d.output]))
                for i in bad:
                    ok = ok and relative_error(exact[i], scale * d.grads[layer_nodes[i]], floor) <= EXACT_AGREE
                    vals[i] = float(exact[i])
        nodes += layer_nodes
        got += vals
    instances = Lazy(range(len(nodes)), lambda i: (binds[i], nodes[i], _conc(expr, binds[i], res), got[i]))
    instances.nodes = nodes
    sign = res.built.delta_sign if kind == "delta" else 1
    return IndexRule(target, lhs, factors, expr, tuple(free), dict(ranges), instances, ok, res, sign)


def _sizes(free, ranges, r, res) -> list[int]:
    """How many values each free letter takes for layer r (letter sizes depend on the layer)."""
    nm = res.nm
    sizes = []
    for x in free:
        if x == "n":
            sizes.append(nm.batch)
        elif nm.nielsen:
            sizes.append(nm.sizes[r] if x == "j" else nm.sizes[r - 1])
        else:
            sizes.append(ranges[x][1])
    return sizes


def _align(arr, axes, order):
    """`arr` over `axes` (letters) transposed and expanded to broadcast over `order`."""
    arr = np.asarray(arr)
    if not axes:
        return arr.reshape((1,) * len(order))
    arr = np.transpose(arr, [axes.index(x) for x in order if x in axes])
    shape = [arr.shape[[x for x in order if x in axes].index(x)] if x in axes else 1 for x in order]
    return arr.reshape(shape)


def _grid(e, res, layer, letters, value, lib):
    """(array, letters): a generic formula over every value of its index letters, in float64
    (`lib` NP) or in mpmath numbers held in object arrays (`lib` MP).

    `letters` maps each letter in scope to its (first, last) value; Σ adds its own letter.
    """
    exact = lib is numeric.MP
    if isinstance(e, sp.Sum):
        body, limits = e.function, e.limits
        inner = dict(letters)
        for var, lo, hi in limits:
            lo_v = int(lo) if lo.is_Integer else res.size(lo, layer)
            hi_v = int(hi) if hi.is_Integer else res.size(hi, layer)
            inner[var.name] = (lo_v, hi_v)
        arr, axes = _grid(body, res, layer, inner, value, lib)
        for var, _, _ in limits:
            if var.name in axes:
                arr = np.sum(arr, axis=axes.index(var.name))
                axes = tuple(a for a in axes if a != var.name)
            else:
                lo_v, hi_v = inner[var.name]
                arr = arr * (hi_v - lo_v + 1)
        return arr, axes
    if isinstance(e, sp.Indexed):
        axes = tuple(dict.fromkeys(i.name for i in e.indices if i.is_Symbol))
        ranges = [range(letters[x][0], letters[x][1] + 1) for x in axes]
        base = e.base.label.name
        vals = [value(res.concrete_name(base, e.indices, {**layer, **dict(zip(axes, combo))}))
                for combo in itertools.product(*ranges)]
        return np.array(vals, dtype=object if exact else float).reshape([len(r) for r in ranges]), axes
    if e.is_Number:
        return lib.const(e), ()
    if e.is_Symbol:
        return value(e.name), ()
    if e.is_Add or e.is_Mul:
        parts = [_grid(a, res, layer, letters, value, lib) for a in e.args]
        axes = tuple(dict.fromkeys(x for _, ax in parts for x in ax))
        out = _align(parts[0][0], parts[0][1], axes)
        for arr, ax in parts[1:]:
            out = out + _align(arr, ax, axes) if e.is_Add else out * _align(arr, ax, axes)
        return out, axes
    if e.is_Pow:
        (b, bx), (x, xx) = (_grid(a, res, layer, letters, value, lib) for a in e.args)
        axes = tuple(dict.fromkeys(bx + xx))
        return np.power(_align(b, bx, axes), _align(x, xx, axes)), axes
    found = numeric.function(e.func, lib.kind)
    if found is not None:  # a function of the records, its constant parameters among its arguments
        parts = [_grid(a, res, layer, letters, value, lib) for a in e.args]
        axes = tuple(dict.fromkeys(x for _, ax in parts for x in ax))
        args = [_align(arr, ax, axes) if ax else arr for arr, ax in parts]
        if exact:
            return np.frompyfunc(lambda *xs: numeric.apply(e.func, list(xs), lib), len(args), 1)(*args), axes
        return numeric.apply(e.func, [np.asarray(a, dtype=float) for a in args], lib), axes
    raise TypeError(f"cannot evaluate {e.func.__name__} over index letters")


def _bindings(free, ranges, r, res):
    """Every assignment of the free letters for layer r, in the order of `_grid`'s axes."""
    for combo in itertools.product(*[range(1, s + 1) for s in _sizes(free, ranges, r, res)]):
        yield dict(zip(free, combo))
