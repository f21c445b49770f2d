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
from ..engine.steps import partial, tree_size
from ..i18n import N_, _
from . import tikz
from .netview import network_view, substitute

TERMS_PER_LINE = 3  # contributions per line of a fan-out sum before it wraps


@dataclass(frozen=True)
class ForwardRow:
    name: str
    expr: object  # SymPy expression, None for an input
    value: float
    gradient: float | None


@dataclass(frozen=True)
class Term:
    """One contribution: upstream × local = value.

    When `via` is the output itself the upstream is ∂f/∂f = 1 and ∂f/∂target would read as the
    total gradient: such a term is `direct` and its local derivative is named by the gate's
    formula, ∂(q z)/∂q (`gate`), or marked as local when that formula is long (`gate` None).
    """
    via: str
    upstream: object  # gradient symbol ∂out/∂via
    upstream_value: float
    local_symbol: object  # gradient symbol ∂via/∂target
    local_expr: object
    local_value: float
    value: float
    target: str = ""
    direct: bool = False
    gate: object = None


@dataclass(frozen=True)
class BackwardStep:
    node: str
    symbol: object  # ∂out/∂node
    lines: tuple[tuple[Term, ...], ...]  # contributions, TERMS_PER_LINE per line
    value: float
    fanout: bool
    verdict: str | None  # the numeric check's verdict for this node, None for the output
    closed: object = None  # the gradient in closed form in the inputs, when short
    closed_numbers: object = None  # `closed` with the inputs' values put in (unevaluated)


VERDICTS = {"ok": N_("ok"), "kink": N_("kink"), "suspect": N_("suspect"), "wrong": N_("wrong")}


@dataclass(frozen=True)
class CheckRow:
    symbol: object  # ∂out/∂wrt
    wrt: str
    analytic: float
    numeric: float
    rel_error: float
    verdict: str

    @property
    def verdict_text(self) -> str:
        """The verdict in the current language."""
        return _(VERDICTS[self.verdict]) if self.verdict in VERDICTS else self.verdict


DEFINITION_LIMIT = 30  # nodes; bigger graphs are defined by their steps only
DEFINITION_SIZE = 400  # tree nodes of the output written in the inputs; a bigger one is not written


def definition(graph):
    """The output written in the inputs (the steps substituted into each other), or None if big."""
    if len(graph.nodes) > DEFINITION_LIMIT:
        return None
    exprs = {}
    for n in graph.nodes:
        exprs[n.name] = n.symbol if n.is_input else substitute(
            n.expr, {graph.node(q).symbol: exprs[q] for q in n.parents})
    out = exprs[graph.output]  # (shared subexpressions: a step used three times by the next triples it)
    return out if tree_size(out, DEFINITION_SIZE) <= DEFINITION_SIZE else None


def check_rows(report) -> tuple[CheckRow, ...]:
    return tuple(CheckRow(partial(report.output, c.wrt), c.wrt, c.analytic, c.numeric,
                          c.rel_error, c.verdict) for c in report.checks)


def _param_leaves(solution) -> frozenset:
    """The weight and bias leaves of a network (left out of its figure), else nothing."""
    if solution.extra is None:
        return frozenset()
    out = set()

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        else:
            out.add(v)
    for nodes in solution.extra.params.values():
        walk(nodes)
    return frozenset(out)


def _loss_node(d):
    """The output node when it is a loss of a network (its row shows the loss in index form)."""
    return d.output


def chunks(items, size: int) -> tuple[tuple, ...]:
    items = tuple(items)
    return tuple(items[i:i + size] for i in range(0, len(items), size)) or ((),)


LONG_SUM = 8  # terms; a longer sum (a 784-input unit's net) is written first terms + ⋯ + last


def elided(expr):
    """A sum of more than LONG_SUM terms as its first two terms, ⋯ and its last one."""
    from .printer import Dots  # a marker the printer writes as \cdots
    if isinstance(expr, sp.Add) and len(expr.args) > LONG_SUM:
        return sp.Add(*expr.args[:2], Dots(), expr.args[-1], evaluate=False)
    return expr


def _shown_expr(node):
    """The node's formula as the forward table shows it; a long affine sum is elided before its
    expression is ever built (a 784-input unit)."""
    from .printer import Dots
    terms = node.terms
    if terms is not None and len(terms) > LONG_SUM:
        def product(t):
            return sp.Mul(*[symbol(f) for f in t], evaluate=False) if len(t) > 1 else symbol(t[0])
        return sp.Add(product(terms[0]), product(terms[1]), Dots(), product(terms[-1]), evaluate=False)
    return elided(node.expr)


