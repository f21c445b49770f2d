"""Figure data for a computational graph, laid out left to right by depth (cs231n style).

`layout(derivation)` returns a `Figure`: plain positions, names, op glyphs, values and
gradients. The template `templates/_graph.tex` draws it with TikZ (values in the colour `fwd`
above each node, gradients in the colour `bwd` below). Nothing here prints LaTeX for numbers
or names; the template does that through the `name`/`num` filters.

Reuse (worksheets): `layout(derivation, values=True, gradients=False)` hides gradients for
an exercise; `Figure.summary` is True when the graph was too big and only a per-column
summary is drawn (the template then shows one box per column).

Inputs sit one column left of their first consumer (so a bias used late in the graph is next
to its gate), and each column is ordered by the barycentre of its neighbours to keep wires
short. Big graphs stay within the page: the template scales the picture to the line width,
and above `MAX_NODES` nodes a per-column summary replaces the full drawing.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

MAX_NODES = 40  # above this, draw the per-column summary instead of every node
DX = 2.5  # cm between columns
DY = 1.75  # cm between rows

OP_GLYPH = {  # the gate's operation as a short LaTeX glyph, shown under its name
    "add": "+", "sub": "-", "mul": r"\times", "div": r"\div", "neg": r"-x", "inv": r"1/x",
    "exp": r"\exp", "log": r"\log", "sigmoid": r"\sigma", "tanh": r"\tanh",
    "relu": r"\operatorname{relu}", "abs": r"|x|", "max": r"\max", "pow": r"x^{n}",
}


@dataclass(frozen=True)
class FigNode:
    id: str  # TikZ node name (n0, n1, ...): user names never reach TikZ syntax
    name: str
    x: float  # cm
    y: float  # cm
    op: str | None  # the gate's operation (a key of OP_GLYPH), None for inputs and composite steps
    power: object  # the exponent of a pow gate (a SymPy number), else None
    is_input: bool
    is_output: bool
    value: float | None  # None when hidden
    gradient: float | None  # None when hidden or the node does not reach the output


@dataclass(frozen=True)
class FigColumn:
    """Per-column summary of a big graph."""
    x: float
    count: int
    names: tuple[str, ...]  # the first few names, for the label


@dataclass(frozen=True)
class Figure:
    nodes: tuple[FigNode, ...]
    edges: tuple[tuple[str, str], ...]  # (parent id, child id)
    columns: tuple[FigColumn, ...]
    summary: bool
    output: str
    width: float  # cm, before scaling
    height: float


def _power(node):
    if node.op == "pow" and isinstance(node.expr, sp.Pow) and node.expr.exp.is_Number:
        return node.expr.exp
    return None


def columns_of(graph) -> dict[str, int]:
    """Column of each node: its depth; inputs one left of their first consumer."""
    depth = graph.depth()
    col = {}
    for n in graph.nodes:
        if n.is_input:
            consumers = graph.consumers(n.name)
            col[n.name] = min((depth[c] for c in consumers), default=1) - 1
        else:
            col[n.name] = depth[n.name]
    return col


def _order(graph, col: dict[str, int]) -> list[list[str]]:
    """Rows within each column: barycentre sweeps, starting from the topological order."""
    ncols = max(col.values()) + 1
    cols: list[list[str]] = [[] for _ in range(ncols)]
    for n in graph.nodes:
        cols[col[n.name]].append(n.name)

    def pos(name):
        c = cols[col[name]]
        return (c.index(name) - (len(c) - 1) / 2)

    def sweep(indices, neighbours):
        for i in indices:
            keyed = []
            for k, name in enumerate(cols[i]):
                ns = [m for m in neighbours(name) if m in col]
                bary = sum(pos(m) for m in ns) / len(ns) if ns else pos(name)
                keyed.append((bary, k, name))
            cols[i] = [name for _, _, name in sorted(keyed)]

    parents = lambda n: graph.node(n).parents  # noqa: E731
    for _ in range(2):
        sweep(range(1, ncols), parents)
        sweep(range(ncols - 2, -1, -1), graph.consumers)
    return cols


def layout(derivation, values: bool = True, gradients: bool = True) -> Figure:
    """Positions and labels of every node of `derivation.graph` (or a per-column summary)."""
    graph = derivation.graph
    col = columns_of(graph)
    cols = _order(graph, col)
    height = max(len(c) for c in cols) * DY
    width = len(cols) * DX
    grads = {g.node: g.value for g in derivation.steps}
    if len(graph.nodes) > MAX_NODES:
        summary = tuple(FigColumn(i * DX, len(c), tuple(c[:3])) for i, c in enumerate(cols))
        return Figure((), (), summary, True, graph.output, width, 2 * DY)
    nodes = []
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    for i, c in enumerate(cols):
        for k, name in enumerate(c):
            n = graph.node(name)
            nodes.append(FigNode(
                ids[name], name, round(i * DX, 3), round(-(k - (len(c) - 1) / 2) * DY, 3),
                n.op if n.op in OP_GLYPH else None, _power(n), n.is_input, name == graph.output,
                derivation.values[name] if values else None,
                grads.get(name) if gradients else None))
    edges = tuple((ids[p], ids[n.name]) for n in graph.nodes for p in n.parents)
    return Figure(tuple(nodes), edges, (), False, graph.output, width, height)
