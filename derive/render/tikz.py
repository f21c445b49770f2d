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

Print size: the report never shrinks a figure (its labels stay at 9 pt, the op glyphs at 8 pt).
A wide or tall graph has its columns and rows drawn closer (`Figure.sx`, `sy`, down to
MIN_SCALE_X / MIN_SCALE_Y) so that it fits LINE_CM × HEIGHT_CM; a graph that would need more is
abbreviated to the per-column summary. Edges leave a node on its east side and end on the next
node's west side, with the arrowhead, so they never run into the labels above and below a node.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import sympy as sp

from ..engine.graph import Graph, Node
from ..engine.ops import FUNCTION_TABLE, LOSSES
from ..engine.reverse import backward
from . import crossings

MAX_NODES = 40  # above this (after leaving inputs out), draw the per-column summary
MAX_ROWS = 10  # nodes in one column above which the inputs (weights, data) are left out
SUMMARY_COLUMNS = 3  # a summary of more than 2 × this many + 1 columns shows the first and last few
DX = 2.5  # cm between columns
DY = 2.0  # cm between rows (value label + node + gradient label)
SUMMARY_DX = 2.3  # cm between the boxes of a summary (18 mm boxes)
LINE_CM = 16.4  # the report's text width (A4, 2 cm margins: 17 cm) less a safety margin
HEIGHT_CM = 15.0  # about 0.6 of the text height
MIN_SCALE_X = 0.62  # columns closer than 0.62 DX would let the 9 pt labels of neighbours touch
MIN_SCALE_Y = 0.8  # rows closer than 0.8 DY would let a gradient label touch the value label below
FONT_PT = {"label": 9.0, "glyph": 8.0, "name": 10.95, "summary": 8.0}  # \footnotesize, \scriptsize, ...

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
    via: tuple[tuple[float, float], ...]  # waypoints (cm) of an edge that skips columns, level across each


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
    sx: float = 1.0  # cm per unit of x: columns drawn closer to fit the line (never the text)
    sy: float = 1.0

    def box_x(self) -> float:
        """cm per unit of x with answer boxes (a worksheet): 15 mm boxes need 1.3 DX, less when
        that would not fit the line (never below 0.75 DX, where neighbouring boxes would touch)."""
        xs = [n.x for n in self.nodes] or [0.0]
        span = max(xs) - min(xs) + 1.2
        return round(max(0.75, min(1.3, (LINE_CM - 3.0) / span)), 3)

    def extent(self) -> tuple[float, float]:
        """(width, height) in cm as printed: coordinates scaled, nodes and labels at full size."""
        if self.summary:
            return (len(self.columns) - 1) * SUMMARY_DX + 2.0, 1.2
        xs = [n.x for n in self.nodes] or [0.0]
        ys = [n.y for n in self.nodes] or [0.0]
        width = (max(xs) - min(xs) + 1.2) * self.sx + 1.6  # the output arrow; half a node each side
        height = (max(ys) - min(ys)) * self.sy + 1.8  # a node and its two labels
        return width, height


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


def _order(cols, up, down, chains=(), sweeps: int = 3) -> list[list]:
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
    return crossings.fewer(cols, down, [c for c in chains if c])


class _Gradients:
    """node -> its gradient's value, read from the derivation only for the nodes drawn (a big
    network's records are built when first read); `extra`: gradients of nodes drawn differently."""

    def __init__(self, derivation, extra=None):
        self.d = derivation
        self.extra = extra or {}

    def get(self, name, default=None):
        if name in self.extra:
            return self.extra[name]
        return self.d.gradient(name).value if self.d.has(name) else default

    def __getitem__(self, name):
        return self.d.gradient(name).value


