"""The names a network answer may use and how they become the graph's own names.

A generic quantity is `Indexed(IndexedBase("role@spec"), indices...)`: role act, net, delta, w, b or
target; spec the layer, absolute ("a2": internal layer 2), relative to the rule's layer ("r-1": l − 1),
to the output ("L-1"), or unknown ("?": Mitchell's net_1, δ_1 may be either layer). Indices are
letters (bound by the instance or by a sum) or unit numbers; a per-sample quantity of a batch
carries the sample first (a^l_nj, o_nk). `NetNames` reads typed names into such objects,
`resolve` fixes the layers of sums and of Mitchell's letterless names, `concretize` turns an
expression into graph symbols for one instance, and `label` names a graph node in the rule's terms.
"""
from __future__ import annotations

import re

import sympy as sp

from ..engine.ops import FUNCTION_TABLE
from ..engine.parse import symbol
from ..engine.steps import partial
from ..i18n import _
from .answers import VerifyError
from .symbols import FULL, ActPrime, Grad, Local, letter, local_symbol
from .typed_names import index_splits

PER_SAMPLE = ("act", "net", "delta", "target")
_SPEC = re.compile(r"(act|net|delta|w|b|target)@(a|r|L|\?)(-?\d*)$")


class NoSuchQuantity(VerifyError):
    """A name of the right form for a unit that the network does not have (h_3 of two units)."""

    def __init__(self, name: str, where: str = ""):
        super().__init__(_("the answer refers to {name}, which does not exist{where}: an index is out of its "
                           "range").format(name=name, where=where))
        self.name = name


_TAGS: dict = {}


def parse_tag(base) -> tuple[str, str, int]:
    """(role, kind, offset) of a generic base "role@kind offset" (cached: printing is slow)."""
    found = _TAGS.get(base)
    if found is None:
        m = _SPEC.match(str(base.label if hasattr(base, "label") else base))
        found = _TAGS[base] = (m.group(1), m.group(2), int(m.group(3) or 0))
    return found


def _tag(role: str, kind: str, n: int = 0) -> sp.IndexedBase:
    return sp.IndexedBase(f"{role}@{kind}{n if kind != '?' else ''}")


