"""Answers for the convolution and pooling layers of a stack (`derive verify conv_net --wrt dW1`).

Two forms, read by a small parser of their own (never run as code):
(a) element form, an index sum with its left side: `dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h·s+i,w·s+j]`,
    one element `dW[1,1,1,1] = …`, `db[f] = Σ_{n,h,w} dY[n,f,h,w]`, LaTeX subscripts `dY_{n,f,h,w}` alike.
    Indices count from 0 or from 1, the same way through the whole answer (an answer right in either count
    is right); an index outside its array, or not a whole number ((h − i)/s), reads 0 (zero padding).
    A summed letter runs over the axis it indexes on its own somewhere (dY[n,f,h,w]: h over dY's rows).
(b) named operations on whole tensors: corr(X, dY) (dW: X padded, the layer's stride), corr(dY, K) (the
    full correlation dX: dY dilated by the stride, K an (F, C, kh, kw) filter bank, cropped by the pad),
    conv(A, B) = corr(A, flip(B)), flip(W) (= rot180(W), the filter turned 180°), upsample(dY) (each dY
    over its pooling window, overlapping windows adding), Σ dY (a 4-D array summed over n, h, w), ⊙, *, /,
    numbers, ^2. Quantities: X, Xpad (X_pad, Xp), Y, dY, W, b (and their file names), M (mask: 1 where an
    input is its window's maximum), N, s (stride), pad, size (k), F, C.
Compared against the engine's kernels at the layer's values and random draws (every element).
"""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from ...errors import ParseError
from ...i18n import N_, _
from ..answers import MatrixVerdict, VerifyError, cannot_read, diagnosis
from .stack_conv_read import _has_zero_index, parse, resolve, show, tex
from .stack_mistakes import _GENERAL, MISTAKES, correlate_dw, full_corr, upsample
from .tree import REL, ShapeError

CONV = ("conv", "max_pool", "avg_pool")
MAX_CELLS = 5_000_000
_AXIS = {"n": 0, "c": 1, "f": 1, "k": 1, "h": 2, "w": 3}


# ---------------------------------------------------------------- the quantities of one draw

def conv_env(ps, x, params, dy):
    """(names an answer may use, reference gradients by role) of a conv/pool layer at one draw."""
    from ...networks.stackops import NP, kernel
    o = ps.options
    fwd, back = kernel(ps.name)
    y, cache = fwd(x, params, o, NP)
    dx, local = back(dy, cache, params, o, NP)
    env = {"X": x, "Y": y, "dY": dy, "N": float(x.shape[0]), "C": float(x.shape[1]), "_o": o, "_p": params,
           "_layer": ps.name}
    if ps.name == "conv":
        pad = int(o["pad"])
        env.update(W=params["W"], b=params["b"], s=float(o["stride"]), stride=float(o["stride"]), pad=float(pad),
                   F=float(params["W"].shape[0]), Xpad=np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))))
    else:
        env.update(s=float(o["stride"]), stride=float(o["stride"]), size=float(o["size"]), k=float(o["size"]))
        mf, mb = kernel("max_pool")  # M: 1 where an input is its window's maximum (avg-pool too: a mistake's term)
        env["M"] = (mb(np.ones_like(dy), mf(x, {}, o, NP)[1], {}, o, NP)[0] > 0).astype(float)
    for role, name in ps.arrays.items():
        env[name] = params[role]
    return env, {"X": dx, **local}


def _ranges(node, env, out):
    """Each summed letter's range: the largest axis it indexes on its own."""
    if node[0] == "idx":
        a = np.asarray(env[node[1]])
        if a.ndim != len(node[2]):
            raise ShapeError(_("{name} has {count} indices but is a {shape} array").format(
                name=node[1], count=len(node[2]), shape="×".join(map(str, a.shape)) or "1"))
        for axis, e in enumerate(node[2]):
            if e[0] == "letter":
                out[e[1]] = max(out.get(e[1], 0), a.shape[axis])
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], tuple):
            for c in child:
                _ranges(c, env, out)
        elif isinstance(child, tuple) and child and isinstance(child[0], str):
            _ranges(child, env, out)
    return out


