"""A layer stack solved: forward through every layer, backward by each layer's rule (numpy
float64), every gradient element proven, each rule derived from its per-element graph.

Data flows one way: StackProblem -> passes (one record per layer: its input, output and
gradients as arrays) -> loss and gradients -> proof and rules (networks.stack_rules) ->
StackResult, plain data for `check --json` and the report.

The proof: every gradient element against an independent derivative of the whole stack's forward
pass, the complex step Im L(θ + ih·e)/h in float64 (h = 1e-20: no cancellation, every layer is
analytic away from its kinks); what it does not confirm to 1e-9 is recomputed in 50-digit
arithmetic (the rules applied to mpmath numbers against a central difference of the 50-digit
forward) before anything is called wrong. Bands as the engine's (engine.check): ≤ 1e-7 ok,
> 1e-2 wrong. A gradient that vanishes (a bias feeding BatchNorm) is proven when both sides are
zero at the arithmetic's resolution; with a kink in the stack a persisting mismatch is a kink.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..engine.check import CONFIRM_FLOAT, CS_STEP, GOOD, WRONG, Check, CheckReport
from ..engine.ops import LAYERS
from ..engine.precision import mp as mpmath
from .stack_rules import layer_rules
from .stackops import CS, LOSS_ROWS, MP, NP, kernel, probe, ties


@dataclass(frozen=True)
class Pass:
    """One layer of the solved stack: where it sits, what went in and out, what came back."""
    position: int
    name: str
    label: str
    options: dict
    arrays: dict  # role -> array name ({"W": "W1"})
    x: np.ndarray  # its input
    y: np.ndarray  # its output
    dy: np.ndarray  # ∂L/∂Y
    dx: np.ndarray  # ∂L/∂X
    grads: dict  # array name -> ∂L/∂array


@dataclass(frozen=True)
class StackResult:
    """Solution.extra of a layer stack.

    loss: L (with weight decay); data_loss: without it; gradients: array name -> ∂L/∂array;
    passes: one Pass per layer (the loss layer last, its dx = ∂L/∂scores); rules: one LayerRule per
    layer kind and gradient (derived, checked); kinks: where a gradient is not defined (relu at 0, a
    max-pool tie); proof: what the numeric check did; timings: seconds per stage.
    """
    loss: float
    data_loss: float
    gradients: dict
    passes: tuple
    vector_rules: tuple
    kinks: tuple
    notation: str = "stack"
    loss_name: str = "L"
    rules: tuple = ()  # (a stack has no index-form rules nor per-element chains: its layers' rules say it)
    chains: tuple = ()
    timings: dict = field(default_factory=dict)


def forward(p, values: dict, lib=NP):
    """(loss, [(layer, x, y, cache)], loss cache) of stack problem `p` at `values` (array name -> array)."""
    x = values[p.input_name]
    out = []
    for layer in p.layers:
        params = {role: values[name] for role, name in layer.arrays.items()}
        y, cache = kernel(layer.name)[0](x, params, layer.options, lib)
        out.append((layer, x, y, cache))
        x = y
    mean = p.reduction == "mean"
    loss, cache = kernel(p.loss)[0](x, values[p.target_name], {}, lib, mean)
    if p.weight_decay:
        loss = loss + lib.const(p.weight_decay) / 2 * sum((values[w] * values[w]).sum() for w in _weights(p))
    return loss, out, (x, cache)


def _weights(p) -> list[str]:
    """The weight arrays weight decay reads: every affine and conv W (never b, γ or β)."""
    return [layer.arrays["W"] for layer in p.layers if "W" in layer.arrays]


def backward(p, values: dict, lib=NP):
    """(loss, gradients {array name: ∂L/∂array}, passes) by each layer's backward rule."""
    loss, out, (scores, cache) = forward(p, values, lib)
    t = values[p.target_name]
    dy = kernel(p.loss)[1](t, cache, {}, lib, p.reduction == "mean")
    grads, passes = {}, []
    passes.append(Pass(len(p.layers) + 1, p.loss, LAYERS[p.loss].label if p.loss in LAYERS else "", {},
                       {}, scores, np.asarray(loss), np.ones(()), dy, {}))
    for layer, x, y, c in reversed(out):
        params = {role: values[name] for role, name in layer.arrays.items()}
        dx, local = kernel(layer.name)[1](dy, c, params, layer.options, lib)
        named = {layer.arrays[role]: g for role, g in local.items()}
        grads.update(named)
        passes.append(Pass(layer.position, layer.name, LAYERS[layer.name].label, layer.options, layer.arrays,
                           x, y, dy, dx, named))
        dy = dx
    grads[p.input_name] = dy
    for w in _weights(p):
        grads[w] = grads[w] + lib.const(p.weight_decay) * values[w]
    order = [p.input_name] + [n for layer in p.layers for n in layer.arrays.values()]
    return loss, {n: grads[n] for n in order if n in grads}, tuple(reversed(passes))