def layout(derivation, values: bool = True, gradients: bool = True, omit=frozenset()) -> Figure:
    """Positions and labels of the nodes of `derivation.graph`.

    Every node when the graph is small; without the inputs when a column would hold more than
    MAX_ROWS nodes (a network's weights and data: their values are in the forward table);
    a per-column summary when even that has more than MAX_NODES nodes.
    """
    graph, drawn = as_drawn(derivation)
    col = columns_of(graph)
    grads = _Gradients(derivation, drawn)
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
    if len(col) > MAX_NODES or _tallest(col) > 2 * MAX_ROWS or not _fits(col):
        return _summary(graph)
    col, cols, down, chains = _arranged(graph, col)
    xs = _column_x(cols, down)
    if scales(xs[-1], 0)[0] < MIN_SCALE_X:  # no room to widen the busy gaps
        xs = [i * DX for i in range(len(cols))]
    pos = {}
    for i, c in enumerate(cols):
        for v, y in zip(c, _rows(c)):
            pos[v] = (round(xs[i], 3), y)
    span_y = max(pos[c[0]][1] - pos[c[-1]][1] for c in cols)
    sx, sy = scales(xs[-1], span_y)
    if sy < MIN_SCALE_Y:  # wires through the columns make it too tall to print at size
        return _summary(graph)
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
    edges = tuple(FigEdge(ids[p], ids[n.name], tuple(q for w in chains[(p, n.name)] for q in _level(pos[w])))
                  for n in graph.nodes if n.name in col for p in n.parents if p in col)
    height = span_y + DY
    return Figure(tuple(nodes), edges, (), False, graph.output, xs[-1] + DX, height, omitted, sx, sy)


def _arranged(graph, col: dict):
    """(columns, ordered vertices, down, chains) with the fewest edge crossings: the inputs as
    placed, or one input moved a column further left when that removes crossings (cs231n's staged
    graph: x's wire to num then passes below y instead of crossing y -> xpy)."""
    best = None
    for c in _placements(graph, col):
        cols, up, down, chains = _layers(graph, c)
        cols = _order(cols, up, down, chains.values())
        key = (crossings.total(cols, down), max(c.values()))
        if best is None or key < best[0]:
            best = (key, c, cols, down, chains)
        if key[0] == 0:
            break
    return best[1:]


def _placements(graph, col: dict):
    """The columns as placed, then each input that feeds several columns one column further left."""
    yield col
    for name in [n.name for n in graph.nodes if n.is_input and n.name in col][:12]:
        if len({col[c] for c in graph.consumers(name) if c in col}) < 2:
            continue
        moved = dict(col)
        moved[name] -= 1
        if moved[name] < 0:
            moved = {k: v + 1 for k, v in moved.items()}
        if _fits(moved):
            yield moved


def _level(point) -> tuple:
    """A wire crosses a column level over the width of a label (DX/4 each side of the waypoint),
    so it never cuts the value or gradient label of a node next to it."""
    x, y = point
    return (round(x - DX / 4, 3), y), (round(x + DX / 4, 3), y)


def _rows(column) -> list[float]:
    """y of each vertex of a column, top down and centred: DY between two nodes (a node and its two
    labels), DY/2 next to a wire's waypoint, DY/4 between two waypoints."""
    def room(v):
        return 0.5 if isinstance(v, tuple) else 1.0
    ys = [0.0]
    for a, b in pairwise(column):
        ys.append(ys[-1] - DY * room(a) * room(b))
    mid = (ys[0] + ys[-1]) / 2
    return [round(y - mid, 3) for y in ys]


def _summary(graph) -> Figure:
    """The per-column summary of a graph too big (or too wide or tall) to draw node by node."""
    col = columns_of(graph)
    ncols = max(col.values()) + 1
    names = [[n.name for n in graph.nodes if col[n.name] == i] for i in range(ncols)]
    boxes = [FigColumn(0, len(c), tuple(c[:2])) for c in names]
    if ncols > 2 * SUMMARY_COLUMNS + 1:  # a very deep graph (a 2000-step chain): both ends only
        middle = names[SUMMARY_COLUMNS:-SUMMARY_COLUMNS]
        gap = FigColumn(0, sum(len(c) for c in middle), (), skipped=len(middle))
        boxes = boxes[:SUMMARY_COLUMNS] + [gap] + boxes[-SUMMARY_COLUMNS:]
    summary = tuple(FigColumn(round(i * SUMMARY_DX, 3), b.count, b.names, b.skipped) for i, b in enumerate(boxes))
    return Figure((), (), summary, True, graph.output, len(summary) * SUMMARY_DX, 2 * DY)


