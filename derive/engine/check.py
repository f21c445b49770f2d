"""Numeric proof of a derivation: every gradient against an independent derivative of the forward pass.

Rule: confirm fast, escalate on doubt, condemn only what persists. A gradient is confirmed when
derive's value and an independent numeric derivative agree closely; otherwise both are recomputed
at a higher precision (50, 100, 200, ... decimal digits) until they agree, or until the mismatch
stays put while the precision doubles: only then is it reported (cs231n bands on the relative
error |a − n| / max(|a|, |n|): ≤ 1e-7 ok, > 1e-2 wrong, between suspect). So round-off, a
saturated unit or a tiny gradient never makes a correct derivation fail.

Small graphs (`check`): every node, central differences in mpmath with h = 10^(−P/3)·|x| (or 10^(−P/3) at 0),
the analytic side recomputed from the records (upstream × local, summed) at the same precision.
Big graphs (`prove`): every node with a gradient by the complex step Im f(x + ih)/h in float64,
vectorised over the nodes that feed the same consumers and re-evaluating only what they reach;
what it does not confirm (to 1e-9) goes through the multiprecision levels above. A node whose
gradient passes through a kink (relu/abs at 0, a max tie) is reported as a kink, not proven.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import numeric
from .graph import ancestors
from .precision import as_float, mp

SMALL_GRAPH = 200  # nodes; up to this every node is proven in multiprecision directly
GOOD = 1e-7  # relative error at or below this: the derivation is right
WRONG = 1e-2  # above this: certainly wrong (between the two: suspect, also a failure)
CONFIRM = 1e-12  # multiprecision: analytic and numeric agreeing this closely confirm a gradient
CONFIRM_FLOAT = 1e-9  # complex step in float64: agreement this close confirms, anything else escalates
LEVELS = (50, 100, 200, 400, 800, 1600)  # decimal digits of the multiprecision levels
ZERO_FLOAT = 1e-30  # complex step: both values below this × max(1, |f|) are zero at its resolution
CS_STEP = 1e-20
CS_CHUNK = 2048  # nodes perturbed per vectorised complex-step pass
CS_MEMORY = 256 * 2**20  # bytes of complex columns one pass may hold


@dataclass(frozen=True)
class Check:
    """One gradient's proof: derive's value, the numeric one, and how the numeric one was made.

    method: "central difference" or "complex step"; digits: decimal digits of that arithmetic
    (16 for float64); step: h; error: the estimated error of `numeric`.
    """
    wrt: str
    kind: str  # "input" or "intermediate"
    analytic: float
    numeric: float
    rel_error: float
    verdict: str  # "ok", "kink", "suspect", "wrong"
    method: str = "central difference"
    digits: int = numeric.PRECISION
    step: float = 0.0
    error: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict in ("ok", "kink")


@dataclass(frozen=True)
class CheckReport:
    """The checks of one derivation and `proof`: what was checked and how (plain data)."""
    output: str
    value: float
    checks: tuple[Check, ...]
    proof: dict = field(default_factory=dict)

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
            grads[g.node] = mp.mpf(1)
        else:
            grads[g.node] = mp.fsum(
                grads[c.via] * change.get((g.node, c.via), local[(g.node, c.via)])
                for c in g.contributions)
        if g.node == stop:
            break
    return grads


class _Pending:
    """A node not yet confirmed: its last level's numbers."""
    __slots__ = ("a", "digits", "error", "method", "n", "node", "step")

    def __init__(self, node, a, n, error, method, digits, step):
        self.node, self.a, self.n, self.error = node, a, n, error
        self.method, self.digits, self.step = method, digits, step


