"""No live HTML from input in any Markdown derive writes (issue 27, item 2).

Every Markdown output (the report, feedback.md, the notebook display) is rendered here the way a
blog engine would: markdown-it with raw HTML allowed and every link scheme let through, with and
without a `$...$` math extension; the HTML it gives must hold no element, attribute or link that
came from the input. Math must stay math KaTeX knows (`<` as \\lt, `>` as \\gt).
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from derive import i18n, problems
from derive.grading.feedback import batch, feedback_markdown
from derive.pipeline import solve
from derive.render import escape
from derive.render.markdown import figure_link, render_markdown

PAYLOADS = [
    "<script>alert(1)</script>", "$<img src=x onerror=alert(1)>$", "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>", "$<svg onload=alert(1)>$", "<iframe src=javascript:alert(1)></iframe>",
    "[click](javascript:alert(1))", "<javascript:alert(1)>", "![x](javascript:alert(1))",
    "[x]: javascript:alert(1)\n\n[x]", "\\href{javascript:alert(1)}{click}", "$\\href{javascript:alert(1)}{x}$",
    "$\\url{javascript:alert(1)}$", "&lt;script&gt;alert(1)&lt;/script&gt;", "&#60;script&#62;",
    "<a href='javascript:alert(1)'>x</a>", "<!-- comment --><b>bold</b>", "<details open ontoggle=alert(1)>",
    "$a<b$ and $c>d$ and $x<y$", "$x$<img src=x onerror=alert(1)>$y$", "<style>*{display:none}</style>",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "`<script>` ```<b>```",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>", "\n<div onclick=alert(1)>x</div>\n",
    "    <script>indented</script>", "> <script>quote</script>", "- <b onmouseover=alert(1)>item</b>",
    "$$<img src=x onerror=alert(1)>$$", "$<$img src=x onerror=alert(1)>", "<<script>script>",
]
SAFE_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre", "ul", "ol", "li", "img",
             "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "span", "div", "a", "eq",
             "eqn", "section"}
SAFE_ATTRS = {"src", "alt", "href", "class", "title", "start", "style", "id"}


class _Live(HTMLParser):
    """Collects every element, attribute or link in rendered HTML that input could have made live."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRS or name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src") and value is not None:
                scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                if scheme:  # derive links only relative files (its figures), never a scheme
                    self.found.append(f"<{tag} {name}={value[:40]}>")
            if name == "style" and tag not in ("th", "td"):  # a table column's alignment
                self.found.append(f"<{tag} style>")

    def handle_comment(self, data):
        self.found.append("<!--comment-->")


def _renderers():
    plain = MarkdownIt("commonmark", {"html": True})
    plain.validateLink = lambda url: True  # as a permissive blog engine: every scheme passes
    math = MarkdownIt("commonmark", {"html": True}).use(dollarmath_plugin)
    math.validateLink = lambda url: True
    return plain, math


RENDERERS = _renderers()


def live_html(markdown: str) -> list[str]:
    found = []
    for md in RENDERERS:
        parser = _Live()
        parser.feed(md.render(markdown))
        found += parser.found
    return found


def _toml(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _problem(title: str, description: str, ko_title: str = "회로", ko_description: str = "설명"):
    text = (f"title = {_toml(title)}\ndescription = {_toml(description)}\n"
            '[graph]\nq = "x + y"\nf = "q * z"\n[values]\nx = -2\ny = 5\nz = -4\n'
            f"[translations.ko]\ntitle = {_toml(ko_title)}\ndescription = {_toml(ko_description)}\n")
    return problems.loads(text, "hostile.toml")


@pytest.fixture(scope="module")
def circuit():
    return solve(problems.load("circuit"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_report_markdown_has_no_live_html(payload):
    line = payload.replace("\n", " ")  # a title is one line; a description may have several
    p = _problem(line, payload + "\n\n" + payload, line, payload)
    sol = solve(p)
    text, _ = render_markdown([sol], title=payload, figure_stem=None)
    assert live_html(text) == [], text
    with i18n.language("ko"):
        sol_ko = solve(problems.localized(p, "ko"))
        text_ko, _ = render_markdown([sol_ko], figure_stem=None)
    assert live_html(text_ko) == [], text_ko


@pytest.mark.parametrize("payload", PAYLOADS)
def test_feedback_markdown_has_no_live_html(circuit, payload):
    entries = [{"student": payload, "wrt": "x", "answer": payload},
               {"student": "b", "wrt": payload, "answer": "z"},
               {"student": "c", "wrt": "x", "answer": "z"}, {"student": "d", "wrt": "x", "answer": "q"}]
    text = feedback_markdown(circuit, batch(circuit, entries))
    assert live_html(text) == [], text


def test_feedback_title_is_inert():
    sol = solve(_problem("$<img src=x onerror=alert(1)>$ <script>x</script>", ""))
    text = feedback_markdown(sol, batch(sol, [{"student": "a", "wrt": "x", "answer": "z"}]))
    assert live_html(text) == [] and "<img" not in text and "<script" not in text


@pytest.mark.parametrize("stem", ["javascript:alert(1)", "a)<img src=x onerror=alert(1)>", "r e p",
                                  "보고서", "x](javascript:alert(1))", "data:text/html,x", "plain"])
def test_figure_links_from_the_output_name_are_relative_and_inert(stem):
    link = figure_link(f"{stem}-1.svg")
    assert (link.startswith("./") or stem == "plain") and not re.search(r"[\s()<>\[\]\"'`]", link)
    md = f"![graph]({link})\n"
    assert live_html(md) == []
    html = RENDERERS[0].render(md)
    assert 'src="./' in html or stem == "plain"  # still a working relative image


@pytest.mark.parametrize("math, shown", [
    ("$a<b$", r"$a\lt b$"), ("$x > 0$", r"$x \gt  0$"), ("$\\sigma(x) < 1$", r"$\sigma (x) \lt  1$"),
    ("$<img src=x onerror=alert(1)>$", r"$\lt img src=x onerror=alert(1)\gt $"),
])
def test_math_keeps_its_signs_as_katex_commands(math, shown):
    assert escape.md_rich(math) == shown


def test_math_output_uses_only_known_commands():
    """Every command left in a $...$ of user text is one KaTeX supports (the tex_math list, \\lt, \\gt)."""
    known = escape._MATH_COMMANDS | {"lt", "gt", "&"}
    for payload in PAYLOADS + ["$\\frac{a}{b} < \\sqrt{c}$", "$\\alpha_1 > \\beta^2$"]:
        for segment in re.findall(r"(?<!\\)\$(.+?)(?<!\\)\$", escape.md_rich(payload)):
            for cmd in re.findall(r"\\([A-Za-z]+|.)", segment):
                assert cmd in known, (payload, segment)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_notebook_html_has_no_live_html(payload, monkeypatch):
    """The notebook display (markdown-it without raw HTML, math as \\( \\)) of a problem and a solution
    (figures left out: they are drawn from the graph, never from text)."""
    from derive.api import display
    from derive.api.display import problem_markdown, solution_markdown, to_html
    monkeypatch.setattr(display, "figure_svg", lambda tikz: None)
    from derive.api.problem import loads
    p = loads(f"title = {_toml(payload.replace(chr(10), ' '))}\ndescription = {_toml(payload)}\n"
              '[graph]\nf = "x * y"\n[values]\nx = 1\ny = 2\n')
    for md in (problem_markdown(p), solution_markdown(p.solve())):
        parser = _Live()
        parser.feed(to_html(md))
        assert parser.found == [], md