def forward_rows(derivation, nodes=None) -> tuple[ForwardRow, ...]:
    """One row per node (or per name in `nodes`); a node's gradient only where already known."""
    graph = derivation.graph
    names = [n.name for n in graph.nodes] if nodes is None else nodes
    rows = []
    for name in names:
        n = graph.node(name)
        grad = derivation.gradient(name).value if derivation.has(name) else None
        rows.append(ForwardRow(name, None if n.is_input else _shown_expr(n), derivation.values[name], grad))
    return tuple(rows)


GATE_CHARS = 40  # a direct term names its local derivative by the gate's formula up to this length
CLOSED_CHARS = 90  # a closed form longer than this (printed) is left out
CLOSED_SIZE = 4 * CLOSED_CHARS  # tree nodes: a form this big prints longer than CLOSED_CHARS (not printed to know)


def _inputs_of(graph) -> dict:
    """Node symbol -> its definition in the inputs (small graphs), evaluated; a definition too big
    to print is left out (a step that uses the one before three times triples it each step)."""
    defs = {}
    for n in graph.nodes:
        if not n.is_input:
            form = n.expr.xreplace(defs)
            if tree_size(form, CLOSED_SIZE) <= CLOSED_SIZE:
                defs[n.symbol] = form
    return defs


def _closed(g, defs, printed, inputs) -> object:
    """The gradient written in the inputs when that is short, else None (one rule on every page:
    closed forms are always in the inputs, never in gate names)."""
    if g.closed is None or not g.contributions or g.closed.is_Number:
        return None
    form = g.closed.xreplace(defs)
    if tree_size(form, CLOSED_SIZE) > CLOSED_SIZE or any(s.name not in inputs for s in form.free_symbols):
        return None  # too big to print (no printing needed to know), or still in gate names
    return form if len(printed(form)) <= CLOSED_CHARS else None


def _with_values(form, derivation):
    """`form` (in the inputs) with each input's value put in, unevaluated: y + 2x -> 5 + 2·3."""
    values = {derivation.graph.node(n).symbol: sp.Float(derivation.values[n], 15) for n in derivation.graph.inputs}
    return substitute(form, values)


def backward_steps(derivation, report=None, closed: bool = False, limit=None) -> tuple[BackwardStep, ...]:
    """The steps of the backward pass; `closed`: add closed forms (small scalar graphs); with
    `limit`, the first `limit` steps and any later one whose check failed (records of the rest
    are never built)."""
    from .printer import latex  # lengths only: the view never stores LaTeX

    verdicts = {c.wrt: c.verdict for c in report.checks} if report is not None else {}
    graph = derivation.graph
    defs = _inputs_of(graph) if closed else {}
    out = []
    for g in _steps(derivation, verdicts, limit):
        terms = []
        for c in g.contributions:
            direct = c.via == graph.output
            gate = graph.node(c.via).expr if direct else None
            if gate is not None and len(latex(gate)) > GATE_CHARS:
                gate = None
            terms.append(Term(c.via, c.upstream, c.upstream_value, partial(c.via, c.target),
                              c.local.expr, c.local.value, c.value, c.target, direct, gate))
        form = _closed(g, defs, latex, set(graph.inputs)) if closed else None
        if form is not None and len(terms) == 1 and sp.srepr(form) == sp.srepr(terms[0].local_expr):
            form = None  # the closed form is the local derivative already written
        out.append(BackwardStep(g.node, g.symbol, chunks(terms, TERMS_PER_LINE), g.value,
                                g.is_fanout, verdicts.get(g.node), form,
                                None if form is None else _with_values(form, derivation)))
    return tuple(out)


def _steps(derivation, verdicts, limit):
    if limit is None:
        yield from derivation.steps
        return
    names = getattr(derivation.steps, "order", None) or [g.node for g in derivation.steps]
    for i, name in enumerate(names):
        if i < limit or verdicts.get(name) in ("suspect", "wrong"):
            yield derivation.gradient(name)


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


DETAILS = ("concise", "full")

PROOF_METHODS = {"central difference": N_("central difference"), "complex step": N_("complex step")}


