"""`derive report FILE... -o PATH [--format tex|pdf|md] [--builtin]`: a report per problem set.

One progress line per problem on stderr ("[3/9] Staged backprop... ok (0.4 s)").
Exit 2 on bad input (nothing written), 1 if any numeric check failed (the report is still
written, with the failures flagged), 0 otherwise. A LaTeX failure leaves earlier outputs as
they were.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .. import files as outputs
from .. import i18n, problems
from ..errors import DeriveError
from ..pipeline import solve
from ..render import pdf, tex, write
from .common import fail, lang_option

FORMATS = write.FORMATS
KIND_ORDER = {"scalar": 0, "network": 1, "layers": 2}  # simple to complex, for --builtin


def build(files, out: Path, fmt: str, echo=lambda line: click.echo(line, err=True),
          builtin_order: bool = False, detail: str = "concise", lang: str | None = None) -> bool:
    """Load, solve and render `files` into `out` (render.write.write_report writes the files, as
    for the Python API's Solution.report); returns True when every check passed.

    builtin_order: put scalar circuits first, then networks, then matrix layers (stable).
    detail: "concise" (general rules with one worked instance, failed checks listed) or "full".
    lang: the document's language (None: the problems' own, see problems.language).

    Raises DeriveError (bad input, LaTeX failure) before anything is written for bad input.
    """
    loaded = [problems.load(f) for f in files]  # bad input fails before any work
    lang = problems.language(loaded, lang)
    loaded = [problems.localized(p, lang) for p in loaded]
    outputs.check_target(out)  # so does an output path that cannot be written
    if builtin_order:
        loaded.sort(key=lambda p: KIND_ORDER.get(p.kind, len(KIND_ORDER)))
    with i18n.language(lang):
        return _build(loaded, out, fmt, echo, detail)


def _build(loaded, out, fmt, echo, detail) -> bool:
    sections, solutions = [], []
    for i, p in enumerate(loaded, 1):
        start = time.perf_counter()
        try:
            sol = solve(p)
        except DeriveError as e:
            raise DeriveError(f"{p.source}: {e}") from None
        solutions.append(sol)
        if fmt != "md":
            sections.append(tex.render_section(sol, detail))
        status = "ok" if sol.report.ok else f"CHECK FAILED ({len(sol.report.failures())})"
        echo(f"[{i}/{len(loaded)}] {p.title}... {status} ({time.perf_counter() - start:.1f} s)")
    return write.write_report(solutions, out, fmt, echo, detail, sections if fmt != "md" else None)


@click.command()
@click.argument("files", nargs=-1)
@click.option("-o", "--output", "output", default=None,
              help="Where to write (default outputs/report.pdf, or .md/.tex by --format); with a "
                   "PDF the .tex is written next to it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="pdf (and .tex), tex only, or md (Markdown with $...$ math). "
                   "Default: from the output's extension, else pdf.")
@click.option("--builtin", is_flag=True, help="Add every built-in problem.")
@click.option("--detail", type=click.Choice(("concise", "full")), default="concise", show_default=True,
              help="concise: each general rule with one worked instance, a check summary that lists "
                   "failures; full: every backward step, per-weight chain, rule instance and check.")
@lang_option
def report(files, output, fmt, builtin, detail, lang):
    """Write a report (PDF/LaTeX/Markdown) deriving and checking each FILE."""
    files = list(files) + (problems.builtin_names() if builtin else [])
    if not files:
        fail("no problems given: name FILEs (problem files or built-in names) or use --builtin")
    if output is None:
        output = f"outputs/report.{fmt or 'pdf'}"
    out = Path(output)
    if out.is_dir():
        fail(f"cannot write {out}: it is a directory; give a file name such as {out / 'report.pdf'}")
    fmt = write.format_of(out, fmt)
    try:
        ok = build(files, out, fmt, builtin_order=builtin and len(files) == len(problems.builtin_names()),
                   detail=detail, lang=lang)
    except pdf.LatexMissing as e:
        click.echo(f"derive: warning: {e}", err=True)
        sys.exit(0)
    except DeriveError as e:
        fail(str(e))
    if not ok:
        click.echo("derive: some numeric checks FAILED; they are flagged in the report", err=True)
    sys.exit(0 if ok else 1)
