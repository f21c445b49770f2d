"""The one Jinja2 environment for LaTeX (and Markdown) templates, and the report renderer.

Delimiters are LaTeX-safe: `\\BLOCK{ ... }`, `\\VAR{ ... }`, `\\#{ ... }`; no line statements;
StrictUndefined; trim_blocks and lstrip_blocks. Templates live in the repository's
`templates/` directory (or `derive/templates` when installed from a wheel).

Every `\\VAR{...}` must go through a filter: the environment's `finalize` refuses anything
that is not the output of a filter (a `Safe` string) or an int, so unescaped user text or a
raw float cannot reach the output by accident.

Filters (tex environment)
    e        user text -> LaTeX text, every special character literal   (escape.tex_text)
    te       user text -> LaTeX text in both environments (for \\text{...} inside math in Markdown)
    math     SymPy expression -> LaTeX math                             (printer.latex)
    factor   like math, parenthesised when it is a sum (for products); factor(mul_symbol="dot")
             writes every product with a centred dot (numbers substituted into a formula)
    lines    like factor, but a long sum breaks over align rows (right of an & only)
    matrix   a SymPy Matrix of numbers (fewer digits when it is wide)
    name     a node/parameter name -> LaTeX math (w_kj -> w_{kj})
    num      a number -> LaTeX math, 6 significant digits; num(4) for 4
    pnum     like num, in parentheses when negative (for products)
    glyph    a tikz.FigNode's operation glyph;  cm   a coordinate (3 decimals)
    ident    a TikZ node id made by tikz.layout (n0, n1, ...)
    raw      a string the renderer built from filtered pieces (use sparingly)
    macro    the output of a template macro (its pieces went through the filters above)
    rich     user text whose $...$ segments are typeset as sanitised math (escape.tex_rich/md_rich)
The Markdown environment (`environment("md")`) has the same filters, with `e` escaping Markdown.

Fixed text is translated (jinja2.ext.i18n, catalogs in derive/locale, language from derive.i18n):
`\\BLOCK{trans}Numeric check\\BLOCK{endtrans}` (whitespace trimmed), or with values that went
through a filter: `\\BLOCK{trans n=p.checks_total, title=p.title|e}...\\VAR{n}...\\BLOCK{endtrans}`,
and `\\VAR{_("text")}` in an expression; `\\VAR{pgettext("context", "word")}` for a word whose
translation depends on where it stands. A translated message is trusted text (it may hold LaTeX);
the values put into it must be filter outputs, like anything else printed. A literal percent
sign in a message is written %% (Jinja's new-style gettext formats every message).

API
    environment(kind="tex") -> jinja2.Environment   (cached; kind "tex" or "md")
    render(template_name, kind="tex", **context) -> str
    render_section(solution) -> str                  one problem's section (LaTeX body)
    render_body(sections, title=...) -> str          the document body around the sections
    render_report(solutions, title=...) -> str       the complete .tex (PyLaTeX preamble + body)
    render_figure(fig), render_layer_figure(f) -> str  one tikzpicture alone (for SVG figures)
"""
from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import jinja2
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from .. import i18n
from ..particles import particles
from . import escape, printer, tikz
from .view import problem_view

REPORT_TITLE = i18n.N_("Backpropagation, step by step")  # translated when rendered


class Safe(str):
    """A string that a filter produced: safe to place in the output as it is."""


class Message(Safe):
    """A message from the catalogs, in the current language. Formatting it (`%`, as Jinja's
    new-style gettext does) gives a Safe string and accepts only filter outputs and ints."""

    def __mod__(self, values):
        for value in values.values():
            _finalize(value)
        return Safe(particles(str.__mod__(self, values)))


def _gettext(message: str) -> Message:
    return Message(i18n._(message))


def _ngettext(singular: str, plural: str, n: int) -> Message:
    return Message(i18n.ngettext(singular, plural, n))


def _pgettext(context: str, message: str) -> Message:
    """`message` in the sense `context` names (one English word, two Korean ones: an input node of
    the forward table is 입력, the input layer of a network diagram 입력층)."""
    return _InContext(i18n.translations(i18n.current()).pgettext(context, message))


class _InContext(Message):
    """A message with a context: Jinja's new-style pgettext passes the context along as a value."""

    def __mod__(self, values):
        return Message.__mod__(self, {k: v for k, v in values.items() if k != "context"})


