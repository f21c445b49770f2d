"""Multilayer perceptrons: `[network]` problem files validated into a NetworkProblem.

Layer sizes, activations and the loss are checked against the rule table (engine.ops), the
arrays against the layer sizes; without [values], seeded random values are drawn.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .. import limits
from ..engine.ops import ACTIVATIONS, DEFAULT_ACTIVATION, LOSSES
from ..errors import ProblemError
from .common import array, header, shape, text_key

NOTATIONS = ("mitchell", "nielsen")
DELTA_CONVENTIONS = {"dL/dnet": 1, "-dL/dnet": -1}  # [network] delta: what δ stands for
def memory_needed(sizes, batch: int) -> int:
    """Bytes needed to derive and prove a network of these layer sizes over `batch` samples
    (limits.network_memory: measured per weight, unit and sample)."""
    return limits.network_memory(sizes, batch)


def memory_available() -> int | None:
    """Bytes this process may still use: the smaller of MemAvailable and a cgroup limit (Linux)."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text.isdigit():
            found.append(int(text))
    except OSError:
        pass
    return min(found) if found else None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(sizes, batch: int, source: str, key: str) -> None:
    """Refuse a network that would not fit in memory, saying how large it is and why."""
    need, have = memory_needed(sizes, batch), memory_available()
    if have is not None and need > have:
        weights = sum(a * b for a, b in itertools.pairwise(sizes))
        raise ProblemError(source, key, f"a {'-'.join(map(str, sizes))} network over {batch} sample(s) has "
                           f"{weights:,} weights and needs about {_gib(need)} to derive and prove (about "
                           f"{limits.BYTES_PER_WEIGHT_SAMPLE // 1024} KiB per weight and "
                           f"{limits.BYTES_PER_UNIT_SAMPLE // 1024} KiB per unit, for each sample), but only "
                           f"{_gib(have)} of memory "
                           "is available; use fewer units or samples")


@dataclass(frozen=True)
class NetworkProblem:
    """A network ("network") or matrix-layer ("layers") problem, validated.

    title, source, description: as in ScalarProblem.
    kind: "network" (an MLP, per-unit graph) or "layers" (Affine / Softmax-with-Loss over a batch).
    notation: "mitchell" or "nielsen" (networks); "matrix" for layers.
    sizes: units per layer, input first (networks); () for layers.
    activations: one name per non-input layer (networks); () for layers.
    loss: one of LOSSES (networks); for layers "softmax_with_loss" or "upstream" (L = Σ dY ∘ Y).
    bias: whether the layers have biases.
    stack: for layers, the layer names in order, e.g. ("affine", "softmax_with_loss"); () for networks.
    arrays: array name -> nested tuples of Fractions, same shape as written in the file
        (networks: "x" and "t" as (rows, units) even for one sample, "W1", "b1", ...;
        layers: "X", "W", "B", "T", "A", "dY" as used by the stack).
    batch: number of sample rows.
    seeded: True when the values were drawn at random from `seed`.
    """
    title: str
    source: str
    kind: str
    notation: str
    sizes: tuple = ()
    activations: tuple = ()
    loss: str = "mse"
    bias: bool = True
    stack: tuple = ()
    arrays: dict = field(default_factory=dict, hash=False)
    batch: int = 1
    description: str = ""
    seed: int = 0
    seeded: bool = False
    delta_sign: int = 1  # δ = delta_sign · ∂L/∂net: +1 "dL/dnet" (Nielsen, seed 000), −1 "-dL/dnet" (Mitchell)
    lang: str = "en"  # the language the problem is written in (problems.common.languages)
    translations: dict = field(default_factory=dict, hash=False)  # lang -> {"title": ..., "description": ...}


