"""The Moodle XML export: well-formed, Moodle's documented elements, one question per version and
exercise, every numeric answer equal to an independent computation and to its version's PDF key,
figures embedded as base64 SVG, the worked solution as general feedback, same versions as the PDFs.
"""
from __future__ import annotations

import base64
import html
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
import sympy as sp
from click.testing import CliRunner

from derive.cli import main
from derive.problems import load, loads
from derive.render.printer import number as printed
from derive.sheets.moodle import quiz_xml
from derive.sheets.sheet_view import build_versions, render_sheet

PROBLEMS = ("circuit", "fanout", "staged", "neuron_sigmoid", "mlp_222")
FAKE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 0L1 1"/></svg>'
BLANK = re.compile(r"\{1:NUMERICAL:=([-0-9.e+]+):([-0-9.e+]+)\}")


@pytest.fixture(scope="module")
def sheets():
    return build_versions([load(n) for n in PROBLEMS], 2, 5)


@pytest.fixture(scope="module")
def quiz(sheets):
    return quiz_xml(sheets, tolerance=0.01, figure=lambda tikz: FAKE_SVG)


@pytest.fixture(scope="module")
def root(quiz):
    return ET.fromstring(quiz)


def questions(root):
    """(question element, exercise number, version) for every real question."""
    out = []
    for q in root.findall("question"):
        if q.get("type") == "category":
            continue
        m = re.match(r"Exercise (\d+), version (\d+): ", q.find("name/text").text)
        out.append((q, int(m[1]), int(m[2])))
    return out


def exercise(sheets, number, version):
    sheet = next(s for s in sheets if s.version == version)
    return next(e for e in sheet.exercises if e.number == number)


# ---------------------------------------------------------------- an independent oracle

def expanded(graph, name, keep=None):
    node = graph.node(name)
    if node.is_input or name == keep:
        return node.symbol
    return node.expr.xreplace({graph.node(p).symbol: expanded(graph, p, keep) for p in node.parents})


def at(expr, values):
    return float(expr.xreplace({sp.Symbol(k, real=True): sp.Rational(v.numerator, v.denominator)
                                for k, v in values.items()}).evalf(30))


def oracle_gradient(graph, values, name):
    out = expanded(graph, graph.output, keep=name)
    d = sp.diff(out, graph.node(name).symbol).xreplace({graph.node(name).symbol: expanded(graph, name)})
    return at(d, values)


def close(a, b, rel=1e-9):
    return a == pytest.approx(b, rel=rel, abs=1e-12)


# ---------------------------------------------------------------- structure

def test_file_starts_as_moodle_expects(quiz):
    assert quiz.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n')
    assert quiz.rstrip().endswith("</quiz>")


def test_one_question_per_version_and_exercise_in_one_category_per_exercise(root, sheets):
    found = {(n, v) for _, n, v in questions(root)}
    assert found == {(e.number, s.version) for s in sheets for e in s.exercises}
    kids = list(root)
    categories = [q for q in kids if q.get("type") == "category"]
    assert len(categories) == len(sheets[0].exercises)
    for q in categories:
        assert q.find("category/text").text.startswith("$course$/derive seed 5/Exercise ")
    # each category is followed by the versions of its exercise
    current = None
    for q in kids:
        if q.get("type") == "category":
            current = int(re.search(r"Exercise (\d+)", q.find("category/text").text)[1])
        else:
            assert int(re.match(r"Exercise (\d+)", q.find("name/text").text)[1]) == current


def test_types_and_required_elements(root, sheets):
    want = {"numeric": "numerical", "forward": "cloze", "gates": "cloze", "update": "cloze",
            "symbolic": "essay", "rule": "essay"}
    for q, n, v in questions(root):
        e = exercise(sheets, n, v)
        assert q.get("type") == want[e.kind]
        assert q.find("questiontext").get("format") == "html"
        assert q.find("generalfeedback").get("format") == "html"
        assert q.find("penalty") is not None and q.find("hidden").text == "0"
        if q.get("type") == "cloze":
            assert q.find("defaultgrade") is None and q.find("answer") is None  # answers live in the text
        else:
            assert q.find("defaultgrade").text == "1"


