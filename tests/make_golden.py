"""Regenerate the golden .tex sections (`make golden`); review the diff before committing.

The golden files pin how the report typesets a few scalar problems. They are reviewed output,
not oracles: the numbers in them are checked independently by tests/test_render_pdf.py.
"""
from __future__ import annotations

from pathlib import Path

from derive import problems as problem
from derive.pipeline import solve
from derive.render.tex import render_section

GOLDEN = Path(__file__).resolve().parent / "golden"
PROBLEMS = ("circuit", "fanout", "staged")


def golden_text(name: str) -> str:
    return render_section(solve(problem.load(name)))


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in PROBLEMS:
        path = GOLDEN / f"{name}.tex"
        path.write_text(golden_text(name), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
