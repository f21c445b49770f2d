"""Mazur-style network diagrams: layered circles for units, labelled weights on the edges.

One function and the records it returns; templates/_network_diagram.tex draws them with TikZ.

    network_figure(problem, values=None, blanks=(), sample=None) -> NetFigure
        problem  a NetworkProblem of kind "network" (sizes, notation, bias, activations).
        values   name -> number for what the figure should print: a weight's value under its
                 name on its edge, a bias's value on the short arrow into its unit, an input's or
                 a unit's value beside its circle, a target's value after the output arrow.
                 Names left out print their name only (units print no value).
        blanks   names drawn with an empty answer box where their value would be.
        sample   with a batch, the row whose per-sample names (x^(2)_1, ...) label the units;
                 None draws the plain names (x_1, h_1), right for one sample.

    In a template:  \\BLOCK{with nf = figure}\\BLOCK{include "_network_diagram.tex"}\\BLOCK{endwith}
    inside an adjustbox that scales it to the line width. `problems(fig)` lists any label that
    touches an edge, a unit or another label (the tests use it).

Layout: one column per layer, units evenly spaced and centred. Every weight is labelled on its own
edge (white behind the label, so it reads as part of that edge); every bias on a short arrow into
its unit from above. A small search puts each label at a place along its edge, one line or
stacked, where it crosses no other edge, unit or label; the columns move apart until that
succeeds. When the weights' values do not fit, the edges carry their names only and
`NetFigure.parameter_values` is False (give the values beside the figure, e.g. as matrices).
A big network is summarised: a layer of more than MAX_SHOWN units shows its first
SHOWN_HEAD, a column of dots and its last; a gap that cannot be labelled cleanly within
MAX_WIDTH (an elided layer, more than MAX_LABELLED_EDGES weights, or no clean placement) gets
one label naming its weight matrix and shape instead (`NetFigure.summary` is then True).
Names and numbers stay data here; the template prints them through the `name`/`num` filters.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from .. import i18n
from ..engine.ops import activation_label
from ..networks.names import Names
from . import printer

SPACINGS = ((3.4, 2.2), (4.0, 2.4), (4.8, 2.6), (5.8, 2.8), (7.0, 3.0))  # (cm between columns, between units)
RADIUS = 0.42  # cm, the unit circles (minimum size 8.4 mm in the template)
STUB = 0.32  # cm, the bias arrow above a unit
ARROW = 0.25  # cm at the end of an edge kept free for its arrow tip
MAX_SHOWN = 6  # units per column drawn one by one; above: first SHOWN_HEAD, dots, the last
SHOWN_HEAD = 3
MAX_WIDTH = 17.0  # cm: a labelled figure wider than the text would shrink its labels; summarise
MAX_LABELLED_EDGES = 25  # weights in one gap above which no edge is labelled
LEVEL_POSITIONS = (0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.3, 0.65, 0.25, 0.7)  # along a level edge, preferred first
SLANTED_POSITIONS = (0.3, 0.35, 0.25, 0.4, 0.45, 0.2, 0.5, 0.55, 0.6, 0.65, 0.7)  # Mazur: near the source
CLEARANCE = 0.08  # cm kept between a label and anything it must not touch
TARGET_GAP = 0.9  # cm from an output circle's border to its target text
SEARCH_LIMIT = 20_000  # placement search steps per figure

# Sizes of \scriptsize text in an 11pt document (cm, measured with \settowidth, rounded up);
# the placement and the checks use these boxes.
BASE_CHAR = 0.21  # a letter of a name (w is 6.1 pt)
SCRIPT_CHAR = 0.12  # a character in a sub/superscript
NUMBER_CHAR = {"-": 0.235, ".": 0.085}  # digits 0.15 (4.25 pt)
EQUALS = 0.41  # " = " between a name and its value
LINE = 0.345  # one line (height + depth of w^h_11; the baselineskip of \scriptsize)
BOX_WIDTH, BOX_HEIGHT = 0.7, 0.3  # an empty answer box (7 mm x 3 mm in the template)
INNER = 0.06  # the label node's inner sep, both sides
DIGITS = 4  # significant digits of the numbers in the figure (the template prints num(4))


@dataclass(frozen=True)
class NetLabel:
    """A name and/or a value (or an answer box) centred at (x, y); w, h its estimated size.

    stacked: the value under the name (else `name = value` on one line)."""
    name: str | None
    value: float | None
    blank: bool
    stacked: bool
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class NetUnit:
    """A unit. kind: input, hidden, output, dots (an elided run of units), target (text only).

    label: its value or answer box, placed clear of the edges; bias: the label at the tail
    of the bias arrow into it (None without biases or in a summarised gap)."""
    id: str  # TikZ node name (u0, u1, ...): user names never reach TikZ syntax
    name: str
    kind: str
    layer: int
    x: float
    y: float
    label: NetLabel | None = None
    bias: NetLabel | None = None


@dataclass(frozen=True)
class NetEdge:
    src: str  # unit ids
    dst: str
    label: NetLabel | None  # the weight's name and value; None in a summarised gap
    faint: bool = False  # an edge to or from an elided run of units


@dataclass(frozen=True)
class NetCaption:
    """Under a column: the layer's role (input, hidden, output), number, size and activation."""
    x: float
    y: float
    role: str
    index: int  # hidden layer number (1-based); 0 for input and output
    size: int
    activation: str  # the activation's name in the current language (its record's label); "" for the input layer


