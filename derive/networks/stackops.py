"""The forward and backward code of every `Layer` row (engine.ops.LAYERS), side by side.

One entry per layer name: forward(x, params, options, lib) -> (y, cache) and
backward(dy, cache, params, options, lib) -> (dx, {param: gradient}); a loss layer's forward
takes the targets and the reduction and returns the loss. `lib` is the arithmetic the arrays
hold: float64 ("np"), complex128 for the complex step ("cs"), 50-digit mpmath numbers ("mp") or
SymPy expressions ("sym", forward only: the per-element graph a rule is derived from). The
activation layers read their `Function` record's forms (np, cs, mp, SymPy) rather than repeat them.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ..engine.ops import FUNCTION_TABLE, constant
from ..engine.precision import mp as mpmath


class Lib:
    """Elementwise arithmetic for one kind of array (see the module docstring)."""

    def __init__(self, kind: str):
        self.kind = kind
        obj = kind in ("mp", "sym")
        self.dtype = object if obj else (complex if kind == "cs" else float)
        if kind == "mp":
            self.exp, self.log, self.sqrt = (np.frompyfunc(f, 1, 1) for f in (mpmath.exp, mpmath.log, mpmath.sqrt))
        elif kind == "sym":
            self.exp, self.log, self.sqrt = (np.frompyfunc(f, 1, 1) for f in (sp.exp, sp.log, sp.sqrt))
        else:
            self.exp, self.log, self.sqrt = np.exp, np.log, np.sqrt

    def real(self, a):
        """What comparisons read: the real part (complex step), floats of mpmath numbers."""
        if self.kind == "cs":
            return np.real(a)
        if self.kind == "mp":
            return np.asarray(a, dtype=float)
        return a

    def const(self, v):
        """An option or a file's number: exact (its decimal text) in "sym" and "mp"."""
        if self.kind == "sym":
            return sp.Rational(repr(v)) if isinstance(v, float) else constant(v)
        return mpmath.mpf(repr(v)) if self.kind == "mp" else v

    def zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)

    def activation(self, name: str, x, params):
        f = FUNCTION_TABLE[name]
        vals = [self.const(v) for v in params]
        if self.kind == "sym":
            return np.frompyfunc(lambda v: f.make(v, *vals), 1, 1)(x)
        if self.kind == "mp":
            return np.frompyfunc(lambda v: f.mp(v, *vals), 1, 1)(x)
        return f.backend("cs" if self.kind == "cs" else "np")(x, *vals)

    def window_max(self, a):
        """The maximum over the last axis (by real part), and its first position."""
        if self.kind == "sym":
            return np.frompyfunc(lambda *v: sp.Max(*v), a.shape[-1], 1)(*np.moveaxis(a, -1, 0)), None
        pos = np.argmax(self.real(a), axis=-1)
        return np.take_along_axis(a, pos[..., None], -1)[..., 0], pos


NP, CS, MP, SYM = Lib("np"), Lib("cs"), Lib("mp"), Lib("sym")


# ---------------------------------------------------------------- affine

def _affine(x, p, o, lib):
    x2 = x.reshape(x.shape[0], -1)
    return x2 @ p["W"] + p["b"], x


def _affine_back(dy, x, p, o, lib):
    x2 = x.reshape(x.shape[0], -1)
    return (dy @ p["W"].T).reshape(x.shape), {"W": x2.T @ dy, "b": dy.sum(axis=0)}


def _affine_probe(x, y, p, role, idx, delta):
    """(touched samples, their outputs) of the affine layer with one element of `role` moved by
    `delta` (complex), re-evaluating only what that element reaches: one column of every sample
    for W[i, j] and b[j], one sample's row for an element of X."""
    if role == "X":
        flat = int(np.ravel_multi_index(idx[1:], x.shape[1:]))
        return np.array([idx[0]]), y[idx[0]][None] + delta * p["W"][flat, :]
    out = y.astype(complex)
    out[:, idx[-1]] += delta * (x.reshape(x.shape[0], -1)[:, idx[0]] if role == "W" else 1)
    return np.arange(y.shape[0]), out


def probe(name: str, x, y, params: dict, options: dict, role: str, idx: tuple, delta):
    """(touched samples, their outputs) of layer `name` with element `idx` of its input ("X") or of
    its parameter `role` moved by `delta` (complex): the affine layer re-evaluates what the element
    reaches, every other layer its whole forward pass (the samples whose output moved are kept)."""
    if name == "affine":
        return _affine_probe(x, y, params, role, idx, delta)
    args = {"X": x, **params}
    moved = args[role].astype(complex)
    moved[idx] += delta
    args[role] = moved
    out = kernel(name)[0](args.pop("X"), args, options, CS)[0]
    rows = np.flatnonzero(np.imag(out).reshape(out.shape[0], -1).any(axis=1))
    return rows, out[rows]


