"""`report([...], path)`: one report of several problems, the files `derive report` writes.

Like `Solution.report(path)` it goes through render.write.write_report, the function behind the
CLI, so a report written from Python is the one `derive report FILE... -o PATH` writes.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DeriveError
from .problem import Problem, load
from .solution import Solution, write_report


def report(problems: Sequence[Any], path: str | Path, format: str | None = None,
           echo: Callable[[str], None] | None = None, detail: str = "concise", lang: str | None = None) -> bool:
    """Solve `problems` (Problems, Solutions, files or built-in names) and write one report with a
    section for each to `path`, as `derive report FILE... -o PATH [--detail full] [--lang ko]`
    does. True when all checks passed."""
    if isinstance(problems, (str, os.PathLike, Problem, Solution)):
        problems = [problems]
    if not isinstance(problems, (list, tuple)):
        raise DeriveError(f"report: problems= expected a list of Problems, Solutions or problem files, got "
                          f"{type(problems).__name__}")
    solutions = []
    for p in problems:
        if isinstance(p, (str, os.PathLike)):
            p = load(p)
        if isinstance(p, Problem):
            p = p.solve()
        if not isinstance(p, Solution):
            raise DeriveError("report: problems= expected Problems, Solutions or problem files, got "
                              f"{type(p).__name__}")
        solutions.append(p)
    if not solutions:
        raise DeriveError("no problems given")
    return write_report(solutions, path, format, echo, detail, lang)
