"""Plain step records of a derivation: SymPy expressions and floats, never LaTeX.

Gradient symbols are ordinary SymPy symbols named "∂L/∂q" (see `partial`); printers and
readers recognise them with `split_partial`.
"""
from __future__ import annotations

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


@dataclass(frozen=True, eq=False)
class Derivation:
    """Everything reverse mode produced for one graph at one point."""
    graph: object  # graph.Graph
    values: dict  # node -> float (forward pass)
    steps: tuple[Gradient, ...]  # reverse topological order, output first
    kinks: tuple[str, ...] = ()  # nodes whose local derivative has a kink at this point

    def __post_init__(self):
        object.__setattr__(self, "_by_node", {g.node: g for g in self.steps})

    def gradient(self, name: str) -> Gradient:
        """The Gradient record of `name` (KeyError when the output does not depend on it)."""
        return self._by_node[name]

    def has(self, name: str) -> bool:
        return name in self._by_node

    @property
    def output(self) -> str:
        return self.graph.output
