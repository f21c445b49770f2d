"""Layer stacks: `[layers]` problem files naming any composition of the layer records
(engine.ops.LAYERS), validated into a StackProblem.

    [layers]
    stack = ["affine", "relu", {type = "dropout", p = 0.5}, "affine", "softmax_with_loss"]
    reduction = "mean"       # "sum" (default) or "mean" over the batch
    weight_decay = 0.0       # loss += weight_decay/2 · Σ_k ‖W_k‖² (weights only, never divided by N)
    [values]
    X = ...                  # (N, D), or (N, C, H, W) for convolution stacks
    W1 = ...                 # the k-th affine or conv layer, counted from 1: W{k}, b{k}
    gamma1 = ...             # a batchnorm layer after the k-th affine/conv layer: gamma{k}, beta{k}
    mask1 = ...              # a dropout layer after the k-th affine/conv layer: its 0/1 mask
    T = ...                  # targets (N, C) of the loss layer that ends the stack
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..engine.ops import LAYERS
from ..errors import ProblemError
from .common import array, shape
from .network import memory_available

POOLS = ("max_pool", "avg_pool")
# Memory to derive and prove a stack (measured by `make bench`: the 784-50-10 net over 4 samples,
# 42,896 gradient elements, peaks near 0.21 GiB): a base for the interpreter and libraries, then
# per gradient element (its check record and JSON) and per value of every layer's output.
STACK_BASE_BYTES = 100 * 2**20
BYTES_PER_GRADIENT = 4 * 2**10
BYTES_PER_ACTIVATION = 64


def stack_memory(gradients: int, activations: int) -> int:
    """Bytes needed to derive and prove a stack with this many gradient elements and layer outputs."""
    return STACK_BASE_BYTES + BYTES_PER_GRADIENT * gradients + BYTES_PER_ACTIVATION * activations


def check_stack_memory(gradients: int, activations: int, source: str) -> None:
    """Refuse a stack that would not fit in memory, saying how large it is."""
    need, have = stack_memory(gradients, activations), memory_available()
    if have is not None and need > have:
        raise ProblemError(source, "[values]", f"the stack has {gradients:,} gradient elements and needs about "
                           f"{need / 2**30:.1f} GiB to derive and prove (about {BYTES_PER_GRADIENT // 1024} KiB per "
                           f"element), but only {have / 2**30:.1f} GiB of memory is available; use smaller arrays")


@dataclass(frozen=True)
class StackLayer:
    """One layer of a stack: its record's name, its options and the value names of its parameters
    (role -> array name: {"W": "W1", "b": "b1"})."""
    name: str
    options: dict = field(hash=False)
    arrays: dict = field(hash=False)
    position: int = 1


@dataclass(frozen=True)
class StackProblem:
    """A `[layers]` stack, validated: its layers, the loss, and every array as float64 numpy."""
    title: str
    source: str
    layers: tuple
    loss: str  # a loss layer's name, or "upstream" (L = Σ dY ⊙ Y)
    reduction: str = "sum"
    weight_decay: float = 0.0
    arrays: dict = field(default_factory=dict, hash=False)
    batch: int = 1
    input_name: str = "X"
    target_name: str = "T"
    description: str = ""
    kind: str = "layers"
    notation: str = "stack"
    stack: tuple = ()
    sizes: tuple = ()
    activations: tuple = ()
    bias: bool = True
    seed: int = 0
    seeded: bool = False
    delta_sign: int = 1
    lang: str = "en"
    translations: dict = field(default_factory=dict, hash=False)


def _dims(s) -> str:
    return "×".join(str(v) for v in s)


def _entry(entry, pos: int, source: str) -> tuple[str, dict]:
    """A stack entry (a name or {type = NAME, option = value}) -> (name, options with defaults)."""
    key = f"[layers] stack[{pos}]"
    if isinstance(entry, dict):
        name = entry.get("type")
        given = {k: v for k, v in entry.items() if k != "type"}
    else:
        name, given = entry, {}
    if not isinstance(name, str) or name not in LAYERS:
        raise ProblemError(source, key, f"unknown layer {name!r}; expected one of {', '.join(LAYERS)}")
    defaults = dict(LAYERS[name].options)
    for opt, value in given.items():
        if opt not in defaults:
            known = ", ".join(defaults) or "none"
            raise ProblemError(source, f"{key} {opt}", f"unknown option of {name}; its options: {known}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ProblemError(source, f"{key} {opt}", f"expected a number, got {value!r}")
    opts = {**defaults, **given}
    for opt in ("stride", "pad", "size"):
        if opt in opts and (opts[opt] != int(opts[opt]) or opts[opt] < (0 if opt == "pad" else 1)):
            low = "0" if opt == "pad" else "1"
            raise ProblemError(source, f"{key} {opt}", f"expected a whole number ≥ {low}, got {opts[opt]!r}")
        if opt in opts:
            opts[opt] = int(opts[opt])
    if "eps" in opts and not opts["eps"] > 0:
        raise ProblemError(source, f"{key} eps", f"expected a number > 0, got {opts['eps']!r}")
    if "p" in opts and not 0 < opts["p"] <= 1:
        raise ProblemError(source, f"{key} p", f"expected a keep probability in (0, 1], got {opts['p']!r}")
    return name, opts


def load_stack(spec: dict, raw, title: str, description: str, source: str) -> StackProblem:
    for key in spec:
        if key not in ("stack", "reduction", "weight_decay"):
            raise ProblemError(source, f"[layers] {key}", "unknown key; expected stack, reduction or weight_decay")
    stack = spec.get("stack")
    if not isinstance(stack, list) or not stack:
        raise ProblemError(source, "[layers] stack", 'expected a list of layers such as ["affine", "relu", '
                           '"affine", "softmax_with_loss"]')
    reduction = spec.get("reduction", "sum")
    if reduction not in ("sum", "mean"):
        raise ProblemError(source, "[layers] reduction", f'expected "sum" or "mean", got {reduction!r}')
    decay = spec.get("weight_decay", 0.0)
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not math.isfinite(decay) or decay < 0:
        raise ProblemError(source, "[layers] weight_decay", f"expected a number ≥ 0, got {decay!r}")
    entries = [_entry(e, i, source) for i, e in enumerate(stack, 1)]
    for i, (name, _) in enumerate(entries[:-1], 1):
        if LAYERS[name].loss:
            raise ProblemError(source, f"[layers] stack[{i}]", f"{name} is a loss layer: it must come last")
    if not LAYERS[entries[-1][0]].loss:
        losses = ", ".join(name for name, rec in LAYERS.items() if rec.loss)
        raise ProblemError(source, "[layers] stack", f"the last layer must be a loss layer: expected one of {losses}; "
                           f"got {entries[-1][0]!r}")
    loss, body = entries[-1][0], entries[:-1]
    if not isinstance(raw, dict):
        raise ProblemError(source, "[values]", "expected a table with X, the parameters and T")
    values = {}

    def get(name: str):
        if name not in raw:
            raise ProblemError(source, f"[values] {name}", "missing")
        a = array(raw[name], source, f"[values] {name}")
        if shape(a) == ("ragged",) or "ragged" in shape(a):
            raise ProblemError(source, f"[values] {name}", "rows of different lengths")
        values[name] = np.array([[float(v) for v in _flat(a)]], dtype=float).reshape(shape(a))
        return values[name]

    x = get("X")
    if x.ndim not in (2, 4):
        raise ProblemError(source, "[values] X", f"expected an N × D list of rows or an N × C × H × W array; "
                           f"got shape {_dims(x.shape)}")
    cur, k, layers, seen, outputs, costs = x.shape, 0, [], set(), 0, []
    for pos, (name, opts) in enumerate(body, 1):
        rec = LAYERS[name]
        k += rec.counted
        names = {role: f"{role}{k}" for role, _ in rec.own}
        for arr_name in names.values():
            if arr_name in seen:
                raise ProblemError(source, f"[layers] stack[{pos}]", f"a second {name} layer after affine/conv "
                                   f"layer {k} would also read {arr_name}; one per counted layer")
            seen.add(arr_name)
        before = cur
        cur = _check_layer(name, opts, names, cur, get, pos, source)
        outputs += math.prod(cur)
        costs.append((name, names, before, _cost(name, before, cur, values.get(names.get("W", "")))))
        layers.append(StackLayer(name, opts, names, pos))
    n = x.shape[0]
    target = "T"
    want = (n, math.prod(cur[1:]))
    t = get(target)
    if t.shape != want:
        raise ProblemError(source, f"[values] {target}", f"{target} is {_dims(t.shape)} but the stack's output "
                           f"is {_dims(want)}")
    if loss == "softmax_with_loss":
        sums = t.sum(axis=1)
        if (t < 0).any() or not np.allclose(sums, 1.0, rtol=0, atol=1e-9):
            row = int(np.flatnonzero((np.abs(sums - 1) > 1e-9) | (t < 0).any(axis=1))[0]) + 1
            raise ProblemError(source, "[values] T", f"row {row} is not a probability distribution (entries ≥ 0 "
                               "summing to 1: one-hot labels or soft targets)")
    extra = sorted(set(raw) - set(values))
    if extra:
        raise ProblemError(source, f"[values] {extra[0]}", f"unknown array; this stack reads "
                           f"{', '.join(values)}")
    check_stack_memory(sum(v.size for k, v in values.items() if k != "T" and not k.startswith("mask")), outputs,
                       source)
    check_proof_work(costs, x.shape[0], math.prod(cur), values, source)
    return StackProblem(title, source, tuple(layers), loss, reduction, float(decay), values, n,
                        description=description, stack=tuple(name for name, _ in entries))


MAX_PROOF_WORK = 5e9  # operations of the proof (each element's complex step): a minute or two at most


def _cost(name, before, after, W) -> int:
    """Operations of one layer's forward pass from its input and output shapes."""
    if name == "affine":
        return math.prod(before) * after[1]
    if name == "conv":
        return math.prod(after) * math.prod(W.shape[1:])
    if name in POOLS:
        return math.prod(before)
    return math.prod(after)