class Space:
    """The letters of an element-form answer, one numpy axis each, counted from `base`."""

    def __init__(self, free, sizes, base):
        self.order = list(free) + [k for k in sizes if k not in free]
        self.sizes, self.base = sizes, base
        cells = int(np.prod([sizes[k] for k in self.order], dtype=float))
        if cells > MAX_CELLS:
            raise ShapeError(_("this index sum has too many terms to check ({count})").format(count=cells))

    def value(self, letter):
        shape = [1] * len(self.order)
        shape[self.order.index(letter)] = self.sizes[letter]
        return (np.arange(self.sizes[letter]) + self.base).reshape(shape).astype(float)


def evaluate(node, env, space=None):
    """The answer with numpy: whole tensors (space None) or over the index letters' axes."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "letter":
        return space.value(node[1])
    if kind == "name":
        v = env[node[1]]
        if space is not None and np.ndim(v) > 0:
            raise ShapeError(_("{name} needs its indices here, e.g. {example}").format(
                name=node[1], example=f"{node[1]}[{','.join('nchw'[:np.ndim(v)])}]"))
        return v
    if kind == "idx":
        if space is None:
            raise ShapeError(_("an index such as {example} needs the left side, e.g. {left}").format(
                example=f"{node[1]}[…]", left="dW[f,c,i,j] = …"))
        a = np.asarray(env[node[1]], float)
        idx = [np.asarray(evaluate(e, env, space), float) - space.base for e in node[2]]
        if len(idx) != a.ndim:
            raise ShapeError(_("{name} has {count} indices but is a {shape} array").format(
                name=node[1], count=len(idx), shape="×".join(map(str, a.shape)) or "1"))
        idx = np.broadcast_arrays(*idx) if idx else []
        ok = np.ones(idx[0].shape if idx else (), bool)
        whole = []
        for axis, v in enumerate(idx):
            r = np.rint(v)
            ok &= (np.abs(v - r) < 1e-9) & (r >= 0) & (r < a.shape[axis])
            whole.append(np.clip(r, 0, a.shape[axis] - 1).astype(int))
        return np.where(ok, a[tuple(whole)], 0.0)
    if kind == "sum":
        v = evaluate(node[2], env, space)
        if space is None:
            if np.ndim(v) != 4:
                raise ShapeError(_("Σ here sums a 4-D array over n, h, w"))
            axes = tuple(sorted({_AXIS.get(k, -1) for k in node[1]})) if node[1] else (0, 2, 3)
            if -1 in axes:
                raise ShapeError(_("Σ over a whole tensor names its axes with n, c, h, w"))
            return v.sum(axis=axes)
        v = np.asarray(v, float)
        v = v.reshape([1] * len(space.order)) if v.ndim == 0 else v
        for k in node[1]:
            axis = space.order.index(k)
            shape = list(v.shape)
            shape[axis] = space.sizes[k]
            v = np.broadcast_to(v, shape).sum(axis=axis, keepdims=True)
        return v
    if kind == "call":
        return _call(node, [evaluate(a, env, space) for a in node[2]], env)
    a = evaluate(node[1], env, space)
    if kind == "neg":
        return -a
    if kind == "pow":
        return np.power(a, node[2])
    b = evaluate(node[2], env, space)
    if space is None and np.ndim(a) and np.ndim(b) and np.shape(a) != np.shape(b):
        raise ShapeError(_("{left} and {right} arrays cannot be combined elementwise").format(
            left="×".join(map(str, np.shape(a))), right="×".join(map(str, np.shape(b)))))
    with np.errstate(all="ignore"):
        out = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[kind](a, b)
    if not np.all(np.isfinite(out)):
        raise ShapeError(_("division by zero"))
    return out


def _call(node, args, env):
    f, o = node[1], env["_o"]
    if f == "floor" and len(args) == 1:
        return np.floor(np.asarray(args[0], float) + 1e-9)
    if f == "flip" and len(args) == 1 and np.ndim(args[0]) == 4:
        return args[0][:, :, ::-1, ::-1]
    if f == "upsample" and len(args) == 1 and env["_layer"] != "conv" and np.shape(args[0]) == env["dY"].shape:
        return upsample(args[0], o, env["X"].shape)
    if f in ("corr", "conv") and len(args) == 2 and env["_layer"] == "conv":
        a, k = args
        if f == "conv" and np.ndim(k) == 4:
            k = k[:, :, ::-1, ::-1]
        s, pad, w = int(o["stride"]), int(o["pad"]), env["W"]
        if np.shape(a) == env["X"].shape and np.shape(k) == env["dY"].shape:
            return correlate_dw(np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad))), k, s, w.shape[2], w.shape[3])
        if np.shape(a) == env["Xpad"].shape and np.shape(k) == env["dY"].shape:
            return correlate_dw(a, k, s, w.shape[2], w.shape[3])
        if np.shape(a) == env["dY"].shape and np.shape(k) == w.shape:
            return full_corr(a, k, s, pad, env["X"].shape)
    raise ShapeError(_("{call} is not defined for these arguments (see README: verify, convolution and "
                       "pooling)").format(call=f"{f}({', '.join('×'.join(map(str, np.shape(a))) for a in args)})"))


# ---------------------------------------------------------------- one answer at every draw

class Reading:
    """A parsed answer ready to evaluate at each draw: `values(env)` yields (base, array) for each count
    of the indices it may use; `select(full)` is the part of a full gradient its left side names."""

    def __init__(self, text, names, role, target_shape, env0):
        left, node, summed = parse(text, names)
        self.left = left
        free, fixed = [], []
        if left is not None and left[1]:
            if len(left[1]) != len(target_shape):
                raise ShapeError(_("{name} has {count} indices but is a {shape} array").format(
                    name=left[0], count=len(left[1]), shape="×".join(map(str, target_shape))))
            for axis, e in enumerate(left[1]):
                if isinstance(e, str):
                    if e in free:
                        raise ShapeError(_("the index {letter} appears twice on the left side").format(letter=e))
                    free.append(e)
                else:
                    fixed.append((axis, e))
        self.element = left is not None and bool(left[1])
        if set(free) & set(summed):
            raise ShapeError(_("the index {letter} is both on the left side and summed").format(
                letter=sorted(set(free) & set(summed))[0]))
        self.free, self.fixed, self.shape = free, fixed, target_shape
        letters = set(free) | set(summed) if self.element else set()
        self.node = resolve(node, letters, names)
        zero = any(v == 0 for _a, v in fixed) or _has_zero_index(self.node)
        self.bases = (0,) if zero or not self.element else ((1, 0) if fixed else (0, 1))
        sizes = {k: target_shape[a] for a, k in enumerate(left[1]) if isinstance(k, str)} if self.element else {}
        if self.element:
            ranges = _ranges(self.node, env0, {})
            for k in summed:
                if k not in ranges:
                    raise ShapeError(_("the summed index {letter} never indexes an array on its own, so its range "
                                       "is unknown").format(letter=k))
                sizes[k] = ranges[k]
        self.sizes = sizes

    def select(self, full, base):
        """The elements of `full` the left side names (all of it in the tensor form)."""
        if not self.element:
            return full
        sel = [slice(None)] * full.ndim
        for axis, v in self.fixed:
            i = int(v) - base
            if i != v - base or not 0 <= i < full.shape[axis]:
                return None
            sel[axis] = i
        return full[tuple(sel)]

    def value(self, env, base):
        if not self.element:
            with np.errstate(all="ignore"):
                return evaluate(self.node, env)
        space = Space(self.free, self.sizes, base)
        with np.errstate(all="ignore"):
            v = np.asarray(evaluate(self.node, env, space), float)
        v = v.reshape([1] * len(space.order)) if v.ndim == 0 else v
        keep = [space.sizes[k] for k in self.free]
        return np.broadcast_to(v, tuple(keep) + v.shape[len(keep):]).reshape(keep)


def agrees(reading, points, role, same, rule=None):
    """(the count of indices under which the answer equals `rule` (the reference when None) at every
    draw, or None; the first draw where it did not, and what it gave there)."""
    first = None
    for base in reading.bases:
        for j, (env, refs) in enumerate(points):
            want = refs[role] if rule is None else rule(env, refs)
            want = None if want is None else reading.select(np.asarray(want, float), base)
            try:
                got = reading.value(env, base)
            except ShapeError:
                got = None
            if want is None or got is None or not same(got, want):
                first = first or (j, got, want)
                break
        else:
            return base, None
    return None, first


def _same(a, b) -> bool:
    if a is None or b is None:
        return False
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(b), initial=0)), float(np.max(np.abs(a), initial=0)), 1e-12)
    return bool(np.all(np.abs(a - b) <= REL * scale))


def _diagnose(reading, layer, points) -> list:
    role = layer.role
    for code, message, f in MISTAKES.get((layer.name, role), []):
        if agrees(reading, points, role, _same, lambda e, r, f=f: f(e))[0] is not None:
            return [diagnosis(code, message)]
    for code, message, f in _GENERAL:
        if code != "transposed" and agrees(reading, points, role, _same,
                                           lambda e, r, f=f: f(np.asarray(r[role], float), e))[0] is not None:
            return [diagnosis(code, message)]
    return [diagnosis("generic", N_("no single common mistake explains it"))]


def verify_conv(layer, text: str, points, check_left, reference, label: str):
    """The verdict on an answer for a conv / max-pool / avg-pool layer (see the module docstring)."""
    env0, refs0 = points[0]
    names = tuple(n for n in env0 if not n.startswith("_"))
    method = _("numeric ({draws} draws of layer {position}'s input, parameters and upstream gradient; numpy)").format(
        draws=len(points), position=layer.ps.position)

    def verdict(correct, diag, node=None, cx=None):
        shown = show(node) if node is not None else text.strip()[:200]
        return MatrixVerdict(correct, diag, cx, reference, layer.key, label, sp.Symbol(shown), method, len(points),
                             answer_text=shown, answer_tex=tex(node) if node is not None else "")

    try:
        left = parse(text, names)[0]
        if left is not None:
            check_left(left[0])
        reading = Reading(text, names, layer.role, np.shape(refs0[layer.role]), env0)
    except ParseError as e:
        raise VerifyError(cannot_read(e)) from None
    except ShapeError as e:
        return verdict(False, [diagnosis("shape", N_("{problem}"), problem=str(e))])
    base, first = agrees(reading, points, layer.role, _same)
    if base is not None:
        return verdict(True, [], reading.node)
    j, got, want = first
    env = points[j][0]
    used = sorted({n for n in names if re.search(rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z0-9])", show(reading.node))})
    listed = {k: np.asarray(env[k], float).round(12).tolist() for k in used}
    cx = {"point": listed, "expected": None if want is None else np.asarray(want, float).round(12).tolist(),
          "got": None if got is None else np.asarray(got, float).round(12).tolist(), "own_point": j == 0}
    diag = _diagnose(reading, layer, points)
    if got is None and reading.bases:
        try:
            reading.value(env, reading.bases[0])
        except ShapeError as e:
            diag = [diagnosis("shape", N_("{problem}"), problem=str(e))] + diag
    return verdict(False, diag, reading.node, cx)