@dataclass(frozen=True)
class GapLabel:
    """A summarised gap: its weight matrix's name in the notation (W^h, W^2) and shape."""
    x: float
    y: float
    array: str
    rows: int
    cols: int
    bias: bool


@dataclass(frozen=True)
class NetFigure:
    units: tuple[NetUnit, ...]
    edges: tuple[NetEdge, ...]
    captions: tuple[NetCaption, ...]
    gaps: tuple[GapLabel, ...]
    summary: bool  # some layer elided or some gap not labelled edge by edge
    width: float  # cm, before scaling
    height: float
    parameter_values: bool = True  # the weights' and biases' values are on the figure (if given);
    # False when only their names fit: give the values beside the figure (as matrices)


# ---------------------------------------------------------------- label sizes

def text_width(name: str) -> float:
    """Estimated width of a name as printer.name prints it in \\scriptsize (base^sup_sub)."""
    head, _, sub = name.partition("_")
    base, _, sup = head.partition("^")
    return len(base) * BASE_CHAR + max(len(sup), len(sub)) * SCRIPT_CHAR + 0.05


def number_width(x) -> float:
    return sum(NUMBER_CHAR.get(ch, 0.15) for ch in printer.number(x, DIGITS)) + 0.02


def make_label(name, value, blank, stacked, x=0.0, y=0.0) -> NetLabel:
    """A label's estimated box: `name` (None: the value alone), its value or an answer box."""
    shown = blank or value is not None
    vw = BOX_WIDTH if blank else number_width(value) if value is not None else 0.0
    vh = BOX_HEIGHT if blank else LINE if value is not None else 0.0
    nw = text_width(name) if name else 0.0
    if name and shown and not stacked:
        w, h = nw + EQUALS + vw, max(LINE, vh)
    elif name and shown:
        w, h = max(nw, vw), LINE + vh
    else:
        w, h = (nw, LINE) if name else (vw, vh)
    return NetLabel(name, value, blank, bool(stacked and name and shown), round(x, 3), round(y, 3),
                    round(w + INNER, 3), round(h + INNER, 3))


def _at(lab: NetLabel, x, y) -> NetLabel:
    return NetLabel(lab.name, lab.value, lab.blank, lab.stacked, round(x, 3), round(y, 3), lab.w, lab.h)


# ---------------------------------------------------------------- geometry

def _rect(lab: NetLabel, pad: float = 0.0):
    return (lab.x - lab.w / 2 - pad, lab.y - lab.h / 2 - pad, lab.x + lab.w / 2 + pad, lab.y + lab.h / 2 + pad)


def rects_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def segment_hits_rect(p, q, r) -> bool:
    """Does the segment p-q pass through the rectangle r = (x0, y0, x1, y1)? (Liang-Barsky)"""
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for den, num in ((-dx, x0 - r[0]), (dx, r[2] - x0), (-dy, y0 - r[1]), (dy, r[3] - y0)):
        if den == 0:
            if num < 0:
                return False
            continue
        t = num / den
        if den < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False
    return True


def _circle_rect(c):
    return (c[0] - RADIUS, c[1] - RADIUS, c[0] + RADIUS, c[1] + RADIUS)


