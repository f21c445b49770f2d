"""Local derivatives of network nodes, derived by SymPy and written in the notation's names.

σ(net) becomes the unit's own name, softmax's exp(net_j)/Σ becomes o_j, −(t − o) keeps its
textbook form, and an affine sum differentiates only the terms that hold the parent.
"""
from __future__ import annotations

import sympy as sp

from ..engine.graph import Node
from ..engine.parse import symbol
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

    An affine node is a sum: only the terms that hold the parent are differentiated (the same
    derivative, without SymPy walking every other term). σ(net) becomes the unit's own name,
    softmax's exp(net_j)/Σ becomes o_j, and −(t − o) keeps its textbook form.
    """
    p = symbol(parent)
    e = node.expr
    if node.op in ("affine", "add"):
        return sp.Add(*[_linear_derivative(a, p) for a in _terms_with(node, p)])
    d = sp.diff(e, p)
    if node.op in ("softmax", "softmax_cross_entropy"):
        n = built.meta[node.name][3]
        d = _softmax_names(d, *built.softmax[n])
        if node.op == "softmax_cross_entropy" and built.sum_to_one:
            d = _targets_sum_to_one(d, built, n)
        return d
    d = d.xreplace({e: node.symbol})
    if node.op == "mse":
        d = textbook(d)
    return d


_TERMS: dict = {}


def _terms_with(node: Node, p: sp.Symbol) -> list:
    """The terms of an affine sum that hold `p` (indexed once per node: O(terms), not O(terms²))."""
    key = (node.name, node.expr)
    if key not in _TERMS:
        if len(_TERMS) > 200_000:
            _TERMS.clear()
        index: dict = {}
        for a in (node.expr.args if node.expr.is_Add else (node.expr,)):
            for s in a.free_symbols:
                index.setdefault(s, []).append(a)
        _TERMS[key] = index
    return _TERMS[key].get(p, [])


def _linear_derivative(term, p):
    """d(term)/dp: for c·p (c free of p) SymPy's as_independent gives c; anything else, sp.diff."""
    coeff, rest = term.as_independent(p, as_Add=False)
    return coeff if rest == p else sp.diff(term, p)


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