# ---------------------------------------------------------------- numbers

def test_numerical_answers_are_the_proven_values_within_a_relative_tolerance(root, sheets):
    checked = 0
    for q, n, v in questions(root):
        if q.get("type") != "numerical":
            continue
        e = exercise(sheets, n, v)
        (answer,) = q.findall("answer")
        assert answer.get("fraction") == "100"
        value = float(answer.find("text").text)
        tolerance = float(answer.find("tolerance").text)
        assert close(value, e.answer.value)
        assert close(value, oracle_gradient(e.variant.graph, e.variant.values, e.target))
        assert 0.01 * abs(value) * (1 - 1e-5) <= tolerance <= 0.01 * abs(value)
        checked += 1
    assert checked == 2 * len(PROBLEMS)


def test_cloze_blanks_match_the_oracle(root, sheets):
    kinds = set()
    for q, n, v in questions(root):
        if q.get("type") != "cloze":
            continue
        e = exercise(sheets, n, v)
        blanks = [(float(a), float(t)) for a, t in BLANK.findall(q.find("questiontext/text").text)]
        g, vals = e.variant.graph, e.variant.values
        if e.kind == "forward":
            want = [at(expanded(g, line.node), vals) for line in e.answer.lines]
        elif e.kind == "gates":
            want = [oracle_gradient(g, vals, x.node) for x in e.answer.gradients if x.node != g.output]
        else:  # update: the gradient, then the new weight
            grad = oracle_gradient(g, vals, e.target)
            eta = dict(e.given)["η"]
            want = [grad, float(vals[e.target]) - float(eta) * grad]
        assert len(blanks) == len(want), (n, v)
        for k, ((got, tol), w) in enumerate(zip(blanks, want)):
            assert close(got, w)
            if e.kind == "update" and k == 1:  # the new weight: never wider than half the step
                assert tol <= abs(float(vals[e.target]) - w) / 2
            else:
                assert max(abs(got) * 0.01, 1e-12) * (1 - 1e-5) <= tol <= max(abs(got) * 0.01, 1e-12)
        kinds.add(e.kind)
    assert kinds == {"forward", "gates", "update"}


def test_every_answer_is_the_one_in_its_versions_pdf_key(root, sheets):
    """The key prints each number with 6 significant digits: the quiz's answer rounds to it."""
    keys = {s.version: render_sheet(s)[1] for s in sheets}
    for q, n, v in questions(root):
        key = keys[v]
        start = key.index(f"Exercise {n}}}")
        nxt = key.find("\\subsection*", start + 10)
        section = key[start:nxt if nxt > 0 else None]
        if q.get("type") == "numerical":
            answers = [float(q.find("answer/text").text)]
        else:
            answers = [float(a) for a, _ in BLANK.findall(q.find("questiontext/text").text)]
        for a in answers:
            assert printed(a) in section, (n, v, a)


# ---------------------------------------------------------------- text, figures, feedback

def test_math_for_mathjax_and_no_latex_dollars(root):
    for q, _, _ in questions(root):
        text = q.find("questiontext/text").text
        assert "\\(" in text and "\\)" in text
        assert "$" not in re.sub(r"\{1:NUMERICAL[^}]*\}", "", text)  # titles' $math$ became \( \)
        assert "\\begin{align*}" not in text and "\\numbox" not in text


def test_figures_are_embedded_files(root):
    for q, _, _ in questions(root):
        qt = q.find("questiontext")
        srcs = re.findall(r'<img src="@@PLUGINFILE@@/([^"]+)"', qt.find("text").text)
        files = {f.get("name"): f for f in qt.findall("file")}
        assert srcs and set(srcs) == set(files)
        for f in files.values():
            assert f.get("encoding") == "base64" and f.get("path") == "/"
            assert base64.b64decode(f.text).decode() == FAKE_SVG