class NetNames:
    """Every name an answer in one rule's terms may use: `name in names`, `names[name]`.

    free: the letters every instance binds (its layer spec for each); output_rule: Nielsen's
    rule of layer L (its l is L).
    """

    def __init__(self, built, free: dict, output_rule: bool = False):
        self.nm = built.names
        self.D, self.batch, self.nielsen = self.nm.D, self.nm.batch, self.nm.nielsen
        self.meta = built.meta
        self.exists = set(built.graph._index) | {k for k, v in built.meta.items() if v[0] == "delta"}
        self.free = dict(free)
        self.output_rule = output_rule
        self.graph = built.graph
        self.out = built.graph.output
        if self.nielsen:
            self.conventional = {"k": ("r", -1), "j": ("r", 0), "i": ("r", 1)}
        else:
            self.conventional = {"i": ("a", 0), "j": ("a", 1), "k": ("a", 2)} if self.D == 2 else \
                {"i": ("a", 0), "k": ("a", 1)}
        self.cache: dict = {}

    # -------------------------------------------------------------- typed names -> generic objects
    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name):
        g = self.get(name)
        if g is None:
            raise KeyError(name)
        return g

    def get(self, name: str):
        if name not in self.cache:
            self.cache[name] = self._read(name)
        return self.cache[name]

    def _read(self, name: str):
        if name in self.graph and self.meta.get(name, ("",))[0] == "loss":
            return symbol(name)  # a sample's loss C^(1): a node like any other
        m = re.fullmatch(r"([A-Za-z\u0370-\u03ff]+)(?:\^\{?([^_{}]+)\}?)?(?:_(.+))?", name)
        if not m or m.group(3) is None:
            return None
        base, sup, sub = m.groups()
        base = {"δ": "delta", "σ": None}.get(base, base)
        role_spec = self._role(base, sup)
        if role_spec is None:
            return None
        role, spec = role_spec
        units, per = 2 if role == "w" else 1, self.batch > 1 and role in PER_SAMPLE
        found = index_splits(sub, (units + 1, units) if per else (units,), lambda c: self._tops(role, spec, c, units))
        if len(found) > 1:
            raise VerifyError(_("{name} can be read as {readings}: separate its indices with commas, e.g. {example}")
                              .format(name=name, readings=" or ".join(",".join(r) for r in found),
                                      example=f"{name.split('_')[0]}_{{{','.join(found[0])}}}"))
        if not found:
            return None
        idx = [letter(p) if p.isalpha() else sp.Integer(int(p)) for p in found[0]]
        sample = idx[:1] if len(idx) == units + 1 else ([letter("n")] if per else [])
        idx = idx[len(idx) - units:]
        if spec == ("?", 0):
            spec = self._from_letters(role, idx)
        if spec[0] == "a" and not 0 <= spec[1] <= self.D:
            return None
        return sp.Indexed(_tag(role, *spec), *(sample + idx))

    def _tops(self, role, spec, count, units) -> list:
        """The largest 1-based value at each index position of a name (its layers' sizes)."""
        m = {"a": spec[1], "L": self.D + spec[1]}.get(spec[0], -1)
        size = lambda k: self.nm.sizes[k] if 0 <= k <= self.D and m >= 0 else max(self.nm.sizes)  # noqa: E731
        return ([self.batch] if count > units else []) + [size(m), size(m - 1)][:units]

    def _role(self, base: str, sup):
        D = self.D
        if self.nielsen:
            if sup is None:
                return {"y": ("target", ("L", 0)), "x": ("act", ("a", 0))}.get(base)
            role = {"a": "act", "z": "net", "w": "w", "b": "b", "delta": "delta"}.get(base)
            spec = self._sup(sup)
            return (role, spec) if role and spec else None
        if sup is None:
            fixed = {"x": ("act", ("a", 0)), "o": ("act", ("a", D)), "t": ("target", ("a", D))}
            if D == 2:
                fixed["h"] = ("act", ("a", 1))
            if base in fixed:
                return fixed[base]
            return (base, ("?", 0)) if base in ("net", "delta", "w", "b") else None
        if base in ("net", "delta", "w", "b") and sup in ("h", "o"):
            if sup == "h" and D != 2:
                return None
            return base, ("a", 1 if sup == "h" else D)
        return None

    def _sup(self, sup: str):
        m = re.fullmatch(r"([lL])([+-]\d+)?|(\d+)", sup)
        if not m:
            return None
        if m.group(3):
            n = int(m.group(3))
            return ("a", n - 1) if 1 <= n <= self.D + 1 else None
        d = int(m.group(2) or 0)
        if m.group(1) == "L" or self.output_rule:
            return ("L", d)
        return ("r", d)

    def _from_letters(self, role, idx):
        """Mitchell's net_k, δ_j, w_kj: the layer follows from the conventional letters."""
        first = idx[0]
        if first.is_Symbol and first.name in self.conventional:
            return self.conventional[first.name]
        if role == "w" and idx[1].is_Symbol and idx[1].name in self.conventional:
            kind, n = self.conventional[idx[1].name]
            return kind, n + 1
        return ("?", 0)

    def shown(self) -> list[str]:
        """The generic names listed in messages (each reads back as itself)."""
        out = []
        n = "n" if self.batch > 1 else ""
        if self.nielsen:
            sups = ["L-1", "L"] if self.output_rule else ["l-1", "l", "l+1"]
            letters = {"L-1": "k", "L": "j", "l-1": "k", "l": "j", "l+1": "i"}
            for s in sups:
                out.append(f"a^{s}_{n}{letters[s]}")
            for s in sups[1:]:
                x = letters[s]
                prev = letters[sups[sups.index(s) - 1]]
                out += [f"z^{s}_{n}{x}", f"w^{s}_{x}{prev}", f"b^{s}_{x}", f"delta^{s}_{n}{x}"]
            if self.output_rule:
                out.append(f"y_{n}j")
            return out
        if self.D == 2:
            out += [f"x_{n}i", f"h_{n}j", f"o_{n}k", f"t_{n}k", f"net_{n}j", f"net_{n}k", "w_ji", "w_kj",
                    "b_j", "b_k", f"delta_{n}j", f"delta_{n}k"]
        else:
            out += [f"x_{n}i", f"o_{n}k", f"t_{n}k", f"net_{n}k", "w_ki", "b_k", f"delta_{n}k"]
        return out

    # -------------------------------------------------------------- layers of sums and letters
    def layer(self, spec, bind) -> int:
        kind, d = spec
        if kind == "a":
            return d
        if kind == "L":
            return self.D + d
        if kind == "r":
            r = bind["l"] - 1 if "l" in bind else self.D
            return r + d
        raise VerifyError(_("cannot tell which layer a name without a layer refers to"))

    def size(self, spec, bind) -> int:
        if spec == ("batch", 0):
            return self.batch
        m = self.layer(spec, bind)
        if not 0 <= m <= self.D:
            raise NoSuchQuantity(_("a unit of layer {layer}").format(layer=m + 1 if self.nielsen else m))
        return self.nm.sizes[m]

    def resolve(self, expr, letters: dict | None = None):
        """Layers for sums (their letters) and for Mitchell's letterless names; returns
        (expr, ambiguous) where `ambiguous` lists the generic objects of unknown layer."""
        letters = dict(self.free if letters is None else letters)
        if self.batch > 1:
            letters.setdefault("n", ("batch", 0))
        ambiguous: list = []
        return self._resolve(expr, letters, ambiguous), ambiguous

    def _resolve(self, e, letters, ambiguous):
        if isinstance(e, sp.Sum):
            body, (v, lo, hi) = outermost(e)
            spec = self._sum_spec(v.name, body, letters)
            if spec is None:
                return sp.Sum(self._resolve(body, letters, ambiguous), (v, lo, hi))
            inner = self._resolve(body, {**letters, v.name: spec}, ambiguous)
            if hi == FULL:
                hi = sp.Symbol(f"#size:{spec[0]}{spec[1]}")
            return sp.Sum(inner, (v, lo, hi))
        if isinstance(e, sp.Indexed):
            role, kind, _n = parse_tag(e.base)
            if kind != "?":
                return e
            units = e.indices[1:] if (self.batch > 1 and role in PER_SAMPLE) else e.indices
            spec = None
            if units[0].is_Symbol and units[0].name in letters:
                spec = letters[units[0].name]
            elif role == "w" and units[1].is_Symbol and units[1].name in letters:
                k, d = letters[units[1].name]
                spec = (k, d + 1)
            if spec is None or spec[0] == "batch":
                if e not in ambiguous:
                    ambiguous.append(e)
                return e
            return sp.Indexed(_tag(role, *spec), *e.indices)
        if e.is_Atom:
            return e
        return e.func(*[self._resolve(a, letters, ambiguous) for a in e.args])

    def _sum_spec(self, v: str, body, letters):
        if v == "n" and self.batch > 1:
            return ("batch", 0)
        found = []
        for g in body.atoms(sp.Indexed):
            role, kind, d = parse_tag(g.base)
            per = self.batch > 1 and role in PER_SAMPLE
            for pos, i in enumerate(g.indices):
                if not (i.is_Symbol and i.name == v):
                    continue
                if per and pos == 0:
                    found.append(("batch", 0))
                elif kind != "?":
                    unit_pos = pos - (1 if per else 0)
                    found.append((kind, d - (1 if role == "w" and unit_pos == 1 else 0)))
        if not self.nielsen and v in self.conventional:
            return self.conventional[v]
        if found:
            return found[0]
        if v in self.conventional:
            return self.conventional[v]
        if any(v in {str(i) for i in g.indices} and parse_tag(g.base)[1] == "?" for g in body.atoms(sp.Indexed)):
            return None  # Σ_m e^{net_m}: the layer of net_m (tried both ways) fixes the sum's
        raise VerifyError(_("cannot tell which layer's units the sum over {index} runs over; use the letter of that "
                            "layer ({letters})").format(index=v, letters=", ".join(self.conventional)))

    def readings(self, ambiguous) -> list[dict]:
        """Each way to give Mitchell's letterless names a layer (net_1: hidden or output)."""
        choices = []
        for g in ambiguous:
            role = parse_tag(g.base)[0]
            layers = range(self.D, 0, -1)
            choices.append([(g, sp.Indexed(_tag(role, "a", m), *g.indices)) for m in layers])
        out = [{}]
        for options in choices:
            out = [{**r, g: new} for r in out for g, new in options][:16]
        return out

    # -------------------------------------------------------------- generic -> graph symbols
    def concretize(self, e, bind: dict):
        if isinstance(e, sp.Sum):
            body, (v, lo, hi) = outermost(e)
            lo_v = int(lo)
            if hi.is_Integer:
                hi_v = int(hi)
                spec = self._sum_spec(v.name, body, {})
                size = self.size(spec, bind)
                if hi_v > size:
                    raise VerifyError((_("the sum over {index} runs to {upper}, but {index} counts only {size} "
                                         "samples here ({index} = 1..{size})") if spec == ("batch", 0) else
                                       _("the sum over {index} runs to {upper}, but {index} counts only {size} "
                                         "units here ({index} = 1..{size})")).format(index=v, upper=hi_v, size=size))
            elif hi == FULL:  # a sum whose layer came from a letterless name's reading
                hi_v = self.size(self._sum_spec(v.name, body, {}) or ("?", 0), bind)
            else:
                kind = re.fullmatch(r"#size:(a|r|L|batch)(-?\d+)", hi.name)
                hi_v = self.size((kind.group(1), int(kind.group(2))), bind)
            if lo_v < 1:
                raise VerifyError(_("the sum over {index} starts at {lower}; units and samples are numbered from "
                                    "1").format(index=v, lower=lo_v))
            terms = [self.concretize(body, {**bind, v.name: k}) for k in range(lo_v, hi_v + 1)]
            return sp.Add(*terms)
        if isinstance(e, sp.Indexed):
            return symbol(self.concrete_name(e, bind))
        if isinstance(e, Grad):
            x = self.concretize(e.args[0], bind)
            if not x.is_Symbol or x.name not in self.graph or self.meta.get(x.name, ("",))[0] == "delta":
                raise VerifyError(_("{gradient} is not the gradient of a quantity of the network").format(
                    gradient=f"∂{self.out}/∂{x}"))
            return partial(self.out, x.name)
        if isinstance(e, Local):
            a, b = (self.concretize(x, bind) for x in e.args)
            return local_of(self.graph, a, b)
        if isinstance(e, ActPrime):
            x = self.concretize(e.args[0], bind)
            return act_prime(self.graph, x)
        if e.is_Atom:
            return e
        return e.func(*[self.concretize(a, bind) for a in e.args])

    def concrete_name(self, g, bind) -> str:
        role, kind, d = parse_tag(g.base)
        if kind == "?":
            raise VerifyError(_("cannot tell which layer {name} belongs to").format(name=self.label(g)))
        try:
            vals = [int(i) if i.is_Integer else bind[i.name] for i in g.indices]
        except KeyError as e:
            raise VerifyError(_("the index {index} of {name} is neither an index of the answer's quantity nor summed "
                                "over").format(index=e.args[0], name=self.label(g))) from None
        n = None
        if self.batch > 1 and role in PER_SAMPLE:
            n, vals = vals[0], vals[1:]
        m = self.layer((kind, d), bind)
        nm = self.nm
        name = None
        if 0 <= m <= self.D and all(v >= 1 for v in vals) and (n is None or 1 <= n <= self.batch):
            name = {"act": lambda: nm.act(m, vals[0], n), "net": lambda: nm.net(m, vals[0], n),
                    "w": lambda: nm.weight(m, vals[0], vals[1]), "b": lambda: nm.bias(m, vals[0]),
                    "delta": lambda: nm.delta(m, vals[0], n), "target": lambda: nm.target(vals[0], n)}[role]()
        if name is None or name not in self.exists:
            shown = self.label(g.func(g.base, *[sp.Integer(v) for v in ([n] if n else []) + vals]))
            raise NoSuchQuantity(shown if name is None else name,
                                 _(" (for {bindings})").format(
                                     bindings=", ".join(f"{k} = {v}" for k, v in bind.items() if k != "l"))
                                 if bind else "")
        return name

    # -------------------------------------------------------------- display
    def label(self, g) -> str:
        """A generic object as typed: w_kj, a^l-1_k, δ_1 (δ written as delta in the name)."""
        role, kind, d = parse_tag(g.base)
        idx = [str(i) for i in g.indices]
        sub = ("," if any(len(i) > 1 for i in idx) else "").join(idx)
        if self.nielsen:
            head = {"act": "a", "net": "z", "w": "w", "b": "b", "delta": "delta", "target": "y"}[role]
            if role == "target":
                return f"y_{sub}"
            sup = {"a": lambda: str(d + 1), "L": lambda: "L" + (f"{d:+d}" if d else ""),
                   "r": lambda: "l" + (f"{d:+d}" if d else ""), "?": lambda: "?"}[kind]()
            return f"{head}^{{{sup}}}_{sub}" if len(sup) > 1 else f"{head}^{sup}_{sub}"  # a^{l-1}_k
        if role == "act":
            head = {0: "x", self.D: "o"}.get(d, "h") if kind == "a" else "a"
        else:
            head = {"net": "net", "w": "w", "b": "b", "delta": "delta", "target": "t"}[role]
        return f"{head}_{sub}"

    def generic_of(self, node: str, bind: dict, summed_as_letters: bool = True) -> str:
        """A graph node named in the rule's terms for one instance: h_j, net_k (summed) or net_2."""
        key = (node, tuple(sorted(bind.items())), summed_as_letters)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._generic_of(node, bind, summed_as_letters)
        return found

    def _generic_of(self, node: str, bind: dict, summed_as_letters: bool) -> str:
        if node not in self.meta:
            return node
        role, m, idx, n = self.meta[node]
        if role == "loss":
            return node
        r = bind["l"] - 1 if (self.nielsen and "l" in bind) else self.D
        positions = [m, m - 1] if role == "w" else [m]
        letters = []
        for layer_m, value in zip(positions, idx):
            letters.append(self._letter_for(layer_m, value, bind, r, summed_as_letters))
        if self.batch > 1 and role in PER_SAMPLE and n is not None:
            b = bind.get("n")
            letters.insert(0, "n" if (b == n or (b is None and summed_as_letters)) else str(n))
        if self.nielsen:
            spec = ("L", m - self.D) if (self.output_rule or r == self.D) and m >= self.D - 1 else \
                (("r", m - r) if abs(m - r) <= 1 else ("a", m))
        else:
            spec = ("a", m)
        idx_syms = [letter(x) if x.isalpha() else sp.Integer(int(x)) for x in letters]
        return self.label(sp.Indexed(_tag(role, *spec), *idx_syms))

    def _letter_for(self, m, value, bind, r, summed_as_letters) -> str:
        if self.nielsen:
            d = m - r
            name = {-1: "k", 0: "j", 1: "i"}.get(d)
        else:
            name = next((x for x, (_, layer_m) in self.conventional.items() if layer_m == m), None)
        if name is None:
            return str(value)
        if name in bind:
            return name if bind[name] == value else str(value)
        return name if summed_as_letters else str(value)