def kinks(p, passes) -> tuple:
    """Where the stack is not differentiable at its values: relu / leaky relu inputs at exactly 0,
    max-pool windows whose maximum is shared."""
    found = []
    for ps in passes:
        if ps.name in ("relu", "leaky_relu"):
            found += [(ps.position, ps.name, tuple(int(i) + 1 for i in idx)) for idx in zip(*np.nonzero(ps.x == 0))]
        elif ps.name == "max_pool":
            found += [(ps.position, ps.name, tuple(i + 1 for i in t)) for t in ties(ps.x, ps.options)]
    return tuple(found)


def solve(p, progress=None):
    """StackProblem -> (StackResult, CheckReport)."""
    timings = {}
    t0 = time.perf_counter()
    loss, grads, passes = backward(p, p.arrays)
    data_loss = kernel(p.loss)[0](passes[-1].x, p.arrays[p.target_name], {}, NP, p.reduction == "mean")[0]
    timings["backward"] = time.perf_counter() - t0
    found = kinks(p, passes)
    t0 = time.perf_counter()
    report = prove(p, float(loss), grads, bool(found), progress, passes)
    timings["check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rules = layer_rules(p, passes)
    timings["rules"] = time.perf_counter() - t0
    result = StackResult(float(loss), float(data_loss), grads, passes, rules, found, timings=timings)
    return result, report


# ---------------------------------------------------------------- the proof

DIGITS = 50


def _name(array: str, idx: tuple) -> str:
    return f"{array}[{','.join(str(i + 1) for i in idx)}]"


def _rel(a, n) -> float:
    top = max(abs(a), abs(n))
    return 0.0 if top == 0 else float(abs(a - n) / top)


CHUNK_BYTES = 32 * 2**20  # complex probe outputs one vectorised pass may hold


def _downstream(p, start: int, y, rows, groups):
    """Each probe's loss from layer `start`'s outputs on: `y` the moved samples of every probe
    stacked along the batch axis (`rows`: which sample each is; `groups`: samples per probe). Every
    layer but BatchNorm treats samples one by one, and a sample nothing moved adds nothing to the
    imaginary part, so only the moved samples go through the later layers."""
    for layer in p.layers[start + 1:]:
        shapes = dict(LAYERS[layer.name].own)
        params = {role: p.arrays[name][rows] if shapes[role] == ("in",) else p.arrays[name]
                  for role, name in layer.arrays.items()}
        y = kernel(layer.name)[0](y, params, layer.options, CS)[0]
    t = p.arrays[p.target_name]
    per_row = LOSS_ROWS[p.loss](y.reshape(y.shape[0], -1), t.reshape(t.shape[0], -1)[rows], CS)[0]
    probe_of = np.repeat(np.arange(len(groups)), groups)  # a probe that moved nothing has no rows: 0
    per = (np.bincount(probe_of, np.real(per_row), len(groups))
           + 1j * np.bincount(probe_of, np.imag(per_row), len(groups)))
    return per / p.batch if p.reduction == "mean" else per


def _numeric(p, passes, name: str, g) -> np.ndarray:
    """Im L(θ + ih·e)/h for every element e of array `name`: the whole stack's loss (weight decay
    included) with that element moved; the layers before the one reading `name` are not
    re-evaluated (nothing reaches them), and probes go through the later layers together."""
    owner = next((k for k, layer in enumerate(p.layers) if name in layer.arrays.values()), 0 if p.layers else -1)
    base = p.arrays[name]
    if owner < 0:  # the stack is its loss layer
        layer = ps = None
        role, params, decay = "X", {}, 0.0
    else:
        layer, ps = p.layers[owner], passes[owner]
        role = next((r for r, n in layer.arrays.items() if n == name), "X")
        params = {r: p.arrays[n] for r, n in layer.arrays.items()}
        decay = p.weight_decay if role == "W" else 0.0
    mixing = any(x.name == "batchnorm" for x in p.layers[owner + 1:])
    d = 1j * CS_STEP

    def out(idx):
        if layer is None:
            moved = base[idx[0]].astype(complex)
            moved[idx[1:]] += d
            return np.array([idx[0]]), moved[None]
        rows, y = probe(layer.name, ps.x, ps.y, params, layer.options, role, idx, d)
        if mixing:  # a BatchNorm later mixes the samples: every sample goes on
            full = ps.y.astype(complex)
            full[rows] = y
            return np.arange(full.shape[0]), full
        return rows, y

    idxs = list(np.ndindex(g.shape))
    num = np.empty(len(idxs))
    start = 0
    while start < len(idxs):
        parts, used = [], 0
        while start + len(parts) < len(idxs) and used < CHUNK_BYTES:
            parts.append(out(idxs[start + len(parts)]))
            used += 16 * parts[-1][1].size
        rows = np.concatenate([r for r, _ in parts])
        ys = np.concatenate([y for _, y in parts])
        losses = (_downstream(p, owner, ys, rows, [len(r) for r, _ in parts]) if len(rows)
                  else np.zeros(len(parts), dtype=complex))
        moved = idxs[start:start + len(parts)]
        losses = losses + decay * np.array([base[idx] for idx in moved]) * d
        num[start:start + len(parts)] = np.imag(losses) / CS_STEP
        start += len(parts)
    return num.reshape(g.shape)


def prove(p, loss: float, grads: dict, kinked: bool, progress=None, passes=()) -> CheckReport:
    """One Check per element of every gradient array (X first, then the parameters in stack order)."""
    if not passes:
        passes = backward(p, p.arrays)[2]
    scale = max(1.0, abs(loss), *(float(np.abs(g).max()) for g in grads.values()))
    total = sum(g.size for g in grads.values())
    checks, done, escalated = [], 0, []
    if progress is not None:
        progress("check", 0, total)
    for name, g in grads.items():
        numeric = _numeric(p, passes, name, g)
        for idx in np.ndindex(g.shape):
            num = float(numeric[idx])
            a = float(g[idx])
            rel = _rel(a, num)
            kind = "input" if name in p.arrays else "intermediate"
            if max(abs(a), abs(num)) <= 1e-13 * scale:  # both zero at float64's resolution: error on that scale
                rel = abs(a - num) / scale
            if rel <= CONFIRM_FLOAT:
                checks.append(Check(_name(name, idx), kind, a, num, rel, "ok", "complex step", 16, CS_STEP))
            else:
                escalated.append(len(checks))
                checks.append((name, idx, a, num))
            done += 1
            if progress is not None and done % 256 == 0:
                progress("check", done, total)
    if escalated:
        _escalate(p, checks, escalated, kinked, scale, passes)
    if progress is not None:
        progress("check", total, total)
    n_cs = sum(1 for c in checks if c.method == "complex step")
    methods = [{"method": "complex step", "digits": 16, "precision": "float64", "step": CS_STEP,
                "relative_step": False, "count": n_cs}]
    if escalated:
        methods.append({"method": "central difference", "digits": DIGITS, "precision": f"{DIGITS} digits",
                        "step": 1e-15, "relative_step": False, "count": len(escalated)})
    inputs = sum(1 for c in checks if c.kind == "input")
    proof = {"checked": len(checks), "inputs": inputs, "intermediates": len(checks) - inputs, "digits": 16,
             "values": "each layer's backward rule applied in float64 (numpy) through the whole stack",
             "methods": methods, "confirm": {"complex step": CONFIRM_FLOAT}, "bands": {"ok": GOOD, "wrong": WRONG},
             "rule": "every gradient element against the complex step of the whole stack's forward pass; what "
                     "float64 does not confirm is recomputed in 50 digits", "kinks": [], "needs_digits": []}
    return CheckReport("L", loss, tuple(checks), proof)


def _verdict(rel, small, kinked) -> str:
    if rel <= GOOD or small:
        return "ok"
    return "kink" if kinked else ("suspect" if rel <= WRONG else "wrong")


def _escalate(p, checks: list, at: list, kinked: bool, scale: float, passes=()) -> None:
    """Recompute the doubtful elements in 50 digits: the rules on mpmath numbers against a central
    difference of the 50-digit forward pass."""
    with mpmath.workdps(DIGITS):
        mvals = {k: np.frompyfunc(mpmath.mpf, 1, 1)(v).astype(object) for k, v in p.arrays.items()}
        _, mgrads, _ = backward(p, mvals, MP)
        h = mpmath.mpf(10) ** -15
        floor = mpmath.mpf(10) ** -30 * scale
        for i in at:
            name, idx, a, num = checks[i]
            if name not in mvals:  # an intermediate ∂L/∂X of a layer checked on its own: float64 bands
                rel = _rel(a, num)
                checks[i] = Check(_name(name, idx), "intermediate", a, num, rel,
                                  _verdict(rel, max(abs(a), abs(num)) <= 1e-13 * scale, kinked), "complex step",
                                  16, CS_STEP)
                continue
            arr = mvals[name]
            x0 = arr[idx]
            arr[idx] = x0 + h
            up = forward(p, mvals, MP)[0]
            arr[idx] = x0 - h
            down = forward(p, mvals, MP)[0]
            arr[idx] = x0
            exact_a, exact_n = mgrads[name][idx], (up - down) / (2 * h)
            rel = _rel(exact_a, exact_n)
            verdict = _verdict(rel, max(abs(exact_a), abs(exact_n)) <= floor, kinked)
            checks[i] = Check(_name(name, idx), "input", a, float(exact_n), rel, verdict, "central difference",
                              DIGITS, 1e-15)
