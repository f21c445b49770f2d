"""Concrete node names of a network in a notation (Mitchell or Nielsen), per layer and sample.

    mitchell  inputs x_i; hidden net^h_j, h_j; output net^o_k, o_k; targets t_k; loss L;
              weights w^h_ji, w^o_kj; biases b^h_j, b^o_k; deltas delta^h_j, delta^o_k
    nielsen   inputs a^1_k; layer l: z^l_j, a^l_j, w^l_jk, b^l_j; targets y_j; cost C;
              deltas delta^l_j
    batch     with several rows, each per-sample node carries the row: o^(2)_1, a^3,(2)_1,
              and the loss is L = L^(1) + L^(2) + ...
"""
from __future__ import annotations

import functools


def _cached(method):
    """Memoised per Names object: an MNIST network asks for the same 100,000 names several times."""
    @functools.wraps(method)
    def wrapper(self, *args):
        key = (method.__name__, *args)
        name = self._cache.get(key)
        if name is None:
            name = self._cache[key] = method(self, *args)
        return name
    return wrapper


class Names:
    """Concrete node names for one network; layer l = 0 (input) .. D (output)."""

    def __init__(self, notation: str, sizes, batch: int):
        self.notation = notation
        self.nielsen = notation == "nielsen"
        self.sizes = tuple(sizes)
        self.D = len(sizes) - 1
        self.batch = batch
        self.sep = "," if max(sizes) > 9 else ""
        self._cache: dict = {}

    def _name(self, base, sups, subs, n=None):
        sups = [str(s) for s in sups] + ([f"({n})"] if self.batch > 1 and n is not None else [])
        name = base + ("^" + ",".join(sups) if sups else "")
        return name + ("_" + self.sep.join(str(s) for s in subs) if subs else "")

    def tag(self, l):
        return str(l + 1) if self.nielsen else ("o" if l == self.D else "h")

    @_cached
    def act(self, l, j, n=1):
        if self.nielsen:
            return self._name("a", [l + 1], [j], n)
        return self._name("x" if l == 0 else ("o" if l == self.D else "h"), [], [j], n)

    @_cached
    def net(self, l, j, n=1):
        return self._name("z" if self.nielsen else "net", [self.tag(l)], [j], n)

    @_cached
    def weight(self, l, j, k):
        return self._name("w", [self.tag(l)], [j, k])

    @_cached
    def bias(self, l, j):
        return self._name("b", [self.tag(l)], [j])

    @_cached
    def target(self, j, n=1):
        return self._name("y" if self.nielsen else "t", [], [j], n)

    @_cached
    def delta(self, l, j, n=1):
        return self._name("delta", [self.tag(l)], [j], n)

    @property
    def loss(self):
        return "C" if self.nielsen else "L"

    def sample_loss(self, n):
        return self._name(self.loss, [], [], n) if self.batch > 1 else self.loss


def loss_formula(notation: str, loss: str):
    """(loss symbol, one sample's loss in index form) in the notation's names, from the LOSSES table.

    mse -> L = ½ Σ_k (t_k − o_k)²; a softmax output already named o_k = softmax(net)_k, so
    softmax_cross_entropy reads −Σ_k t_k log o_k (Nielsen: y_j, a^L_j, C).
    """
    import sympy as sp

    from ..engine.ops import LOSSES
    nielsen = notation == "nielsen"
    k = sp.Symbol("j" if nielsen else "k", integer=True, positive=True)
    t = sp.IndexedBase("y" if nielsen else "t")[k]
    o = sp.IndexedBase("a^L" if nielsen else "o")[k]
    z = sp.IndexedBase("z^L" if nielsen else "net^o")[k]
    term = _textbook(LOSSES[loss], t, o, z)
    written = {t - o: sp.Add(t, -o, evaluate=False), 1 - t: sp.Add(1, -t, evaluate=False),
               1 - o: sp.Add(1, -o, evaluate=False)}  # in the order a textbook writes them
    coeff, rest = term.as_coeff_Mul()
    rest = rest.xreplace(written)
    total = sp.Sum(rest, (k, 1, sp.Symbol("K" if not nielsen else "n_L")))
    if coeff == -1:
        return sp.Symbol("C" if nielsen else "L"), sp.Mul(-1, total, evaluate=False)
    shown = sp.UnevaluatedExpr(coeff) if coeff != 1 else None
    return sp.Symbol("C" if nielsen else "L"), sp.Mul(shown, total, evaluate=False) if shown is not None else total


def _textbook(rule, t, o, z):
    """One unit's term of a loss in the outputs o: its own form, or for a loss written only in the
    nets (Softmax-with-Loss) the form of the loss that computes the same from the same output
    activation (the cross-entropy of a softmax output o_k)."""
    import sympy as sp

    from ..engine.ops import LOSSES
    term = rule.expr([t], [o], [z])
    if o in term.free_symbols or rule.logits is None:
        return term
    ts, zs = (sp.Rational(1, 4), sp.Rational(3, 4)), (sp.Rational(3, 10), sp.Rational(-6, 5))  # a test point
    for other in LOSSES.values():
        for act in sorted(set(other.outputs) & set(rule.outputs)):
            if (other.logits is not None and o in other.expr([t], [o], [z]).free_symbols
                    and abs(sp.N(other.logits(ts, zs, act) - rule.logits(ts, zs, act), 30)) < 1e-25):
                return other.expr([t], [o], [z])
    return term