def load_network(data: dict, source: str) -> NetworkProblem:
    """Validate a problem file's data (already parsed TOML) into a NetworkProblem."""
    title, description = header(data, source, "network")
    net = data["network"]
    if not isinstance(net, dict):
        raise ProblemError(source, "[network]", "expected a table with layers, activations, loss, notation")
    allowed = {"layers", "activations", "loss", "notation", "bias", "seed", "delta"}
    for key in net:
        if key not in allowed:
            raise ProblemError(source, f"[network] {key}", f"unknown key; expected one of {', '.join(sorted(allowed))}")
    sizes = net.get("layers")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        raise ProblemError(source, "[network] layers", "expected a list of at least two unit counts "
                           f"(positive integers), input layer first, e.g. [2, 2, 2]; got {sizes!r}")
    check_memory(sizes, 1, source, "[network] layers")
    depth = len(sizes) - 1
    acts = net.get("activations", DEFAULT_ACTIVATION)
    if isinstance(acts, str):
        acts = [acts] * depth
    if not isinstance(acts, list) or len(acts) != depth or not all(isinstance(a, str) for a in acts):
        raise ProblemError(source, "[network] activations", f"expected one name or a list of {depth} "
                           f"names (one per non-input layer); got {net.get('activations')!r}")
    for i, a in enumerate(acts):
        if a not in ACTIVATIONS:
            raise ProblemError(source, "[network] activations", f"unknown activation {a!r}; expected one "
                               f"of {', '.join(ACTIVATIONS)}")
        if ACTIVATIONS[a] is None and i != depth - 1:
            raise ProblemError(source, "[network] activations", f"{a} is only allowed on the output "
                               f"layer, not in hidden layer {i + 1}")
    loss = text_key(net, "loss", source, "mse")
    if loss not in LOSSES:
        raise ProblemError(source, "[network] loss", f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    out_act = acts[-1]
    if out_act not in LOSSES[loss].outputs:
        accepting = [name for name, rule in LOSSES.items() if out_act in rule.outputs]
        if ACTIVATIONS[out_act] is None:  # softmax: the loss is what has to change
            raise ProblemError(source, "[network] loss", f"a {out_act} output needs loss "
                               f"{' or '.join(accepting)}, got {loss!r}")
        raise ProblemError(source, "[network] activations", f"{loss} ({LOSSES[loss].description}) needs "
                           f"the output activation to be {' or '.join(LOSSES[loss].outputs)}, got {out_act!r}")
    # Mitchell names one hidden layer (x_i, h_j, o_k); deeper networks need Nielsen's layer indices
    notation = text_key(net, "notation", source, "mitchell" if depth <= 2 else "nielsen")
    if notation not in NOTATIONS:
        raise ProblemError(source, "[network] notation", f"unknown notation {notation!r}; expected one of "
                           f"{', '.join(NOTATIONS)}")
    if notation == "mitchell" and depth > 2:
        raise ProblemError(source, "[network] notation", "mitchell names one hidden layer (x_i, h_j, o_k); "
                           f'this network has {depth - 1}: use notation = "nielsen"')
    bias = net.get("bias", True)
    if not isinstance(bias, bool):
        raise ProblemError(source, "[network] bias", f"expected true or false, got {bias!r}")
    delta = text_key(net, "delta", source, "dL/dnet")
    if delta not in DELTA_CONVENTIONS:
        raise ProblemError(source, "[network] delta", f"expected one of {', '.join(DELTA_CONVENTIONS)} "
                           f"(δ = ∂L/∂net, or Mitchell's δ = −∂E/∂net); got {delta!r}")
    seed = net.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ProblemError(source, "[network] seed", f"expected a non-negative integer, got {seed!r}")

    names = [f"{p}{l}" for l in range(1, depth + 1) for p in (("W", "b") if bias else ("W",))]
    shapes = {f"W{l}": (sizes[l], sizes[l - 1]) for l in range(1, depth + 1)}
    shapes.update({f"b{l}": (sizes[l],) for l in range(1, depth + 1)})
    raw = data.get("values")
    if raw is None:
        arrays = _random_values(sizes, names, shapes, loss, out_act, seed)
        seeded = True
    else:
        if not isinstance(raw, dict):
            raise ProblemError(source, "[values]", "expected a table of arrays x, t, W1, b1, ...")
        expected = ["x", "t"] + names
        rows = raw.get("x")
        if isinstance(rows, list) and rows and isinstance(rows[0], list):  # a batch: memory per sample
            check_memory(sizes, len(rows), source, "[values] x")
        for key in raw:
            if key not in expected:
                hint = " (bias = false)" if key.startswith("b") and not bias else ""
                raise ProblemError(source, f"[values] {key}", f"unknown array{hint}; expected {', '.join(expected)}")
        arrays = {}
        for key in expected:
            if key not in raw:
                raise ProblemError(source, f"[values] {key}", "missing: expected " + _describe(key, shapes, sizes))
            arrays[key] = array(raw[key], source, f"[values] {key}")
        arrays["x"] = _rows(arrays["x"], sizes[0], source, "[values] x", "input")
        arrays["t"] = _rows(arrays["t"], sizes[-1], source, "[values] t", "output")
        if len(arrays["x"]) != len(arrays["t"]):
            raise ProblemError(source, "[values] t", f"expected as many rows as x ({len(arrays['x'])}), "
                               f"got {len(arrays['t'])}")
        for key in names:
            if shape(arrays[key]) != shapes[key]:
                raise ProblemError(source, f"[values] {key}", "expected " + _describe(key, shapes, sizes)
                                   + f"; got shape {shape(arrays[key])}")
        seeded = False
    _check_targets(arrays["t"], loss, out_act, source)
    return NetworkProblem(title, source, "network", notation, tuple(sizes), tuple(acts), loss, bias,
                          (), arrays, len(arrays["x"]), description, seed, seeded, DELTA_CONVENTIONS[delta])


def _describe(key, shapes, sizes) -> str:
    if key == "x":
        return f"a list of {sizes[0]} inputs, or a list of such rows (a batch)"
    if key == "t":
        return f"a list of {sizes[-1]} targets, or a list of such rows (a batch)"
    shape = shapes[key]
    if len(shape) == 2:
        return f"a {shape[0]}×{shape[1]} list of rows (row j: the weights into unit j of layer {key[1:]})"
    return f"a list of {shape[0]} biases"


def _rows(a, width, source, key, what):
    got = shape(a)
    if got == (width,):
        return (a,)
    if len(got) == 2 and got[1] == width:
        return a
    raise ProblemError(source, key, f"expected {width} {what} values per row (the {what} layer has "
                       f"{width} units), as one list or a list of rows; got shape {got}")


def _check_targets(t, loss, out_act, source):
    if LOSSES[loss].unit_targets:
        for row in t:
            if any(v < 0 or v > 1 for v in row):
                raise ProblemError(source, "[values] t", f"{loss} expects targets between 0 and 1")
    if ACTIVATIONS[out_act] is None:  # softmax
        for row in t:
            if sum(row) != 1:
                raise ProblemError(source, "[values] t", "a softmax output expects each target row to be a "
                                   f"probability distribution summing to 1 (one-hot); a row sums to {float(sum(row))}")


def _random_values(sizes, names, shapes, loss, out_act, seed) -> dict:
    """Seeded small numbers with two decimals (they print well and are exact as Fractions)."""
    rng = np.random.default_rng(seed)

    def draw(shape, low=-1.0, high=1.0):
        cents = np.rint(rng.uniform(low, high, size=shape) * 100).astype(np.int64)  # what np.round(·, 2) rounds to
        exact = {c: Fraction(c, 100) for c in np.unique(cents).tolist()}  # at most 201 values: made once each
        return _nested(cents.tolist(), exact)

    arrays = {"x": draw((1, sizes[0]))}
    if ACTIVATIONS[out_act] is None:  # softmax: one-hot targets
        hot = np.zeros((1, sizes[-1]), dtype=int)
        hot[0, rng.integers(sizes[-1])] = 1
        arrays["t"] = _to_fractions(hot)
    else:
        arrays["t"] = draw((1, sizes[-1]), 0.0, 1.0)
    for name in names:
        arrays[name] = draw(shapes[name])
    return arrays


def _nested(a, exact: dict):
    """A nested list of ints as the same nesting of tuples of their Fractions in `exact`."""
    return tuple(_nested(v, exact) for v in a) if isinstance(a, list) else exact[a]


def _to_fractions(a):
    if np.ndim(a) == 0:
        return Fraction(repr(float(a))) if isinstance(a, float | np.floating) else Fraction(int(a))
    return tuple(_to_fractions(v) for v in a)


