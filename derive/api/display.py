"""Rich display in Jupyter: the report's own Markdown, as HTML with the figure as inline SVG.

Markdown comes from the report's templates and view (render.view.problem_view, _problem.md and
its partials) with `$...$` math. HTML is that Markdown through markdown-it (CommonMark and tables),
math left for the notebook's MathJax or KaTeX as `\\(...\\)` and `\\[...\\]`, and the figure (the
same TikZ drawing as the PDF, made into SVG by render/svg.py) inlined with ids made unique per
picture, so several figures on one page never borrow each other's glyphs. Without LaTeX or
dvisvgm the display shows the math only and says why once, as a DisplayWarning.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import itertools
import re
import warnings

from ..errors import DeriveError, LatexError
from ..i18n import N_, _

HEADING_SHIFT = 1  # a report's ## title is a notebook's ###: a cell's output sits under its section
FIGURE_SCHEME = "derive-figure:"  # an image source the HTML renderer replaces by an inline <svg>
FORWARD_ALT = N_("The computational graph with its forward values")  # translated where shown
NETWORK_ALT = N_("The network: units, weights and biases with their values")


class DisplayWarning(UserWarning):
    """A figure could not be drawn for the notebook (said once; the math is still shown)."""


_said: set[str] = set()  # why figures failed, each said once per session
_figures_off: str | None = None  # set when latex/dvisvgm are missing: no more attempts
_counter = itertools.count(1)


def _say_once(key: str, message: str) -> None:
    if key not in _said:
        _said.add(key)
        warnings.warn(message, DisplayWarning, stacklevel=4)


@functools.lru_cache(maxsize=128)
def _svg_text(tikz_source: str) -> str:
    from ..render import svg
    return svg.svg_of_figure(tikz_source)


def figure_svg(tikz_source: str | None) -> str | None:
    """The SVG text of a tikzpicture, or None (warning once) when it cannot be made."""
    global _figures_off
    if tikz_source is None or _figures_off is not None:
        return None
    from ..render import svg
    try:
        return _svg_text(tikz_source)
    except svg.SvgToolsMissing as e:
        _figures_off = str(e)
        _say_once("missing", f"derive: notebook figures are off, showing the math only: {e}")
    except LatexError as e:
        _say_once(str(e), f"derive: a figure could not be drawn, showing the math only: {e}")
    return None


def inline_svg(svg_text: str, label: str) -> str:
    """`svg_text` ready to sit inside HTML: no XML prolog or comments, ids unique to this picture,
    scaled down to the cell's width, labelled for screen readers."""
    text = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg_text, flags=re.S).strip()
    digest = hashlib.sha1(svg_text.encode()).hexdigest()[:6]
    prefix = f"derive{next(_counter)}{digest}-"
    text = re.sub(r"""\bid=(['"])""", lambda m: f"id={m.group(1)}{prefix}", text)
    text = re.sub(r"""(href=['"])#""", lambda m: f"{m.group(1)}#{prefix}", text)
    text = re.sub(r"url\(#", f"url(#{prefix}", text)
    attrs = f' role="img" aria-label="{html.escape(label)}" style="max-width:100%;height:auto"'
    return re.sub(r"<svg\b[^>]*>", lambda m: _scaled("<svg" + attrs + m.group(0)[4:]), text, count=1)


SCALE = 1.5  # a figure set for an A4 page reads small in a notebook cell; max-width still caps it


def _scaled(tag: str) -> str:
    """The <svg> tag with its width and height (in pt) times SCALE."""
    return re.sub(r"""\b(width|height)=(['"])([0-9.]+)pt""",
                  lambda m: f"{m.group(1)}={m.group(2)}{float(m.group(3)) * SCALE:.3f}pt", tag)


