"""What a report shows about a network or matrix-layer solution, as plain data for the templates.

`network_view(solution, detail)` groups the engine's records: the problem's settings (sizes,
activations, the loss written once in index form, the notation and its δ convention), the given
arrays under the section's names (Mitchell W^h, W^o; Nielsen w^2, w^3; layers X, W, B with B a
row), each general rule with ONE representative instance worked out (concise) or every chain
and instance (full), the vector/matrix rules and the gradient arrays. No LaTeX is stored and
no maths is done here beyond grouping, renaming and substituting the forward values.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..engine.ops import activation_label
from ..engine.parse import symbol
from ..engine.steps import partial, split_partial
from ..i18n import _
from ..networks.names import loss_formula

MAX_CHAINS = 12  # per-weight chains written out with --detail full
MAX_INSTANCES = 4  # concrete instances listed under each index rule with --detail full
MAX_MATRIX = 8  # rows/columns of an array printed as a matrix
LONG_CHAIN = 240  # characters of printed factors above which a chain puts one factor per line


@dataclass(frozen=True)
class ChainFactor:
    symbol: object  # ∂num/∂den
    expr: object  # in the notation's names
    substituted: object  # expr with the forward values put in (unevaluated)
    value: float


@dataclass(frozen=True)
class ChainView:
    lhs: object  # ∂L/∂w^o_12
    general_lhs: object  # ∂L/∂w_kj of the index rule it instantiates, or None
    general: object  # the index-form formula
    factors: tuple[ChainFactor, ...]
    value: float
    long: bool
    symbols_line: bool  # False when the factors' symbols would only repeat the left side


@dataclass(frozen=True)
class RuleView:
    lhs: object
    factors: tuple  # gradient symbols of the generic chain
    expr: object
    ranges: tuple  # ((letter, first, last), ...)
    instances: tuple  # (lhs symbol, concrete expr, value)
    more: int  # instances not listed
    checked: bool
    chain: ChainView | None  # the representative instance worked out (concise)
    symbols_line: bool  # the chain of symbols is worth a line (not just the left side again)
    sign: int = 1  # −1: the left side is minus the chain (Mitchell's δ = −∂L/∂net)


def array_name(problem, key: str) -> str:
    """A given array's name in the section's notation: W1 -> W^h (Mitchell), w^2 (Nielsen)."""
    if problem.kind != "network":
        return "∂L/∂Y" if key == "dY" else key  # the given upstream gradient
    if key == "t":
        return "y" if problem.notation == "nielsen" else "t"
    if key[:1] in ("W", "b") and key[1:].isdigit():
        layer = int(key[1:])
        if problem.notation == "nielsen":
            return f"{key[0].lower()}^{layer + 1}"
        depth = len(problem.sizes) - 1
        return f"{key[0]}^{'o' if layer == depth else 'h'}"
    return key


class _ChainsByNode:
    """node -> its ParamChain, made only for the nodes asked for (a big network's chains are lazy)."""

    def __init__(self, chains):
        self.chains = chains
        keys = getattr(chains, "keys", None)
        self.index = ({k[2]: i for i, k in enumerate(keys)} if keys is not None
                      else {pc.node: i for i, pc in enumerate(chains)})

    def __contains__(self, node) -> bool:
        return node in self.index

    def __getitem__(self, node):
        return self.chains[self.index[node]]


class _Printable(dict):
    """Symbol -> Float of a node's value, a gradient or a δ, made when a factor asks for it."""

    def __init__(self, solution):
        super().__init__()
        d, extra = solution.derivation, solution.extra
        self.d = d
        self.sign = getattr(solution.problem, "delta_sign", 1)  # a δ is delta_sign · ∂L/∂net
        self.delta_net = {delta: net for net, delta in (extra.deltas or {}).items()}

    def _make(self, key):
        if not isinstance(key, sp.Symbol):
            return None
        name, d = key.name, self.d
        if name in d.values:
            return sp.Float(d.values[name], 15)
        net = self.delta_net.get(name)
        if net is not None and d.has(net):
            return sp.Float(self.sign * d.gradient(net).value, 15)
        parts = split_partial(key)
        if parts and parts[0] == d.output and d.has(parts[1]):
            return sp.Float(d.gradient(parts[1]).value, 15)
        return None

    def __contains__(self, key) -> bool:
        if dict.__contains__(self, key):
            return True
        value = self._make(key)
        if value is None:
            return False
        self[key] = value
        return True

    def __missing__(self, key):
        if key in self:
            return dict.__getitem__(self, key)
        raise KeyError(key)


def substitute(expr, mapping):
    """`expr` with symbols replaced, rebuilt unevaluated so the written order stays."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    return expr.func(*(substitute(a, mapping) for a in expr.args), evaluate=False)


def matrix(values, row: bool = False):
    """Nested values as a SymPy Matrix of full-precision Floats (None when too big to print).

    A flat list is a column (a bias of a network layer), or a row when `row` (the B of Y = X·W + B).
    """
    flat = not (values and isinstance(values[0], (list, tuple)))
    rows = ([list(values)] if row else [[v] for v in values]) if flat else values
    if len(rows) > MAX_MATRIX or len(rows[0]) > MAX_MATRIX:
        return None
    return sp.Matrix([[sp.Float(float(v), 15) for v in r] for r in rows])


def _chain_view(extra, pc, env, general_lhs) -> ChainView:
    from .printer import latex  # the view only measures length, it never stores LaTeX

    factors = tuple(ChainFactor(partial(f.num, f.den), f.expr, substitute(f.expr, env), f.value)
                    for f in pc.chain.factors)
    width = sum(len(latex(f.expr)) + len(latex(f.substituted)) for f in factors)
    lhs = partial(extra.loss_name, pc.node)
    symbols_line = not (len(factors) == 1 and factors[0].symbol == lhs)
    return ChainView(lhs, general_lhs.get(sp.srepr(pc.general)), _sizes_named(pc.general), factors, pc.chain.value,
                     width > LONG_CHAIN, symbols_line)


def _sizes_named(expr):
    """A layer size written as the loss writes it: Nielsen's n_{l+1} (the loss's n_L), never m^{l+1}."""
    if not isinstance(expr, sp.Basic):
        return expr
    sizes = {s: sp.Symbol("n_" + s.name[2:], integer=True, positive=True)
             for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name.startswith("m^")}
    return expr.xreplace(sizes) if sizes else expr


def _drop_ones(expr):
    """A rule's product without its factors 1 (∂net/∂b = 1 is a factor of the chain, not of the rule)."""
    if isinstance(expr, sp.Sum):
        return sp.Sum(_drop_ones(expr.function), *expr.limits)
    if isinstance(expr, sp.Mul) and any(a == 1 for a in expr.args):
        kept = [a for a in expr.args if a != 1]
        return kept[0] if len(kept) == 1 else sp.Mul(*kept, evaluate=False) if kept else sp.S.One
    return expr