def scales(span_x: float, span_y: float) -> tuple[float, float]:
    """(sx, sy): how much closer columns and rows are drawn so the figure fits the page (≤ 1)."""
    sx = min(1.0, (LINE_CM - 1.6) / (span_x + 1.2))
    sy = min(1.0, (HEIGHT_CM - 1.8) / span_y) if span_y > 0 else 1.0
    return round(sx, 3), round(sy, 3)


def _fits(col: dict) -> bool:
    """A full drawing of these columns fits the page at the closest spacing allowed."""
    ncols = max(col.values()) + 1
    sx, sy = scales((ncols - 1) * DX, (_tallest(col) - 1) * DY)  # at least DX per gap
    return sx >= MIN_SCALE_X and sy >= MIN_SCALE_Y


def as_drawn(derivation) -> tuple[Graph, dict]:
    """(graph as drawn, gradients of nodes drawn differently).

    A loss computed from the output nets (softmax or sigmoid with cross-entropy: stable, and its
    gradient is o − t) is drawn from the outputs o_k, as its textbook form L = −Σ t_k log o_k reads,
    and each o_k shows ∂L/∂o_k of that form (the engine's reverse mode on it), so no o_k leads nowhere.
    """
    graph = derivation.graph
    nodes, grads = [], {}
    for n in graph.nodes:
        rule = LOSSES.get(n.op)
        nets = [p for p in n.parents if not graph.node(p).is_input]
        outs = [_output_of(graph, z) for z in nets]
        if rule is None or not rule.from_logits or not nets or None in outs:
            nodes.append(n)
            continue
        targets = tuple(p for p in n.parents if graph.node(p).is_input)
        nodes.append(Node(n.name, n.expr, targets + tuple(outs), n.op))
        grads.update(_textbook_gradients(rule, derivation, n.name, targets, outs, nets))
    if not grads:
        return graph, {}
    return Graph(tuple(nodes), graph.output), grads


def _output_of(graph, net: str) -> str | None:
    """The output unit o_k computed from `net` that nothing else reads (None if there is none)."""
    z = graph.node(net).symbol
    found = [c for c in graph.consumers(net) if not graph.consumers(c) and c != graph.output
             and (graph.node(c).parents == (net,) or sp.fraction(graph.node(c).expr)[0] == sp.exp(z))]
    return found[0] if len(found) == 1 else None


def _textbook_gradients(rule, derivation, loss: str, targets, outs, nets) -> dict:
    """∂(output)/∂o_k through the loss's textbook form in the outputs, at the forward values."""
    sym = [graph_symbol(v) for v in (*targets, *outs, *nets)]
    t, o, z = sym[:len(targets)], sym[len(targets):len(targets) + len(outs)], sym[len(targets) + len(outs):]
    leaves = tuple(Node(v) for v in (*targets, *outs, *nets))
    expr = _in_outputs(rule, derivation.graph.node(outs[0]).op)(t, o, z)
    if not set(o) & expr.free_symbols:
        return {}
    form = Graph(leaves + (Node(loss, expr, tuple(v.name for v in leaves), "expr"),), loss)
    d = backward(form, {v.name: derivation.values[v.name] for v in leaves})
    upstream = derivation.gradient(loss).value if derivation.has(loss) else 1.0
    return {name: upstream * d.gradient(name).value for name in outs if d.has(name)}


def _in_outputs(rule, act: str):
    """The loss's textbook form in the outputs: its own, or for a loss written only in the nets
    (Softmax-with-Loss) that of the loss computing the same from the same output activation."""
    t, o, z = (sp.Symbol("t"),), (sp.Symbol("o"),), (sp.Symbol("z"),)
    if o[0] in rule.expr(t, o, z).free_symbols:
        return rule.expr
    ts, zs = (sp.Rational(1, 4), sp.Rational(3, 4)), (sp.Rational(3, 10), sp.Rational(-6, 5))  # a test point
    for other in LOSSES.values():
        if (other.logits is not None and act in other.outputs and o[0] in other.expr(t, o, z).free_symbols
                and abs(sp.N(other.logits(ts, zs, act) - rule.logits(ts, zs, act), 30)) < 1e-25):
            return other.expr
    return rule.expr


def graph_symbol(name: str):
    return Node(name).symbol


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