class Prover:
    """One derivation's proof: forward values, cones and record gradients at each precision."""

    def __init__(self, derivation, inputs: dict, progress=None):
        self.d = derivation
        self.graph = derivation.graph
        self.inputs = inputs
        self.progress = progress
        self.need = set(derivation.order)
        self.position = {n.name: i for i, n in enumerate(self.graph.nodes)}
        self.near_kink: set = set()
        for k in derivation.kinks:
            self.near_kink |= ancestors(self.graph, k)
        self._forward: dict = {}
        self._grads: dict = {}
        self._cones: dict = {}
        self.tally: dict = {}  # (method, digits) -> count of confirmed or judged checks
        self.sharper = 0  # digits at which a gradient agreed that did not agree at the derivation's own

    # ---------------------------------------------------------------- numbers at a precision
    def forward(self, digits: int) -> dict:
        if digits not in self._forward:
            if digits == self.d.digits and self.d.exact is not None:
                self._forward[digits] = self.d.exact
            else:
                self._forward[digits] = numeric.forward_values(self.graph, self.inputs, digits)
        return self._forward[digits]

    def analytic(self, digits: int, nodes) -> dict:
        """Gradients from the records (upstream × local, summed) at `digits`, for `nodes` and
        everything they need (their descendants with a gradient)."""
        grads = self._grads.setdefault(digits, {})
        want, stack = set(), [n for n in nodes if n not in grads]
        while stack:
            n = stack.pop()
            if n not in want and n not in grads:
                want.add(n)
                stack.extend(c for c in self.graph.consumers(n) if c in self.need)
        if not want:
            return grads
        env = numeric.NameEnv(self.forward(digits))
        with mp.workdps(digits):
            for name in self.d.order:
                if name not in want:
                    continue
                g = self.d.gradient(name)
                if not g.contributions:
                    grads[name] = mp.mpf(1)
                    continue
                grads[name] = mp.fsum(grads[c.via] * numeric.value_of(c.local.expr, env, numeric.MP)
                                          for c in g.contributions)
        return grads

    def cone(self, node: str) -> numeric.Cone:
        if node not in self._cones:
            self._cones[node] = numeric.Cone(self.graph, [node], self.need, self.position)
        return self._cones[node]

    def central(self, node: str, digits: int):
        """(numeric derivative, its rounding error, h, |f|) at `digits` by central differences."""
        base = self.forward(digits)
        cone = self.cone(node)
        with mp.workdps(digits):
            x = base[node]
            h = mp.mpf(10) ** (-(digits // 3)) * (abs(x) if x != 0 else 1)
            for _ in range(3):  # near the edge of a function's domain (log of 1e-20): a smaller step
                try:
                    plus = cone.value(base, {node: x + h})
                    minus = cone.value(base, {node: x - h})
                    break
                except numeric.DomainError:
                    h = h * mp.mpf(10) ** (-(digits // 3))
            else:
                raise numeric.DomainError(f"∂{self.graph.output}/∂{node} cannot be checked: the function is not "
                                          f"defined on both sides of {node} = {mp.nstr(x, 8)}")
            n = (plus - minus) / (2 * h)
            rounding = mp.mpf(10) ** (1 - digits) * max(abs(plus), abs(minus)) / h
            return n, rounding, h, abs(base[self.graph.output])

    # ---------------------------------------------------------------- the levels
    def check(self, node: str, a, n, method: str, digits: int, step, error, floor=0) -> Check:
        kind = "input" if self.graph.node(node).is_input else "intermediate"
        rel = relative_error(a, n, floor)
        v = "kink" if node in self.near_kink else verdict(rel)
        self.tally[(method, digits)] = self.tally.get((method, digits), 0) + 1
        return Check(node, kind, as_float(a), as_float(n), rel, v, method, digits, float(step), as_float(error))

    def multiprecision(self, pending: list[_Pending]) -> list[Check]:
        """Central differences at 50, 100, 200, ... digits until each node is settled."""
        done = []
        levels = [level for level in LEVELS if level >= self.d.digits] or [LEVELS[-1]]
        if self.progress is not None and pending:
            self.progress("re-proving", 0, len(pending))
        for digits in levels:
            if not pending:
                break
            grads = self.analytic(digits, [p.node for p in pending])
            still = []
            for i, p in enumerate(pending):
                a = grads[p.node]
                n, rounding, h, f = self.central(p.node, digits)
                resolution = rounding + mp.mpf(10) ** (-(3 * digits // 5)) * max(1, f)
                scale = max(abs(a), abs(n))
                moved = None if p.digits < levels[0] else max(abs(a - p.a), abs(n - p.n))
                error = rounding if moved is None else rounding + moved
                if p.node in self.near_kink or a == n or scale <= resolution:
                    done.append(self.check(p.node, a, n, "central difference", digits, h, error, resolution))
                    continue
                rel = abs(a - n) / scale
                settled = (rel <= CONFIRM or digits == levels[-1]
                           or (moved is not None and moved <= abs(a - n) / 1000 + resolution))
                if settled:
                    done.append(self.check(p.node, a, n, "central difference", digits, h, error))
                    if rel <= CONFIRM and digits > self.d.digits:
                        self.sharper = max(self.sharper, digits)
                else:
                    still.append(_Pending(p.node, a, n, error, "central difference", digits, h))
                if self.progress is not None and i % 200 == 0:
                    self.progress("re-proving", i, len(pending))
            pending = still
        return done

    def complex_step(self, nodes: list[str]) -> tuple[list[Check], list[_Pending]]:
        """Im f(x + ih)/h in float64 for every node: up to CS_CHUNK nodes share a pass, one column
        each (in graph order, so a unit's weights go together), and only what they reach is
        re-evaluated; a pass whose arrays would not fit in CS_MEMORY is split."""
        base = self.d.values  # floats, rounded from the exact values
        f_scale = max(1.0, abs(base[self.graph.output]))
        ordered = sorted(nodes, key=self.position.__getitem__)  # a unit's weights side by side
        done, pending, count = [], [], 0
        todo = [ordered[i:i + CS_CHUNK] for i in range(0, len(ordered), CS_CHUNK)]
        if self.progress is not None:
            self.progress("proving", 0, len(nodes))
        while todo:
            chunk = todo.pop(0)
            cone = numeric.Cone(self.graph, chunk, self.need, self.position)
            if len(chunk) > 1 and 16 * len(chunk) * (len(cone.nodes) + 1) > CS_MEMORY:
                half = len(chunk) // 2
                todo[:0] = [chunk[:half], chunk[half:]]
                continue
            with np.errstate(all="ignore"):
                f = np.broadcast_to(np.asarray(cone.bumps(base, 1j * CS_STEP), dtype=complex), (len(chunk),))
                derivs = f.imag / CS_STEP
            floor = ZERO_FLOAT * f_scale
            confirmed = 0
            for name, n in zip(chunk, derivs.tolist()):
                a = self.d.grad_floats[name]
                scale = max(abs(a), abs(n))
                rel = 0.0 if scale <= floor else abs(a - n) / scale
                if (rel <= CONFIRM_FLOAT and math.isfinite(n)) or name in self.near_kink:
                    kind = "input" if self.graph.node(name).is_input else "intermediate"
                    done.append(Check(name, kind, a, n, rel, "kink" if name in self.near_kink else verdict(rel),
                                      "complex step", 16, CS_STEP, abs(a - n)))
                    confirmed += 1
                else:
                    pending.append(_Pending(name, self.d.grads[name], n, 0.0, "complex step", 16, CS_STEP))
            self.tally[("complex step", 16)] = self.tally.get(("complex step", 16), 0) + confirmed
            count += len(chunk)
            if self.progress is not None:
                self.progress("proving", count, len(nodes))
        return done, pending

    def summary(self, checks) -> dict:
        """What was checked and how, as plain data for `--json` and the report.

        methods: one entry per (method, digits): "step" is h (multiplied by |x|, or 1 at x = 0,
        when "relative_step"); "count" how many gradients that method settled.
        """
        inputs = sum(1 for c in checks if c.kind == "input")
        methods = []
        for (method, digits), count in sorted(self.tally.items(), key=lambda kv: (kv[0][0] != "complex step",
                                                                                   kv[0][1])):
            cs = method == "complex step"
            methods.append({"method": method, "digits": digits, "precision": "float64" if cs else f"{digits} digits",
                            "step": CS_STEP if cs else float(mp.mpf(10) ** (-(digits // 3))),
                            "relative_step": not cs, "count": count})
        return {
            "checked": len(checks), "inputs": inputs, "intermediates": len(checks) - inputs,
            "digits": self.d.digits,
            "values": f"forward and reverse mode in {self.d.digits}-digit arithmetic",
            "methods": methods,
            "confirm": {"complex step": CONFIRM_FLOAT, "central difference": CONFIRM},
            "bands": {"ok": GOOD, "wrong": WRONG},
            "rule": "a gradient is confirmed when both values agree closely; otherwise both are recomputed "
                    "with twice the digits, and a mismatch is reported only once it stays put as the digits grow",
            "kinks": list(self.d.kinks),
            "needs_digits": self.sharper,
        }


def _report(prover: Prover, checks: list[Check]) -> CheckReport:
    order = {n: i for i, n in enumerate(prover.d.order)}
    checks.sort(key=lambda c: order[c.wrt])
    out = prover.graph.output
    value = prover.d.exact[out] if prover.d.exact else prover.forward(numeric.PRECISION)[out]
    return CheckReport(out, float(value), tuple(checks), prover.summary(checks))


def check(derivation, inputs: dict, progress=None) -> CheckReport:
    """Prove every gradient of `derivation` at `inputs` (name -> number) in multiprecision."""
    prover = Prover(derivation, inputs, progress)
    nodes = [n for n in derivation.order if n != derivation.graph.output]
    checks = prover.multiprecision([_Pending(n, None, None, 0, "", 0, 0) for n in nodes])
    return _report(prover, checks)


def prove(derivation, inputs: dict, progress=None) -> CheckReport:
    """`check` for small graphs; for big ones the vectorised complex step first, then
    multiprecision for whatever it did not confirm."""
    if len(derivation.graph.nodes) <= SMALL_GRAPH or derivation.grads is None:
        return check(derivation, inputs, progress)
    prover = Prover(derivation, inputs, progress)
    nodes = [n for n in derivation.order if n != derivation.graph.output]
    done, pending = prover.complex_step(nodes)
    done += prover.multiprecision(pending)
    return _report(prover, done)


def derive_and_prove(graph, inputs: dict, local=None, wanted=None, progress=None, timings=None):
    """Reverse mode at the working precision, then the proof; when a gradient only agreed once the
    proof raised the precision (its own digits were eaten by cancellation), derive again at that
    precision so that every number printed is right. Returns (derivation, report); `timings`
    (a dict) gets the seconds spent in "backward" and "check"."""
    from .reverse import local_derivative, reverse
    tick = None if progress is None else (lambda done, total: progress("deriving", done, total))
    timings = {} if timings is None else timings
    digits = numeric.PRECISION
    while True:
        t0 = time.perf_counter()
        values = numeric.forward_values(graph, inputs, digits)
        d = reverse(graph, values, local or local_derivative, wanted, digits=digits, progress=tick)
        t1 = time.perf_counter()
        report = prove(d, inputs, progress)
        timings["backward"] = timings.get("backward", 0.0) + t1 - t0
        timings["check"] = timings.get("check", 0.0) + time.perf_counter() - t1
        needs = report.proof.get("needs_digits", 0)
        if needs <= digits:
            return d, report
        digits = needs
