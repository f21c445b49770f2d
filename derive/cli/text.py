"""What `derive show` and `derive check --json` print, for every problem kind.

Plain data in, plain text or a JSON-ready dict out: forward values, backward steps, per-parameter
chains, index and matrix rules, and the numeric checks.
"""
from __future__ import annotations

import math

import sympy as sp

from ..engine.precision import mp as mpmath  # derive's own context, precision per thread


def fmt(x: float) -> str:
    return f"{x:.6g}"


def text(expr) -> str:
    return sp.sstr(expr, order="none")


def solution_ok(sol) -> bool:
    """Every numeric check passed and every index-form and matrix-form rule was confirmed."""
    extra = sol.extra
    rules = () if extra is None else tuple(extra.rules) + tuple(extra.vector_rules)
    return sol.report.ok and all(r.checked for r in rules)


def proof_text(proof: dict) -> str:
    """One sentence: what was checked and how (from CheckReport.proof)."""
    if not proof:
        return "Numeric check"
    how = "; ".join(f"{m['count']:,} by {m['method']} ({m['precision']}, h = {m['step']:.0e}"
                    + ("·|x|" if m["relative_step"] else "") + ")" for m in proof["methods"])
    return (f"Numeric check of {proof['checked']:,} gradients ({proof['inputs']:,} inputs, "
            f"{proof['intermediates']:,} intermediate): {how}; {proof['values']}")


CHECK_LINES = 120  # checks listed one per line; beyond this only the failed ones


def checks_text(report) -> list[str]:
    lines = ["", proof_text(report.proof)]
    listed = report.checks if len(report.checks) <= CHECK_LINES else report.failures()
    for c in listed:
        lines.append(f"  ∂/∂{c.wrt:10s} analytic {c.analytic: .10g}  numeric {c.numeric: .10g}  "
                     f"rel.err {c.rel_error:.1e}  {c.verdict}")
    if len(listed) < len(report.checks):
        worst = max(c.rel_error for c in report.checks)
        lines.append(f"  {len(report.checks) - len(report.failures()):,} of {len(report.checks):,} checks passed; "
                     f"largest relative error {worst:.1e}")
    return lines


def scalar_show_text(sol) -> str:
    """Forward values and every backward step of a scalar graph."""
    d, g = sol.derivation, sol.derivation.graph
    lines = [sol.problem.title, "", "Forward pass"]
    for node in g.nodes:
        rhs = "input" if node.is_input else text(node.expr)
        lines.append(f"  {node.name:>10s} = {rhs:30s} = {fmt(d.values[node.name])}")
    lines += ["", f"Backward pass (∂{g.output}/∂·)"]
    for step in d.steps:
        if not step.contributions:
            lines.append(f"  ∂{g.output}/∂{step.node} = 1")
            continue
        for c in step.contributions:
            lines.append(f"  via {c.via}: ∂{g.output}/∂{c.via} · ∂{c.via}/∂{step.node} = "
                         f"{fmt(c.upstream_value)} · ({text(c.local.expr)}) = {fmt(c.value)}")
        total = " + ".join(fmt(c.value) for c in step.contributions)
        closed = f"   [{text(step.closed)}]" if step.closed is not None else ""
        lines.append(f"  ∂{g.output}/∂{step.node} = {total} = {fmt(step.value)}{closed}"
                     if step.is_fanout else f"  ∂{g.output}/∂{step.node} = {fmt(step.value)}{closed}")
    return "\n".join(lines + checks_text(sol.report))


def show_text(sol) -> str:
    return scalar_show_text(sol) if sol.problem.kind == "scalar" else network_show_text(sol)


def _checks_json(report) -> list[dict]:
    return [{"wrt": c.wrt, "kind": c.kind, "analytic": c.analytic, "numeric": c.numeric,
             "rel_error": c.rel_error, "verdict": c.verdict, "ok": c.ok, "method": c.method,
             "digits": c.digits, "step": c.step, "error": c.error} for c in report.checks]


def json_safe(obj):
    """`obj` with every float that JSON cannot hold (±inf beyond float range, nan) as a string."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else repr(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def check_json(sol) -> dict:
    """What `derive check --json` prints (strict JSON: no Infinity or NaN)."""
    if sol.problem.kind != "scalar":
        return network_check_json(sol)
    d = sol.derivation
    return {
        "title": sol.problem.title,
        "output": _value(d, d.graph.output),
        "output_name": d.graph.output,
        "values": {n: _value(d, n) for n in d.values},
        "gradients": {n: _gradient(d, n) for n in d.graph.inputs if d.has(n)},
        "kinks": list(d.kinks),
        "proof": sol.report.proof,
        "checks": _checks_json(sol.report),
        "ok": solution_ok(sol),
    }


def _value(d, name):
    """A node's value for JSON: a float, or beyond float range its decimal text ("2.7e+347")."""
    v = d.values[name]
    return v if math.isfinite(v) or d.exact is None else mpmath.nstr(d.exact[name], 17)


