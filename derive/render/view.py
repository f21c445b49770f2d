"""What a report shows about one solved problem, as plain data for the templates.

`problem_view(solution)` picks and groups the engine's records (no LaTeX, no maths done
here beyond grouping): the forward rows, the backward steps with their contributions split
into lines, the check rows, the results, the figure, and for networks the chains and rules.
Both the .tex and the .md renderers read this view.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..steps import partial
from . import tikz

TERMS_PER_LINE = 3  # contributions per line of a fan-out sum before it wraps


@dataclass(frozen=True)
class ForwardRow:
    name: str
    expr: object  # SymPy expression, None for an input
    value: float
    gradient: float | None


@dataclass(frozen=True)
class Term:
    """One contribution: upstream × local = value."""
    via: str
    upstream: object  # gradient symbol ∂out/∂via
    upstream_value: float
    local_symbol: object  # gradient symbol ∂via/∂target
    local_expr: object
    local_value: float
    value: float


@dataclass(frozen=True)
class BackwardStep:
    node: str
    symbol: object  # ∂out/∂node
    lines: tuple[tuple[Term, ...], ...]  # contributions, TERMS_PER_LINE per line
    value: float
    fanout: bool
    verdict: str | None  # the numeric check's verdict for this node, None for the output


@dataclass(frozen=True)
class CheckRow:
    symbol: object  # ∂out/∂wrt
    wrt: str
    analytic: float
    numeric: float
    rel_error: float
    verdict: str


DEFINITION_LIMIT = 30  # nodes; bigger graphs are defined by their steps only


def definition(graph):
    """The output written in the inputs (the steps substituted into each other), or None if big."""
    if len(graph.nodes) > DEFINITION_LIMIT:
        return None
    exprs = {}
    for n in graph.nodes:
        exprs[n.name] = n.symbol if n.is_input else _substitute(
            n.expr, {graph.node(q).symbol: exprs[q] for q in n.parents})
    return exprs[graph.output]


def _substitute(expr, mapping):
    """`expr` with symbols replaced, rebuilt unevaluated so the written order stays."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    return expr.func(*(_substitute(a, mapping) for a in expr.args), evaluate=False)


def check_rows(report) -> tuple[CheckRow, ...]:
    return tuple(CheckRow(partial(report.output, c.wrt), c.wrt, c.analytic, c.numeric,
                          c.rel_error, c.verdict) for c in report.checks)


def chunks(items, size: int) -> tuple[tuple, ...]:
    items = tuple(items)
    return tuple(items[i:i + size] for i in range(0, len(items), size)) or ((),)


def forward_rows(derivation) -> tuple[ForwardRow, ...]:
    grads = {g.node: g.value for g in derivation.steps}
    return tuple(ForwardRow(n.name, n.expr, derivation.values[n.name], grads.get(n.name))
                 for n in derivation.graph.nodes)


def backward_steps(derivation, report=None) -> tuple[BackwardStep, ...]:
    verdicts = {c.wrt: c.verdict for c in report.checks} if report is not None else {}
    out = []
    for g in derivation.steps:
        terms = [Term(c.via, c.upstream, c.upstream_value, partial(c.via, c.target),
                      c.local.expr, c.local.value, c.value) for c in g.contributions]
        out.append(BackwardStep(g.node, g.symbol, chunks(terms, TERMS_PER_LINE), g.value,
                                g.is_fanout, verdicts.get(g.node)))
    return tuple(out)


def results(derivation) -> tuple[tuple[object, float], ...]:
    """(gradient symbol, value) for every input that reaches the output."""
    grads = {g.node: g for g in derivation.steps}
    return tuple((grads[n].symbol, grads[n].value) for n in derivation.graph.inputs if n in grads)


def problem_view(solution, figure: bool = True) -> dict:
    """Everything the report templates need for one problem."""
    p, d, r = solution.problem, solution.derivation, solution.report
    view = {
        "title": p.title,
        "description": getattr(p, "description", ""),
        "kind": p.kind,
        "source": p.source,
        "ok": r.ok,
        "failures": r.failures(),
        "output": d.output,
        "output_value": d.values[d.output],
        "inputs": tuple((n, d.values[n]) for n in d.graph.inputs),
        "forward": forward_rows(d),
        "backward": backward_steps(d, r),
        "checks": check_rows(r),
        "definition": definition(d.graph) if p.kind == "scalar" else None,
        "backward_note": "",
        "kinks": d.kinks,
        "results": results(d),
        "figure": tikz.layout(d) if figure else None,
        "network": None,
    }
    return view
