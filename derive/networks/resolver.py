"""Generic index-form names (o_k, w_kj, a^l-1_k) <-> a network's concrete node names.

`Resolver` maps both ways for one network; `concretize` turns a generic formula into graph
symbols for given index bindings, expanding sums over their ranges.
"""
from __future__ import annotations

import sympy as sp

from ..engine.parse import symbol
from .built import Built

_LETTER = {}
_SYMBOLS: dict = {}


def _sym(name: str) -> sp.Symbol:
    """parse.symbol, memoised (rules build many thousands of names)."""
    s = _SYMBOLS.get(name)
    if s is None:
        if len(_SYMBOLS) > 500_000:
            _SYMBOLS.clear()
        s = _SYMBOLS[name] = symbol(name)
    return s


class Sampled(sp.Indexed):
    """A per-sample generic quantity: the sample index n is the first index, and it is written as the
    instances write it, a superscript after the layer: a^{L,(n)}_j, o^{(n)}_k (never a^L_{nj})."""

    def written(self) -> sp.Indexed:
        """The same quantity with the sample moved into the base's superscript (for printing only)."""
        label = str(self.base.label)
        sample = f"({self.indices[0]})"
        return sp.Indexed(sp.IndexedBase(label + ("," if "^" in label else "^") + sample), *self.indices[1:])

    def _derive_latex(self, printer):  # the project's LaTeX printer prints the written form
        return printer._print(self.written())

    def _sympystr(self, printer):
        return printer._print(self.written())


def letter(s: str) -> sp.Symbol:
    if s not in _LETTER:
        _LETTER[s] = sp.Symbol(s, integer=True, positive=True)
    return _LETTER[s]


class Resolver:
    """Generic indexed names <-> the graph's names, for one network.

    Mitchell letters are fixed per layer (x_i, h_j, o_k); Nielsen's are relative to the rule's
    layer l: units of layer l are j, of layers l − 1 and l + 1 are k; bases carry the layer
    (a^l, a^l-1, w^l+1, delta^L ...). With a batch, per-sample quantities take n first.
    """
    PER_SAMPLE = ("act", "net", "delta", "target", "loss")

    def __init__(self, built: Built):
        self.built = built
        self.nm = built.names
        self.D = self.nm.D
        self.batch = self.nm.batch

    # generic side --------------------------------------------------------
    def _sup(self, m: int, r: int) -> str:
        if r == self.D:
            return {0: "L", -1: "L-1"}[m - r]
        return {0: "l", -1: "l-1", 1: "l+1"}[m - r]

    def _letter(self, m: int, r: int) -> str:
        if self.nm.nielsen:  # j: layer l, k: layer l − 1, i: layer l + 1 (summed over)
            return {0: "j", -1: "k", 1: "i"}[m - r]
        return ({0: "i", 1: "k"} if self.D == 1 else {0: "i", 1: "j", 2: "k"})[m]

    def base(self, role: str, m: int, r: int) -> str:
        if self.nm.nielsen:
            if role == "target":
                return "y"
            return {"act": "a", "net": "z", "w": "w", "b": "b", "delta": "delta"}[role] + "^" + self._sup(m, r)
        if role == "act":
            return "x" if m == 0 else ("o" if m == self.D else "h")
        return {"net": "net", "w": "w", "b": "b", "delta": "delta", "target": "t"}[role]

    def generic(self, name: str, r: int):
        role, m, _idx, _n = self.built.meta[name]
        if role == "loss":
            return symbol(self.nm.loss)
        letters = [self._letter(m, r)] + ([self._letter(m - 1, r)] if role == "w" else [])
        if self.batch > 1 and role in self.PER_SAMPLE:
            return Sampled(sp.IndexedBase(self.base(role, m, r)), *(letter(x) for x in ["n", *letters]))
        return sp.IndexedBase(self.base(role, m, r))[tuple(letter(x) for x in letters)]

    def generalize(self, expr, r: int):
        meta = self.built.meta
        return _rebuild(expr, lambda s: self.generic(s.name, r) if s.is_Symbol and s.name in meta else s)

    def size_symbol(self, m: int, r: int):
        if self.nm.nielsen:
            return sp.Symbol("m^" + self._sup(m, r), integer=True, positive=True)
        return sp.Integer(self.nm.sizes[m])

    # concrete side -------------------------------------------------------
    def layer_of(self, base: str, letters, bind) -> tuple[str, int]:
        """(role, internal layer) of a generic base with its index letters."""
        if self.nm.nielsen:
            if base == "y":
                return "target", self.D
            head, sup = base.split("^")
            role = {"a": "act", "z": "net", "w": "w", "b": "b", "delta": "delta"}[head]
            if sup.startswith("L"):
                number = self.D + 1 + (int(sup[1:]) if len(sup) > 1 else 0)
            else:
                number = bind["l"] + (int(sup[1:]) if len(sup) > 1 else 0)
            return role, number - 1
        by_letter = {v: k for k, v in ({0: "i", 1: "k"} if self.D == 1 else {0: "i", 1: "j", 2: "k"}).items()}
        fixed = {"x": ("act", 0), "h": ("act", 1), "o": ("act", self.D), "t": ("target", self.D)}
        if base in fixed:
            return fixed[base]
        role = {"net": "net", "w": "w", "b": "b", "delta": "delta"}[base]
        unit_letters = [x for x in letters if x != "n"]
        return role, by_letter[unit_letters[0]]

    def concrete(self, base: str, indices, bind) -> sp.Symbol:
        return _sym(self.concrete_name(base, indices, bind))

    def concrete_name(self, base: str, indices, bind) -> str:
        """The graph name of a generic base with its indices bound (letters looked up in `bind`)."""
        letters = [i.name if i.is_Symbol else "" for i in indices]
        role, m = self.layer_of(base, letters, bind)
        vals = [int(i) if not i.is_Symbol else bind[i.name] for i in indices]
        n = None
        if self.batch > 1 and role in self.PER_SAMPLE:
            n, vals = vals[0], vals[1:]
        nm = self.nm
        return {"act": lambda: nm.act(m, vals[0], n), "net": lambda: nm.net(m, vals[0], n),
                "w": lambda: nm.weight(m, vals[0], vals[1]), "b": lambda: nm.bias(m, vals[0]),
                "delta": lambda: nm.delta(m, vals[0], n), "target": lambda: nm.target(vals[0], n)}[role]()

    def size(self, upper, bind) -> int:
        if upper.is_Integer:
            return int(upper)
        sup = upper.name.split("^")[1]
        number = (self.D + 1 if sup.startswith("L") else bind["l"]) + (int(sup[1:]) if len(sup) > 1 else 0)
        return self.nm.sizes[number - 1]

    def label(self, generic) -> str:
        """A generic quantity as a user types it: o_k, w_kj, a^l_j, w^l+1_kj, delta^l_j, a^L,(n)_j."""
        if isinstance(generic, Sampled):
            generic = generic.written()
        if isinstance(generic, sp.Indexed):
            return f"{generic.base.label}_{''.join(str(i) for i in generic.indices)}"
        return str(generic)


