"""`derive worksheet FILE... --versions N --seed S -o DIR [--level ...] [--format pdf|tex|moodle]`.

Writes, per version K, DIR/worksheet-vK.tex/.pdf and DIR/answers-vK.tex/.pdf, numbered alike;
with --format moodle, DIR/quiz.xml: the same versions (same seed, same values) as a Moodle quiz.
"""
from __future__ import annotations

from pathlib import Path

import click

from .. import i18n, limits, problems
from ..errors import DeriveError
from ..sheets.exercises import DEFAULT_LEVEL, LEVEL_ALIASES, LEVELS
from .common import fail, lang_option, load_or_fail

FORMATS = ("pdf", "tex", "moodle")


@click.command("worksheet")
@click.argument("files", nargs=-1)
@click.option("--versions", "-n", default=1, show_default=True, type=click.IntRange(1, 50),
              help="How many versions (each with new values).")
@click.option("--seed", "-s", default=1, show_default=True, type=int,
              help="Seed: the same seed gives the same sheets and the same quiz.")
@click.option("--output", "-o", "out", default="outputs/worksheets", show_default=True,
              type=click.Path(file_okay=False), help="Output directory.")
@click.option("--level", type=click.Choice(LEVELS + tuple(LEVEL_ALIASES)), default=DEFAULT_LEVEL,
              show_default=True,
              help="What the student sees besides the questions: exam (nothing else), outline (the "
                   "chain-rule outline), local-gradients (and every local gradient), fill-in (the "
                   "solution's frame with boxes), worked (the worked solution). Old names: "
                   "full = worked, hints = local-gradients, blanks = fill-in.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True,
              help="pdf: worksheets and keys as PDF and .tex; tex: the .tex only; moodle: DIR/quiz.xml "
                   "(Moodle XML) with the same versions.")
@click.option("--tolerance", default="0.01", show_default=True,
              help="Moodle: the relative tolerance of a numeric answer (0.01 = 1 %), from 1e-14 to below 1;"
                   " the digits each question asks for follow from it.")
@click.option("--builtin", is_flag=True, help="Add the built-in problems that suit worksheets.")
@click.option("--tex-only", is_flag=True, help="The same as --format tex.")
@lang_option
def worksheet(files, versions, seed, out, level, fmt, tolerance, builtin, tex_only, lang):
    """Worksheets and answer keys, randomized per version, numbered alike; or the same
    versions as a Moodle quiz.

    Writes DIR/worksheet-vK.pdf and DIR/answers-vK.pdf (and .tex) for K = 1..N, or
    DIR/quiz.xml with --format moodle.
    """
    from ..sheets.sheet_view import WORKSHEET_BUILTINS, WORKSHEET_DRILLS
    try:
        tolerance = limits.tolerance(tolerance)
    except DeriveError as e:
        fail(str(e))
    chosen = [load_or_fail(f) for f in files]
    if builtin:
        chosen += [load_or_fail(n) for n in WORKSHEET_BUILTINS] + WORKSHEET_DRILLS()
    if not chosen:
        fail("no problems: give FILE arguments or --builtin")
    fmt = "tex" if tex_only else fmt
    lang = problems.language(chosen, lang)
    with i18n.language(lang):  # titles are shown in `lang`; values are drawn as in any language
        _write(chosen, versions, seed, out, level, fmt, tolerance)


def _write(chosen, versions, seed, out, level, fmt, tolerance):
    from ..errors import LatexMissing
    from ..sheets.sheet_view import build_versions, progress_line, write_versions
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    try:
        if fmt == "moodle":
            from ..sheets.moodle import write_quiz
            sheets = build_versions(chosen, versions, seed, level)
            for sheet in sheets:
                echo(progress_line(sheet))
            path = write_quiz(sheets, Path(out), tolerance, echo=echo)
            click.echo(f"wrote {path} ({versions} version(s), {len(sheets[0].exercises)} exercises each)", err=True)
            return
        sheets = build_versions(chosen, versions, seed, level)
        try:
            write_versions(chosen, versions, seed, Path(out), level, fmt == "pdf", echo=echo, sheets=sheets)
        except LatexMissing as e:  # no TeX: every sheet's and key's .tex, and what to install, once
            write_versions(chosen, versions, seed, Path(out), level, False, echo=echo, sheets=sheets)
            click.echo(f"wrote the .tex of {versions} worksheet(s) and answer key(s) to {out}, no PDFs", err=True)
            click.echo(f"derive: warning: {getattr(e, 'missing', e)}", err=True)
            return
    except DeriveError as e:
        fail(str(e))
    click.echo(f"wrote {versions} worksheet(s) and answer key(s) to {out}", err=True)
