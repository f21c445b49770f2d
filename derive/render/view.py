"""What a report shows about one solved problem, as plain data for the templates.

`problem_view(solution)` picks and groups the engine's records (no LaTeX, no maths done
here beyond grouping): the forward rows, the backward steps with their contributions split
into lines, the check rows, the results, the figure, and for networks the chains and rules.
Both the .tex and the .md renderers read this view.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..engine.parse import symbol
from ..engine.steps import partial
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


MAX_STEPS = 60  # backward steps written out; a bigger graph shows its first ones and says so
MAX_ROWS = 80  # rows of the forward and check tables (failed checks are always listed)


def _limited_checks(rows):
    if len(rows) <= MAX_ROWS:
        return rows, 0
    bad = [c for c in rows if c.verdict not in ("ok", "kink")]
    keep = list(rows[:MAX_ROWS - min(len(bad), MAX_ROWS // 2)])
    keep += [c for c in bad if c not in keep]
    return tuple(keep), len(rows) - len(keep)


def problem_view(solution, figure: bool = True) -> dict:
    """Everything the report templates need for one problem (big graphs are cut, with a note)."""
    p, d, r = solution.problem, solution.derivation, solution.report
    backward = backward_steps(d, r)
    note = ""
    if len(backward) > MAX_STEPS:
        flagged = [s for s in backward[MAX_STEPS:] if s.verdict in ("suspect", "wrong")]
        note = (f"The graph has {len(backward)} gradients; the first {MAX_STEPS} are written out "
                f"below{' together with every failed one' if flagged else ''}, and every one of "
                "them is checked in the table that follows.")
        backward = backward[:MAX_STEPS] + tuple(flagged)
    forward = forward_rows(d)
    if len(forward) > MAX_ROWS:  # the computed nodes matter most; inputs are in the definition
        forward = tuple(r for r in forward if r.expr is not None) + tuple(r for r in forward if r.expr is None)
    checks, checks_cut = _limited_checks(check_rows(r))
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
        "forward": forward[:MAX_ROWS],
        "forward_cut": max(0, len(forward) - MAX_ROWS),
        "backward": backward,
        "checks": checks,
        "checks_cut": checks_cut,
        "max_rel_error": max((c.rel_error for c in r.checks), default=0.0),
        "definition": definition(d.graph) if p.kind == "scalar" else None,
        "backward_note": note,
        "kinks": d.kinks,
        "results": results(d),
        "figure": tikz.layout(d) if figure else None,
        "network": network_view(solution) if solution.extra is not None else None,
    }
    return view


# ---------------------------------------------------------------- networks

MAX_CHAINS = 12  # per-weight chains written out; the rest are in the gradient matrices
MAX_INSTANCES = 4  # concrete instances listed under each index rule
MAX_MATRIX = 8  # rows/columns of a gradient array printed as a matrix
LONG_CHAIN = 240  # characters of printed factors above which a chain puts one factor per line


@dataclass(frozen=True)
class ChainFactor:
    symbol: object  # ∂num/∂den
    expr: object  # in the notation's names
    substituted: object  # expr with the forward values put in (unevaluated)
    value: float


@dataclass(frozen=True)
class ChainView:
    lhs: object  # ∂L/∂w^o_12
    general_lhs: object  # ∂L/∂w_kj of the index rule it instantiates, or None
    general: object  # the index-form formula
    factors: tuple[ChainFactor, ...]
    value: float
    long: bool


@dataclass(frozen=True)
class RuleView:
    lhs: object
    factors: tuple  # gradient symbols of the generic chain
    expr: object
    ranges: str  # "k = 1..2, j = 1..2"
    instances: tuple  # (lhs symbol, concrete expr, value)
    more: int  # instances not listed
    checked: bool


def _printable_values(solution) -> dict:
    """Symbol -> Float for every node and every δ, to substitute into factors."""
    d, extra = solution.derivation, solution.extra
    env = {d.graph.node(n).symbol: sp.Float(v, 6) for n, v in d.values.items()}
    grads = {g.node: g.value for g in d.steps}
    for g in d.steps:  # upstream gradients that a factor names (∂L/∂y_11 of an affine layer)
        env[g.symbol] = sp.Float(g.value, 6)
    for net, delta in (extra.deltas or {}).items():
        if net in grads:
            env[symbol(delta)] = sp.Float(grads[net], 6)
    return env


def _instance_lhs(extra, node: str):
    return symbol(extra.deltas[node]) if node in (extra.deltas or {}) else partial(extra.loss_name, node)


def _matrix(values):
    rows = values if values and isinstance(values[0], (list, tuple)) else [[v] for v in values]
    if len(rows) > MAX_MATRIX or len(rows[0]) > MAX_MATRIX:
        return None
    return sp.Matrix([[sp.Float(float(v), 6) for v in row] for row in rows])


def network_view(solution) -> dict:
    """Chains per weight (a selection), index rules, vector rules and gradient arrays."""
    from .printer import latex  # local: the view only measures length, it never stores LaTeX

    extra = solution.extra
    env = _printable_values(solution)
    general_lhs = {sp.srepr(r.expr): r.lhs for r in extra.rules}
    chains = []
    for pc in extra.chains[:MAX_CHAINS]:
        factors = tuple(ChainFactor(partial(f.num, f.den), f.expr, _substitute(f.expr, env), f.value)
                        for f in pc.chain.factors)
        width = sum(len(latex(f.expr)) + len(latex(f.substituted)) for f in factors)
        chains.append(ChainView(partial(extra.loss_name, pc.node), general_lhs.get(sp.srepr(pc.general)),
                                pc.general, factors, pc.chain.value, width > LONG_CHAIN))
    rules = []
    for r in extra.rules:
        listed = r.instances[:MAX_INSTANCES]
        rules.append(RuleView(
            r.lhs, tuple(partial(num, den) for num, den, _ in r.factors), r.expr,
            ", ".join(f"{k} = {a}..{b}" for k, (a, b) in r.ranges.items()),
            tuple((_instance_lhs(extra, node), expr, value) for _, node, expr, value in listed),
            len(r.instances) - len(listed), r.checked))
    arrays = []
    for param, values in extra.gradients.items():
        arrays.append((partial(extra.loss_name, param), _matrix(values)))
    groups = []  # consecutive chains instantiating the same general rule share one boxed line
    for c in chains:
        if groups and sp.srepr(groups[-1]["general"]) == sp.srepr(c.general):
            groups[-1]["chains"].append(c)
        else:
            groups.append({"general_lhs": c.general_lhs, "general": c.general, "chains": [c]})
    return {
        "notation": extra.notation,
        "chain_groups": tuple(groups),
        "loss_name": extra.loss_name,
        "loss": extra.loss,
        "description": _network_description(solution.problem),
        "arrays_given": tuple((symbol(k), _matrix(v)) for k, v in solution.problem.arrays.items()),
        "chains": tuple(chains),
        "chains_total": len(extra.chains),
        "rules": tuple(rules),
        "vector_rules": tuple(extra.vector_rules),
        "arrays": tuple(arrays),
    }


def _network_description(p) -> str:
    """One line of plain text: sizes, activations, loss, notation (escaped by the template)."""
    if p.kind != "network":
        return f"Layers: {' -> '.join(p.stack)}; batch of {p.batch}."
    return (f"Layers {'-'.join(str(n) for n in p.sizes)} (input first); activations "
            f"{', '.join(p.activations)}; loss {p.loss}; {p.notation} notation"
            f"{'; no biases' if not p.bias else ''}{f'; batch of {p.batch}' if p.batch > 1 else ''}.")
