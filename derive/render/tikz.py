"""Figure data for a computational graph, laid out left to right by depth (cs231n style).

`layout(derivation)` returns a `Figure`: plain positions, names, op glyphs, values and
gradients. The template `templates/_graph.tex` draws it with TikZ (values in the colour `fwd`
above each node, gradients in the colour `bwd` below). Nothing here prints LaTeX for numbers
or names; the template does that through the `name`/`num` filters.

Reuse (worksheets): `layout(derivation, values=True, gradients=False)` hides gradients for
an exercise; `Figure.summary` is True when the graph was too big and only a per-column
summary is drawn (the template then shows one box per column).

Inputs sit one column left of their first consumer (so a bias used late in the graph is next
to its gate). An edge that skips columns gets a waypoint in each column it crosses (a slot of
its own, so it never runs through a node), and each column is ordered by the barycentre of
its neighbours to keep wires short and crossings few. Big graphs stay within the page: the
template scales the picture to the line width, and above `MAX_NODES` nodes a per-column summary
replaces the full drawing.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..engine.ops import FUNCTION_TABLE

MAX_NODES = 40  # above this (after leaving inputs out), draw the per-column summary
MAX_ROWS = 10  # nodes in one column above which the inputs (weights, data) are left out
SUMMARY_COLUMNS = 5  # a summary of more than 2 × this many columns shows the first and last few
DX = 2.5  # cm between columns
DY = 2.0  # cm between rows (value label + node + gradient label)

# the gate's operation as a short LaTeX glyph, shown under its name: the arithmetic gates', then
# every function's from its record (engine.ops)
OP_GLYPH = {
    "add": "+", "sub": "-", "mul": r"\times", "div": r"\div", "neg": r"-x", "inv": r"1/x", "pow": r"x^{n}",
    **{f.name: f.glyph for f in FUNCTION_TABLE.values() if f.glyph},
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
    skipped: int = 0  # > 0: this box stands for that many columns left out (a very deep graph)


@dataclass(frozen=True)
class FigEdge:
    src: str  # node id
    dst: str  # node id
    via: tuple[tuple[float, float], ...]  # waypoints (cm) of an edge that skips columns


@dataclass(frozen=True)
class Figure:
    nodes: tuple[FigNode, ...]
    edges: tuple[FigEdge, ...]
    columns: tuple[FigColumn, ...]
    summary: bool
    output: str
    width: float  # cm, before scaling
    height: float
    inputs_omitted: bool = False  # the inputs were left out to keep the figure readable


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


def _layers(graph, col: dict[str, int]):
    """Columns of real nodes plus one waypoint per skipped column of each long edge.

    Returns (cols, up, down, chains): cols lists the vertices of each column (node names, or
    ("via", parent, child, column) tuples for waypoints); up/down map each vertex to its
    neighbours in the previous/next column; chains maps (parent, child) to its waypoints.
    """
    ncols = max(col.values()) + 1
    cols: list[list] = [[] for _ in range(ncols)]
    up: dict = {}
    down: dict = {}
    drawn = [n for n in graph.nodes if n.name in col]
    for n in drawn:
        cols[col[n.name]].append(n.name)
        up.setdefault(n.name, [])
        down.setdefault(n.name, [])
    chains = {}
    for n in drawn:
        for p in (p for p in n.parents if p in col):
            prev, chain = p, []
            for c in range(col[p] + 1, col[n.name]):
                v = ("via", p, n.name, c)
                cols[c].append(v)
                up[v], down[v] = [prev], []
                down[prev].append(v)
                chain.append(v)
                prev = v
            down[prev].append(n.name)
            up[n.name].append(prev)
            chains[(p, n.name)] = chain
    return cols, up, down, chains


def _order(cols, up, down, sweeps: int = 3) -> list[list]:
    """Rows within each column: barycentre sweeps, starting from the topological order."""
    where = {}

    def index():
        for c in cols:
            for k, v in enumerate(c):
                where[v] = k - (len(c) - 1) / 2

    def sweep(indices, neighbours):
        for i in indices:
            index()
            keyed = []
            for k, v in enumerate(cols[i]):
                ns = neighbours[v]
                bary = sum(where[m] for m in ns) / len(ns) if ns else where[v]
                keyed.append((bary, k, v))
            cols[i] = [v for _, _, v in sorted(keyed, key=lambda t: (t[0], t[1]))]

    for _ in range(sweeps):
        sweep(range(1, len(cols)), up)
        sweep(range(len(cols) - 2, -1, -1), down)
    return cols


class _Gradients:
    """node -> its gradient's value, read from the derivation only for the nodes drawn (a big
    network's records are built when first read)."""

    def __init__(self, derivation):
        self.d = derivation

    def get(self, name, default=None):
        return self.d.gradient(name).value if self.d.has(name) else default

    def __getitem__(self, name):
        return self.d.gradient(name).value


