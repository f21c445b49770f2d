"""`worksheets([...], versions=, seed=, out=, lang=)`: worksheets and answer keys from Python.

The same files as `derive worksheet FILE... --versions N --seed S -o DIR [--lang ko]` (sheets.sheet_view):
per version K, worksheet-vK and answers-vK (.tex, and .pdf unless `pdf=False`), numbered alike,
with new values per version drawn from the seed (the same seed gives the same sheets).
"""
from __future__ import annotations

import os
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
    pdf       False writes the .tex files only (no LaTeX run); without LaTeX on the machine every
              .tex is written all the same, what to install is said once (through `echo`, else as a
              warnings.warn) and the .tex paths are returned
    echo      where the progress lines go (None: silent)
    lang      the language of the fixed text, "en" or "ko" as `--lang` (None: the problems' own
              `lang`, else English); titles and descriptions from [translations.<lang>]
    Returns the paths written, worksheet and answer key of each version in turn. Raises
    DeriveError for bad input (nothing written) and LatexError when LaTeX fails.
    """
    from .. import i18n
    from .. import problems as problem_files
    from ..errors import LatexMissing
    from ..files import ensure_dir
    from ..sheets.exercises import LEVEL_ALIASES, LEVELS
    from ..sheets.sheet_view import build_versions, write_versions
    from .problem import Problem, load
    from .solution import check_lang
    if isinstance(problems, (str, os.PathLike, Problem)):
        problems = [problems]
    if not isinstance(problems, (list, tuple)):
        raise DeriveError(f"worksheets: problems= expected a list of Problems or problem files, got "
                          f"{type(problems).__name__}")
    if not isinstance(out, (str, os.PathLike)):
        raise DeriveError(f"worksheets: out= expected a folder (str or os.PathLike), got {type(out).__name__}")
    if echo is not None and not callable(echo):
        raise DeriveError(f"worksheets: echo= expected a function taking one line (or None), got "
                          f"{type(echo).__name__}")
    if not isinstance(pdf, bool):
        raise DeriveError(f"worksheets: pdf= expected True or False, got {pdf!r}")
    if isinstance(versions, bool) or not isinstance(versions, int) or not 1 <= versions <= MAX_VERSIONS:
        raise DeriveError(f"worksheets: versions= expected a whole number from 1 to {MAX_VERSIONS}, got {versions!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DeriveError(f"worksheets: seed= expected a whole number, got {seed!r}")
    if level not in LEVELS and level not in LEVEL_ALIASES:
        raise DeriveError(f"worksheets: level= expected one of {', '.join(LEVELS)}, got {level!r}")
    check_lang(lang)
    chosen = []
    for p in problems:
        if isinstance(p, (str, os.PathLike)):
            p = load(p)
        if not isinstance(p, Problem):
            raise DeriveError(f"worksheets expects Problems (derive.load, derive.circuit, ...) or "
                              f"problem files, got {type(p).__name__}")
        chosen.append(p.data)
    if not chosen:
        raise DeriveError("no problems: give at least one Problem or problem file")
    folder = ensure_dir(out)  # an unusable folder is an OutputError before any work
    with i18n.language(problem_files.language(chosen, lang or i18n.chosen())):
        sheets = build_versions(chosen, versions, seed, level)
        try:
            write_versions(chosen, versions, seed, folder, level, pdf, echo=echo, sheets=sheets)
        except LatexMissing as e:  # no TeX: every .tex (sheets and keys), and what to install, once
            write_versions(chosen, versions, seed, folder, level, False, echo=None, sheets=sheets)
            _say_once(f"wrote the .tex files only: {getattr(e, 'missing', e)}", echo)
            pdf = False
    suffix = ".pdf" if pdf else ".tex"
    return [folder / f"{stem}-v{k}{suffix}" for k in range(1, versions + 1) for stem in ("worksheet", "answers")]


def _say_once(message: str, echo) -> None:
    if echo is not None:
        echo(f"derive: warning: {message}")
    else:
        import warnings
        warnings.warn(message, stacklevel=3)