def _visible(p, q):
    """The drawn part of an edge between two circles (TikZ stops at the node borders)."""
    d = math.dist(p, q)
    f = RADIUS / d
    return ((p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f),
            (q[0] - (q[0] - p[0]) * f, q[1] - (q[1] - p[1]) * f))


def _fixed_conflicts(lab: NetLabel, own, segments: dict, circles, fixed) -> int:
    r = _rect(lab, CLEARANCE)
    n = sum(1 for key, (p, q) in segments.items() if key != own and segment_hits_rect(p, q, r))
    n += sum(1 for c in circles if rects_overlap(r, _circle_rect(c)))
    return n + sum(1 for other in fixed if rects_overlap(r, _rect(other)))


def problems(fig: NetFigure) -> list[str]:
    """Every label that touches an edge other than its own, a unit or another label."""
    pos = {u.id: (u.x, u.y) for u in fig.units}
    kind = {u.id: u.kind for u in fig.units}
    segments = {(e.src, e.dst): _visible(pos[e.src], pos[e.dst]) for e in fig.edges
                if kind[e.dst] != "target"}
    segments.update({("head", *key): _head(*seg) for key, seg in list(segments.items())})
    segments.update({("stub", u.id): _stub(pos[u.id]) for u in fig.units if u.bias})
    circles = [pos[u.id] for u in fig.units if u.kind != "target"]
    labels = [((e.src, e.dst), e.label) for e in fig.edges if e.label]
    labels += [(("stub", u.id), u.bias) for u in fig.units if u.bias]
    labels += [(None, u.label) for u in fig.units if u.label and u.kind != "target"]
    found = []
    for i, (own, lab) in enumerate(labels):
        others = [b for j, (_, b) in enumerate(labels) if j != i]
        if _fixed_conflicts(lab, own, segments, circles, others):
            found.append(f"{lab.name or lab.value} at ({lab.x}, {lab.y})")
    return found


def _head(p, q):
    """The last ARROW cm of a drawn edge: its arrow tip, which no label may cover (its own either)."""
    d = math.dist(p, q)
    f = max(0.0, 1 - ARROW / d)
    return (p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f), q


def _stub(c):
    return ((c[0], c[1] + RADIUS + STUB), (c[0], c[1] + RADIUS))


# ---------------------------------------------------------------- placement search

def _solve(items, segments, circles, fixed):
    """One candidate per item so that no two chosen labels overlap and none touches an edge
    (other than its own), a circle or a fixed label. items: [(own, [candidate labels])].
    Returns the chosen labels in item order, or None when there is no such choice."""
    free = []
    for own, cands in items:
        ok = [c for c in cands if not _fixed_conflicts(c, own, segments, circles, fixed)]
        if not ok:
            return None
        free.append(ok)
    order = sorted(range(len(free)), key=lambda i: len(free[i]))
    chosen: dict[int, NetLabel] = {}
    steps = itertools.count()

    def dfs(k):
        if k == len(order):
            return True
        i = order[k]
        for c in free[i]:
            if next(steps) > SEARCH_LIMIT:
                return False
            r = _rect(c, CLEARANCE)
            if any(rects_overlap(r, _rect(o)) for o in chosen.values()):
                continue
            chosen[i] = c
            if dfs(k + 1):
                return True
            del chosen[i]
        return False

    return [chosen[i] for i in range(len(items))] if dfs(0) else None


def _edge_candidates(lab_name, values, blanks, p, q):
    """Along the edge, preferred places first; one line on a level edge, stacked on a slanted one."""
    out = []
    level = abs(q[1] - p[1]) < 0.01
    for t in LEVEL_POSITIONS if level else SLANTED_POSITIONS:
        x, y = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
        for stacked in ((False, True) if level else (True, False)):
            out.append(make_label(lab_name, values.get(lab_name), lab_name in blanks, stacked, x, y))
    return out


def _stub_candidates(name, values, blanks, c):
    out = []
    for stacked in (True, False):
        lab = make_label(name, values.get(name), name in blanks, stacked)
        out.append(_at(lab, c[0], c[1] + RADIUS + STUB + lab.h / 2))
    return out


