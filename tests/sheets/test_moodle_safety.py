"""The Moodle export against its readers: hostile titles and descriptions stay inert (Moodle's own
cloze pattern finds only derive's blanks, no live tag, attribute, link, @@PLUGINFILE@@ or MathJax
math outside the author's allowed $…$), question names are plain text, the question shows the exam
figure (no answer in it) and the feedback the filled one, and every tolerance agrees with the
significant digits the question asks for: an answer rounded to them is right, a student who never
updates the weight is wrong (built-in problems and random seeds, checked against an independent
gradient by SymPy).
"""
from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import sympy as sp

from derive.problems import load, loads
from derive.render.printer import number as printed
from derive.sheets.moodle import quiz_xml
from derive.sheets.moodle_text import plain_text, user_html
from derive.sheets.sheet_view import build_versions

# Moodle's qtype_multianswer pattern for a sub-question (ANSWER_START_REGEX + the type names)
CLOZE = re.compile(r"\{[0-9]*:(NUMERICAL|NM|MULTICHOICE|MC|MULTICHOICE_V|MCV|MULTICHOICE_H|MCH|SHORTANSWER|SA|MW|"
                   r"SHORTANSWER_C|SAC|MWC|MULTIRESPONSE|MR)", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{#\d+\}")  # what Moodle replaces by a sub-question's input
BLANK = re.compile(r"\{1:NUMERICAL:=([-0-9.e+]+):([-0-9.e+]+)\}")
ALLOWED_TAGS = {"p", "strong", "span", "br", "img", "div"}
ALLOWED_ATTRS = {"class", "src", "alt", "lang"}
LIVE_MATH = ("href", "url", "javascript", "class", "style", "cssId", "html", "require", "unicode")

HOSTILE = [
    "{1:NUMERICAL:=3:0.1} extra blank",
    "{:SHORTANSWER:=x} and {2:MULTICHOICE:=a~b}",
    "$ {1:NUMERICAL:=3:0.1} $",
    "{#1} placeholder",
    "]]> CDATA end ]]]]><![CDATA[>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)> <svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "\\href{javascript:alert(1)}{click}",
    "$\\href{javascript:alert(1)}{x}$",
    "\\(\\href{javascript:alert(1)}{x}\\) and \\[\\url{javascript:x}\\]",
    "$$\\href{javascript:alert(1)}{y}$$",
    "[tex]\\href{javascript:alert(1)}{y}[/tex]",
    "@@PLUGINFILE@@/../../secret.svg",
    "&lt;script&gt; &#123;1:SA:=x&#125; &amp;",
    "Korean 제목 {1:NUMERICAL:=1:1} $\\href{javascript:x}{y}$",
    "$x$ < $y$ & {z}",
]


class Html(HTMLParser):
    """Tags, attributes, and the text MathJax would read (outside class tex2jax_ignore)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.live, self.ignored = [], [], [], 0
        self.stack = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        ignore = ("class", "tex2jax_ignore") in attrs
        if tag not in ("br", "img"):
            self.stack.append(ignore)
            self.ignored += ignore

    def handle_endtag(self, tag):
        if self.stack:
            self.ignored -= self.stack.pop()

    def handle_data(self, data):
        if not self.ignored:
            self.live.append(data)


def parsed(text: str) -> Html:
    h = Html()
    h.feed(text)
    h.close()
    return h


def toml(text: str) -> str:
    """A TOML basic string holding `text` exactly."""
    return '"' + "".join("\\\\" if ch == "\\" else '\\"' if ch == '"' else ch for ch in text) + '"'


def problem(title: str, description: str, loss: bool = False):
    if loss:
        graph = 'z = "w*x + b"\nL = "(z - t)**2 / 2"\n[values]\nw = 2\nx = -1\nb = 3\nt = 4\n'
    else:
        graph = 'q = "a + b"\nf = "q * c"\n[values]\na = 1\nb = 2\nc = 3\n'
    return loads(f"title = {toml(title)}\ndescription = {toml(description)}\n[graph]\n{graph}")


def real_questions(xml: str):
    root = ET.fromstring(xml)
    return [q for q in root.findall("question") if q.get("type") != "category"]


@pytest.fixture(scope="module")
def benign():
    """Cloze counts per (question index) with a harmless title: the hostile ones must match."""
    xml = quiz_xml(build_versions([problem("Plain", "Text.", loss=True)], 1, 1), figure=lambda t: "<svg/>")
    return [len(CLOZE.findall(q.find("questiontext/text").text)) for q in real_questions(xml)]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_title_and_description_are_inert(text, benign):
    xml = quiz_xml(build_versions([problem(text, text, loss=True)], 1, 1), figure=lambda t: "<svg/>")
    questions = real_questions(xml)  # parses: CDATA ends are split
    assert [len(CLOZE.findall(q.find("questiontext/text").text)) for q in questions] == benign
    for q in questions:
        for path in ("questiontext/text", "generalfeedback/text"):
            body = q.find(path).text
            assert not PLACEHOLDER.search(body)
            assert body.count("@@PLUGINFILE@@") == len(re.findall(r'src="@@PLUGINFILE@@/(figure|answer)-v1-p1\.svg"',
                                                                 body))
            h = parsed(body)
            assert set(h.tags) <= ALLOWED_TAGS, h.tags
            assert {k for k, _ in h.attrs} <= ALLOWED_ATTRS
            assert all(v.startswith("@@PLUGINFILE@@/") for k, v in h.attrs if k == "src")
            assert all(v == "tex2jax_ignore" for k, v in h.attrs if k == "class")
            live = "".join(h.live)
            for math in re.findall(r"\\\((.*?)\\\)|\\\[(.*?)\\\]|\$\$(.*?)\$\$", live, re.S):
                assert not any(word in "".join(math) for word in LIVE_MATH), math
            assert "[tex]" not in live and "$$" not in live
        name = q.find("name/text").text
        assert not set("<>$\\{}") & set(name) and "@@" not in name


def test_user_html_keeps_allowed_math_for_mathjax():
    out = user_html("A $\\sigma(z) = \\frac{1}{2}$ & <b>")
    # MathJax reads the text the browser decoded: the braces are back
    assert "{" not in out and "\\(\\sigma(z)=\\frac{1}{2}\\)" in html.unescape(out).replace(" ", "")
    assert "&lt;b&gt;" in out and "&amp;" in out
    assert plain_text("Staged: $f = (x + \\sigma(y)) / (\\sigma(x) + (x + y)^2)$") == \
        "Staged: f = (x + σ(y)) / (σ(x) + (x + y)^2)"
    assert plain_text("$\\frac{\\partial L}{\\partial w}$ <x>") == "(∂L)/(∂w) ‹x›"
    assert "\x00" not in user_html("a\x00b\x1bc") and "\x1b" not in plain_text("a\x00b\x1bc")


# ---------------------------------------------------------------- the exam figure

def test_question_shows_the_exam_figure_and_feedback_the_filled_one():
    tikz_of = {}

    def fake(tikz):
        name = f"<svg id='{len(tikz_of)}'/>"
        tikz_of[name] = tikz
        return name
    sheets = build_versions([load("circuit"), load("fanout"), load("neuron_sigmoid")], 2, 4)
    xml = quiz_xml(sheets, figure=fake)
    checked = 0
    for q in real_questions(xml):
        qt, fb = q.find("questiontext"), q.find("generalfeedback")
        (exam,) = [tikz_of[base64.b64decode(f.text).decode()] for f in qt.findall("file")]
        # the question's figure: names, the given inputs' values and empty boxes; no value of a gate
        # (every sheet here asks for the forward pass) and no gradient
        values = re.findall(r"label=\{\[val\]above:", exam)
        assert len(values) == exam.count("\\node[inp") > 0
        assert "[grad]" not in exam and "draw=bwd" in exam and "draw=fwd" in exam
        # and no answer in the question's text: no gate's value, no gradient (outside the blanks' keys)
        m = re.match(r"Exercise (\d+), version (\d+)", q.find("name/text").text)
        sheet = next(x for x in sheets if x.version == int(m[2]))
        e = next(x for x in sheet.exercises if x.number == int(m[1]))
        d = e.variant.derivation
        given = {printed(v) for v in e.variant.values.values()}
        answers = {printed(d.values[n.name]) for n in d.graph.steps} | {printed(g.value) for g in d.steps}
        text = BLANK.sub("", qt.find("text").text)
        for a in answers - given:
            if not re.fullmatch(r"-?\d{1,2}", a):  # small integers also number the exercises
                assert not re.search(rf"(?<![\d.]){re.escape(a)}(?![\d])", text), (a, e.kind)
        (filled,) = [tikz_of[base64.b64decode(f.text).decode()] for f in fb.findall("file")]
        assert "[grad]" in filled and "draw=bwd" not in filled and "draw=fwd" not in filled
        assert re.search(r'<img src="@@PLUGINFILE@@/answer-v\d-p\d\.svg"', fb.find("text").text)
        checked += 1
    assert checked == sum(len(s.exercises) for s in sheets)


# ---------------------------------------------------------------- tolerances and digits

def oracle(graph, values, name):
    """∂output/∂name by SymPy on the whole expression (independent of derive's reverse mode)."""
    def expanded(n, keep=None):
        node = graph.node(n)
        if node.is_input or n == keep:
            return node.symbol
        return node.expr.xreplace({graph.node(p).symbol: expanded(p, keep) for p in node.parents})
    out = expanded(graph.output)
    sub = {sp.Symbol(k, real=True): sp.Rational(v.numerator, v.denominator) for k, v in values.items()}
    return float(sp.diff(out, graph.node(name).symbol).xreplace(sub).evalf(30))


def asked_digits(text: str, count: int) -> list[int]:
    """The significant digits the question asks for, per blank (one sentence for all, or one note each)."""
    each = re.findall(r"\((\d+) significant digits?\)", text)
    if each:
        assert len(each) == count
        return [int(d) for d in each]
    (d,) = re.findall(r"to (\d+) significant digits?", text)
    return [int(d)] * count


def rounded(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


LOSS_GRAPH = ('title = "A neuron and its loss"\n[graph]\nz = "w*x + b"\no = "sigmoid(z)"\n'
              'L = "(o - t)**2 / 2"\n[values]\nw = 0.5\nx = 1.5\nb = -0.3\nt = 0.8\n')
TOLERANCE_CASES = [(("mlp_222",), seed) for seed in (1, 2, 3)] + [(("mlp_relu_batch",), seed) for seed in (1, 2)] + \
    [((LOSS_GRAPH,), seed) for seed in range(1, 7)] + [(("circuit", "staged", "neuron_sigmoid"), 5)]


@pytest.mark.parametrize(("names", "seed"), TOLERANCE_CASES)
@pytest.mark.parametrize("tolerance", [0.01, 0.05])
def test_tolerance_agrees_with_the_digits_asked(names, seed, tolerance):
    problems = [loads(n) if "\n" in n else load(n) for n in names]
    sheets = build_versions(problems, 2, seed)
    xml = quiz_xml(sheets, tolerance=tolerance, figure=None)
    updates = 0
    for q in real_questions(xml):
        m = re.match(r"Exercise (\d+), version (\d+)", q.find("name/text").text)
        sheet = next(s for s in sheets if s.version == int(m[2]))
        e = next(x for x in sheet.exercises if x.number == int(m[1]))
        text = q.find("questiontext/text").text
        if q.get("type") == "numerical":
            pairs = [(float(q.find("answer/text").text), float(q.find("answer/tolerance").text))]
        else:
            pairs = [(float(a), float(t)) for a, t in BLANK.findall(text)]
        if not pairs:
            continue
        digits = asked_digits(text, len(pairs))
        for k, ((answer, band), d) in enumerate(zip(pairs, digits)):
            assert abs(rounded(answer, d) - answer) <= band  # rounded as asked: marked right
            # never more lenient than asked; a new weight also carries η × the gradient's tolerance
            combined = tolerance * abs(pairs[0][0] * float(dict(e.given)["η"])) if e.kind == "update" and k else 0
            assert band <= max(abs(answer) * tolerance, combined, 1e-12) * (1 + 1e-6)
        if e.kind == "update":
            g = e.variant.graph
            grad = oracle(g, e.variant.values, e.target)
            eta = float(dict(e.given)["η"])
            w = float(e.variant.values[e.target])
            (ga, _), (na, nb) = pairs
            assert ga == pytest.approx(grad, rel=1e-9) and na == pytest.approx(w - eta * grad, rel=1e-9)
            assert abs(w - na) > nb and nb <= abs(eta * grad) / 2  # never updating: marked wrong
            # a student who rounds the gradient as asked and then updates exactly: marked right
            assert abs((w - eta * rounded(grad, digits[0])) - na) <= nb
            updates += 1
    assert updates == sum(e.kind == "update" for s in sheets for e in s.exercises)


def test_no_descent_on_an_output_that_is_not_a_loss():
    sheets = build_versions([load("neuron_sigmoid")], 1, 1)
    assert "update" not in {e.kind for e in sheets[0].exercises}
    sheets = build_versions([loads(LOSS_GRAPH)], 1, 1)
    assert "update" in {e.kind for e in sheets[0].exercises}


def test_digits_and_bands_over_a_large_table():
    """Random answers, weights, rates and gradients over many decades: an answer rounded to the
    digits asked is inside its band, the band is what was asked, and the new weight's band holds a
    student who used a gradient rounded as asked but never one who did not update."""
    import math
    import random
    from types import SimpleNamespace

    from derive.sheets.moodle_text import digits_for, relative, update_answers
    rng = random.Random(24)
    for _ in range(4000):
        tolerance = rng.choice((0.001, 0.005, 0.01, 0.05, 0.2))
        v = rng.choice((-1, 1)) * 10 ** rng.uniform(-6, 3)
        a = relative(v, tolerance)
        assert a.band == pytest.approx(abs(v) * tolerance, rel=1e-12)
        assert abs(rounded(v, a.digits) - v) <= a.band / 2 * (1 + 1e-9)
        lead = math.floor(math.log10(abs(v)))  # the place of the first significant digit
        assert 10 ** (lead - a.digits + 1) <= a.band * (1 + 1e-9)  # the last digit asked fits in the band
        assert a.digits == 1 or 10 ** (lead - a.digits + 2) > a.band  # and they are the fewest that do
        w = rng.choice((-1, 1)) * rng.randint(1, 30) / 10
        eta = rng.choice((0.1, 0.2, 0.5, 0.01))
        g = rng.choice((-1, 1)) * 10 ** rng.uniform(-3, 2)
        up = SimpleNamespace(gradient=g, eta=eta, new_value=w - eta * g)
        ga, na = update_answers(up, tolerance)
        assert na.band <= abs(eta * g) / 2 < abs(w - na.value)  # not updating: wrong
        assert abs(rounded(na.value, na.digits) - na.value) <= na.band / 2 * (1 + 1e-9)
        student = w - eta * rounded(g, ga.digits)
        assert abs(student - na.value) <= na.band * (1 + 1e-9)
    assert digits_for(0.0276629, 0.01 * 0.0276629) == 3 and rounded(0.0276629, 3) == 0.0277


RELU_NET = ('title = "ReLU"\n[network]\nlayers = [2, 3, 2]\nactivations = ["relu", "sigmoid"]\nloss = "mse"\n'
            'notation = "mitchell"\n[values]\nx = [0.5, -0.4]\nt = [0.1, 0.9]\n'
            'W1 = [[0.3, -0.2], [-0.5, 0.4], [0.2, 0.6]]\nb1 = [0.1, -0.3, 0.2]\n'
            'W2 = [[0.4, -0.3, 0.2], [0.5, 0.1, -0.6]]\nb2 = [0.2, -0.1]\n')


@pytest.mark.parametrize("name", ["mlp_relu_batch", RELU_NET])
def test_a_relu_network_is_drawn_with_a_unit_off_and_asks_the_hidden_gradient(name):
    """Every version has a ReLU unit switched off (its value 0), the hidden rule is written out for a
    weight into it (gradient 0 by SymPy), and the numbers are asked for a live hidden weight."""
    from derive.sheets.exercises import build_sheet
    p = loads(name) if "\n" in name else load(name)
    for seed in range(1, 5):
        sheet = build_sheet([p], seed, 1)
        v = sheet.variants[0]
        g, vals = v.graph, v.values
        relus = [n.name for n in g.steps if n.op == "relu"]
        assert any(v.derivation.values[n] == 0 for n in relus)
        first, hidden_rule, numeric, update = sheet.exercises[:1] + sheet.exercises[1:4]
        assert (first.kind, hidden_rule.kind, numeric.kind, update.kind) == ("rule", "rule", "numeric", "update")
        w_first = v.solution.extra.params["W1"]
        hidden = {n for row in w_first for n in row}
        assert hidden_rule.target in hidden and numeric.target in hidden and first.target not in hidden
        assert oracle(g, vals, hidden_rule.target) == 0
        assert abs(oracle(g, vals, numeric.target)) > 1e-3 and update.target == numeric.target
