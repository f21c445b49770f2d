"""Numeric proof of a derivation: analytic values against central differences.

Small graphs (`check`): every gradient is recomputed in 50-digit mpmath from the derivation's own
symbolic records (upstream × local, summed) and compared with a central difference of the
forward pass, perturbing that node alone. Big graphs (`check_batched`): every wanted leaf's
gradient against a central difference in numpy long double, many leaves per vectorised pass.
Relative error |a − n| / max(|a|, |n|) with the cs231n bands; a node whose gradient passes
through a kink (relu/abs at 0, a max tie) is reported as a kink, not as a failure.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from . import numeric
from .graph import ancestors

SMALL_GRAPH = 200  # nodes; up to this the forward pass and the proof run in mpmath
GOOD = 1e-7  # relative error at or below this: the derivation is right
WRONG = 1e-2  # above this: certainly wrong (between the two: suspect, also a failure)


@dataclass(frozen=True)
class Check:
    wrt: str
    kind: str  # "input" or "intermediate"
    analytic: float
    numeric: float
    rel_error: float
    verdict: str  # "ok", "kink", "suspect", "wrong"

    @property
    def ok(self) -> bool:
        return self.verdict in ("ok", "kink")


@dataclass(frozen=True)
class CheckReport:
    output: str
    value: float
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


def relative_error(a, n, floor=0) -> float:
    """|a − n| / max(|a|, |n|); 0 when both are within `floor` of zero (the proof's resolution)."""
    scale = max(abs(a), abs(n))
    return 0.0 if scale <= floor else float(abs(a - n) / scale)


def verdict(rel: float) -> str:
    return "ok" if rel <= GOOD else ("wrong" if rel > WRONG else "suspect")


def local_values(steps, env) -> dict:
    """Every local derivative of the records evaluated at one point: (node, consumer) -> value."""
    return {(g.node, c.via): numeric.evaluate(c.local.expr, env) for g in steps for c in g.contributions}


def accumulate(steps, local: dict, change: dict | None = None, stop: str | None = None) -> dict:
    """Reverse accumulation over a derivation's records at one point (output first): each
    gradient is the sum over its contributions of upstream gradient × local value.

    `local` maps (node, consumer) to the local derivative's value (see `local_values`);
    `change` overrides such an edge, or ("seed", node) forces that node's gradient (verify's
    mutations of a reference derivation); `stop` ends the sweep after that node.
    """
    change = change or {}
    grads: dict = {}
    for g in steps:
        if ("seed", g.node) in change:
            grads[g.node] = change[("seed", g.node)]
        elif not g.contributions:
            grads[g.node] = mpmath.mpf(1)
        else:
            grads[g.node] = mpmath.fsum(
                grads[c.via] * change.get((g.node, c.via), local[(g.node, c.via)])
                for c in g.contributions)
        if g.node == stop:
            break
    return grads


def check(derivation, inputs: dict) -> CheckReport:
    """Prove every gradient of `derivation` at `inputs` (name -> number)."""
    graph = derivation.graph
    out = graph.output
    with mpmath.workdps(numeric.PRECISION):
        point = {k: numeric.to_mp(v) for k, v in inputs.items()}
        base = numeric.forward(graph, point)
        env = {graph.node(n).symbol: v for n, v in base.items()}
        h = mpmath.mpf(10) ** (-(numeric.PRECISION // 3))
        # A central difference at this precision resolves |f|·10^(−2/3·PRECISION); below that a
        # gradient is zero (an exact 0 would otherwise be "wrong" against 1e-36 of round-off).
        floor = max(1, abs(base[out])) * mpmath.mpf(10) ** (-(numeric.PRECISION * 3 // 5))
        analytic = accumulate(derivation.steps, local_values(derivation.steps, env))
        near_kink = set()
        for k in derivation.kinks:
            near_kink |= ancestors(graph, k)
        checks = []
        for g in derivation.steps:
            if g.node == out:
                continue
            node = graph.node(g.node)
            plus = numeric.forward(graph, point, overrides={g.node: base[g.node] + h})[out]
            minus = numeric.forward(graph, point, overrides={g.node: base[g.node] - h})[out]
            num = (plus - minus) / (2 * h)
            rel = relative_error(analytic[g.node], num, floor)
            v = "kink" if g.node in near_kink else verdict(rel)
            checks.append(Check(g.node, "input" if node.is_input else "intermediate",
                                float(analytic[g.node]), float(num), rel, v))
        return CheckReport(out, float(base[out]), tuple(checks))


def check_batched(derivation, inputs: dict, wanted, chunk=1024, h="1e-5") -> CheckReport:
    """Central differences for every wanted leaf, in numpy long double, many leaves per pass.

    Each pass perturbs `chunk` leaves: leaf i carries an array that is +h in column i and −h in
    column chunk + i, so one vectorised forward pass gives all their differences.
    """
    graph = derivation.graph
    out = graph.output
    ld = np.longdouble
    point = {k: ld(v.numerator) / ld(v.denominator) if isinstance(v, Fraction) else ld(v) for k, v in inputs.items()}
    base = numeric.forward(graph, point, numeric.NP)[out]
    step = ld(h)
    floor = max(1.0, abs(float(base))) * 1e-9  # below this a float difference is noise: zero
    near_kink = set()
    for k in derivation.kinks:
        near_kink |= ancestors(graph, k)
    checks = []
    wanted = list(wanted)
    for start in range(0, len(wanted), chunk):
        names = wanted[start:start + chunk]
        m = len(names)
        perturbed = dict(point)
        for i, name in enumerate(names):
            arr = np.full(2 * m, point[name], dtype=ld)
            arr[i] += step
            arr[m + i] -= step
            perturbed[name] = arr
        f = np.asarray(numeric.forward(graph, perturbed, numeric.NP)[out], dtype=ld)
        if f.ndim == 0:
            f = np.full(2 * m, f, dtype=ld)
        nums = (f[:m] - f[m:]) / (2 * step)
        for name, num in zip(names, nums):
            a = derivation.gradient(name).value
            rel = relative_error(a, float(num), floor)
            v = "kink" if name in near_kink else verdict(rel)
            checks.append(Check(name, "input", a, float(num), rel, v))
    return CheckReport(out, float(base), tuple(checks))


def prove(derivation, inputs: dict, wanted) -> CheckReport:
    """The mpmath proof (every node) for small graphs, the batched numpy one for big ones."""
    if len(derivation.graph.nodes) <= SMALL_GRAPH:
        return check(derivation, inputs)
    return check_batched(derivation, inputs, wanted)