def _value_candidates(name, values, blanks, c, kind):
    lab = make_label(None, values.get(name), name in blanks, False)
    w, h, off = lab.w, lab.h, RADIUS + CLEARANCE + 0.04
    diag = off * 0.75
    spots = [(c[0] - off - w / 2, c[1]), (c[0] - diag - w / 2, c[1] + diag + h / 2),
             (c[0] - diag - w / 2, c[1] - diag - h / 2)] if kind == "input" else []
    spots += [(c[0] + diag + w / 2, c[1] + diag + h / 2), (c[0] + diag + w / 2, c[1] - diag - h / 2),
              (c[0], c[1] - off - h / 2), (c[0] + off + w / 2, c[1] + 0.3), (c[0] + off + w / 2, c[1] - 0.3)]
    return [_at(lab, x, y) for x, y in spots]


# ---------------------------------------------------------------- layout

def _shown(size: int) -> list:
    """1-based unit indices drawn for a layer of `size`; None marks the dots."""
    if size <= MAX_SHOWN:
        return list(range(1, size + 1))
    return [*range(1, SHOWN_HEAD + 1), None, size]


def network_figure(problem, values=None, blanks=(), sample=None) -> NetFigure:
    """The diagram of `problem`'s network (see the module docstring)."""
    values = dict(values or {})
    blanks = frozenset(blanks)
    nm = Names(problem.notation, problem.sizes, problem.batch)
    params = {name for _, name in _parameter_names(nm, problem)}
    without = {k: v for k, v in values.items() if k not in params}  # names only on the edges
    depth = len(problem.sizes) - 1
    labelled = [l for l in range(1, depth + 1)  # gaps small enough to label edge by edge
                if problem.sizes[l] <= MAX_SHOWN and problem.sizes[l - 1] <= MAX_SHOWN
                and problem.sizes[l] * problem.sizes[l - 1] <= MAX_LABELLED_EDGES]
    while labelled:
        for shown in (values, without):
            for gap, dy in SPACINGS:
                if depth * gap + 2 * RADIUS > MAX_WIDTH:
                    break
                fig = _build(problem, shown, blanks, sample, gap, dy, set(labelled))
                if fig is not None and fig.width <= MAX_WIDTH:
                    return dataclasses.replace(fig, parameter_values=shown is values)
        # the densest gap is summarised, and the others are tried again
        labelled.remove(max(labelled, key=lambda l: (problem.sizes[l] * problem.sizes[l - 1], l)))
    return dataclasses.replace(_build(problem, without, blanks, sample, *SPACINGS[0], set()),
                               parameter_values=False)


def _parameter_names(nm, problem):
    for l in range(1, len(problem.sizes)):
        for j in range(1, problem.sizes[l] + 1):
            for k in range(1, problem.sizes[l - 1] + 1):
                yield l, nm.weight(l, j, k)
            yield l, nm.bias(l, j)


