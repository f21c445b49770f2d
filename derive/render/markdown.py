"""Markdown reports with $...$ / $$...$$ math that KaTeX and MathJax render, and SVG figures.

`render_markdown(solutions, detail, figure_stem) -> (text, figures)` uses the same view and
printer as the LaTeX report, through the Markdown environment (`tex.environment("md")`: same
delimiters and filters, `e` escapes only what CommonMark needs). Display math uses `aligned`
(KaTeX has no align*); no macros KaTeX lacks (\\tag*, \\color with custom colours).

Each problem's computational graph is the report's own TikZ drawing, made into an SVG file
next to the .md (`write_figures`, through render/svg.py) and linked as `![...](stem-k.svg)`.
`figures` maps each file name to its tikzpicture source.
"""
from __future__ import annotations

from pathlib import Path

from .. import i18n
from ..errors import LatexError
from ..files import write_atomic
from . import svg
from .tex import REPORT_TITLE, render, render_figure
from .view import problem_view


def render_markdown(solutions, title: str | None = None, detail: str = "concise",
                    figure_stem: str | None = "report") -> tuple[str, dict]:
    """The Markdown text and {svg file name: tikz source} of the figures it links."""
    problems, figures = [], {}
    for k, s in enumerate(solutions, 1):
        view = problem_view(s, figure=figure_stem is not None, detail=detail)
        fig = view.get("figure")
        if fig is not None and not fig.summary:
            file = f"{figure_stem}-{k}.svg"
            figures[file] = render_figure(fig)
            view = {**view, "figure_file": file}
        else:
            view = {**view, "figure_file": None}
        problems.append(view)
    failed = sum(1 for s in solutions if not s.report.ok)
    title = i18n._(REPORT_TITLE) if title is None else title
    text = render("report.md", kind="md", title=title, problems=problems, failed=failed)
    return text, figures


def write_figures(figures: dict, folder: Path, echo=lambda line: None) -> int:
    """Write each figure as SVG into `folder`; returns how many were written.

    Without latex/dvisvgm (or when one figure fails) it says so once and goes on: the Markdown
    still links the file names, and an earlier SVG of the same name stays in place.
    """
    written = 0
    for name, source in figures.items():
        try:
            text = svg.svg_of_figure(source)
        except svg.SvgToolsMissing as e:
            echo(f"derive: warning: {e}")
            return written
        except LatexError as e:
            echo(f"derive: warning: figure {name} not made: {e}")
            continue
        write_atomic(Path(folder) / name, text)
        written += 1
    return written
