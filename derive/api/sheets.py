"""`worksheets([...], versions=, seed=, out=, lang=)`: worksheets and answer keys from Python.

The same files as `derive worksheet FILE... --versions N --seed S -o DIR [--lang ko]` (sheets.sheet_view):
per version K, worksheet-vK and answers-vK (.tex, and .pdf unless `pdf=False`), numbered alike,
with new values per version drawn from the seed (the same seed gives the same sheets).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DeriveError

MAX_VERSIONS = 50  # as the CLI's --versions


def worksheets(problems: Sequence[Any], *, versions: int = 1, seed: int = 1, out: str | Path = "worksheets",
               level: str = "outline", pdf: bool = True,
               echo: Callable[[str], None] | None = print, lang: str | None = None) -> list[Path]:
    """Write worksheets and answer keys for `problems` (Problems, or files / built-in names).

    versions  how many versions, 1..50, each with new values; seed: the same seed, the same sheets
    level     what the student sees besides the questions: "exam", "outline", "local-gradients",
              "fill-in" or "worked" (sheets.exercises.LEVELS; the old "full", "hints", "blanks" work too)
    pdf       False writes the .tex files only (no LaTeX run)
    echo      where the progress lines go (None: silent)
    lang      the language of the fixed text, "en" or "ko" as `--lang` (None: the problems' own
              `lang`, else English); titles and descriptions from [translations.<lang>]
    Returns the paths written, worksheet and answer key of each version in turn. Raises
    DeriveError for bad input (nothing written) and LatexError when LaTeX fails.
    """
    from .. import i18n
    from .. import problems as problem_files
    from ..files import ensure_dir
    from ..sheets.exercises import LEVEL_ALIASES, LEVELS
    from ..sheets.sheet_view import write_versions
    from .problem import Problem, load
    from .solution import check_lang
    if isinstance(problems, (str, Problem)):
        problems = [problems]
    if isinstance(versions, bool) or not isinstance(versions, int) or not 1 <= versions <= MAX_VERSIONS:
        raise DeriveError(f"versions: expected a whole number from 1 to {MAX_VERSIONS}, got {versions!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DeriveError(f"seed: expected a whole number, got {seed!r}")
    if level not in LEVELS and level not in LEVEL_ALIASES:
        raise DeriveError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
    check_lang(lang)
    chosen = []
    for p in problems:
        if isinstance(p, (str, Path)):
            p = load(str(p))
        if not isinstance(p, Problem):
            raise DeriveError(f"worksheets expects Problems (derive.load, derive.circuit, ...) or "
                              f"problem files, got {type(p).__name__}")
        chosen.append(p.data)
    if not chosen:
        raise DeriveError("no problems: give at least one Problem or problem file")
    folder = ensure_dir(out)  # an unusable folder is an OutputError before any work
    with i18n.language(problem_files.language(chosen, lang or i18n.chosen())):
        write_versions(chosen, versions, seed, folder, level, pdf, echo=echo)
    suffix = ".pdf" if pdf else ".tex"
    return [folder / f"{stem}-v{k}{suffix}" for k in range(1, versions + 1) for stem in ("worksheet", "answers")]