def templates_dir() -> Path:
    """The templates directory: the source tree's templates/, else the installed package's copy."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "templates", here.parents[1] / "templates"]
    for c in candidates:
        if (c / "report.tex").is_file():
            return c
    packaged = resources.files("derive").joinpath("templates")
    if packaged.is_dir():
        return Path(str(packaged))
    raise FileNotFoundError("derive: cannot find the templates/ directory (looked in "
                            + ", ".join(str(c) for c in candidates) + ")")


def _finalize(value):
    if isinstance(value, (Safe, int)) and not isinstance(value, bool):
        return value
    raise TypeError(f"template printed {type(value).__name__} {str(value)[:60]!r} without a filter "
                    "(use e, math, name, num, ...)")


def _math(expr, **settings) -> Safe:
    return Safe(printer.latex(expr, **settings))


def _factor(expr, **settings) -> Safe:
    """`expr` as one factor of a product: parenthesised when it is a sum or negative."""
    text = printer.latex(expr, **settings)
    if isinstance(expr, sp.Add) or (isinstance(expr, sp.Number) and expr < 0) or text.startswith("-"):
        return Safe(f"\\left({text}\\right)")
    p = printer.DerivePrinter(settings)
    return Safe(p.parenthesize(expr, PRECEDENCE["Mul"], strict=True))


LINE_TERMS = 4  # terms per row when a long sum is broken over align rows


def _split_sum(expr, settings) -> str:
    p = printer.DerivePrinter(settings)
    pieces = []
    for i, term in enumerate(expr.args):  # the written order
        text = p._print(term)
        if i == 0:
            pieces.append(text)
        elif text.startswith("-"):
            pieces.append("- " + text[1:].lstrip())
        else:
            pieces.append("+ " + text)
    rows = [" ".join(pieces[i:i + LINE_TERMS]) for i in range(0, len(pieces), LINE_TERMS)]
    return "\\Bigl(" + " \\\\ &\\qquad ".join(rows) + "\\Bigr)"


def _long(expr) -> bool:
    return isinstance(expr, sp.Add) and len(expr.args) > LINE_TERMS


def _lines(expr, **settings) -> Safe:
    """Like `factor`, but a long sum (alone or inside a product) breaks over align rows.

    Only for the right of an `&` in align*/aligned: the rows continue as `\\\\ &\\qquad ...`.
    """
    if _long(expr):
        return Safe(_split_sum(expr, settings))
    if isinstance(expr, sp.Mul) and any(_long(a) for a in expr.args):
        joiner = " \\cdot " if settings.get("mul_symbol") == "dot" else " "
        return Safe(joiner.join(_split_sum(a, settings) if _long(a) else _factor(a, **settings)
                                for a in expr.args))
    return _factor(expr, **settings)


def _matrix(m) -> Safe:
    """A matrix of numbers: 6 significant digits; 4 above 4 columns, 3 above 6 (to fit the line)."""
    return Safe(printer.latex(m, digits=6 if m.cols <= 4 else 4 if m.cols <= 6 else 3))


def _smallmatrix(m) -> Safe:
    """A matrix of numbers in a figure: 4 significant digits, in parentheses at the text size of its
    node (a layer figure's nodes are set at 9 pt and never scaled, so the digits stay legible)."""
    rows = [" & ".join(printer.number(float(v), 4) for v in m.row(r)) for r in range(m.rows)]
    return Safe("\\begin{pmatrix}" + " \\\\ ".join(rows) + "\\end{pmatrix}")


def _glyph(node) -> Safe:
    """The op glyph of a tikz.FigNode (x^{2} for a square gate)."""
    if node.power is not None:
        return Safe(f"x^{{{printer.latex(node.power)}}}")
    return Safe(tikz.OP_GLYPH[node.op]) if node.op else Safe("")


def _ident(text) -> Safe:
    """A TikZ node id made by tikz.layout (letters then digits); anything else is refused."""
    if not re.fullmatch(r"[a-z]+[0-9]+", str(text)):
        raise ValueError(f"not a node id: {text!r}")
    return Safe(text)


def _cm(x) -> Safe:
    return Safe(f"{float(x):.3f}")


def _num(x, digits: int = 6) -> Safe:
    return Safe(printer.number(x, digits))


def _pnum(x, digits: int = 6) -> Safe:
    text = printer.number(x, digits)
    return Safe(f"({text})" if text.startswith("-") else text)


@functools.cache
def environment(kind: str = "tex") -> jinja2.Environment:
    """The shared environment; kind "tex" escapes text for LaTeX, "md" for Markdown."""
    if kind not in ("tex", "md"):
        raise ValueError(f"kind must be 'tex' or 'md', got {kind!r}")
    env = jinja2.Environment(
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_statement_prefix=None, line_comment_prefix=None,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # a message's line breaks and indentation are layout
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True, pgettext=_pgettext)
    env.filters.update({
        "e": (lambda s: Safe(escape.tex_text(s))) if kind == "tex" else (lambda s: Safe(escape.md_text(s))),
        "math": _math,
        "te": lambda s: Safe(escape.tex_text(s)),
        "factor": _factor,
        "lines": _lines,
        "matrix": _matrix,
        "smallmatrix": _smallmatrix,
        "name": lambda n: Safe(printer.name(str(n))),
        "num": _num,
        "pnum": _pnum,
        "glyph": _glyph,
        "cm": _cm,
        "ident": _ident,
        "raw": lambda s: Safe(s) if isinstance(s, Safe) else _finalize(s),
        "macro": lambda s: Safe(s),
        "rich": (lambda s: Safe(escape.tex_rich(s))) if kind == "tex" else (lambda s: Safe(escape.md_rich(s))),
    })
    return env


def render(template_name: str, kind: str = "tex", **context) -> str:
    return environment(kind).get_template(template_name).render(**context)


def render_section(solution, detail: str = "concise") -> str:
    """One problem's section of the report (LaTeX, no preamble); detail "concise" or "full"."""
    return render("_problem.tex", p=problem_view(solution, detail=detail))


def render_body(sections, title: str | None = None, failed: int = 0) -> str:
    """The report's body around `sections`; `title` defaults to REPORT_TITLE in the current language."""
    return render("report.tex", title=i18n._(REPORT_TITLE) if title is None else title,
                  sections=[Safe(s) for s in sections], failed=failed)


def render_figure(fig) -> str:
    """The tikzpicture of a render.tikz.Figure alone (for render/svg.py: Markdown, Moodle, Jupyter)."""
    return render("_tikz_graph.tex", fig=fig, boxes=False, reaches=())


def render_layer_figure(layer_figure) -> str:
    """The tikzpicture of a render.tikz.LayerFigure alone (for render/svg.py: the Markdown report)."""
    return render("_layer_tikz.tex", f=layer_figure)


def render_report(solutions, title: str | None = None, detail: str = "concise") -> str:
    """The complete .tex for `solutions` (a pure function: no files, no processes)."""
    from .pdf import document
    sections = [render_section(s, detail) for s in solutions]
    failed = sum(1 for s in solutions if not s.report.ok)
    return document(render_body(sections, title, failed))
