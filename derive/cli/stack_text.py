"""What `derive show`, `derive check` and `derive check --json` print for a layer stack
(networks.stack.StackResult): "loss" and "gradients" keyed X, W1, b1, gamma1, ... shaped like the
values (nested lists), the rules (derived and checked), the kinks and every element's check.
The numeric check's lines (cli.text.checks_text) are passed in."""
from __future__ import annotations

import json
import math

import numpy as np

CHECK_LINES = 120  # as cli.text: checks listed one per line up to this many

SHOW_ELEMENTS = 60  # an array's elements printed in full; a bigger one by its shape and norm


def _array(a) -> str:
    a = np.asarray(a)
    if a.size <= SHOW_ELEMENTS:
        return np.array2string(a, precision=9, separator=", ", max_line_width=110).replace("\n", "\n      ")
    return f"<{'×'.join(map(str, a.shape))} array, largest |element| {np.abs(a).max():.6g}>"


def _rules(sol) -> list[str]:
    return [f"  {r.name}: {r.lhs} = {r.rhs}  " + ("derived and checked" if r.checked else "MISMATCH")
            for r in sol.extra.vector_rules]


def stack_show_text(sol, checks: list[str]) -> str:
    """Each layer forward (its output), the rules, the loss, every gradient and the checks."""
    p, res = sol.problem, sol.extra
    lines = [p.title, "", f"stack {' -> '.join(p.stack)}, reduction {p.reduction}, weight decay {p.weight_decay:g}",
             "", "Forward pass"]
    for ps in res.passes[:-1]:
        lines.append(f"  {ps.position}. {ps.name} -> Y{ps.position} =")
        lines.append("      " + _array(ps.y))
    lines += ["", "Backward rules (each derived from the layer's per-element graph)"] + _rules(sol)
    lines += ["", "Gradients"]
    for name, g in res.gradients.items():
        lines.append(f"  ∂L/∂{name} =")
        lines.append("      " + _array(g))
    lines += ["", f"L = {res.loss:.9g}"] + checks
    n_ok = sum(1 for c in sol.report.checks if c.ok)
    if len(sol.report.checks) <= CHECK_LINES:
        lines.append(f"  {n_ok} of {len(sol.report.checks)} checks passed")
    return "\n".join(lines)


def stack_check_text(sol, ok: bool, checks: list[str]) -> str:
    """`derive check` of a layer stack: the rules and the checks."""
    return "\n".join(["Backward rules"] + _rules(sol) + checks
                     + ["all checks passed" if ok else "SOME CHECKS FAILED"])


def _plain(a):
    """A numpy array or number as nested lists of floats (beyond float range: its text)."""
    if hasattr(a, "tolist"):
        a = a.tolist()
    if isinstance(a, list):
        return [_plain(v) for v in a]
    v = float(a)
    return v if math.isfinite(v) else repr(v)


def stack_ok(sol) -> bool:
    return sol.report.ok and all(r.checked for r in sol.extra.vector_rules)


def stack_json(sol) -> dict:
    p, res = sol.problem, sol.extra
    return {
        "title": p.title,
        "kind": p.kind,
        "notation": res.notation,
        "stack": list(p.stack),
        "reduction": p.reduction,
        "weight_decay": p.weight_decay,
        "loss": _plain(res.loss),
        "loss_name": res.loss_name,
        "data_loss": _plain(res.data_loss),
        "gradients": {k: _plain(v) for k, v in res.gradients.items()},
        "rules_checked": all(r.checked for r in res.vector_rules),
        "rules": [{"rule": r.name, "lhs": r.lhs, "rhs": r.rhs, "checked": r.checked} for r in res.vector_rules],
        "kinks": [{"layer": pos, "type": name, "index": list(idx)} for pos, name, idx in res.kinks],
        "proof": sol.report.proof,
        "checks": [{"wrt": c.wrt, "analytic": c.analytic, "numeric": c.numeric, "rel_error": c.rel_error,
                    "verdict": c.verdict, "ok": c.ok, "method": c.method} for c in sol.report.checks],
        "timings": res.timings,
        "ok": stack_ok(sol),
    }


def stack_json_text(sol) -> str:
    out = stack_json(sol)
    return json.dumps(out, indent=2 if len(sol.report.checks) <= 2000 else None, ensure_ascii=False,
                      allow_nan=False)
