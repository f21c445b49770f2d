"""The Mazur-style network diagram: names and values on the right edges, labels clear of every
other edge, unit and label, big networks summarised, and the TikZ that draws it.

The checks here are independent of netfig's own geometry: edges are sampled point by point, and
the weight a label should carry is worked out from the two units it joins and the problem arrays.
"""
from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
from fractions import Fraction

import pytest

from derive.pipeline import graph_and_inputs
from derive.problems import load, loads
from derive.render import netfig, pdf
from derive.render.tex import environment

needs_latex = pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("pdftotext")),
                                 reason="latexmk/pdftotext not installed")


def net(sizes, notation="nielsen", bias=True, acts=None):
    depth = len(sizes) - 1
    acts = acts or ["sigmoid"] * depth
    return loads(f'[network]\nlayers = {list(sizes)}\nnotation = "{notation}"\nbias = {str(bias).lower()}\n'
                 f'activations = {acts!r}\nseed = 2\n'.replace("'", '"'))


SMALL = [((1, 1), "nielsen"), ((2, 1), "mitchell"), ((2, 2, 2), "mitchell"), ((2, 3, 2), "nielsen"),
         ((3, 3, 3), "mitchell"), ((1, 3, 1), "nielsen"), ((3, 2, 1), "mitchell"), ((2, 2, 2, 2), "nielsen"),
         ((4, 3), "nielsen"), ((3, 4, 2), "mitchell")]


def parse_unit(name, depth=2):
    """(layer, index) of a unit name, in either notation: x_2 -> (0, 2), h_1 -> (1, 1), a^3_2 -> (2, 2)."""
    m = re.fullmatch(r"a\^(\d+)_(\d+)", name)
    if m:
        return int(m[1]) - 1, int(m[2])
    m = re.fullmatch(r"([xho])_(\d+)", name)
    return {"x": 0, "h": 1, "o": depth}[m[1]], int(m[2])


def expected_weight(problem, src, dst):
    """The weight's name and value, from the problem's arrays and the notation's own rule."""
    depth = len(problem.sizes) - 1
    (ls, k), (ld, j) = parse_unit(src, depth), parse_unit(dst, depth)
    assert ld == ls + 1
    value = problem.arrays[f"W{ld}"][j - 1][k - 1]
    if problem.notation == "nielsen":
        return f"w^{ld + 1}_{j}{k}", value
    return f"w^{'o' if ld == len(problem.sizes) - 1 else 'h'}_{j}{k}", value


def rect(lab):
    return (lab.x - lab.w / 2, lab.y - lab.h / 2, lab.x + lab.w / 2, lab.y + lab.h / 2)


def inside(pt, r, pad=0.0):
    return r[0] - pad < pt[0] < r[2] + pad and r[1] - pad < pt[1] < r[3] + pad


def drawn_segment(p, q):
    """The part of an edge between the two circles, as TikZ draws it."""
    d = math.dist(p, q)
    f = netfig.RADIUS / d
    return ((p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f),
            (q[0] - (q[0] - p[0]) * f, q[1] - (q[1] - p[1]) * f))


def sample(seg, step=0.01):
    (x0, y0), (x1, y1) = seg
    n = max(2, int(math.dist(seg[0], seg[1]) / step))
    return [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n + 1)]


def clashes(fig):
    """Every label that a point of another edge, a circle or another label falls into."""
    pos = {u.id: (u.x, u.y) for u in fig.units}
    kind = {u.id: u.kind for u in fig.units}
    labels = [(("edge", e.src, e.dst), e.label) for e in fig.edges if e.label]
    labels += [(("bias", u.id), u.bias) for u in fig.units if u.bias]
    labels += [(("unit", u.id), u.label) for u in fig.units if u.label and u.kind != "target"]
    edges = {(e.src, e.dst): drawn_segment(pos[e.src], pos[e.dst]) for e in fig.edges if kind[e.dst] != "target"}
    found = []
    for key, lab in labels:
        r = rect(lab)
        for ekey, seg in edges.items():
            points = sample(seg)
            if key == ("edge", *ekey):
                points = [p for p in points if math.dist(p, seg[1]) < netfig.ARROW]  # its own arrow tip
            if any(inside(p, r) for p in points):
                found.append((lab.name or lab.value, "crosses edge", ekey))
        for u in fig.units:
            if u.kind != "target":
                cx = min(max(u.x, r[0]), r[2])
                cy = min(max(u.y, r[1]), r[3])
                if math.dist((cx, cy), (u.x, u.y)) < netfig.RADIUS:
                    found.append((lab.name or lab.value, "covers unit", u.name))
    for (_, a), (_, b) in itertools.combinations(labels, 2):
        ra, rb = rect(a), rect(b)
        if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]:
            found.append((a.name or a.value, "overlaps", b.name or b.value))
    return found


