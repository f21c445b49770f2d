"""Markdown reports with $...$ / $$...$$ math that KaTeX and MathJax render.

`render_markdown(solutions) -> str` uses the same view and printer as the LaTeX report,
through the Markdown environment (`tex.environment("md")`: same delimiters and filters, `e`
escapes Markdown). Display math uses `aligned` (KaTeX has no align*); no TikZ figure (the
forward table carries the values); no macros KaTeX lacks (\\tag*, \\color with custom colours).
"""
from __future__ import annotations

from .tex import REPORT_TITLE, render
from .view import problem_view


def render_markdown(solutions, title: str = REPORT_TITLE) -> str:
    problems = [problem_view(s, figure=False) for s in solutions]
    failed = sum(1 for s in solutions if not s.report.ok)
    return render("report.md", kind="md", title=title, problems=problems, failed=failed)