def _rebuild(e, leaf):
    """Rebuild an expression bottom-up without evaluating sums and products (textbook forms)."""
    if e.is_Atom:
        return leaf(e)
    if isinstance(e, sp.Indexed):
        return leaf(e)
    args = [_rebuild(a, leaf) for a in e.args]
    if e.is_Add or e.is_Mul:
        return e.func(*args, evaluate=False)
    if e.is_Pow:
        return sp.Pow(*args, evaluate=False)
    return e.func(*args)


def _conc(expr, bind: dict, resolver) -> sp.Expr:
    if isinstance(expr, sp.Sum):
        body = expr.function
        for var, lo, hi in reversed(expr.limits):
            lo_v = int(lo) if lo.is_Integer else resolver.size(lo, bind)
            hi_v = int(hi) if hi.is_Integer else resolver.size(hi, bind)
            terms = [_conc(body, {**bind, var.name: v}, resolver) for v in range(lo_v, hi_v + 1)]
            return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
    if isinstance(expr, sp.Indexed):
        return resolver.concrete(expr.base.label.name, expr.indices, bind)
    if expr.is_Atom:
        return expr
    args = [_conc(a, bind, resolver) for a in expr.args]
    if expr.is_Add or expr.is_Mul:
        return expr.func(*args, evaluate=False)
    if expr.is_Pow:
        return sp.Pow(*args, evaluate=False)
    return expr.func(*args)


def concretize(rule_or_solution, expr, bindings) -> sp.Expr:
    """Generic indexed symbols -> graph symbols, with the free indices bound by `bindings`.

    `rule_or_solution` is an IndexRule, a NetworkResult or a Solution whose extra is a
    NetworkResult; `bindings` maps index letters to 1-based ints ({"k": 1, "j": 2}, nielsen's
    {"l": 3, ...}). Sums over bound indices are expanded over their ranges; the textbook form of
    products and sums is kept (no evaluation).
    """
    obj = getattr(rule_or_solution, "extra", rule_or_solution)
    resolver = obj.resolver
    return _conc(expr, {str(k): int(v) for k, v in bindings.items()}, resolver)
