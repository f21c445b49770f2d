"""Command line: derive list | show | check, plus report, worksheet and verify from their modules."""
from __future__ import annotations

import json
import sys

import click
import sympy as sp

from . import problem as problems
from .errors import DeriveError
from .pipeline import solve


def fail(message: str, code: int = 2):
    click.echo(f"derive: error: {message}", err=True)
    sys.exit(code)


def load_or_fail(path: str):
    try:
        return problems.load(path)
    except DeriveError as e:
        fail(str(e))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="derive")
def main():
    """Step-by-step chain-rule derivations, proven numerically.

    FILE is a problem file (TOML) or the name of a built-in problem (see `derive list`).
    """


@main.command("list")
def list_cmd():
    """List the built-in problems."""
    for name in problems.builtin_names():
        p = problems.load(name)
        click.echo(f"{name:28s} {p.title}")


def fmt(x: float) -> str:
    return f"{x:.6g}"


def text(expr) -> str:
    return sp.sstr(expr, order="none")


@main.command()
@click.argument("file")
def show(file):
    """Print the forward values and every backward step."""
    sol = _solve(file)
    if sol.problem.kind != "scalar":
        from . import networks
        click.echo(networks.show_text(sol))
        return
    d, g = sol.derivation, sol.derivation.graph
    click.echo(f"{sol.problem.title}\n\nForward pass")
    for node in g.nodes:
        rhs = "input" if node.is_input else text(node.expr)
        click.echo(f"  {node.name:>10s} = {rhs:30s} = {fmt(d.values[node.name])}")
    click.echo(f"\nBackward pass (∂{g.output}/∂·)")
    for step in d.steps:
        if not step.contributions:
            click.echo(f"  ∂{g.output}/∂{step.node} = 1")
            continue
        for c in step.contributions:
            click.echo(f"  via {c.via}: ∂{g.output}/∂{c.via} · ∂{c.via}/∂{step.node} = "
                       f"{fmt(c.upstream_value)} · ({text(c.local.expr)}) = {fmt(c.value)}")
        total = " + ".join(fmt(c.value) for c in step.contributions)
        closed = f"   [{text(step.closed)}]" if step.closed is not None else ""
        click.echo(f"  ∂{g.output}/∂{step.node} = {total} = {fmt(step.value)}{closed}"
                   if step.is_fanout else f"  ∂{g.output}/∂{step.node} = {fmt(step.value)}{closed}")
    _print_checks(sol.report)


def _print_checks(report):
    click.echo("\nNumeric check (central differences, 50 digits)")
    for c in report.checks:
        click.echo(f"  ∂/∂{c.wrt:10s} analytic {c.analytic: .10g}  numeric {c.numeric: .10g}  "
                   f"rel.err {c.rel_error:.1e}  {c.verdict}")


def _solve(file):
    p = load_or_fail(file)
    try:
        return solve(p)
    except DeriveError as e:
        fail(f"{p.source}: {e}")


def check_json(sol) -> dict:
    if sol.problem.kind != "scalar":
        from . import networks
        return networks.check_json(sol)
    d = sol.derivation
    inputs = d.graph.inputs
    return {
        "title": sol.problem.title,
        "output": d.values[d.graph.output],
        "output_name": d.graph.output,
        "values": d.values,
        "gradients": {n: d.gradient(n).value for n in inputs if _reaches(d, n)},
        "kinks": list(d.kinks),
        "checks": [
            {"wrt": c.wrt, "kind": c.kind, "analytic": c.analytic, "numeric": c.numeric,
             "rel_error": c.rel_error, "verdict": c.verdict, "ok": c.ok}
            for c in sol.report.checks
        ],
        "ok": sol.report.ok,
    }


def _reaches(d, name) -> bool:
    try:
        d.gradient(name)
        return True
    except KeyError:
        return False


@main.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(file, as_json):
    """Check every gradient numerically; exit 1 if any check fails."""
    sol = _solve(file)
    if as_json:
        click.echo(json.dumps(check_json(sol), indent=2, ensure_ascii=False))
    else:
        _print_checks(sol.report)
        click.echo("all checks passed" if sol.report.ok else "SOME CHECKS FAILED")
    sys.exit(0 if sol.report.ok else 1)


def _register_commands():
    """report, worksheet and verify live in their own modules; each adds its commands here."""
    from . import verify_cli, worksheet_cli
    from .render import commands
    for module in (commands, worksheet_cli, verify_cli):
        module.register(main)


_register_commands()
