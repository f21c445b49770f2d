"""Markdown reports with $...$ / $$...$$ math that KaTeX and MathJax render, and SVG figures.

`render_markdown(solutions, detail, figure_stem) -> (text, figures)` uses the same view and
printer as the LaTeX report, through the Markdown environment (`tex.environment("md")`: same
delimiters and filters, `e` escapes only what CommonMark needs). Display math uses `aligned`
(KaTeX has no align*); no macros KaTeX lacks (\\tag*, \\color with custom colours).

Each problem's computational graph is the report's own TikZ drawing, made into an SVG file
next to the .md (`write_figures`, through render/svg.py) and linked as `![...](stem-k.svg)`.
`figures` maps each file name to its tikzpicture source. A matrix-layer problem's figure is its
layer boxes (`render_layer_figure`). Each SVG is given a display size (`display_size`: larger than
print, at most a text column wide), so its labels are legible on a screen.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from .. import i18n
from ..errors import LatexError
from ..files import write_unit
from . import svg
from .tex import REPORT_TITLE, render, render_figure, render_layer_figure
from .view import problem_view


def render_markdown(solutions, title: str | None = None, detail: str = "concise",
                    figure_stem: str | None = "report", linked=None) -> tuple[str, dict]:
    """The Markdown text and {svg file name: tikz source} of the figures it links (`linked`: only
    these file names are linked, the figures that were made)."""
    problems, figures = [], {}
    for k, s in enumerate(solutions, 1):
        view = problem_view(s, figure=figure_stem is not None, detail=detail)
        fig, layers = view.get("figure"), view.get("layer_figure")
        if (fig is not None and not fig.summary) or layers is not None:
            file = f"{figure_stem}-{k}.svg"
            figures[file] = render_figure(fig) if layers is None else render_layer_figure(layers)
            view = {**view, "figure_file": figure_link(file) if linked is None or file in linked else None}
        else:
            view = {**view, "figure_file": None}
        problems.append(view)
    failed = sum(1 for s in solutions if not s.report.ok)
    title = i18n._(REPORT_TITLE) if title is None else title
    text = render("report.md", kind="md", title=title, problems=problems, failed=failed)
    return text, figures


def figure_link(file: str) -> str:
    """A figure's file name as a relative link: percent-encoded and led by `./`, so a name taken
    from the output path (`-o 'javascript:x.md'`, `-o 'a)<b>.md'`) is never a URL scheme, never
    ends the link and never holds markup. A plain name (letters, digits, `.`, `_`, `-`) stays as it is."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", file):
        return file
    return "./" + quote(file, safe="")


DISPLAY_SCALE = 1.35  # a figure is shown at 1.35 × its print size: 9 pt labels become about 16 CSS px
MAX_DISPLAY_PX = 880  # and never wider than a blog's text column
_ROOT = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r"\s(width|height)=(['\"])([0-9.]+)pt\2")


def display_size(svg_text: str) -> str:
    """The SVG with its root's width and height in CSS px for the screen (DISPLAY_SCALE × the
    print size, at most MAX_DISPLAY_PX wide); its viewBox keeps the drawing. Anything else as is."""
    root = _ROOT.search(svg_text)
    sizes = {m.group(1): float(m.group(3)) for m in _SIZE.finditer(root.group(0))} if root else {}
    if set(sizes) != {"width", "height"} or not sizes["width"]:
        return svg_text
    px = 4 / 3 * DISPLAY_SCALE  # CSS px per pt, enlarged
    fit = min(1.0, MAX_DISPLAY_PX / (sizes["width"] * px))
    width, height = sizes["width"] * px * fit, sizes["height"] * px * fit
    tag = _SIZE.sub(lambda m: f" {m.group(1)}='{width if m.group(1) == 'width' else height:.1f}px'", root.group(0))
    return svg_text[:root.start()] + tag + svg_text[root.end():]


def make_figures(figures: dict, echo=lambda line: None) -> dict:
    """{file name: SVG text} of each figure that could be made.

    Without latex/dvisvgm (or when one figure fails) it says so once and goes on: the Markdown
    still links the file names, and an earlier SVG of the same name stays in place.
    """
    made = {}
    for name, source in figures.items():
        try:
            made[name] = display_size(svg.svg_of_figure(source))
        except svg.SvgToolsMissing as e:
            echo(f"derive: warning: {e}")
            return made
        except LatexError as e:
            echo(f"derive: warning: figure {name} not made: {e}")
    return made


def write_figures(figures: dict, folder: Path, echo=lambda line: None) -> int:
    """Write each figure as SVG into `folder` (see make_figures); returns how many were written."""
    made = make_figures(figures, echo)
    write_unit({Path(folder) / name: text for name, text in made.items()})
    return len(made)