def layout(derivation, values: bool = True, gradients: bool = True, omit=frozenset()) -> Figure:
    """Positions and labels of the nodes of `derivation.graph`.

    Every node when the graph is small; without the inputs when a column would hold more than
    MAX_ROWS nodes (a network's weights and data: their values are in the forward table);
    a per-column summary when even that has more than MAX_NODES nodes.
    """
    graph = derivation.graph
    col = columns_of(graph)
    grads = _Gradients(derivation)
    omitted = False
    if omit:  # a network's weights and biases: their values and gradients are in the arrays
        col = {k: v for k, v in col.items() if k not in omit}
        low = min(col.values())
        col = {k: v - low for k, v in col.items()}
        omitted = True
    if _tallest(col) > MAX_ROWS or len(col) > MAX_NODES:
        gates = {n.name: col[n.name] for n in graph.steps}
        if not gates:
            gates = col
        low = min(gates.values())
        gates = {k: v - low for k, v in gates.items()}
        wired = sum(1 for n in graph.steps for p in n.parents if p in gates)
        if wired >= len(gates) - 1:  # still one connected picture without the inputs
            col, omitted = gates, True
    if len(col) > MAX_NODES or _tallest(col) > 2 * MAX_ROWS:
        col = columns_of(graph)
        ncols = max(col.values()) + 1
        names = [[n.name for n in graph.nodes if col[n.name] == i] for i in range(ncols)]
        boxes = [FigColumn(0, len(c), tuple(c[:2])) for c in names]
        if ncols > 2 * SUMMARY_COLUMNS + 1:  # a very deep graph (a 2000-step chain): both ends only
            middle = names[SUMMARY_COLUMNS:-SUMMARY_COLUMNS]
            gap = FigColumn(0, sum(len(c) for c in middle), (), skipped=len(middle))
            boxes = boxes[:SUMMARY_COLUMNS] + [gap] + boxes[-SUMMARY_COLUMNS:]
        summary = tuple(FigColumn(round(i * DX, 3), b.count, b.names, b.skipped) for i, b in enumerate(boxes))
        return Figure((), (), summary, True, graph.output, len(summary) * DX, 2 * DY)
    cols, up, down, chains = _layers(graph, col)
    cols = _order(cols, up, down)
    xs = _column_x(cols, down)
    pos = {}
    for i, c in enumerate(cols):
        for k, v in enumerate(c):
            pos[v] = (round(xs[i], 3), round(-(k - (len(c) - 1) / 2) * DY, 3))
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    nodes = []
    for c in cols:
        for v in c:
            if isinstance(v, tuple):
                continue
            n = graph.node(v)
            nodes.append(FigNode(
                ids[v], v, *pos[v],
                n.op if n.op in OP_GLYPH else None, _power(n), n.is_input, v == graph.output,
                derivation.values[v] if values else None,
                grads.get(v) if gradients else None))
    edges = tuple(FigEdge(ids[p], ids[n.name], tuple(pos[w] for w in chains[(p, n.name)]))
                  for n in graph.nodes if n.name in col for p in n.parents if p in col)
    height = max(len(c) for c in cols) * DY
    return Figure(tuple(nodes), edges, (), False, graph.output, xs[-1] + DX, height, omitted)


def _column_x(cols, down) -> list[float]:
    """x of each column: DX apart, wider where many wires cross a gap (up to 2.5 DX)."""
    xs = [0.0]
    for c in cols[:-1]:
        wires = sum(len(down[v]) for v in c)
        xs.append(xs[-1] + DX * min(2.5, max(1.0, wires / 10)))
    return xs


def _tallest(col: dict) -> int:
    counts: dict[int, int] = {}
    for c in col.values():
        counts[c] = counts.get(c, 0) + 1
    return max(counts.values(), default=0)


# ---------------------------------------------------------------- matrix layers as layer boxes

@dataclass(frozen=True)
class LayerArray:
    """One matrix of a layer figure: its name, values and gradient (SymPy matrices of Floats)."""
    name: str  # X, W, B, A, T, L
    value: object
    gradient: object  # None for targets (T) and the given upstream's owner


@dataclass(frozen=True)
class LayerFigure:
    """Affine -> Softmax-with-Loss as boxes, with the matrices' values and gradients beside them."""
    inputs: tuple[LayerArray, ...]  # X, W, B (or A alone)
    affine: bool
    middle: LayerArray | None  # the affine output (Y, or A before a softmax)
    softmax: object  # the softmax outputs Y (a matrix) when the stack ends with Softmax-with-Loss
    targets: LayerArray | None
    loss: float | None


def _values(names, values) -> sp.Matrix:
    return sp.Matrix([[sp.Float(values[n], 15) for n in row] for row in names])


def layer_figure(solution) -> LayerFigure:
    """The layer boxes of a matrix-layer solution (values and gradients read from the records)."""
    p, d, extra = solution.problem, solution.derivation, solution.extra
    grads = _Gradients(d)

    def grid(prefix, rows, cols):
        sep = "," if max(rows, cols) > 9 else ""
        return [[f"{prefix}_{r}{sep}{c}" for c in range(1, cols + 1)] for r in range(1, rows + 1)]

    def arr(key):
        nodes = extra.params[key]
        nodes = nodes if isinstance(nodes[0], list) else [nodes]
        value = _values(nodes, d.values)
        grad = sp.Matrix([[sp.Float(grads[n], 15) for n in row] for row in nodes])
        return LayerArray(key, value, grad)

    swl = p.stack[-1] == "softmax_with_loss"
    affine = p.stack[0] == "affine"
    inputs = tuple(arr(k) for k in extra.params)
    middle = softmax = targets = None
    if affine:
        x = extra.params["X"]
        rows, cols = len(x), len(extra.params["W"][0])
        names = grid("a" if swl else "y", rows, cols)
        middle = LayerArray("A" if swl else "Y", _values(names, d.values),
                            sp.Matrix([[sp.Float(grads[n], 15) for n in row] for row in names]))
        if swl:
            inputs = tuple(a for a in inputs if a.name != "A")
    if swl:
        first = middle or inputs[0]
        rows, cols = first.value.shape
        softmax = _values(grid("y", rows, cols), d.values)
        targets = LayerArray("T", _values(grid("t", rows, cols), d.values), None)
    return LayerFigure(inputs, affine, middle, softmax, targets, d.values[d.output] if swl else None)
