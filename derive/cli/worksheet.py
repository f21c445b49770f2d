"""`derive worksheet FILE... --versions N --seed S -o DIR [--level ...] [--builtin] [--tex-only]`.

Writes, per version K, DIR/worksheet-vK.tex/.pdf and DIR/answers-vK.tex/.pdf, numbered alike.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DeriveError
from ..teach.exercises import DEFAULT_LEVEL, LEVEL_ALIASES, LEVELS
from .common import fail, load_or_fail


@click.command("worksheet")
@click.argument("files", nargs=-1)
@click.option("--versions", "-n", default=1, show_default=True, type=click.IntRange(1, 50),
              help="How many versions (each with new values).")
@click.option("--seed", "-s", default=1, show_default=True, type=int,
              help="Seed: the same seed gives the same sheets.")
@click.option("--output", "-o", "out", default="outputs/worksheets", show_default=True,
              type=click.Path(file_okay=False), help="Output directory.")
@click.option("--level", type=click.Choice(LEVELS + tuple(LEVEL_ALIASES)), default=DEFAULT_LEVEL,
              show_default=True,
              help="What the student sees besides the questions: exam (nothing else), outline (the "
                   "chain-rule outline), local-gradients (and every local gradient), fill-in (the "
                   "solution's frame with boxes), worked (the worked solution). Old names: "
                   "full = worked, hints = local-gradients, blanks = fill-in.")
@click.option("--builtin", is_flag=True, help="Add the built-in problems that suit worksheets.")
@click.option("--tex-only", is_flag=True, help="Write the .tex files only (no LaTeX run).")
def worksheet(files, versions, seed, out, level, builtin, tex_only):
    """Worksheets and answer keys, randomized per version, numbered alike.

    Writes DIR/worksheet-vK.pdf and DIR/answers-vK.pdf (and .tex) for K = 1..N.
    """
    from ..teach.sheet_view import WORKSHEET_BUILTINS, write_versions
    chosen = [load_or_fail(f) for f in files]
    if builtin:
        chosen += [load_or_fail(n) for n in WORKSHEET_BUILTINS]
    if not chosen:
        fail("no problems: give FILE arguments or --builtin")
    try:
        write_versions(chosen, versions, seed, Path(out), level, not tex_only,
                       echo=lambda m: click.echo(m, err=True))
    except DeriveError as e:
        fail(str(e))
    click.echo(f"wrote {versions} worksheet(s) and answer key(s) to {out}", err=True)
