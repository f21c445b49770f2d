"""What every command shares: one-line errors with an exit code, loading and solving a FILE."""
from __future__ import annotations

import sys

import click

from ..errors import DeriveError


def fail(message: str, code: int = 2):
    """Print `derive: error: message` on stderr and exit (2: bad input or environment)."""
    click.echo(f"derive: error: {message}", err=True)
    sys.exit(code)


def load_or_fail(path: str):
    from ..problems import load
    try:
        return load(path)
    except DeriveError as e:
        fail(str(e))


def solve_or_fail(file: str):
    """FILE (a path or a built-in name) loaded and solved, or one line and exit 2."""
    from ..pipeline import solve
    p = load_or_fail(file)
    try:
        return solve(p)
    except DeriveError as e:
        fail(f"{p.source}: {e}")
