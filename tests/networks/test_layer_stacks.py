"""Layer stacks against an independent reference: each layer's forward written here in
autograd.numpy (nothing from derive), gradients by autograd; ≥ 200 seeded random stacks, every
loss and gradient element within 1e-7 relative. Then a few through the whole solve (proof and
derived rules), and `derive check --json`."""
from __future__ import annotations

import json
import random

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from derive.networks.stack import backward
from derive.pipeline import solve
from derive.problems import loads

# ---------------------------------------------------------------- the reference (autograd)

def ref_layer(name, o, x, q):
    if name == "affine":
        return anp.dot(anp.reshape(x, (x.shape[0], -1)), q["W"]) + q["b"]
    if name == "relu":
        return anp.maximum(x, 0.0)
    if name == "leaky_relu":
        return anp.where(x > 0, x, o.get("alpha", 0.01) * x)
    if name == "sigmoid":
        return 1 / (1 + anp.exp(-x))
    if name == "tanh":
        return anp.tanh(x)
    if name == "dropout":
        return x * q["mask"] / o.get("p", 0.5)
    if name == "batchnorm":
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
        mu = anp.mean(x, axis=axes, keepdims=True)
        var = anp.mean((x - mu) ** 2, axis=axes, keepdims=True)
        xh = (x - mu) / anp.sqrt(var + o.get("eps", 1e-5))
        return anp.reshape(q["gamma"], shape) * xh + anp.reshape(q["beta"], shape)
    if name == "conv":
        s, p = o.get("stride", 1), o.get("pad", 0)
        W = q["W"]
        kh, kw = W.shape[2:]
        xp = anp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant") if p else x
        ho, wo = (xp.shape[2] - kh) // s + 1, (xp.shape[3] - kw) // s + 1
        rows = []
        for i in range(ho):
            cols = []
            for j in range(wo):
                patch = xp[:, :, i * s:i * s + kh, j * s:j * s + kw]
                cols.append(anp.einsum("nchw,fchw->nf", patch, W) + q["b"])
            rows.append(anp.stack(cols, axis=-1))
        return anp.stack(rows, axis=-2)
    if name in ("max_pool", "avg_pool"):
        k, s = o.get("size", 2), o.get("stride", 2)
        ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        rows = []
        for i in range(ho):
            cols = []
            for j in range(wo):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k]
                cols.append(anp.max(win, axis=(2, 3)) if name == "max_pool" else anp.mean(win, axis=(2, 3)))
            rows.append(anp.stack(cols, axis=-1))
        return anp.stack(rows, axis=-2)
    raise AssertionError(name)


def ref_loss(case, values):
    x = values["X"]
    k = 0
    for name, o in case["layers"]:
        k += name in ("affine", "conv")
        q = {r: values[f"{r}{k}"] for r in ("W", "b", "gamma", "beta", "mask") if f"{r}{k}" in values}
        x = ref_layer(name, o, x, q)
    x = anp.reshape(x, (x.shape[0], -1))
    t = values["T"]
    n = x.shape[0] if case["reduction"] == "mean" else 1
    if case["loss"] == "mse":
        loss = 0.5 * anp.sum((x - t) ** 2) / n
    else:
        z = x - anp.max(x, axis=1, keepdims=True)
        loss = -anp.sum(t * (z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True)))) / n
    decay = case["decay"]
    return loss + decay / 2 * sum(anp.sum(values[w] ** 2) for w in values if w.startswith("W"))


# ---------------------------------------------------------------- random stacks