def check_proof_work(costs, n: int, out: int, values: dict, source: str) -> None:
    """Refuse a stack whose proof (every element's complex step through the layers it reaches) would
    not end in minutes: an affine layer re-evaluates one column or one sample per element, any other
    layer its whole forward pass; the later layers see one sample for an element of X unless a
    BatchNorm mixes the samples."""
    work = 0
    for k, (name, names, before, cost) in enumerate(costs):
        later = sum(c for *_, c in costs[k + 1:]) + n * out
        mixing = any(c[0] == "batchnorm" for c in costs[k:])
        for role, arr in [("X", before)] + [(r, values[a].shape) for r, a in names.items() if r != "mask"]:
            if role == "X" and k:
                continue  # an intermediate: not a gradient the proof checks
            probe = (n if role != "X" else cost // max(1, n)) if name == "affine" else cost
            share = 1 if role != "X" or mixing else 1 / n
            work += math.prod(arr) * (probe + later * share)
    if work > MAX_PROOF_WORK:
        raise ProblemError(source, "[values]", f"proving every gradient element would take about {work:.1e} "
                           f"operations (the limit is {MAX_PROOF_WORK:.0e}, a minute or two); use smaller arrays")


def _flat(a):
    if isinstance(a, tuple):
        for v in a:
            yield from _flat(v)
    else:
        yield a


def _check_layer(name, opts, names, cur, get, pos, source) -> tuple:
    """Read and check the layer's arrays against the input shape `cur`; the output shape."""
    where = f"[layers] stack[{pos}]"
    if name == "affine":
        d = math.prod(cur[1:])
        W = get(names["W"])
        if W.ndim != 2 or W.shape[0] != d:
            m = W.shape[1] if W.ndim == 2 else "M"
            raise ProblemError(source, f"[values] {names['W']}", f"{names['W']} is {_dims(W.shape)} but layer {pos} "
                               f"(affine) expects {d}×{m}")
        _vector(get(names["b"]), W.shape[1], names["b"], pos, name, source)
        return (cur[0], W.shape[1])
    if name == "conv":
        if len(cur) != 4:
            raise ProblemError(source, where, f"conv needs an N × C × H × W input; it gets {_dims(cur)}")
        W = get(names["W"])
        if W.ndim != 4 or W.shape[1] != cur[1]:
            raise ProblemError(source, f"[values] {names['W']}", f"{names['W']} is {_dims(W.shape)} but layer {pos} "
                               f"(conv) expects F×{cur[1]}×HH×WW")
        _vector(get(names["b"]), W.shape[0], names["b"], pos, name, source)
        out = [_conv_size(cur[a], W.shape[a], opts, pos, source) for a in (2, 3)]
        return (cur[0], W.shape[0], *out)
    if name in POOLS:
        if len(cur) != 4:
            raise ProblemError(source, where, f"{name} needs an N × C × H × W input; it gets {_dims(cur)}")
        size, stride = opts["size"], opts["stride"]
        for a in (2, 3):
            if cur[a] < size or (cur[a] - size) % stride:
                raise ProblemError(source, where, f"{size}×{size} windows with stride {stride} do not tile the "
                                   f"{cur[2]}×{cur[3]} input")
        return (*cur[:2], (cur[2] - size) // stride + 1, (cur[3] - size) // stride + 1)
    if name == "batchnorm":
        width = cur[1]
        for role in ("gamma", "beta"):
            _vector(get(names[role]), width, names[role], pos, name, source)
        if (len(cur) == 2 and cur[0] < 2) or (len(cur) == 4 and cur[0] * cur[2] * cur[3] < 2):
            raise ProblemError(source, where, "batchnorm needs at least 2 values per feature to normalise")
        return cur
    if name == "dropout":
        mask = get(names["mask"])
        if mask.shape != tuple(cur):
            raise ProblemError(source, f"[values] {names['mask']}", f"{names['mask']} is {_dims(mask.shape)} but "
                               f"layer {pos} (dropout) expects {_dims(cur)}")
        if not np.isin(mask, (0.0, 1.0)).all():
            raise ProblemError(source, f"[values] {names['mask']}", "expected a mask of 0s and 1s")
        return cur
    return cur  # an activation: same shape


def _vector(v, n, key, pos, name, source):
    if v.shape != (n,):
        raise ProblemError(source, f"[values] {key}", f"{key} is {_dims(v.shape)} but layer {pos} ({name}) "
                           f"expects {n}")


def _conv_size(size, window, opts, pos, source) -> int:
    """(size + 2·pad − window) / stride + 1 output positions, which must be a whole number ≥ 1."""
    span = size + 2 * opts["pad"] - window
    if span < 0 or span % opts["stride"]:
        raise ProblemError(source, f"[layers] stack[{pos}]", f"a {window}-wide filter with stride "
                           f"{opts['stride']} and pad {opts['pad']} does not fit a {size}-wide input: "
                           f"({size} + 2·{opts['pad']} − {window}) / {opts['stride']} + 1 is not a whole number ≥ 1")
    return span // opts["stride"] + 1
