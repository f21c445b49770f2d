"""Rich display: the report's math as MathJax/KaTeX-ready HTML with the graph as inline SVG (the
same TikZ drawing as the PDF), Markdown for the rest, and a math-only fallback said once."""
from __future__ import annotations

import base64
import re
import warnings

import pytest

import derive
from derive.api import display
from derive.render import svg as svg_module
from derive.render.tex import render
from derive.render.view import problem_view

MATH_BLOCK = re.compile(r"\\\[(.*?)\\\]", re.S)


@pytest.fixture(scope="module")
def mazur():
    return derive.load("mlp_222").solve()


def test_solution_html_has_the_graph_svg_and_the_chain_for_w_kj(mazur):
    html = mazur._repr_html_()
    assert html.count("<svg") == 1 and "</svg>" in html
    # the chain ∂L/∂w_kj = ∂L/∂o_k · ∂o_k/∂net_k · ∂net_k/∂w_kj = boxed rule, in display math
    lhs = r"\frac{\partial L}{\partial w_{kj}}"
    chains = []
    for block in MATH_BLOCK.findall(html):
        for line in block.split(r"\\"):
            if line.strip().removeprefix(r"\begin{aligned}").strip().startswith(lhs) and r"\boxed" in line:
                chains.append(line.split("&amp;=", 1)[1])
    assert chains, "no typeset rule for ∂L/∂w_kj"
    # ... and written as its chain of factors before the boxed rule
    chain = next(c for c in chains if c.split(r"\boxed")[0].count(r"\frac{\partial") == 3)
    factors = chain.split(r"\boxed")[0].strip()
    assert factors.startswith(r"\frac{\partial L}{\partial o_{k}}") and r"{\partial w_{kj}}" in factors
    rule = chain.split(r"\boxed")[1]
    for name in ("t_{k}", "o_{k}", "h_{j}"):
        assert name in rule  # −(t_k − o_k) o_k (1 − o_k) h_j in the problem's names
    assert "$" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # every $ became \( \) or \[ \]


def _without_ids(svg_text: str) -> str:
    return re.sub(r"(id=['\"]|#)derive\d+[0-9a-f]{6}-", r"\1", svg_text)


def test_the_svg_is_the_reports_tikz_drawing():
    s = derive.load("staged").solve()
    fig = problem_view(s.raw)["figure"]
    tikz = render("_tikz_graph.tex", fig=fig, boxes=False, reaches=())
    direct = svg_module.svg_of_figure(tikz)
    inline = re.search(r"<svg.*?</svg>", s._repr_html_(), re.S).group(0)
    paths = lambda text: re.findall(r"<path d='[^']*'", text)  # noqa: E731
    assert paths(_without_ids(inline)) == paths(direct) and paths(direct)


def test_each_inline_svg_has_its_own_ids():
    s = derive.load("circuit").solve()
    first, second = (re.search(r"<svg.*?</svg>", s._repr_html_(), re.S).group(0) for _ in range(2))
    ids = [set(re.findall(r"id='([^']+)'", t)) for t in (first, second)]
    assert ids[0] and not ids[0] & ids[1]
    for text, own in zip((first, second), ids):
        used = set(re.findall(r"href='#([^']+)'", text))
        assert used and used <= own  # every glyph the picture uses is defined in it


def test_markdown_carries_math_and_the_figure_as_data():
    md = derive.load("circuit").solve()._repr_markdown_()
    assert "$$" in md and r"\frac{\partial f}{\partial x}" in md
    uri = re.search(r"\(data:image/svg\\?\+xml;base64,([A-Za-z0-9+/=\\]+)\)", md).group(1)
    assert base64.b64decode(uri.replace("\\", "")).decode().lstrip().startswith("<?xml")


def test_user_text_is_escaped_in_html():
    p = derive.circuit("f = x * y", x=1, y=2, title="<script>alert(1)</script> $\\input{x}$")
    html = p.solve()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_without_tex_the_display_is_math_only_and_says_so_once(monkeypatch):
    monkeypatch.setattr(svg_module.shutil, "which", lambda tool: None)
    monkeypatch.setattr(display, "_figures_off", None)
    monkeypatch.setattr(display, "_said", set())
    display._svg_text.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = derive.circuit("f = (x + y) * z", x=1, y=2, z=3).solve()._repr_html_()
        b = derive.load("fanout").solve()._repr_html_()
        c = derive.load("mlp_222")._repr_html_()
    said = [w for w in caught if issubclass(w.category, derive.DisplayWarning)]
    assert len(said) == 1 and "dvisvgm" in str(said[0].message) and "math only" in str(said[0].message)
    for html in (a, b, c):
        assert "<svg" not in html and "derive-figure" not in html
    assert r"\frac{\partial f}{\partial x}" in a and r"\frac{\partial f}{\partial x}" in b
    monkeypatch.undo()
    display._svg_text.cache_clear()


def test_steps_show_the_backward_pass():
    s = derive.load("staged").solve()
    md = s.steps._repr_markdown_()
    assert md.startswith("### Backward pass")
    for name in ("invden", "sigy", "xpysqr"):
        assert name in md
    latex = s.steps._repr_latex_()
    assert latex.startswith("$$") and r"\begin{aligned}" in latex and latex.rstrip().endswith("$$")
    assert derive.load("mlp_222").solve().steps._repr_latex_() is None
    assert len(s.steps) == len(s.values) and s.steps[0].node == "f"


def test_checks_show_a_table():
    s = derive.load("fanout").solve()
    md = s.checks._repr_markdown_()
    assert md.startswith("### Numeric check") and md.count("| ok |") == len(s.checks)
    assert "<table>" in s.checks._repr_html_()


def test_problems_show_their_definition_and_figure():
    html = derive.load("mlp_222")._repr_html_()
    assert "<svg" in html and r"W^{h}" in html and r"\sum_{k=1}^{K}" in html
    circuit = derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4)
    md = circuit._repr_markdown_()
    assert md.startswith("## f = ") and "### Definition" in md and "### Backward pass" not in md
    assert "<svg" in circuit._repr_html_()


def test_a_verdict_shows_its_diagnosis_and_counterexample(mazur):
    wrong = derive.verify(mazur, wrt="w_kj", answer="(t_k - o_k) o_k (1 - o_k) h_j")
    assert not wrong.correct and any("sign" in d for d in wrong.diagnosis)
    cx = wrong.counterexample
    assert cx["expected"] == pytest.approx(-cx["got"])  # a sign error: the answer is the negative
    md = wrong._repr_markdown_()
    assert md.startswith("**Wrong:** `(t_k - o_k) o_k (1 - o_k) h_j` is not")  # as typed, then as read
    assert "Read as $" in md and "sign" in md and "Counterexample" in md
    html = wrong._repr_html_()
    assert r"\frac{\partial L}{\partial w_{kj}}" in html and "<li>" in html
    right = derive.verify(mazur.problem, wrt="w_kj", answer=r"-\left(t_k - o_k\right) o_k \left(1-o_k\right) h_j")
    assert right.correct and bool(right) and right.counterexample is None
    assert right._repr_markdown_().startswith("**Correct:**")
    assert "t" in wrong.read_as and "o" in wrong.read_as


def test_a_problem_that_cannot_be_derived_says_why_in_its_cell():
    p = derive.circuit("f = log(x) * y", x=0, y=1)
    md, html = p._repr_markdown_(), p._repr_html_()
    assert "cannot be derived" in md and "log of 0" in md
    assert "<strong>This problem cannot be derived:</strong>" in html and "<svg" not in html