def test_general_feedback_is_the_worked_solution(root, sheets):
    for q, n, v in questions(root):
        e = exercise(sheets, n, v)
        feedback = q.find("generalfeedback/text").text
        assert feedback.startswith("\\[\\begin{aligned}") and "\\end{aligned}\\]" in feedback
        if e.kind == "numeric":
            assert printed(e.answer.value) in feedback
        if q.get("type") == "essay":
            assert feedback.startswith(q.find("graderinfo/text").text)
            assert q.find("responseformat").text == "editor"


def test_hostile_title_stays_text():
    evil = loads('title = "]]> <script>alert(1)</script> & $x$"\n[graph]\nq = "a + b"\nf = "q * c"\n'
                 '[values]\na = 1\nb = 2\nc = 3\n')
    xml = quiz_xml(build_versions([evil], 1, 1), figure=None)
    root = ET.fromstring(xml)
    (q, *_) = [q for q in root.findall("question") if q.get("type") != "category"]
    text = q.find("questiontext/text").text
    assert "<script>" not in text and "&lt;script&gt;" in text
    name = q.find("name/text").text
    assert name.startswith("Exercise 1, version 1: ") and name.endswith("‹script›alert(1)‹/script› + x")  # plain
    assert not set("<$\\{") & set(name)


# ---------------------------------------------------------------- the command

def test_cli_writes_the_same_versions_as_the_pdfs(tmp_path):
    runner = CliRunner()
    args = ["worksheet", "circuit", "mlp_222", "--versions", "2", "--seed", "9"]
    r = runner.invoke(main, [*args, "--format", "moodle", "-o", str(tmp_path / "q")])
    assert r.exit_code == 0, r.output
    r2 = runner.invoke(main, [*args, "--format", "tex", "-o", str(tmp_path / "t")])
    assert r2.exit_code == 0, r2.output
    root = ET.parse(tmp_path / "q" / "quiz.xml").getroot()
    for version in (1, 2):
        tex = (tmp_path / "t" / f"worksheet-v{version}.tex").read_text()
        given_tex = re.search(r"Given: (.*)\.\n", tex)[1]
        pairs_tex = re.findall(r"\$([a-z]) = ([-0-9.]+)\$", given_tex)
        q = next(q for q, n, v in questions(root) if n == 1 and v == version)
        given_xml = re.search(r"Given: (.*?)\.</p>", q.find("questiontext/text").text)[1]
        pairs_xml = re.findall(r"\\\(([a-z]) = ([-0-9.]+)\\\)", given_xml)
        assert pairs_tex and pairs_tex == pairs_xml
        # the network's matrices too
        w_tex = re.search(r"W\^\{h\} = .*?= (\\begin\{pmatrix\}.*?\\end\{pmatrix\})", tex)[1]
        mlp = next(q for q, n, v in questions(root) if v == version and "2-2-2" in q.find("name/text").text)
        assert w_tex in html.unescape(mlp.find("questiontext/text").text)
    assert "quiz.xml" in r.stderr


def test_cli_refuses_a_bad_tolerance(tmp_path):
    r = CliRunner().invoke(main, ["worksheet", "circuit", "--format", "moodle", "--tolerance", "2",
                                  "-o", str(tmp_path)])
    assert r.exit_code == 2 and "tolerance" in r.stderr.lower()
    assert not (tmp_path / "quiz.xml").exists()


@pytest.mark.skipif(not (shutil.which("latex") and shutil.which("dvisvgm")), reason="latex/dvisvgm missing")
def test_real_figures_are_svg():
    xml = quiz_xml(build_versions([load("circuit"), load("mlp_222")], 1, 2))
    root = ET.fromstring(xml)
    names = set()
    for f in root.iter("file"):
        svg = base64.b64decode(f.text).decode()
        assert "<svg" in svg and "</svg>" in svg
        names.add(f.get("name"))
    assert names == {"figure-v1-p1.svg", "figure-v1-p2.svg", "answer-v1-p1.svg"}  # the key's figure: feedback