def outermost(e: sp.Sum):
    """(body, limit) of a sum's outermost limit (SymPy merges nested sums into one Sum)."""
    limits = e.limits
    body = sp.Sum(e.function, *limits[:-1]) if len(limits) > 1 else e.function
    return body, limits[-1]


def local_of(graph, a, b):
    """The symbol of ∂a/∂b for graph nodes a, b: b must be a parent of a (or a not depend on b: 0)."""
    if not (a.is_Symbol and b.is_Symbol and a.name in graph and b.name in graph):
        raise VerifyError(_("{derivative} names a derivative between quantities that are not both in the graph").format(
        derivative=f"∂{a}/∂{b}"))
    if b.name in graph.node(a.name).parents:
        return local_symbol(a.name, b.name)
    from ..engine.graph import ancestors
    if b.name not in ancestors(graph, a.name):
        return sp.S.Zero
    raise VerifyError(_("{derivative} spans several steps; name one step (∂a/∂b with b an input of a) or "
                        "∂L/∂x").format(derivative=f"∂{a}/∂{b}"))


def _is_activation(op: str) -> bool:
    f = FUNCTION_TABLE.get(op)
    return f is not None and f.activation


def act_prime(graph, x):
    """f′(x): the local derivative of the activation that x feeds."""
    if x.is_Symbol and x.name in graph:
        users = [c for c in graph.consumers(x.name) if _is_activation(graph.node(c).op)]
        if len(users) == 1:
            return local_symbol(users[0], x.name)
    raise VerifyError(_("{call}: f′ needs the net input of a unit (its activation's derivative there)").format(
        call=f"f′({x})"))


