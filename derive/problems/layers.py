"""Matrix layers over a batch: `[layers]` problem files. A stack of the layer records with
W1, b1, ... (problems.stack) becomes a StackProblem; the original single-layer files below (W, B,
dY, A) stay a NetworkProblem of kind "layers" derived per element, or a StackProblem when they
are too big for that.

The original files (kind "layers"):

    title = "Affine layer Y = X·W + B"
    [layers]
    stack = ["affine"]             # ["affine"], ["softmax_with_loss"] or ["affine", "softmax_with_loss"]
    bias = true                    # optional; false drops B
    [values]
    X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]     # N × D: one sample per row
    W = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]   # D × M
    B = [0.1, -0.1]                            # M, added to every row
    dY = [[1.0, -2.0], [0.5, 0.25]]            # N × M: the upstream gradient ∂L/∂Y when the stack
                                               #   ends with affine (L = Σ dY ∘ Y, so ∂L/∂Y = dY)
    # T = [[0, 1], [1, 0]]         # N × M one-hot targets when the stack ends with softmax_with_loss
    # A = [[0.3, 2.9], [1.0, -1]]  # N × M scores when the stack is only softmax_with_loss
"""
from __future__ import annotations

import numpy as np

from ..errors import ProblemError
from .common import array, header, shape
from .network import NetworkProblem
from .stack import StackLayer, StackProblem, check_proof_work, check_stack_memory, load_stack

# the original files' stacks: one affine layer, Softmax-with-Loss, or the two
STACKS = (("affine",), ("softmax_with_loss",), ("affine", "softmax_with_loss"))
_ORIGINAL_ARRAYS = ("W", "B", "A", "dY")
# elements (N·D·M products and matrix sizes) up to which an original file is derived per element;
# beyond, it goes through the stack path (rules applied with numpy), which scales like a network
PER_ELEMENT_LIMIT = 1500


def load_layers(data: dict, source: str):
    title, description = header(data, source, "layers")
    spec = data["layers"]
    if not isinstance(spec, dict):
        raise ProblemError(source, "[layers]", 'expected a table with stack = ["affine", ...]')
    raw = data.get("values")
    original = "bias" in spec or (isinstance(raw, dict) and any(k in raw for k in _ORIGINAL_ARRAYS))
    if not original:
        return load_stack(spec, raw, title, description, source)
    p = _load_original(spec, raw, title, description, source)
    return _as_stack(p) if _work(p) > PER_ELEMENT_LIMIT and p.bias else p


def _work(p) -> int:
    a = p.arrays
    if "W" not in a:
        return len(a["A"]) * len(a["A"][0])
    return len(a["X"]) * len(a["W"]) * len(a["W"][0])


def _as_stack(p) -> StackProblem:
    """An original file too big to derive per element, as a stack under its own array names."""
    values = {k: np.array(v, dtype=float) for k, v in p.arrays.items()}
    out = values["dY" if "dY" in values else "T"]  # the shape of the layer's output
    check_stack_memory(sum(v.size for k, v in values.items() if k not in ("T", "dY")), out.size, p.source)
    if "W" in values:
        x = values["X"]
        check_proof_work([("affine", {"W": "W", "b": "B"}, x.shape, x.size * out.shape[1])], p.batch,
                         out.shape[1], values, p.source)
    affine = "W" in values
    layers = (StackLayer("affine", {}, {"W": "W", "b": "B"}),) if affine else ()
    loss = "softmax_with_loss" if p.stack[-1] == "softmax_with_loss" else "upstream"
    return StackProblem(p.title, p.source, layers, loss, "sum", 0.0, values, p.batch,
                        input_name="X" if affine else "A", target_name="T" if loss != "upstream" else "dY",
                        description=p.description, stack=p.stack)


def _load_original(spec, raw, title, description, source):
    for key in spec:
        if key not in ("stack", "bias"):
            raise ProblemError(source, f"[layers] {key}", "unknown key; expected stack or bias")
    stack = spec.get("stack")
    if not isinstance(stack, list) or tuple(stack) not in STACKS:
        raise ProblemError(source, "[layers] stack", "expected one of "
                           + ", ".join(str(list(s)) for s in STACKS) + f"; got {stack!r}")
    stack = tuple(stack)
    bias = spec.get("bias", True)
    if not isinstance(bias, bool):
        raise ProblemError(source, "[layers] bias", f"expected true or false, got {bias!r}")
    affine = stack[0] == "affine"  # the stack starts with a layer of parameters
    swl = stack[-1] == "softmax_with_loss"  # ... and ends with a loss layer (else the upstream dY is given)
    names = (["X", "W"] + (["B"] if bias else []) if affine else ["A"]) + (["T"] if swl else ["dY"])
    if not isinstance(raw, dict):
        raise ProblemError(source, "[values]", f"expected a table with the arrays {', '.join(names)}")
    for key in raw:
        if key not in names:
            raise ProblemError(source, f"[values] {key}", f"unknown array; expected {', '.join(names)}")
    arrays = {}
    for key in names:
        if key not in raw:
            raise ProblemError(source, f"[values] {key}", "missing")
        arrays[key] = array(raw[key], source, f"[values] {key}")

    def need(key, want, what):
        got = shape(arrays[key])
        if len(got) != len(want) or any(s is not None and s != g for s, g in zip(want, got)):
            raise ProblemError(source, f"[values] {key}", f"expected {what}; got shape {got}")
        return got

    if affine:
        n, d = need("X", (None, None), "an N × D list of rows (one sample per row)")
        _, m = need("W", (d, None), f"a {d} × M list of rows (W has one row per column of X)")
        if bias:
            need("B", (m,), f"a list of {m} biases (one per column of W)")
    else:
        n, m = need("A", (None, None), "an N × M list of score rows")
    last = "T" if swl else "dY"
    need(last, (n, m), f"an {n} × {m} list of rows (the shape of the layer's output)")
    if swl:
        for row in arrays["T"]:
            if sum(row) != 1 or any(v < 0 for v in row):
                raise ProblemError(source, "[values] T", "expected each row to be a probability "
                                   "distribution summing to 1 (one-hot labels)")
    return NetworkProblem(title, source, "layers", "matrix", (), (), stack[-1] if swl else "upstream",
                          bias, stack, arrays, n, description)