def proof_view(proof):
    """The proof summary with its method names and precisions in the current language."""
    if not proof:
        return proof
    methods = []
    for m in proof.get("methods", ()):
        method = _(PROOF_METHODS[m["method"]]) if m["method"] in PROOF_METHODS else m["method"]
        precision = (_("{digits} digits").format(digits=m["digits"]) if m["precision"] == f"{m['digits']} digits"
                     else m["precision"])
        methods.append({**m, "method": method, "precision": precision})
    return {**proof, "methods": methods}


def problem_view(solution, figure: bool = True, detail: str = "concise") -> dict:
    """Everything the report templates need for one problem (big graphs are cut, with a note).

    detail "concise" (the default): the forward table without the inputs (they are in the
    definition), a network's backward pass as its general rules with one worked instance each,
    and only the failed checks with a summary line; "full": every step, chain and check.
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
    if solution.derivation is None:  # a layer stack (networks.stack): its layers, rules and arrays
        from .stackview import stack_view
        rows = check_rows(solution.report)
        shown, cut = _limited_checks(rows) if detail == "full" else (tuple(c for c in rows if c.verdict != "ok"), 0)
        return {**stack_view(solution, detail), "checks": shown, "checks_cut": cut or len(rows) - len(shown),
                "checks_total": len(rows), "checks_ok": sum(1 for c in rows if c.verdict == "ok"),
                "proof": proof_view(solution.report.proof)}
    p, d, r = solution.problem, solution.derivation, solution.report
    full = detail == "full"
    backward, note = (), ""
    if solution.extra is None or full:  # a network's concise section shows its rules instead
        backward = backward_steps(d, r, closed=p.kind == "scalar" and len(d.graph.nodes) <= DEFINITION_LIMIT,
                                  limit=MAX_STEPS)
        total = len(d.steps)
        if total > MAX_STEPS:
            flagged = [s for s in backward[MAX_STEPS:] if s.verdict in ("suspect", "wrong")]
            note = (_("The graph has {total} gradients; the first {shown} are written out below together "
                      "with every failed one, and every one of them is checked in the table that follows.")
                    if flagged else
                    _("The graph has {total} gradients; the first {shown} are written out below, and every "
                      "one of them is checked in the table that follows.")).format(total=total, shown=MAX_STEPS)
    inputs_shown_above = solution.extra is not None or (p.kind == "scalar" and len(d.graph.inputs) <= 12)
    steps_first = [n.name for n in d.graph.steps]
    inputs_last = [] if (not full and inputs_shown_above) else list(d.graph.inputs)
    if len(steps_first) + len(inputs_last) <= MAX_ROWS:  # the written order: inputs first
        inputs_last, steps_first = [], [n.name for n in d.graph.nodes if n.name in set(steps_first) | set(inputs_last)]
    names = steps_first + inputs_last  # a long table: the computed nodes matter most
    forward = forward_rows(d, names[:MAX_ROWS + 1])
    forward_total = len(names)
    if not full and p.kind == "layers":  # every matrix's values are in the layer figure
        forward = ()
    elif p.kind == "network" and p.batch == 1:  # the loss in index form, not expanded over units
        from ..networks.names import loss_formula
        forward = tuple(ForwardRow(row.name, loss_formula(p.notation, p.loss)[1], row.value, row.gradient)
                        if row.name == d.output else row for row in forward)
    all_checks = check_rows(r)
    checks, checks_cut = _limited_checks(all_checks)
    if not full:  # concise: the failures and kinks are listed, the rest is a summary line
        checks = tuple(c for c in all_checks if c.verdict != "ok")
        checks_cut = len(all_checks) - len(checks)
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
        "forward_cut": max(0, forward_total - MAX_ROWS),
        "backward": backward,
        "closed_forms": any(s.closed is not None for s in backward),
        "checks": checks,
        "checks_cut": checks_cut,
        "max_rel_error": max((c.rel_error for c in r.checks), default=0.0),
        "proof": proof_view(r.proof),  # what was checked and how (engine.check.Prover.summary)
        "definition": definition(d.graph) if p.kind == "scalar" else None,
        "backward_note": note,
        "kinks": d.kinks,
        "results": results(d) if solution.extra is None else (),
        "figure": tikz.layout(d, omit=_param_leaves(solution)) if figure and p.kind != "layers" else None,
        "layer_figure": tikz.layer_figure(solution) if figure and p.kind == "layers" else None,
        "network": network_view(solution, detail) if solution.extra is not None else None,
        "full": full,
        "checks_total": len(all_checks),
        "checks_ok": sum(1 for c in all_checks if c.verdict == "ok"),
        "loss_row": _loss_node(d) if solution.extra is not None else None,
    }
    return view


