"""Per-parameter chains: ∂L/∂(one weight or bias) as its factors, δ named where the seeds name δ.

`param_chain` for MLPs (δ factors: the loss or Σ_k δ_k w_kj, then the activation's derivative,
then the input), `layer_chain` for matrix layers (upstream ∂L/∂y, then the local factor).
"""
from __future__ import annotations

import weakref

import sympy as sp

from ..engine.ops import FUNCTION_TABLE, LOSSES
from ..engine.parse import symbol
from ..engine.steps import Chain, Contribution, Derivation, Factor
from .built import Built
from .local import _targets_sum_to_one


def _is_loss(op: str) -> bool:
    return op in LOSSES


def _delta_symbol(built: Built, net: str) -> sp.Symbol:
    _, l, idx, n = built.meta[net]
    return symbol(built.names.delta(l, idx[0], n))


def negate(e: sp.Expr) -> sp.Expr:
    """−e written the way a textbook would: a factor −1 inside a product or a sum's body is
    dropped (−(−(t − o)) o (1 − o) -> (t − o) o (1 − o)), otherwise −1 goes in front."""
    if e.is_Number:
        return -e
    if e.is_Add and len(e.args) == 2 and sum(a.could_extract_minus_sign() for a in e.args) == 1:
        pos, neg = sorted(e.args, key=lambda a: a.could_extract_minus_sign())
        return sp.Add(-neg, -pos, evaluate=False)  # o − t -> t − o
    if isinstance(e, sp.Sum):
        return sp.Sum(negate(e.function), *e.limits)
    if e.is_Mul:
        args = list(e.args)
        if -1 in args:
            args.remove(-1)
            return args[0] if len(args) == 1 else sp.Mul(*args, evaluate=False)
        for i, a in enumerate(args):
            if (a.is_Mul and -1 in a.args) or (isinstance(a, sp.Sum) and a.function.is_Mul and -1 in a.function.args):
                args[i] = negate(a)
                return sp.Mul(*args, evaluate=False)
    return sp.Mul(-1, e, evaluate=False)


def _named_upstream(built: Built, d: Derivation, c: Contribution) -> sp.Expr:
    """A contribution upstream × local with the upstream written as δ where it is ∂L/∂net
    (−δ under Mitchell's convention δ = −∂L/∂net)."""
    via = built.graph.node(c.via)
    if via.op == "affine":
        if built.delta_sign == -1:
            return sp.Mul(-1, _delta_symbol(built, c.via), c.local.expr, evaluate=False)
        return sp.Mul(_delta_symbol(built, c.via), c.local.expr, evaluate=False)
    if _is_loss(via.op):  # ∂L/∂L^(n) = 1
        return c.local.expr
    return sp.Mul(c.upstream, c.local.expr, evaluate=False)


def _act_factor(built: Built, d: Derivation, act: str) -> Factor:
    """∂L/∂(unit output): the loss derivative, or Σ_k δ_k w_kj for a hidden unit."""
    g = d.gradient(act)
    parts = [_named_upstream(built, d, c) for c in g.contributions]
    expr = parts[0] if len(parts) == 1 else sp.Add(*parts, evaluate=False)
    return Factor(d.output, act, expr, g.value)


def _delta_closed(built: Built, d: Derivation, net: str) -> sp.Expr:
    """∂L/∂net in unit names when the net feeds a softmax (or Softmax-with-Loss), simplified."""
    g = d.gradient(net)
    graph = built.graph
    parts = []
    for c in g.contributions:
        via = graph.node(c.via)
        if _is_loss(via.op):
            parts.append(c.local.expr)
        else:  # a softmax unit: its upstream is the loss derivative
            (up,) = [u for u in d.gradient(c.via).contributions]
            parts.append(up.local.expr * c.local.expr)
    expr = sp.factor(sp.cancel(sp.Add(*parts)))
    n = built.meta[net][3]
    if built.sum_to_one and n in built.softmax:
        expr = _targets_sum_to_one(expr, built, n)
    return expr


_DELTAS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # derivation -> {net: factors}


def delta_factors(built: Built, d: Derivation, net: str) -> list:
    """The factors of δ = ∂L/∂net, outermost first, in the notation's names (made once per net:
    every weight into the unit shares them)."""
    cache = _DELTAS.setdefault(d, {})
    if net not in cache:
        cache[net] = _delta_factors(built, d, net)
    return list(cache[net])


def _delta_factors(built: Built, d: Derivation, net: str) -> list:
    graph = built.graph
    cons = [c for c in graph.consumers(net) if d.has(c)]
    record = FUNCTION_TABLE.get(graph.node(cons[0]).op) if len(cons) == 1 else None
    if record is not None and record.activation:  # a unit's activation: δ = ∂L/∂out · f′(net)
        act = cons[0]
        c = d.gradient(net).contributions[0]
        return [_act_factor(built, d, act), Factor(act, net, c.local.expr, c.local.value)]
    return [Factor(d.output, net, _delta_closed(built, d, net), d.gradient(net).value)]


def param_chain(built: Built, d: Derivation, leaf: str) -> Chain:
    """∂L/∂leaf as its chain of factors (one sample), or as Σ over the batch of δ · input."""
    g = d.gradient(leaf)
    if len(g.contributions) == 1:
        c = g.contributions[0]
        factors = delta_factors(built, d, c.via) + [Factor(c.via, leaf, c.local.expr, c.local.value)]
    else:
        parts = [_named_upstream(built, d, c) for c in g.contributions]
        factors = [Factor(d.output, leaf, sp.Add(*parts, evaluate=False), g.value)]
    expr = factors[0].expr if len(factors) == 1 else sp.Mul(*(f.expr for f in factors), evaluate=False)
    return Chain(d.output, leaf, tuple(factors), expr, g.value)


def layer_chain(d: Derivation, leaf: str) -> Chain:
    """∂L/∂leaf of a matrix layer: the upstream gradient of its one consumer, then the local factor."""
    g = d.gradient(leaf)
    if len(g.contributions) == 1:
        c = g.contributions[0]
        factors = [Factor(c.via, leaf, c.local.expr, c.local.value)]
        if c.via != d.output:
            up = d.gradient(c.via)
            factors.insert(0, Factor(d.output, c.via, up.expr, up.value))
    else:
        factors = [Factor(d.output, leaf, g.expr, g.value)]
    expr = factors[0].expr if len(factors) == 1 else sp.Mul(*(f.expr for f in factors), evaluate=False)
    return Chain(d.output, leaf, tuple(factors), expr, g.value)
