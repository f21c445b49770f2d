"""`derive list`, `derive show FILE` and `derive check FILE [--json]`."""
from __future__ import annotations

import sys

import click

from .common import load_or_fail, progress_for, solve_or_fail


@click.command("list")
def list_cmd():
    """List the built-in problems."""
    from ..problems import builtin_names
    for name in builtin_names():
        click.echo(f"{name:28s} {load_or_fail(name).title}")


@click.command()
@click.argument("file")
def show(file):
    """Print the forward values and every backward step."""
    from .text import show_text
    click.echo(show_text(solve_or_fail(file, progress_for(False))))


@click.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(file, as_json):
    """Check every gradient numerically; exit 1 if any check fails."""
    from .text import check_json_text, checks_text, solution_ok
    sol = solve_or_fail(file, progress_for(as_json))
    if sol.derivation is None:  # a layer stack: its own JSON (loss, gradients shaped like the values)
        from .stack_text import stack_check_text, stack_json_text, stack_ok
        from .text import checks_text
        ok = stack_ok(sol)
        click.echo(stack_json_text(sol) if as_json else stack_check_text(sol, ok, checks_text(sol.report)))
        sys.exit(0 if ok else 1)
    ok = solution_ok(sol)
    if as_json:
        click.echo(check_json_text(sol))
    else:
        click.echo("\n".join(checks_text(sol.report)))
        click.echo("all checks passed" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)