@pytest.mark.parametrize(("sizes", "notation"), SMALL)
@pytest.mark.parametrize("mode", ["names", "values", "blanks"])
def test_small_networks_labelled_clean_and_right(sizes, notation, mode):
    p = net(sizes, notation)
    _, inputs = graph_and_inputs(p)
    if mode == "names":
        values, blanks = {}, ()
    elif mode == "values":
        values, blanks = inputs, ()
    else:
        values = {k: v for k, v in inputs.items() if not k.startswith("w")}
        blanks = [k for k in inputs if k.startswith("w")]
    fig = netfig.network_figure(p, values, blanks)
    assert clashes(fig) == []
    assert netfig.problems(fig) == []
    name = {u.id: u.name for u in fig.units}
    weights = [e for e in fig.edges if e.label]
    if not fig.summary:
        assert len(weights) == sum(a * b for a, b in itertools.pairwise(sizes))
    for e in weights:
        want_name, want_value = expected_weight(p, name[e.src], name[e.dst])
        assert e.label.name == want_name
        if mode == "values" and fig.parameter_values:
            assert Fraction(e.label.value) == want_value
        assert e.label.blank == (mode == "blanks")
    # a bias on the arrow into its unit, with its value from b_l
    for u in fig.units:
        if u.bias:
            layer, j = parse_unit(u.name, len(sizes) - 1)
            assert u.bias.name.startswith("b") and u.bias.name.endswith(f"_{j}")
            if mode != "names" and fig.parameter_values:
                assert Fraction(u.bias.value) == p.arrays[f"b{layer}"][j - 1]
    if mode == "values":  # the inputs' values beside the input units
        for u in fig.units:
            if u.kind == "input":
                _, i = parse_unit(u.name)
                assert Fraction(u.label.value) == p.arrays["x"][0][i - 1]


def test_mazur_network_shows_every_weight_and_value():
    """Mazur's 2-2-2: all eight weights and four biases with their published values."""
    p = load("mlp_222")
    _, inputs = graph_and_inputs(p)
    fig = netfig.network_figure(p, inputs)
    assert not fig.summary and fig.parameter_values
    shown = {e.label.name: e.label.value for e in fig.edges if e.label}
    shown.update({u.bias.name: u.bias.value for u in fig.units if u.bias})
    mazur = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]  # w1..w8 of the post
    assert sorted(float(v) for k, v in shown.items() if k.startswith("w")) == mazur
    assert sorted(float(v) for k, v in shown.items() if k.startswith("b")) == [0.35, 0.35, 0.60, 0.60]
    targets = sorted(float(u.label.value) for u in fig.units if u.kind == "target")
    assert targets == [0.01, 0.99]


def test_no_bias_no_bias_arrows():
    fig = netfig.network_figure(net((2, 2, 1), bias=False))
    assert not any(u.bias for u in fig.units)


def test_big_networks_are_summarised():
    p = net((8, 7, 3))
    fig = netfig.network_figure(p, graph_and_inputs(p)[1])
    assert fig.summary
    per_layer = {}
    for u in fig.units:
        if u.kind not in ("target",):
            per_layer[u.layer] = per_layer.get(u.layer, 0) + 1
    assert per_layer[0] == per_layer[1] == netfig.SHOWN_HEAD + 2  # head, dots, last
    assert [u.kind for u in fig.units].count("dots") == 2
    assert {(g.array, g.rows, g.cols) for g in fig.gaps} == {("W^2", 7, 8), ("W^3", 3, 7)}
    assert all(e.faint for e in fig.edges if "dots" in {next(u.kind for u in fig.units if u.id == x)
                                                        for x in (e.src, e.dst)})
    assert clashes(fig) == []


def test_a_deep_network_stays_within_the_page():
    p = net((3, 4, 4, 3, 2))
    fig = netfig.network_figure(p, graph_and_inputs(p)[1])
    assert fig.width <= netfig.MAX_WIDTH + 2
    assert fig.summary and clashes(fig) == []


def test_batch_names_per_sample():
    p = load("mlp_relu_batch")
    _, inputs = graph_and_inputs(p)
    plain = netfig.network_figure(p)
    assert "a^1_1" in {u.name for u in plain.units}
    second = netfig.network_figure(p, inputs, sample=2)
    names = {u.name: u for u in second.units}
    assert Fraction(names["a^1,(2)_1"].label.value) == p.arrays["x"][1][0]


# ---------------------------------------------------------------- the TikZ

def draw(fig):
    return environment().from_string(
        r"\begin{adjustbox}{max width=\linewidth}\BLOCK{include '_network_diagram.tex'}\end{adjustbox}").render(nf=fig)


def test_template_draws_every_unit_edge_and_label():
    p = load("mlp_222")
    _, inputs = graph_and_inputs(p)
    fig = netfig.network_figure(p, inputs)
    tex = draw(fig)
    assert tex.count(r"\draw[->") == len(fig.edges) + sum(1 for u in fig.units if u.bias)
    for name in ("w^{h}_{11}", "w^{o}_{22}", "b^{h}_{1}", "b^{o}_{2}", "t_{1}"):
        assert name in tex
    for u in fig.units:
        assert f"({u.id})" in tex


@needs_latex
def test_diagram_compiles_and_reads(tmp_path):
    p = load("mlp_222")
    _, inputs = graph_and_inputs(p)
    blanks = [k for k in inputs if k.startswith("w^o")]
    fig = netfig.network_figure(p, {k: v for k, v in inputs.items() if k not in blanks}, blanks)
    out = pdf.compile_pdf(pdf.document(draw(fig)), tmp_path / "net.pdf")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for number in ("0.15", "0.2", "0.25", "0.3", "0.35", "0.6", "0.05", "0.01", "0.99"):
        assert number in text
    for number in ("0.45", "0.55"):  # the output weights are blanks
        assert number not in text
