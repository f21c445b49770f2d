"""`Solution.report(path)` and `report([...], path)`: the report files `derive report` writes.

Both go through render.write.write_report, the function behind the CLI, so a report written
from Python is the one `derive report FILE... -o PATH` writes (PDF with its .tex, .tex, or .md).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DeriveError


def write_report(solutions: Sequence[Any], path: str | Path, format: str | None = None,
                 echo: Callable[[str], None] | None = None) -> bool:
    """Write the report of `solutions` (api Solutions) to `path`; True when every check passed."""
    from ..render import write
    if format is not None and format not in write.FORMATS:
        raise DeriveError(f"format: expected one of {', '.join(write.FORMATS)}, got {format!r}")
    out = Path(path)
    fmt = write.format_of(out, format)
    return write.write_report([s.raw for s in solutions], out, fmt, echo or (lambda line: None))


def report(problems: Sequence[Any], path: str | Path, format: str | None = None,
           echo: Callable[[str], None] | None = None) -> bool:
    """Solve `problems` (Problems, Solutions, files or built-in names) and write one report with a
    section for each to `path`, as `derive report FILE... -o PATH` does. True when all checks passed."""
    from .problem import Problem, load
    from .solution import Solution
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
    return write_report(solutions, path, format, echo)
