"""Issue 24's report residue, one test per class of defect, over random draws and every built-in.

Substituted negative numbers keep their parentheses (evaluated back and compared with SymPy's own
value of the same expression); (W^o)^⊤; no internal word ("seed") in any rendered text; figures
keep every label at 8 pt or more (nothing scales them) and fit the line; edges end on nodes;
the softmax graph draws L from the o_k with ∂L/∂o_k = −t_k/o_k (numpy); no circular
"|local" line; closed forms are in the inputs and their substituted numbers give the checked
value (central differences); Mitchell's sections name his layers; Markdown figures for the
matrix layers and a display size.
"""
from __future__ import annotations

import random
import re
import shutil

import numpy as np
import pytest
import sympy as sp

from derive import problems
from derive.pipeline import solve
from derive.render import markdown, printer, tex, tikz
from derive.render.view import _param_leaves, problem_view

TEMPLATES = tex.templates_dir()


@pytest.fixture(scope="module")
def solutions():
    solved = {p.source.split(" ")[0]: solve(p) for p in problems.load_builtins()}
    return {k: s for k, s in solved.items() if s.derivation is not None}  # new layer stacks: issue 22


# ---------------------------------------------------------------- substituted numbers

def _random_expr(rng, syms, depth=3):
    if depth == 0 or rng.random() < 0.25:
        return rng.choice([*syms, sp.Integer(rng.randint(1, 3))])
    a, b = _random_expr(rng, syms, depth - 1), _random_expr(rng, syms, depth - 1)
    kind = rng.choice(["add", "sub", "mul", "neg", "pow", "one_minus"])
    return {"add": lambda: sp.Add(a, b, evaluate=False),
            "sub": lambda: sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False),
            "mul": lambda: sp.Mul(a, b, evaluate=False),
            "neg": lambda: sp.Mul(-1, a, evaluate=False),
            "pow": lambda: sp.Pow(a, 2, evaluate=False),
            "one_minus": lambda: sp.Add(1, sp.Mul(-1, a, evaluate=False), evaluate=False)}[kind]()


def _substitute(expr, mapping):
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    return expr.func(*(_substitute(a, mapping) for a in expr.args), evaluate=False)


def _value_of_latex(text: str) -> float:
    """Evaluate printed arithmetic (numbers, + − ·, parentheses, integer powers) without SymPy."""
    py = (text.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\cdot", "*")
          .replace("{", "(").replace("}", ")").replace("^", "**"))
    assert re.fullmatch(r"[0-9.+\-*() ]+", py), text
    return eval(py, {"__builtins__": {}})  # only digits and operators (checked above)


@pytest.mark.parametrize("seed", range(60))
def test_negative_numbers_substituted_keep_their_parentheses(seed):
    rng = random.Random(seed)
    syms = sp.symbols("o t h")
    expr = _random_expr(rng, syms)
    values = {s: sp.Float(round(rng.uniform(-3, 3), 3) or -0.5, 15) for s in syms}
    out = printer.latex(_substitute(expr, values), mul_symbol="dot")
    assert not re.search(r"[-+]\s*-", out), out  # never 1 − −0.09
    assert not re.search(r"\(-1\\right\)\s*\\cdot", out), out  # never (−1)·x for −x
    assert _value_of_latex(out) == pytest.approx(float(expr.xreplace(values)), rel=1e-9, abs=1e-9)


def test_one_minus_a_negative_number():
    o = sp.Symbol("o")
    out = printer.latex(_substitute(1 - o, {o: sp.Float(-0.09, 15)}), mul_symbol="dot")
    assert out == r"1 - \left(-0.09\right)"


def test_transpose_of_a_name_with_a_superscript_is_parenthesised(solutions):
    assert printer.latex(sp.Transpose(sp.MatrixSymbol("W^o", 2, 2))) == r"{\left(W^{o}\right)}^{\top}"
    for name, s in solutions.items():
        section = tex.render_section(s, "full")
        assert not re.search(r"\{[A-Za-z]\^\{[^}]*\}\}\^\{\\(mathsf\{T\}|top)\}", section), name


# ---------------------------------------------------------------- internal words

def test_no_internal_word_reaches_students(solutions):
    text, _ = markdown.render_markdown(list(solutions.values()), figure_stem=None)
    sections = [tex.render_section(s, d) for s in solutions.values() for d in ("concise", "full")]
    for out in [text, *sections]:
        assert not re.search(r"\bseeds?\b|시드", out, re.IGNORECASE), re.search(r".{40}seed.{20}", out, re.I)


# ---------------------------------------------------------------- figures at print size

FONT_PT = {r"\tiny": 6, r"\scriptsize": 8, r"\footnotesize": 9, r"\small": 10}


def _fonts(template: str) -> set[str]:
    return set(re.findall(r"\\(?:tiny|scriptsize|footnotesize|small)\b", (TEMPLATES / template).read_text()))