# ---------------------------------------------------------------- activations (from their records)

def _act(name):
    def forward(x, p, o, lib):
        y = lib.activation(name, x, [o[k] for k, _ in FUNCTION_TABLE[name].params])
        return y, (x, y)
    return forward


def _step(x, lib):
    return (lib.real(x) > 0).astype(float)


def _relu_back(dy, c, p, o, lib):
    return dy * _step(c[0], lib), {}


def _leaky_back(dy, c, p, o, lib):
    pos = _step(c[0], lib)
    return dy * (pos + lib.const(o["alpha"]) * (1 - pos)), {}


def _sigmoid_back(dy, c, p, o, lib):
    return dy * c[1] * (1 - c[1]), {}


def _tanh_back(dy, c, p, o, lib):
    return dy * (1 - c[1] * c[1]), {}


# ---------------------------------------------------------------- batch normalization

def _channels_last(x):
    """(N, D) as is; (N, C, H, W) as (N·H·W, C): spatial BatchNorm is per channel."""
    return x if x.ndim == 2 else x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _channels_back(a, shape):
    if len(shape) == 2:
        return a
    n, c, h, w = shape
    return a.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def _batchnorm(x, p, o, lib):
    x2 = _channels_last(x)
    mu = x2.sum(axis=0) / x2.shape[0]
    var = ((x2 - mu) * (x2 - mu)).sum(axis=0) / x2.shape[0]  # biased: over N
    std = lib.sqrt(var + lib.const(o["eps"]))
    xhat = (x2 - mu) / std
    return _channels_back(p["gamma"] * xhat + p["beta"], x.shape), (x.shape, xhat, std)


def _batchnorm_back(dy, c, p, o, lib):
    shape, xhat, std = c
    d2 = _channels_last(dy)
    n = d2.shape[0]
    dx = (p["gamma"] / (n * std)) * (n * d2 - d2.sum(axis=0) - xhat * (d2 * xhat).sum(axis=0))
    return _channels_back(dx, shape), {"gamma": (d2 * xhat).sum(axis=0), "beta": d2.sum(axis=0)}


# ---------------------------------------------------------------- dropout

def _dropout(x, p, o, lib):
    return x * p["mask"] / lib.const(o["p"]), None


def _dropout_back(dy, c, p, o, lib):
    return dy * p["mask"] / lib.const(o["p"]), {}


# ---------------------------------------------------------------- convolution and pooling

def out_size(size: int, window: int, stride: int, pad: int = 0) -> float:
    """Output positions along one axis: (size + 2·pad − window) / stride + 1 (not always whole)."""
    return (size + 2 * pad - window) / stride + 1


def _windows(h, w, kh, kw, s):
    ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
    for i in range(ho):
        for j in range(wo):
            yield i, j, (slice(None), slice(None), slice(i * s, i * s + kh), slice(j * s, j * s + kw))


def _conv(x, p, o, lib):
    W, pad, s = p["W"], o["pad"], o["stride"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    f, _, kh, kw = W.shape
    ho, wo = (xp.shape[2] - kh) // s + 1, (xp.shape[3] - kw) // s + 1
    y = lib.zeros((x.shape[0], f, ho, wo))
    for i, j, win in _windows(xp.shape[2], xp.shape[3], kh, kw, s):
        y[:, :, i, j] = np.tensordot(xp[win], W, axes=([1, 2, 3], [1, 2, 3])) + p["b"]
    return y, (x, xp)


def _conv_back(dy, c, p, o, lib):
    x, xp = c
    W, pad, s = p["W"], o["pad"], o["stride"]
    _, _, kh, kw = W.shape
    dxp, dW = lib.zeros(xp.shape), lib.zeros(W.shape)
    for i, j, win in _windows(xp.shape[2], xp.shape[3], kh, kw, s):
        dW += np.tensordot(dy[:, :, i, j], xp[win], axes=([0], [0]))  # X correlated with dY
        dxp[win] += np.tensordot(dy[:, :, i, j], W, axes=([1], [0]))  # dY spread back through W
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] if pad else dxp
    return dx, {"W": dW, "b": dy.sum(axis=(0, 2, 3))}