def _build(problem, values, blanks, sample, gap, dy, labelled):
    """The figure at this spacing with the gaps `labelled` (by their later layer) labelled edge
    by edge, or None when its labels cannot all be placed cleanly."""
    sizes = tuple(problem.sizes)
    nm = Names(problem.notation, sizes, problem.batch)
    depth = len(sizes) - 1
    n = sample if problem.batch > 1 else None
    ids = (f"u{i}" for i in itertools.count())
    units: dict[str, dict] = {}
    columns: list[list[str]] = []
    for l, size in enumerate(sizes):
        shown = _shown(size)
        col = []
        for k, j in enumerate(shown):
            y = round(-(k - (len(shown) - 1) / 2) * dy, 3)
            kind = "dots" if j is None else "input" if l == 0 else "output" if l == depth else "hidden"
            name = "" if j is None else nm.act(l, j, n)
            uid = next(ids)
            units[uid] = {"name": name, "kind": kind, "layer": l, "x": round(l * gap, 3), "y": y, "j": j}
            col.append(uid)
        columns.append(col)
    targets = {}
    for c in columns[-1]:
        u = units[c]
        if u["kind"] == "output":
            name = nm.target(u["j"], n)
            lab = make_label(name, values.get(name), name in blanks, False)
            x = u["x"] + RADIUS + TARGET_GAP + lab.w / 2
            uid = next(ids)
            units[uid] = {"name": name, "kind": "target", "layer": depth, "x": round(x, 3), "y": u["y"], "j": u["j"]}
            targets[uid] = _at(lab, x, u["y"])
    pos = {uid: (u["x"], u["y"]) for uid, u in units.items()}

    edges = []  # (src, dst, weight name or None, faint)
    for l in range(1, depth + 1):
        gap_edges = []
        for d, s in itertools.product(columns[l], columns[l - 1]):
            dj, sj = units[d]["j"], units[s]["j"]
            elided = dj is None or sj is None
            gap_edges.append((s, d, None if elided else nm.weight(l, dj, sj), elided))
        edges += gap_edges
    for uid, u in units.items():
        if u["kind"] == "target":
            src = next(c for c in columns[-1] if units[c]["j"] == u["j"] and units[c]["kind"] == "output")
            edges.append((src, uid, None, False))

    segments = {}
    for s, d, _, _ in edges:
        if units[d]["kind"] == "target":
            p = (pos[s][0] + RADIUS, pos[s][1])
            segments[(s, d)] = (p, (targets[d].x - targets[d].w / 2, p[1]))
        else:
            segments[(s, d)] = _visible(pos[s], pos[d])
            segments[("head", s, d)] = _head(*segments[(s, d)])
    stubs = [uid for uid, u in units.items()
             if problem.bias and u["kind"] in ("hidden", "output") and u["layer"] in labelled]
    for uid in stubs:
        segments[("stub", uid)] = _stub(pos[uid])
    circles = [pos[uid] for uid, u in units.items() if u["kind"] != "target"]

    items, keys = [], []
    for s, d, w, _ in edges:
        if w is not None and units[d]["layer"] in labelled:
            items.append(((s, d), _edge_candidates(w, values, blanks, pos[s], pos[d])))
            keys.append(("edge", (s, d)))
    for uid in stubs:
        u = units[uid]
        items.append((("stub", uid), _stub_candidates(nm.bias(u["layer"], u["j"]), values, blanks, pos[uid])))
        keys.append(("bias", uid))
    for uid, u in units.items():
        if u["kind"] in ("input", "hidden", "output") and (u["name"] in values or u["name"] in blanks):
            items.append((None, _value_candidates(u["name"], values, blanks, pos[uid], u["kind"])))
            keys.append(("value", uid))
    chosen = _solve(items, segments, circles, list(targets.values()))
    if chosen is None:
        if labelled:
            return None
        chosen = [cands[0] for _, cands in items]  # no labelled gap: only unit values remain
    by_key = dict(zip(keys, chosen))

    out_units = []
    for uid, u in units.items():
        label = targets.get(uid) or by_key.get(("value", uid))
        out_units.append(NetUnit(uid, u["name"], u["kind"], u["layer"], u["x"], u["y"], label,
                                 by_key.get(("bias", uid))))
    out_edges = tuple(NetEdge(s, d, by_key.get(("edge", (s, d))), faint) for s, d, _, faint in edges)
    tops = [y + RADIUS for _, y in pos.values()] + [lab.y + lab.h / 2 for lab in chosen]
    gaps = tuple(GapLabel(round((l - 0.5) * gap, 3), round(max(tops) + 0.35, 3), f"W^{nm.tag(l)}",
                          sizes[l], sizes[l - 1], problem.bias)
                 for l in range(1, depth + 1) if l not in labelled)
    bottom = min([y - RADIUS for _, y in pos.values()] + [lab.y - lab.h / 2 for lab in chosen])
    captions = tuple(
        NetCaption(round(l * gap, 3), round(bottom - 0.5, 3),
                   "input" if l == 0 else "output" if l == depth else "hidden",
                   l if 0 < l < depth else 0, size, i18n._(activation_label(problem.activations[l - 1])) if l else "")
        for l, size in enumerate(sizes))
    right = max([x + RADIUS for x, _ in pos.values()] + [lab.x + lab.w / 2 for lab in (*chosen, *targets.values())])
    left = min([x - RADIUS for x, _ in pos.values()] + [lab.x - lab.w / 2 for lab in chosen])
    top = max(tops) + (0.7 if gaps else 0.0)
    summary = bool(gaps) or any(u["kind"] == "dots" for u in units.values())
    return NetFigure(tuple(out_units), out_edges, captions, gaps, summary,
                     round(right - left, 3), round(top - bottom + 1.0, 3))