def test_figure_templates_never_scale_and_no_font_is_below_8pt():
    for name in ("_graph.tex", "_tikz_graph.tex", "_layer_tikz.tex"):
        assert min(FONT_PT[f] for f in _fonts(name)) >= 8, name
    graph = (TEMPLATES / "_graph.tex").read_text()
    assert "adjustbox" not in graph and "scale=" not in graph  # the text of a graph is never shrunk
    assert tikz.FONT_PT["glyph"] >= 8 and tikz.FONT_PT["label"] >= 8


def _solved(text: str):
    from derive.api.problem import loads
    return loads(text).solve().raw


@pytest.mark.parametrize("n", [2, 5, 8, 12, 20, 35])
def test_wide_graphs_fit_the_line_at_print_size(n):
    steps = "\n".join(f'g{i} = "g{i - 1} * x + y"' for i in range(1, n + 1))
    sol = _solved(f'title = "chain"\n[graph]\ng0 = "x + y"\n{steps}\n[values]\nx = 0.5\ny = -0.25\n')
    fig = tikz.layout(sol.derivation)
    width, height = fig.extent()
    assert width <= tikz.LINE_CM + 0.6 and height <= tikz.HEIGHT_CM + 0.6, (n, width, height, fig.summary)
    if not fig.summary:
        assert fig.sx >= tikz.MIN_SCALE_X and fig.sy >= tikz.MIN_SCALE_Y


def test_builtin_figures_fit_the_line(solutions):
    for name, s in solutions.items():
        if s.problem.kind == "layers":
            continue
        fig = tikz.layout(s.derivation, omit=_param_leaves(s))
        width, _ = fig.extent()
        assert width <= tikz.LINE_CM + 0.6, (name, width)
        assert fig.summary or fig.sx >= tikz.MIN_SCALE_X, name


def test_edges_end_on_nodes_with_arrowheads(solutions):
    for name, s in solutions.items():
        fig = problem_view(s)["figure"]
        if fig is None or fig.summary:
            continue
        for boxes in (False, True):
            pic = tex.render("_tikz_graph.tex", fig=fig, boxes=boxes, reaches=())
            edges = [line for line in pic.splitlines() if line.startswith(r"\draw[->, rounded")]
            assert len(edges) == len(fig.edges), name
            for line in edges:
                assert re.search(r"\(n\d+\.east\)", line) and re.search(r"-- \(n\d+\.west\);$", line), line


# ---------------------------------------------------------------- the softmax graph

def test_softmax_loss_is_drawn_from_the_outputs_with_their_gradients(solutions):
    s = solutions["mlp_tanh_softmax"]
    fig = tikz.layout(s.derivation, omit=_param_leaves(s))
    by_id = {n.id: n for n in fig.nodes}
    loss = next(n for n in fig.nodes if n.is_output)
    sources = {by_id[e.src].name for e in fig.edges if e.dst == loss.id}
    outs = sorted(n for n in sources if n.startswith("o_"))
    assert outs == ["o_1", "o_2", "o_3"] and not any(n.startswith("net") for n in sources)
    values = s.derivation.values
    for k, o in enumerate(outs, 1):
        node = next(n for n in fig.nodes if n.name == o)
        assert node.gradient == pytest.approx(-values[f"t_{k}"] / values[o], rel=1e-9)  # ∂(−Σ t log o)/∂o_k
    reaching = {by_id[e.src].name for e in fig.edges}
    assert all(o in reaching for o in outs)  # no o_k leads nowhere


def test_softmax_graph_of_a_batch_draws_each_samples_loss_from_its_outputs():
    x, t = np.array([[0.5, -1.0], [0.2, 0.3]]), np.array([[0, 1, 0], [1, 0, 0]])
    w, b = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]), np.array([0.0, 0.1, -0.1])
    sol = _solved('title = "b"\n[network]\nlayers = [2, 3]\nactivations = ["softmax"]\nloss = "cross_entropy"\n'
                  f"[values]\nx = {x.tolist()}\nt = {t.tolist()}\nW1 = {w.tolist()}\nb1 = {b.tolist()}\n")
    fig = tikz.layout(sol.derivation, omit=_param_leaves(sol))
    z = x @ w.T + b
    o = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    by_name = {n.name: n for n in fig.nodes}
    for n in range(2):
        for k in range(3):
            node = by_name[f"o^({n + 1})_{k + 1}"]
            assert node.value == pytest.approx(o[n, k], rel=1e-12)
            assert node.gradient == pytest.approx(-t[n, k] / o[n, k], rel=1e-9, abs=1e-12)
    by_id = {v.id: v.name for v in fig.nodes}
    into = {by_id[e.dst]: set() for e in fig.edges}
    for e in fig.edges:
        into[by_id[e.dst]].add(by_id[e.src])
    assert into["L^(1)"] >= {"o^(1)_1", "o^(1)_2", "o^(1)_3"} and not any("net" in v for v in into["L^(1)"])


# ---------------------------------------------------------------- lines of the backward pass

def test_full_detail_writes_the_local_derivative_never_a_local_symbol(solutions):
    for name, s in solutions.items():
        section = tex.render_section(s, "full")
        assert r"\right|_{\text{" not in section, name