def _pool(kind):
    def forward(x, p, o, lib):
        k, s = o["size"], o["stride"]
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        y = lib.zeros((x.shape[0], x.shape[1], ho, wo))
        where = {}
        for i, j, win in _windows(x.shape[2], x.shape[3], k, k, s):
            flat = x[win].reshape(x.shape[0], x.shape[1], k * k)
            if kind == "max":
                y[:, :, i, j], where[i, j] = lib.window_max(flat)
            else:
                y[:, :, i, j] = flat.sum(axis=-1) / (k * k)
        return y, (x.shape, where)
    return forward


def _pool_back(kind):
    def backward(dy, c, p, o, lib):
        shape, where = c
        k, s = o["size"], o["stride"]
        dx = lib.zeros(shape)
        for i, j, win in _windows(shape[2], shape[3], k, k, s):
            if kind == "max":  # dY goes to each window's maximum; overlapping windows accumulate
                routed = lib.zeros((shape[0], shape[1], k * k))
                np.put_along_axis(routed, where[i, j][..., None], dy[:, :, i, j][..., None], -1)
                dx[win] += routed.reshape(shape[0], shape[1], k, k)
            else:
                dx[win] += (dy[:, :, i, j] / (k * k))[:, :, None, None]
        return dx, {}
    return backward


def ties(x, o) -> list:
    """(sample, channel, row, col) of every max-pool window whose maximum is not unique (a kink)."""
    k, s = o["size"], o["stride"]
    found = []
    for i, j, win in _windows(x.shape[2], x.shape[3], k, k, s):
        flat = np.asarray(x[win], dtype=float).reshape(x.shape[0], x.shape[1], k * k)
        count = (flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1)
        found += [(int(n), int(ch), i, j) for n, ch in zip(*np.nonzero(count > 1))]
    return found


# ---------------------------------------------------------------- losses: (x, T) -> L

def _softmax_rows(x2, t, lib):
    """Each sample's −Σ t log softmax(x), and the softmax (not smoothed: no log(y + 1e-7))."""
    z = x2 if lib.kind in ("sym", "mp") else x2 - lib.real(x2).max(axis=1, keepdims=True)
    e = lib.exp(z)
    total = e.sum(axis=1, keepdims=True)
    return -(t * (z - lib.log(total))).sum(axis=1), e / total


def _mse_rows(x2, t, lib):
    """Each sample's ½ Σ (x − t)²."""
    return ((x2 - t) * (x2 - t)).sum(axis=1) / 2, x2


def _upstream_rows(x2, t, lib):
    """L = Σ dY ⊙ Y per sample: a stack that ends without a loss layer, given its upstream dY."""
    return (x2 * t.reshape(x2.shape)).sum(axis=1), None


LOSS_ROWS = {"softmax_with_loss": _softmax_rows, "mse": _mse_rows, "upstream": _upstream_rows}


def _loss(rows):
    def forward(x, t, o, lib, mean):
        r, kept = rows(x.reshape(x.shape[0], -1), t, lib)
        return r.sum() / x.shape[0] if mean else r.sum(), (x.shape, kept)
    return forward


def _softmax_loss_back(t, c, o, lib, mean):
    shape, y = c
    dx = y * t.sum(axis=1, keepdims=True) - t  # y·Σt − t: soft targets stay soft
    return (dx / shape[0] if mean else dx).reshape(shape)


def _mse_back(t, c, o, lib, mean):
    shape, x2 = c
    dx = x2 - t
    return (dx / shape[0] if mean else dx).reshape(shape)


def _upstream_back(t, c, o, lib, mean):
    return t


KERNELS = {
    "upstream": (_loss(_upstream_rows), _upstream_back),
    "affine": (_affine, _affine_back),
    "relu": (_act("relu"), _relu_back),
    "sigmoid": (_act("sigmoid"), _sigmoid_back),
    "tanh": (_act("tanh"), _tanh_back),
    "leaky_relu": (_act("leaky_relu"), _leaky_back),
    "batchnorm": (_batchnorm, _batchnorm_back),
    "dropout": (_dropout, _dropout_back),
    "conv": (_conv, _conv_back),
    "max_pool": (_pool("max"), _pool_back("max")),
    "avg_pool": (_pool("avg"), _pool_back("avg")),
    "softmax_with_loss": (_loss(_softmax_rows), _softmax_loss_back),
    "mse": (_loss(_mse_rows), _mse_back),
}


@functools.cache
def kernel(name: str):
    """(forward, backward) of the layer `name`."""
    return KERNELS[name]