def data_uri(svg_text: str) -> str:
    """The SVG as a data: URI, for Markdown (an image that needs no file next to it)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_text.encode()).decode("ascii")


# ---------------------------------------------------------------- Markdown -> HTML

def _math(content: str, options: dict) -> str:
    body = html.escape(content.strip(), quote=False)
    return f"\\[{body}\\]" if options.get("display_mode") else f"\\({body}\\)"


@functools.cache
def _markdown_it():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.use(dollarmath_plugin, allow_labels=False, allow_digits=True, double_inline=True, renderer=_math)
    return md


def to_html(markdown_text: str, figures: dict | None = None) -> str:
    """HTML of the report's Markdown; an image whose source is `derive-figure:KEY` becomes the
    inline SVG `figures[KEY]` (dropped when there is none)."""
    md = _markdown_it()
    tokens = md.parse(markdown_text)
    figures = figures or {}
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):  # under the notebook's own headings
            token.tag = f"h{min(6, int(token.tag[1]) + HEADING_SHIFT)}"
        for child in token.children or ():
            src = str(child.attrGet("src") or "") if child.type == "image" else ""
            if src.startswith(FIGURE_SCHEME):
                key = src[len(FIGURE_SCHEME):]
                svg_text = figures.get(key)
                child.type = "html_inline"
                child.content = inline_svg(svg_text, child.content or "figure") if svg_text else ""
    body = md.renderer.render(tokens, md.options, {})
    return f'<div class="derive-output">\n{body}</div>'


# ---------------------------------------------------------------- views of one solution

def _view(solution, detail: str | None = None) -> dict:
    """The report's view of the solution at `detail` (default: the solution's), computed once."""
    detail = detail or solution.detail
    cache = solution._display
    if ("view", detail) not in cache:
        from ..render.view import problem_view
        cache[("view", detail)] = problem_view(solution.raw, detail=detail)
    return cache[("view", detail)]


def _graph_tikz(fig) -> str | None:
    """The tikzpicture the report draws for `fig` (a render.tikz.Figure), alone; None for the
    per-column summary of a big graph (the Markdown report leaves it out too)."""
    if fig is None or fig.summary:
        return None
    from ..render.tex import render_figure
    return render_figure(fig)


def _solution_figure(solution) -> str | None:
    cache = solution._display
    if "figure" not in cache:
        cache["figure"] = figure_svg(_graph_tikz(_view(solution).get("figure")))
    return cache["figure"]


def _render_md(template: str, **context) -> str:
    from ..render.tex import render
    return render(template, kind="md", **context)


def solution_markdown(solution, figure_src: str | None = None) -> str:
    """The report's section for this solution; the figure as `figure_src` (a data: URI by default)."""
    svg_text = _solution_figure(solution)
    if figure_src is None and svg_text:
        figure_src = data_uri(svg_text)
    view = {**_view(solution), "figure_file": figure_src if svg_text else None}
    return _render_md("_problem.md", p=view, number=None)


def solution_html(solution) -> str:
    svg_text = _solution_figure(solution)
    return to_html(solution_markdown(solution, FIGURE_SCHEME + "graph"), {"graph": svg_text})


def steps_markdown(solution) -> str:
    return _render_md("_backward.md", p=_view(solution))


def steps_latex(solution) -> str:
    """The backward pass of a circuit as one display-math block (what text/latex front-ends take)."""
    from ..render.tex import render
    body = render("_backward_lines.tex", kind="md", steps=_view(solution)["backward"], md=True)
    return "$$\n\\begin{aligned}\n" + body + "\\end{aligned}\n$$"


def checks_markdown(solution) -> str:
    """The numeric check with its table of every check (the report's --detail full table)."""
    return _render_md("_checks.md", p=_view(solution, "full"))


def solution_latex(solution, document: bool = False) -> str:
    from ..render import pdf, tex
    section = tex.render_section(solution.raw, solution.detail)
    if not document:
        return section
    return pdf.document(tex.render_body([section], failed=0 if solution.raw.report.ok else 1))


def solution_markdown_document(solution) -> str:
    """The Markdown report of this one problem, without the figure (a file `report()` writes)."""
    from ..render import markdown
    text, _ = markdown.render_markdown([solution.raw], detail=solution.detail, figure_stem=None)
    return text


# ---------------------------------------------------------------- a problem before solving

def _problem_figure(problem) -> tuple[str | None, str]:
    """(SVG, alt text): a network's layered diagram with its values, a circuit's graph with its
    forward values; matrix layers have none here (their report draws layer boxes in the PDF)."""
    cache = problem._display
    if "figure" not in cache:
        sol = problem.solve()
        if problem.kind == "layers":
            cache["figure"] = (None, "")
        elif problem.kind == "network":
            from ..pipeline import graph_and_inputs
            from ..render import netfig
            from ..render.tex import render
            _, inputs = graph_and_inputs(problem.data)
            fig = netfig.network_figure(problem.data, inputs, sample=1 if problem.data.batch > 1 else None)
            tikz = render("_network_diagram.tex", nf=fig)
            cache["figure"] = (figure_svg(tikz), NETWORK_ALT)
        else:
            from ..render import tikz as tikz_layout
            fig = tikz_layout.layout(sol.raw.derivation, values=True, gradients=False)
            cache["figure"] = (figure_svg(_graph_tikz(fig)), FORWARD_ALT)
    return cache["figure"]


def problem_markdown(problem, figure_src: str | None = None) -> str:
    """Title, description, definition and figure; or why the problem cannot be derived."""
    head = {"title": problem.title, "description": problem.description}
    try:
        svg_text, alt = _problem_figure(problem)
        view = _view(problem.solve())
    except DeriveError as e:
        return _render_md("problem.md", **head, p=None, error=str(e), figure=None, figure_alt="")
    if figure_src is None and svg_text:
        figure_src = data_uri(svg_text)
    return _render_md("problem.md", **head, p=view, error="", figure=figure_src if svg_text else None,
                      figure_alt=_(alt) if alt else "")


def problem_html(problem) -> str:
    try:
        svg_text, _ = _problem_figure(problem)
    except DeriveError:
        svg_text = None  # problem_markdown says why
    return to_html(problem_markdown(problem, FIGURE_SCHEME + "problem"), {"problem": svg_text})