def random_case(seed: int) -> dict:
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    n = rng.randint(1, 4)
    conv = rng.random() < 0.4
    layers, values, k = [], {}, 0
    if conv:
        c, h = rng.randint(1, 2), rng.choice((4, 5, 6))
        shape = (n, c, h, h)
        f, kk = rng.randint(1, 3), rng.choice((2, 3))
        s, p = rng.choice(((1, 0), (2, 1), (1, 1)))
        if (h + 2 * p - kk) % s:
            s, p = 1, 0
        k += 1
        values[f"W{k}"] = nprng.normal(size=(f, c, kk, kk)) * 0.5
        values[f"b{k}"] = nprng.normal(size=f) * 0.1
        layers.append(("conv", {"stride": s, "pad": p}))
        ho = (h + 2 * p - kk) // s + 1
        shape = (n, f, ho, ho)
        if rng.random() < 0.4 and n * ho * ho >= 2:
            values[f"gamma{k}"] = nprng.normal(size=f)
            values[f"beta{k}"] = nprng.normal(size=f)
            layers.append(("batchnorm", {"eps": rng.choice((1e-5, 0.01))}))
        layers.append((rng.choice(("relu", "tanh", "leaky_relu")), {"alpha": 0.1} if rng.random() < .5 else {}))
        if layers[-1][0] != "leaky_relu":
            layers[-1] = (layers[-1][0], {})
        size, stride = rng.choice(((2, 2), (2, 1), (3, 1), (3, 2)))
        if ho >= size and (ho - size) % stride == 0:
            layers.append((rng.choice(("max_pool", "avg_pool")), {"size": size, "stride": stride}))
            ho = (ho - size) // stride + 1
        shape = (n, f, ho, ho)
        x = nprng.normal(size=(n, c, h, h))
    else:
        d = rng.randint(1, 5)
        x = nprng.normal(size=(n, d))
        shape = (n, d)
    for _ in range(rng.randint(0 if conv else 1, 2)):
        m = rng.randint(1, 5)
        k += 1
        values[f"W{k}"] = nprng.normal(size=(int(np.prod(shape[1:])), m)) * 0.7
        values[f"b{k}"] = nprng.normal(size=m) * 0.1
        layers.append(("affine", {}))
        shape = (n, m)
        extra = rng.choice(("relu", "sigmoid", "tanh", "leaky_relu", "batchnorm", "dropout", None))
        if extra == "batchnorm" and n >= 2:
            values[f"gamma{k}"] = nprng.normal(size=m)
            values[f"beta{k}"] = nprng.normal(size=m)
            layers.append(("batchnorm", {}))
        elif extra == "dropout":
            values[f"mask{k}"] = nprng.integers(0, 2, size=shape).astype(float)
            layers.append(("dropout", {"p": rng.choice((0.5, 0.8, 1.0))}))
        elif extra == "leaky_relu":
            layers.append(("leaky_relu", {"alpha": rng.choice((0.01, 0.2))}))
        elif extra and extra != "batchnorm":
            layers.append((extra, {}))
    out = int(np.prod(shape[1:]))
    loss = rng.choice(("softmax_with_loss", "mse"))
    if loss == "softmax_with_loss":
        if rng.random() < 0.5:
            t = np.eye(out)[nprng.integers(0, out, size=n)]
        else:
            t = nprng.random(size=(n, out)) + 0.1
            t = t / t.sum(axis=1, keepdims=True)
    else:
        t = nprng.normal(size=(n, out))
    values = {"X": x, **values, "T": t}
    return {"layers": layers, "values": values, "loss": loss, "reduction": rng.choice(("sum", "mean")),
            "decay": rng.choice((0.0, 0.0, 0.05))}


def toml_of(case) -> str:
    entries = []
    for name, o in case["layers"]:
        options = ", ".join(f"{k} = {v!r}" for k, v in o.items())
        entries.append(f'{{type = "{name}", {options}}}' if o else f'"{name}"')
    entries.append(f'"{case["loss"]}"')
    lines = ['title = "random stack"', "[layers]", f"stack = [{', '.join(entries)}]",
             f'reduction = "{case["reduction"]}"', f"weight_decay = {case['decay']!r}", "[values]"]
    lines += [f"{k} = {json.dumps(v.tolist())}" for k, v in case["values"].items()]
    return "\n".join(lines) + "\n"


def _close(a, b, rel=1e-7, floor=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max(initial=0)))
    bad = np.abs(a - b) > rel * np.maximum(np.abs(a), np.abs(b)) + floor * scale
    assert not bad.any(), (a[bad], b[bad])


@pytest.mark.parametrize("seed", range(220))
def test_random_stack_matches_autograd(seed):
    case = random_case(seed)
    p = loads(toml_of(case), f"random {seed}")
    loss, grads, _ = backward(p, p.arrays)
    want_loss = ref_loss(case, case["values"])
    _close(loss, want_loss)
    names = [k for k in case["values"] if k != "T" and not k.startswith("mask")]
    g = grad(lambda vals: ref_loss(case, vals))(dict(case["values"]))
    assert set(grads) == set(names)
    for k in names:
        _close(grads[k], g[k])


@pytest.mark.parametrize("seed", [3, 11, 42, 77, 150])
def test_whole_solve_proves_every_element(seed):
    case = random_case(seed)
    sol = solve(loads(toml_of(case), f"random {seed}"))
    assert sol.report.ok
    assert all(r.checked for r in sol.extra.vector_rules)
    assert len(sol.report.checks) == sum(np.asarray(v).size for k, v in case["values"].items()
                                         if k != "T" and not k.startswith("mask"))
