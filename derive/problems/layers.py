"""Matrix layers over a batch: `[layers]` problem files (Affine Y = X·W + B, Softmax-with-Loss)
validated into a NetworkProblem of kind "layers".

Problem files (kind "layers"):

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

from ..engine.ops import LAYERS
from ..errors import ProblemError
from .common import array, header, shape
from .network import NetworkProblem

# the stacks derive builds, from the layer records: one layer, or a layer followed by a loss layer
_PLAIN = tuple(name for name, layer in LAYERS.items() if not layer.loss)
_LOSS = tuple(name for name, layer in LAYERS.items() if layer.loss)
STACKS = tuple((n,) for n in _PLAIN + _LOSS) + tuple((n, loss) for n in _PLAIN for loss in _LOSS)


def load_layers(data: dict, source: str):
    title, description = header(data, source, "layers")
    spec = data["layers"]
    if not isinstance(spec, dict):
        raise ProblemError(source, "[layers]", 'expected a table with stack = ["affine", ...]')
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
    affine = not LAYERS[stack[0]].loss  # the stack starts with a layer of parameters
    swl = LAYERS[stack[-1]].loss  # ... and ends with a loss layer (else the upstream dY is given)
    names = (["X", "W"] + (["B"] if bias else []) if affine else ["A"]) + (["T"] if swl else ["dY"])
    raw = data.get("values")
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