def test_closed_forms_are_in_the_inputs_and_their_numbers_give_the_checked_value(solutions):
    for name, s in solutions.items():
        if s.problem.kind != "scalar":
            continue
        view = problem_view(s)
        inputs = {s.derivation.graph.node(n).symbol for n in s.derivation.graph.inputs}
        numeric = {c.wrt: c.numeric for c in s.report.checks}
        for step in view["backward"]:
            if step.closed is None:
                continue
            assert step.closed.free_symbols <= inputs, (name, step.node, step.closed)
            value = float(step.closed_numbers.doit())
            assert value == pytest.approx(numeric.get(step.node, step.value), rel=1e-6), (name, step.node)
        if any(st.closed is not None for st in view["backward"]):
            assert "closed form" in tex.render_section(s)  # the rule is said on the page


# ---------------------------------------------------------------- notation and words

def test_mitchell_sections_name_mitchells_layers(solutions):
    for name, s in solutions.items():
        if s.problem.kind != "network":
            continue
        section = tex.render_section(s)
        if s.problem.notation == "nielsen":
            assert "(l = " in section, name
        else:
            assert "(l = " not in section and "hidden layer h" in section, name


def test_the_affine_section_says_what_l_is(solutions):
    section = tex.render_section(solutions["affine_layer"])
    assert r"g = \partial L/\partial Y" in section


def test_forward_tables_set_fractions_in_display_style(solutions):
    section = tex.render_section(solutions["mlp_tanh_softmax"])
    assert r">{$\displaystyle}p{" in section


# ---------------------------------------------------------------- Markdown figures

def test_every_matrix_layer_problem_has_a_markdown_figure(solutions):
    layers = [solutions[k] for k in ("affine_layer", "affine_softmax", "softmax_with_loss")]
    text, figures = markdown.render_markdown(layers)
    assert len(figures) == 3 and all(r"\begin{tikzpicture}" in f for f in figures.values())
    assert len(re.findall(r"\]\((\./)?report-\d+\.svg\)", text)) == 3


@pytest.mark.parametrize("w,h", [(100.0, 50.0), (392.58, 214.0), (900.0, 300.0)])
def test_svg_display_size(w, h):
    svg = f"<?xml version='1.0'?>\n<svg version='1.1' width='{w}pt' height='{h}pt' viewBox='0 0 {w} {h}'><g/></svg>"
    out = markdown.display_size(svg)
    width = float(re.search(r"width='([0-9.]+)px'", out).group(1))
    height = float(re.search(r"height='([0-9.]+)px'", out).group(1))
    assert width <= markdown.MAX_DISPLAY_PX + 0.1
    assert width == pytest.approx(min(w * 4 / 3 * markdown.DISPLAY_SCALE, markdown.MAX_DISPLAY_PX), abs=0.1)
    assert width / height == pytest.approx(w / h, rel=1e-2)  # the aspect is kept
    assert f"viewBox='0 0 {w} {h}'" in out


# ---------------------------------------------------------------- measured: nothing is shrunk

LINE_PT = 17 / 2.54 * 72.27  # the report's text width (A4, 2 cm margins) in TeX points


@pytest.mark.skipif(not (shutil.which("latex") and shutil.which("dvisvgm")), reason="latex/dvisvgm not installed")
def test_figures_measured_by_tex_fit_the_line_so_no_label_is_scaled(solutions):
    """The drawn width (TeX's own, through the SVG's size) is within the line: the report's
    adjustbox never scales a figure, so every label stays at its font size (≥ 8 pt)."""
    from derive.render import svg
    chain = _solved('title = "c"\n[graph]\ng0 = "x + y"\n'
                    + "\n".join(f'g{i} = "g{i - 1} * x + y"' for i in range(1, 6)) + "\n[values]\nx = 0.5\ny = 2\n")
    pictures = [tex.render_figure(tikz.layout(s.derivation, omit=_param_leaves(s)))
                for k, s in solutions.items() if k in ("staged", "mlp_tanh_softmax", "mlp_relu_batch")]
    pictures.append(tex.render_figure(tikz.layout(chain.derivation)))
    pictures += [tex.render_layer_figure(problem_view(solutions[k])["layer_figure"])
                 for k in ("affine_layer", "affine_softmax", "softmax_with_loss")]
    for k in ("neuron_gates", "staged"):  # a worksheet's figure, with its answer boxes
        fig = tikz.layout(solutions[k].derivation, values=False, gradients=False)
        pictures.append(tex.render("_tikz_graph.tex", fig=fig, boxes=True, reaches=tuple(n.id for n in fig.nodes)))
    for pic in pictures:
        width_pt = float(re.search(r"width='([0-9.]+)pt'", svg.svg_of_figure(pic)).group(1)) - 6  # 3 pt border
        assert width_pt <= LINE_PT, (width_pt, pic[:200])


def test_one_name_for_a_layer_size_in_rules_and_loss(solutions):
    for name, s in solutions.items():
        if s.problem.kind != "network" or s.problem.notation != "nielsen":
            continue
        for detail in ("concise", "full"):
            section = tex.render_section(s, detail)
            assert "m^{" not in section, name
            assert r"^{n_{L}}" in section  # the loss's n_L; a hidden rule's sum runs to n_{l+1}