class ScalarNames(dict):
    """The names of a scalar graph (or of a [layers] problem's elements): node -> its symbol."""

    def __init__(self, table: dict, graph):
        super().__init__(table)
        self.graph = graph
        self.out = graph.output

    def shown(self) -> list[str]:
        return sorted(self, key=lambda s: (len(s), s))

    def resolve(self, expr, letters=None):
        return expr, []

    def readings(self, ambiguous):
        return [{}]

    def concretize(self, e, bind=None):
        if isinstance(e, Grad):
            x = e.args[0]
            if not (x.is_Symbol and x.name in self.graph):
                raise VerifyError(_("{gradient} is not the gradient of a quantity of the graph").format(
                    gradient=f"∂{self.out}/∂{x}"))
            return partial(self.out, x.name)
        if isinstance(e, Local):
            return local_of(self.graph, *e.args)
        if isinstance(e, ActPrime):
            return act_prime(self.graph, e.args[0])
        if isinstance(e, sp.Sum | sp.Indexed):
            raise VerifyError(_("a sum over an index only makes sense in a network problem with indexed quantities"))
        if e.is_Atom:
            return e
        return e.func(*[self.concretize(a, bind) for a in e.args])

    def generic_of(self, node: str, bind=None, summed_as_letters: bool = True) -> str:
        return node

    def label(self, g) -> str:
        return str(g)
