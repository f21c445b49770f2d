"""Plain step records of a derivation: SymPy expressions and floats, never LaTeX.

Gradient symbols are ordinary SymPy symbols named "∂L/∂q" (see `partial`); printers and
readers recognise them with `split_partial`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

_PARTIAL_PREFIX = "∂"
_PARTIAL_SEP = "/∂"


def partial(num: str, den: str) -> sp.Symbol:
    """The symbol standing for ∂num/∂den."""
    return sp.Symbol(f"{_PARTIAL_PREFIX}{num}{_PARTIAL_SEP}{den}", real=True)


def split_partial(sym) -> tuple[str, str] | None:
    """(num, den) if `sym` is a gradient symbol made by `partial`, else None."""
    name = getattr(sym, "name", "")
    if name.startswith(_PARTIAL_PREFIX) and _PARTIAL_SEP in name:
        num, den = name[len(_PARTIAL_PREFIX):].split(_PARTIAL_SEP, 1)
        return num, den
    return None


def tree_size(expr, limit: int) -> int:
    """How many nodes `expr` has written out as a tree (a shared subexpression counts at every
    use, as printing writes it), counted over the shared structure in linear time; any count past
    `limit` is returned as limit + 1. Closed forms grow exponentially on deep graphs: this is how
    they are capped before anything prints or rebuilds them."""
    sizes: dict = {}
    stack = [expr]
    while stack:
        e = stack[-1]
        if e in sizes:
            stack.pop()
            continue
        pending = [a for a in e.args if a not in sizes]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        sizes[e] = min(limit + 1, 1 + sum(sizes[a] for a in e.args))
    return sizes[expr]


@dataclass(frozen=True)
class LocalGradient:
    """∂node/∂wrt for one gate, in the graph's own names."""
    node: str
    wrt: str
    expr: sp.Expr
    value: float


@dataclass(frozen=True)
class Contribution:
    """What one consumer sends back to `target`: upstream gradient × local gradient."""
    target: str
    via: str
    upstream: sp.Symbol  # ∂output/∂via
    upstream_value: float
    local: LocalGradient
    expr: sp.Expr  # upstream * local.expr
    value: float


@dataclass(frozen=True)
class Gradient:
    """∂output/∂node: the sum of the node's contributions (a fan-out sums several)."""
    node: str
    symbol: sp.Symbol
    contributions: tuple[Contribution, ...]  # empty for the output itself
    expr: sp.Expr  # in gradient symbols of the consumers and graph names
    closed: sp.Expr | None  # gradient symbols substituted away (small graphs only)
    value: float

    @property
    def is_fanout(self) -> bool:
        return len(self.contributions) > 1


@dataclass(frozen=True)
class Factor:
    """One factor ∂num/∂den of a chain, with its expression in the graph's names."""
    num: str
    den: str
    expr: sp.Expr
    value: float


@dataclass(frozen=True)
class Chain:
    """∂output/∂wrt as a product of factors, outermost first."""
    output: str
    wrt: str
    factors: tuple[Factor, ...]
    expr: sp.Expr
    value: float


class Records(Sequence):
    """The Gradient records of a derivation, output first, each built when first asked for.

    A network with 100,000 parameters has as many records; `make bench` and `derive check` read
    only their values, a report reads a few dozen. `order` lists the nodes; `build(name)` makes one
    record (and may ask for its consumers' records, which are cached).
    """

    def __init__(self, order: tuple[str, ...], build):
        self.order = order
        self._build = build
        self._index = {n: i for i, n in enumerate(order)}
        self._cache: dict = {}

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.get(n) for n in self.order[i]]
        return self.get(self.order[i])

    def __iter__(self):
        return (self.get(n) for n in self.order)

    def __contains__(self, name) -> bool:
        return name in self._index

    def get(self, name: str) -> Gradient:
        g = self._cache.get(name)
        if g is None:
            if name not in self._index:
                raise KeyError(name)
            g = self._cache[name] = self._build(name)
        return g


@dataclass(frozen=True, eq=False)
class Derivation:
    """Everything reverse mode produced for one graph at one point.

    values: node -> float (forward pass); steps: the Gradient records in reverse topological order
    (a tuple, or `Records` built on demand); kinks: nodes whose local derivative has a kink here.
    exact, grads: node -> forward value and gradient at `digits` decimal digits (mpmath), what the
    records' floats are rounded from and what the proof compares against.
    """
    graph: object  # graph.Graph
    values: dict
    steps: Sequence
    kinks: tuple[str, ...] = ()
    exact: dict | None = None
    grads: dict | None = None
    digits: int = 0
    grad_floats: dict | None = None  # node -> gradient as a float

    def __post_init__(self):
        if not isinstance(self.steps, Records):
            object.__setattr__(self, "_by_node", {g.node: g for g in self.steps})

    def gradient(self, name: str) -> Gradient:
        """The Gradient record of `name` (KeyError when the output does not depend on it)."""
        if isinstance(self.steps, Records):
            return self.steps.get(name)
        return self._by_node[name]

    def has(self, name: str) -> bool:
        if isinstance(self.steps, Records):
            return name in self.steps
        return name in self._by_node

    def gradient_value(self, name: str) -> float:
        """∂output/∂name as a float, without building its record when the exact value is known."""
        if self.grad_floats is not None and isinstance(self.steps, Records):
            return self.grad_floats[name]
        return self.gradient(name).value

    @property
    def order(self) -> tuple[str, ...]:
        """The nodes that have a gradient, output first."""
        if isinstance(self.steps, Records):
            return self.steps.order
        return tuple(g.node for g in self.steps)

    @property
    def output(self) -> str:
        return self.graph.output
