"""`derive verify` on the convolution and pooling layers of a stack (grading.matrix.stack_conv).

Right answers in several spellings (element form as an index sum, one element, named operations,
LaTeX) on the built-in conv_net and on random small conv stacks (stride 1 and 2, pad 0 and 1,
overlapping pools); each classic mistake with its diagnosis; no wrong answer accepted; the reference
each answer is compared with checked against central differences of a naive numpy forward pass.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from derive import problems
from derive.errors import ProblemError
from derive.grading.answers import VerifyError, code_of
from derive.grading.matrix.stack import Layer, _draw_arrays, layer_env
from derive.grading.verify import verify
from derive.pipeline import solve

DW = ["dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h*s+i-pad,w*s+j-pad]",
      "dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] Xpad[n,c,h·s+i,w·s+j]",
      "∂L/∂W[f,c,i,j] = Σ_{n,h,w} dY[n,f,h,w] ⊙ X_pad[n,c,h s+i,w s+j]",
      r"\frac{\partial L}{\partial W_{f,c,i,j}} = \sum_{n}\sum_{h}\sum_{w} dY_{n,f,h,w}\,"
      r"X_{\mathrm{pad}}_{n,c,h s+i,w s+j}",
      "dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,(h-1)*s+i-pad,(w-1)*s+j-pad]",  # counted from 1
      "dW[1,1,1,1] = Σ_n Σ_h Σ_w dY[n,1,h,w] X[n,1,(h-1)*s+1-pad,(w-1)*s+1-pad]",
      "corr(X, dY)", "corr(Xpad, dY)", "conv(X, flip(dY))", r"\operatorname{corr}(X, dY)"]
DB = ["Σ dY", "Σ_{n,h,w} dY", "db[f] = Σ_n Σ_h Σ_w dY[n,f,h,w]",
      r"\frac{\partial L}{\partial b_f} = \sum_{n,h,w} dY_{n,f,h,w}",
      "db[f] = Σ_{n} Σ_{h} Σ_{w} dY_{n,f,h,w}"]
DX = ["conv(dY, W)", "corr(dY, flip(W))", "corr(dY, rot180(W))",
      "dX[n,c,h,w] = Σ_f Σ_i Σ_j dY[n,f,(h+pad-i)/s,(w+pad-j)/s] W[f,c,i,j]",
      "dX[n,c,h,w] = Σ_{f,p,q} dY[n,f,p,q] W[f,c,h+pad-p*s,w+pad-q*s]"]
MAXPOOL = ["upsample(dY) ⊙ M", r"M \odot \mathrm{upsample}(dY)",
           "dX[n,c,h,w] = M[n,c,h,w] dY[n,c,floor(h/size),floor(w/size)]",
           r"dX_{n,c,h,w} = M_{n,c,h,w}\, dY_{n,c,\lfloor h/size \rfloor,\lfloor w/size \rfloor}"]
AVGPOOL = ["upsample(dY) / size^2", r"\frac{1}{size^2} upsample(dY)", "upsample(dY) / (k*k)", "upsample(dY) / size²"]

WRONG_W = {"conv(X, dY)": "flipped-filter", "flip(corr(X, dY))": "flipped-filter", "-corr(X, dY)": "sign",
           "2 corr(X, dY)": "factor-2"}
WRONG_X = {"corr(dY, W)": "unflipped-filter", "conv(dY, flip(W))": "unflipped-filter", "-conv(dY, W)": "sign"}
WRONG_MAX = {"upsample(dY) / size^2": "spread-window", "upsample(dY)": "spread-window"}
WRONG_AVG = {"upsample(dY)": "missing-1/size²", "upsample(dY) / size": "missing-1/size²",
             "upsample(dY) ⊙ M": "routed-max"}


@pytest.fixture(scope="module")
def conv_net():
    return solve(problems.load("conv_net"))


def _accepts(sol, wrt, answers):
    bad = [(a, list(v.diagnosis)) for a in answers if not (v := verify(sol, wrt, a)).correct]
    assert bad == [], (wrt, bad)


def _codes(sol, wrt, wrong: dict):
    out = {}
    for answer, code in wrong.items():
        v = verify(sol, wrt, answer)
        assert not v.correct, (wrt, answer)
        out[answer] = code in [code_of(d) for d in v.diagnosis] or [code_of(d) for d in v.diagnosis]
    return {a: c for a, c in out.items() if c is not True}


def test_builtin_conv_net_spellings(conv_net):
    _accepts(conv_net, "W1", DW)
    _accepts(conv_net, "db1", DB)
    _accepts(conv_net, "dX1", DX)
    _accepts(conv_net, "dX3", MAXPOOL)


def test_builtin_conv_net_mistakes(conv_net):
    assert _codes(conv_net, "W1", {**WRONG_W, "dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h+i,w+j]": "pad"}) == {}
    assert _codes(conv_net, "dX1", WRONG_X) == {}
    assert _codes(conv_net, "dX3", WRONG_MAX) == {}


def test_one_wrong_element_and_left_side(conv_net):
    v = verify(conv_net, "W1", "dW[1,1,1,1] = Σ_n Σ_h Σ_w dY[n,1,h,w] X[n,1,h,w]")  # the pad forgotten
    assert not v.correct and v.counterexample["expected"] is not None
    with pytest.raises(VerifyError):
        verify(conv_net, "W1", "db[f] = Σ_n Σ_h Σ_w dY[n,f,h,w]")  # the left side names another gradient
    with pytest.raises(VerifyError):
        verify(conv_net, "W1", "dW[f,c,i,j] = __import__('os')")
    with pytest.raises(VerifyError, match="'h'"):  # h and w never summed nor on the left side
        verify(conv_net, "W1", "dW[f,c,i,j] = Σ_n dY[n,f,h,w] X[n,c,h+i,w+j]")


# ---------------------------------------------------------------- random small conv stacks

def _conv_toml(rng, stride, pad, pool, psize, pstride):
    """A conv → relu → pool → affine → softmax stack whose pooling windows tile the conv output."""
    for _try in range(200):
        n, c, f, k = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                      int(rng.integers(2, 4)))
        h = int(rng.integers(k, 8))
        out = (h + 2 * pad - k) / stride + 1
        if out != int(out) or out < psize or (out - psize) % pstride:
            continue
        pooled = ((int(out) - psize) // pstride + 1) ** 2 * f
        r = lambda *s: np.round(rng.uniform(-1, 1, s), 2).tolist()  # noqa: E731
        classes = 3
        t = np.eye(classes)[rng.integers(0, classes, n)].astype(int).tolist()
        return (f'title = "random conv"\n[layers]\nstack = [{{type = "conv", stride = {stride}, pad = {pad}}}, '
                f'"relu", {{type = "{pool}", size = {psize}, stride = {pstride}}}, "affine", "softmax_with_loss"]\n'
                f'[values]\nX = {r(n, c, h, h)}\nW1 = {r(f, c, k, k)}\nb1 = {r(f)}\nW2 = {r(pooled, classes)}\n'
                f'b2 = {r(classes)}\nT = {t}\n')
    raise AssertionError("no shape found")


CASES = list(itertools.product((1, 2), (0, 1), ("max_pool", "avg_pool"), ((2, 2), (2, 1), (3, 2))))


@pytest.mark.parametrize("case", CASES, ids=[f"s{a}p{b}-{c}-{d[0]}{d[1]}" for a, b, c, d in CASES])
def test_random_conv_stacks(case):
    stride, pad, pool, (psize, pstride) = case
    rng = np.random.default_rng(CASES.index(case))
    try:
        sol = solve(problems.loads(_conv_toml(rng, stride, pad, pool, psize, pstride)))
    except ProblemError as e:  # pragma: no cover - the generator keeps to shapes that tile
        pytest.fail(str(e))
    _accepts(sol, "W1", DW)
    _accepts(sol, "b1", DB)
    _accepts(sol, "dX1", DX)
    tiling = psize == pstride or sol.extra.passes[2].y.shape[2] == 1  # one window: nothing overlaps
    if pool == "avg_pool":
        _accepts(sol, "dX3", AVGPOOL)
        wrong = WRONG_AVG if tiling else {a: c for a, c in WRONG_AVG.items() if c != "routed-max"}
        assert _codes(sol, "dX3", wrong) == {}
    elif tiling:
        _accepts(sol, "dX3", MAXPOOL)
        assert _codes(sol, "dX3", WRONG_MAX) == {}
    wrong_w = dict(WRONG_W)
    if pad:
        wrong_w["dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h*s+i,w*s+j]"] = "pad"
    if stride > 1:
        wrong_w["dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] Xpad[n,c,h+i,w+j]"] = "stride"
    assert _codes(sol, "W1", wrong_w) == {}
    assert _codes(sol, "dX1", WRONG_X) == {}
    batch = sol.problem.arrays["X"].shape[0] > 1  # with one sample, the sum over n is that sample
    never = {"W1": ["corr(dY, X)", "flip(W)", "dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h+i+1,w+j]",
                    "dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] X[n,c,h*s+j-pad,w*s+i-pad]"]
             + ["corr(X, dY) / N", "dW[f,c,i,j] = Σ_h Σ_w dY[1,f,h,w] Xpad[1,c,h s+i,w s+j]"] * batch,
             "b1": ["Σ_{h,w} dY", "dY"] + ["db[f] = Σ_h Σ_w dY[1,f,h,w]"] * batch,
             "dX1": ["dX[n,c,h,w] = Σ_f Σ_i Σ_j dY[n,f,h-i,w-j] W[f,c,i,j]", "dY"],
             "dX3": ["upsample(dY) ⊙ M / size^2", "dY", "M"] + ([] if pool == "avg_pool" and tiling else
                                                                 ["dX[n,c,h,w] = dY[n,c,floor(h/s),floor(w/s)] / 4"])}
    if pool == "max_pool" and not tiling:
        never["dX3"].append("upsample(dY) ⊙ M")  # overlapping windows: a max of two windows gets both
    if stride == 1 and pad == 0:
        never["dX1"].remove("dX[n,c,h,w] = Σ_f Σ_i Σ_j dY[n,f,h-i,w-j] W[f,c,i,j]")  # that one is right then
    accepted = []
    for wrt, answers in never.items():
        for a in answers:
            try:
                if verify(sol, wrt, a).correct:
                    accepted.append((wrt, a))
            except VerifyError:
                pass
    assert accepted == []


# ---------------------------------------------------------------- the reference, independently

def _naive_forward(name, o, x, p):
    """Conv / pooling forward by plain loops over numpy arrays (not the engine's kernels)."""
    n, c, h, w = x.shape
    if name == "conv":
        s, pad = o["stride"], o["pad"]
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        f, _c, kh, kw = p["W"].shape
        ho, wo = (h + 2 * pad - kh) // s + 1, (w + 2 * pad - kw) // s + 1
        y = np.zeros((n, f, ho, wo))
        for a, b, i, j in itertools.product(range(n), range(f), range(ho), range(wo)):
            y[a, b, i, j] = (xp[a, :, i * s:i * s + kh, j * s:j * s + kw] * p["W"][b]).sum() + p["b"][b]
        return y
    k, s = o["size"], o["stride"]
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y = np.zeros((n, c, ho, wo))
    for a, b, i, j in itertools.product(range(n), range(c), range(ho), range(wo)):
        win = x[a, b, i * s:i * s + k, j * s:j * s + k]
        y[a, b, i, j] = win.max() if name == "max_pool" else win.mean()
    return y


@pytest.mark.parametrize("case", CASES[::3])
def test_reference_is_the_layers_gradient_by_finite_differences(case):
    stride, pad, pool, (psize, pstride) = case
    sol = solve(problems.loads(_conv_toml(np.random.default_rng(5), stride, pad, pool, psize, pstride)))
    rng = np.random.default_rng(11)
    for ps in sol.extra.passes[:3:2]:  # the conv and the pooling layer
        for i in (0, 1, 2):
            x, params, dy = _draw_arrays(ps, sol.problem, rng, i)
            if i == 0 and ps.name == "max_pool":
                continue  # the layer's own input is a ReLU's output: shared zero maxima are kinks
            for role in ["X", *ps.arrays]:
                _env, refs = layer_env(Layer(ps, role, "", False, False), sol.problem, x, params, dy)
                args = {"X": x, **params}
                want = np.zeros_like(args[role])
                for idx in np.ndindex(want.shape):
                    vals = []
                    for step in (1e-6, -1e-6):
                        moved = {key: v.copy() for key, v in args.items()}
                        moved[role][idx] += step
                        vals.append((dy * _naive_forward(ps.name, ps.options, moved.pop("X"), moved)).sum())
                    want[idx] = (vals[0] - vals[1]) / 2e-6
                assert np.allclose(refs[role], want, rtol=1e-5, atol=1e-6), (ps.name, role)
