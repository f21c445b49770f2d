"""Writing a report file: the solutions' sections rendered, compiled when a PDF is wanted, and
written atomically, a report's files (.md and its SVG figures, .pdf and its .tex)
as one unit (files.write_unit). Shared by `derive report` (cli/report.py) and the Python API's
`Solution.report(path)`, so both write the same files.

    write_report(solutions, out, fmt, echo, detail="concise", sections=None) -> bool
        True when every check passed. fmt "pdf" (the .tex next to it), "tex" or "md" (with the
        figures as SVG files next to it); detail "concise" or "full"; `sections` are the LaTeX
        sections when the caller rendered them already (the CLI does, one per problem as it goes).
    format_of(path, given) -> str     the format a path asks for (`given`, else its suffix, else pdf)
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import files as outputs
from . import markdown, pdf, tex

FORMATS = ("pdf", "tex", "md")


def format_of(path: Path, given: str | None) -> str:
    """`given` if set, else the path's suffix when it is a format, else pdf."""
    if given:
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "pdf"


def write_report(solutions, out: Path, fmt: str, echo=lambda line: None, detail: str = "concise",
                 sections=None) -> bool:
    """Render and write the report of `solutions` to `out` (see the module docstring).

    Raises OutputError for an unusable path, LatexError when LaTeX fails (earlier outputs stay),
    LatexMissing when there is no LaTeX (the .tex is written).
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = outputs.check_target(Path(out))
    ok = all(s.report.ok for s in solutions)
    failed = sum(1 for s in solutions if not s.report.ok)
    if fmt == "md":
        text, figures = markdown.render_markdown(solutions, detail=detail, figure_stem=out.stem)
        made = markdown.make_figures(figures, echo)  # the slow part, before anything is written
        if len(made) < len(figures):  # never a link to a figure that was not made
            text, _figures = markdown.render_markdown(solutions, detail=detail, figure_stem=out.stem, linked=set(made))
            echo(f"derive: warning: {len(figures) - len(made)} figure(s) missing from {out} (not linked): "
                 "the SVG figures need latex and dvisvgm")
        outputs.write_unit({out: text, **{out.parent / name: svg for name, svg in made.items()}})
        written = len(made)
        echo(f"wrote {out}" + (f" and {written} SVG figure(s) next to it" if written else ""))
        return ok
    if sections is None:
        sections = [tex.render_section(s, detail) for s in solutions]
    source = pdf.document(tex.render_body(sections, failed=failed))
    tex_path = out.with_suffix(".tex")
    if fmt == "tex":
        outputs.write_atomic(tex_path, source)
        echo(f"wrote {tex_path}")
        return ok
    start = time.perf_counter()
    echo("compiling PDF with latexmk...")
    pdf.compile_pdf(source, out.with_suffix(".pdf"), tex_path)
    echo(f"wrote {out.with_suffix('.pdf')} and {tex_path} ({time.perf_counter() - start:.1f} s)")
    return ok
