"""Local derivatives of network nodes, derived by SymPy and written in the notation's names.

σ(net) becomes the unit's own name, softmax's exp(net_j)/Σ becomes o_j, a cross-entropy read from
the nets gives o − t, −(t − o) keeps its textbook form; an affine unit's derivatives come from its terms.
"""
from __future__ import annotations

import weakref

import sympy as sp

from ..engine.graph import Node
from ..engine.ops import FUNCTION_TABLE, LOSSES, sigmoid
from ..engine.parse import symbol
from ..engine.reverse import linear_derivative
from .built import Built


def textbook(d: sp.Expr) -> sp.Expr:
    """o − t as −(t − o): a difference whose leading term is negative, shown as −(positive first)."""
    if d.is_Add and len(d.args) == 2:
        neg = [a for a in d.args if a.could_extract_minus_sign()]
        pos = [a for a in d.args if not a.could_extract_minus_sign()]
        if len(neg) == 1 and len(pos) == 1:
            shown = sp.Mul(-1, sp.Add(-neg[0], -pos[0], evaluate=False), evaluate=False)
            assert sp.expand(shown - d) == 0
            return shown
    return d


def local_derivative(built: Built, node: Node, parent: str) -> sp.Expr:
    """∂node/∂parent derived by SymPy and rewritten in the notation's names.

    An affine node is a sum of products: its derivative is the other factor of the term that holds
    the parent (the engine reads it off the terms). σ(net) becomes the unit's own name, softmax's
    exp(net_j)/Σ becomes o_j, a loss read from the nets differentiates to o − t, and −(t − o)
    keeps its textbook form.
    """
    if node.terms is not None:
        return linear_derivative(node, parent)
    record = FUNCTION_TABLE.get(node.op)
    if record is not None and record.activation:
        return _activation_derivative(record, node, parent)
    if node.op in LOSSES:
        return _loss_derivative(built, node, parent)
    return _derived(built, node, parent)


def _activation_derivative(record, node: Node, parent: str) -> sp.Expr:
    """f'(net) in the unit's own terms, from its record (a(1 − a), 1 − a², step(net), σ(net)),
    with the unit's parameters (leaky_relu's α) read from its expression."""
    params = node.expr.args[1:] if node.expr.func is record.sympy else ()  # an identity unit's expr is its net
    return record.own_derivative(node.symbol, symbol(parent), *params)


_LOSS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # built -> {(loss, parent): derivative}


def _loss_derivative(built: Built, node: Node, parent: str) -> sp.Expr:
    """∂L/∂(output k): units of a layer are interchangeable and samples alike, so when the loss is
    unchanged by swapping units 1 and k (or by renaming sample 1 as this one), the derivative is
    unit 1's (sample 1's) with the names swapped; otherwise, and for unit 1, SymPy derives it."""
    cache = _LOSS.setdefault(built, {})
    if (node.name, parent) in cache:
        return cache[(node.name, parent)]
    _, _, idx, n = built.meta[parent]
    nm = built.names
    K = nm.sizes[-1]
    units = lambda k, m: (nm.net(nm.D, k, m), nm.act(nm.D, k, m), nm.target(k, m))  # noqa: E731
    d = None
    if n not in (None, 1):  # sample n as sample 1, renamed
        first = built.graph.node(nm.sample_loss(1))
        rename = {symbol(a): symbol(b) for k in range(1, K + 1) for a, b in zip(units(k, 1), units(k, n))}
        if first.expr.xreplace(rename) == node.expr:
            parent1 = {b: a for k in range(1, K + 1) for a, b in zip(units(k, 1), units(k, n))}[parent]
            d = _rename(_loss_derivative(built, first, parent1), rename)
    elif idx and idx[0] != 1:  # unit k as unit 1, swapped
        swap = {}
        for a, b in zip(units(1, n), units(idx[0], n)):
            swap[symbol(a)], swap[symbol(b)] = symbol(b), symbol(a)
        if node.expr.xreplace(swap) == node.expr:
            parent1 = dict(zip(units(idx[0], n), units(1, n)))[parent]
            d = _rename(_loss_derivative(built, node, parent1), swap)
    if d is None:
        d = _derived(built, node, parent)
    cache[(node.name, parent)] = d
    return d


def _rename(e, mapping):
    """`e` with symbols renamed and its written form kept (−(t − o) stays unexpanded)."""
    if e.is_Symbol:
        return mapping.get(e, e)
    if e.is_Atom:
        return e
    args = [_rename(a, mapping) for a in e.args]
    if e.is_Add or e.is_Mul or e.is_Pow:
        return e.func(*args, evaluate=False)
    return e.func(*args)


def _derived(built: Built, node: Node, parent: str) -> sp.Expr:
    """∂node/∂parent by SymPy, then named: softmax outputs, sigmoid outputs, −(t − o)."""
    e = node.expr
    d = sp.diff(e, symbol(parent))
    n = built.meta[node.name][3]
    if node.op == "softmax" or (node.op in LOSSES and n in built.logits and n in built.softmax):
        d = _softmax_names(d, *built.softmax[n])
        if node.op != "softmax" and built.sum_to_one:
            d = _targets_sum_to_one(d, built, n)
        return d
    if node.op in LOSSES and n in built.logits:  # sigmoid outputs, read from their nets
        return _sigmoid_names(d, built.logits[n])
    d = d.xreplace({e: node.symbol})
    if node.op == "mse":
        d = textbook(d)
    return d


def _sigmoid_names(d, outs: dict) -> sp.Expr:
    """σ(net_k) -> o_k and σ(−net_k) -> 1 − o_k, then collected: o_k − t_k, t_k(o_k − 1)."""
    named = {symbol(z): symbol(o) for z, o in outs.items()}

    def as_output(e):
        c, z = e.args[0].as_coeff_Mul()
        if z in named and c in (1, -1):
            return named[z] if c == 1 else 1 - named[z]
        return e
    return sp.factor(sp.expand(d.replace(lambda e: isinstance(e, sigmoid), as_output)))


def _softmax_names(d, total, outs: dict) -> sp.Expr:
    """exp(net_j) / Σ_k exp(net_k) -> o_j, then factor: o_k(1 − o_k), −o_j o_k, ..."""
    s = sp.Dummy("S", positive=True)
    d = d.xreplace({total: s})
    named = {symbol(z): symbol(o) for z, o in outs.items()}

    def as_output(e):  # exp(c·net_j) = (o_j · S)^c
        c, z = e.args[0].as_coeff_Mul()
        return (named[z] * s) ** c if z in named else e
    d = d.replace(lambda e: isinstance(e, sp.exp), as_output)
    d = sp.expand_log(sp.cancel(d), force=True)
    assert s not in d.free_symbols, d
    return sp.factor(d)


def _targets_sum_to_one(d, built: Built, n) -> sp.Expr:
    """Use Σ_k t_k = 1 (a probability distribution): −t_k + o_k Σ t = o_k − t_k."""
    nm = built.names
    ts = [symbol(nm.target(k, n)) for k in range(1, nm.sizes[-1] + 1)]
    outs = sorted({symbol(o) for o in built.softmax[n][1].values()} & d.free_symbols, key=str)
    d = sp.collect(sp.expand(d), outs)
    return d.xreplace({sp.Add(*ts): sp.Integer(1)})
