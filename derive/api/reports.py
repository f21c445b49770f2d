"""`report([...], path)`: one report of several problems, the files `derive report` writes.

Like `Solution.report(path)` it goes through render.write.write_report, the function behind the
CLI, so a report written from Python is the one `derive report FILE... -o PATH` writes.
"""
from __future__ import annotations

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
    if isinstance(problems, (str, Path, Problem, Solution)):
        problems = [problems]
    solutions = []
    for p in problems:
        if isinstance(p, (str, Path)):
            p = load(str(p))
        if isinstance(p, Problem):
            p = p.solve()
        if not isinstance(p, Solution):
            raise DeriveError(f"report expects Problems, Solutions or problem files, got {type(p).__name__}")
        solutions.append(p)
    if not solutions:
        raise DeriveError("no problems given")
    return write_report(solutions, path, format, echo, detail, lang)