def _gradient(d, name):
    v = d.gradient_value(name)
    return v if math.isfinite(v) or d.grads is None else mpmath.nstr(d.grads[name], 17)


def check_json_text(sol) -> str:
    """`check_json` as strict JSON text (indented unless it is big)."""
    import json
    out = check_json(sol)
    indent = 2 if len(sol.report.checks) <= 2000 else None
    try:
        return json.dumps(out, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a float beyond float range: written as a string, never as Infinity
        return json.dumps(json_safe(out), indent=indent, ensure_ascii=False, allow_nan=False)


# ---------------------------------------------------------------- networks and matrix layers

def _fmt(x: float) -> str:
    return f"{x:.9g}"


SHOW_LIMIT = 120  # chains printed in full; bigger networks list their gradients only


def network_show_text(solution) -> str:
    """What `derive show` prints for a network or matrix-layer problem."""
    if solution.derivation is None:  # a layer stack
        from .stack_text import stack_show_text
        return stack_show_text(solution, checks_text(solution.report))
    p, d, res = solution.problem, solution.derivation, solution.extra
    g = d.graph
    lines = [p.title, ""]
    if p.kind == "network":
        lines.append(f"{'-'.join(map(str, p.sizes))} network, activations {', '.join(p.activations)}, "
                     f"loss {p.loss}, notation {p.notation}, batch {p.batch}"
                     + (f" (random values, seed {p.seed})" if p.seeded else ""))
    lines += ["", "Forward pass"]
    for node in g.steps:
        lines.append(f"  {node.name:>14s} = {_fmt(d.values[node.name])}")
    lines += ["", f"Per parameter (∂{d.output}/∂·, chain of factors outermost first)"]
    for c in res.chains[:SHOW_LIMIT]:
        names = " · ".join(f"∂{f.num}/∂{f.den}" for f in c.chain.factors)
        forms = " · ".join(f"({text(f.expr)})" for f in c.chain.factors)
        vals = " · ".join(_fmt(f.value) for f in c.chain.factors)
        lines.append(f"  {c.param}{list(c.index)} ∂{d.output}/∂{c.node} = {names}")
        lines.append(f"      = {forms}")
        lines.append(f"      = {vals} = {_fmt(c.chain.value)}")
    if len(res.chains) > SHOW_LIMIT:
        lines.append(f"  ... {len(res.chains) - SHOW_LIMIT} more (see `derive check --json`)")
    if res.rules:
        lines += ["", "Index form (checked against every element above)"]
        for r in res.rules:
            rng = ", ".join(f"{k} = {a}..{b}" for k, (a, b) in r.ranges.items())
            lines.append(f"  {text(r.lhs)} = {text(r.expr)}    [{rng}]  "
                         + ("checked" if r.checked else "MISMATCH"))
    if res.vector_rules:
        lines += ["", "Matrix form"]
        for v in res.vector_rules:
            lines.append(f"  {v.name}: {text(v.lhs)} = {text(v.rhs)}  " + ("checked" if v.checked else "MISMATCH"))
    lines += ["", f"{d.output} = {_fmt(res.loss)}"] + checks_text(solution.report)
    n_ok = sum(1 for c in solution.report.checks if c.ok)
    if len(solution.report.checks) <= CHECK_LINES:
        lines.append(f"  {n_ok} of {len(solution.report.checks)} checks passed")
    return "\n".join(lines)


def network_check_json(solution) -> dict:
    """What `derive check --json` prints: loss and gradients shaped like the values, and the checks."""
    if solution.derivation is None:  # a layer stack
        from .stack_text import stack_json
        return stack_json(solution)
    res = solution.extra
    return {
        "title": solution.problem.title,
        "kind": solution.problem.kind,
        "notation": res.notation,
        "loss": res.loss,
        "loss_name": res.loss_name,
        "params": res.params,
        "values": solution.derivation.values,
        "gradients": res.gradients,
        "rules_checked": all(r.checked for r in res.rules) and all(v.checked for v in res.vector_rules),
        "rules": [{"rule": r.target, "instances": len(r.instances), "checked": r.checked} for r in res.rules]
        + [{"rule": v.name, "checked": v.checked} for v in res.vector_rules],
        "kinks": list(solution.derivation.kinks),
        "proof": solution.report.proof,
        "checks": _checks_json(solution.report),
        "ok": solution_ok(solution),
    }