def _instance_lhs(extra, node: str):
    return symbol(extra.deltas[node]) if node in (extra.deltas or {}) else partial(extra.loss_name, node)


def network_view(solution, detail: str = "concise") -> dict:
    """The network part of a problem's view (see the module docstring)."""
    p, extra = solution.problem, solution.extra
    full = detail == "full"
    env = _Printable(solution)
    general_lhs = {sp.srepr(r.expr): r.lhs for r in extra.rules}
    general_lhs.update({sp.srepr(v.element[1]): v.element[0] for v in extra.vector_rules if v.element})
    by_node = _ChainsByNode(extra.chains)
    chains = [_chain_view(extra, pc, env, general_lhs) for pc in extra.chains[:MAX_CHAINS]] if full else []
    rules = []
    for r in extra.rules:
        first = r.instances[0][1] if r.instances else None
        chain = None
        if not full and first in by_node:
            chain = _chain_view(extra, by_node[first], env, general_lhs)
        listed = r.instances[:MAX_INSTANCES] if full else (() if chain else r.instances[:1])
        factors = tuple(partial(num, den) for num, den, _ in r.factors)
        rules.append(RuleView(
            r.lhs, factors, _sizes_named(_drop_ones(r.expr)), tuple((k, a, b) for k, (a, b) in r.ranges.items()),
            tuple((_instance_lhs(extra, node), expr, substitute(expr, env), value)
                  for _, node, expr, value in listed),
            len(r.instances) - len(listed), r.checked, chain,
            not (len(factors) == 1 and factors[0] == r.lhs), r.sign))
    if not full and not extra.rules:  # matrix layers without index rules: one chain per array
        seen = set()
        for pc in extra.chains:
            if pc.param not in seen:
                seen.add(pc.param)
                chains.append(_chain_view(extra, pc, env, general_lhs))
    arrays = tuple((partial(extra.loss_name, array_name(p, k)), matrix(v, row=(k == "B")))
                   for k, v in extra.gradients.items())
    groups = []  # consecutive chains instantiating the same general rule share one boxed line
    for c in chains:
        if groups and sp.srepr(groups[-1]["general"]) == sp.srepr(c.general):
            groups[-1]["chains"].append(c)
        else:
            groups.append({"general_lhs": c.general_lhs, "general": c.general, "chains": [c]})
    return {
        "notation": extra.notation,
        "chain_groups": tuple(groups),
        "loss_name": extra.loss_name,
        "loss": extra.loss,
        "settings": settings(p),
        "loss_formula": loss_formula(p.notation, p.loss) if p.kind == "network" else None,
        "arrays_given": tuple((symbol(array_name(p, k)), matrix(v, row=(k == "B")))
                              for k, v in p.arrays.items()),
        "chains": tuple(chains),
        "chains_total": len(extra.chains),
        "rules": tuple(rules),
        "vector_rules": tuple(extra.vector_rules),
        "vector_labels": tuple(rule_label(v, p) for v in extra.vector_rules),
        "arrays": arrays,
        "full": full,
    }


def rule_label(rule, problem) -> str:
    """A rule's label in the section's notation: Nielsen's "BP2 (l = 2)"; under Mitchell's names
    the layer is his (hidden h, output o), never Nielsen's layer number l."""
    if rule.layer is None or problem.kind != "network" or problem.notation == "nielsen":
        return rule.name
    head = rule.name.split(" (")[0]  # BP2 of "BP2 (l = 2)"
    output = rule.layer == len(problem.sizes)
    return (_("{rule}, output layer o") if output else _("{rule}, hidden layer h")).format(rule=head)


def activation_name(name: str) -> str:
    """The activation `name` in the current language, from its record (an unknown name as it is)."""
    return _(activation_label(name))


def settings(p) -> dict:
    """The problem's settings as data the template typesets (never as prose with code words)."""
    if p.kind != "network":
        return {"kind": "layers", "stack": tuple(p.stack), "batch": p.batch, "bias": p.bias}
    return {"kind": "network", "sizes": tuple(p.sizes),
            "activations": tuple(activation_name(a) for a in p.activations),
            "loss": p.loss, "notation": p.notation, "bias": p.bias, "batch": p.batch,
            "delta_sign": getattr(p, "delta_sign", 1)}
