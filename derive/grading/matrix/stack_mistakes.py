"""What is wrong with an answer to a layer's backward rule: the classic mistakes, each applied to
the reference at the same draws (`MISTAKES`), and one matrix of the answer transposed or not.

A mistake names the answer when the answer equals the mistaken rule at every draw. The mistaken
rules are numpy over the layer's quantities (never the student's text): a missing 1/N (BatchNorm,
a mean loss), the missing Σ(dY ⊙ x̂) term, W not transposed, the ReLU indicator reversed, a missing
1/p, σ′ written in X instead of Y, γ and β swapped, the sum over the wrong axis; for convolution and
pooling (grading.matrix.stack_conv) the filters not flipped, dW flipped, the pad or stride missing, a
pooling rule spread over the window, 1/size² missing; with the numpy correlations those rules need.
"""
from __future__ import annotations

import numpy as np

from ...i18n import N_
from ..answers import diagnosis
from .mistakes import _paths, _put
from .tree import ShapeError


def _bn_dx(e, scale=1.0, sums=True, xhat_term=True, direct=False):
    dy, xh, n = e["dY"], e["xhat"], e["N"]
    if direct:
        return e["gamma"] * dy / e["sigma"]
    inner = n * dy - (dy.sum(axis=0, keepdims=True) if sums else 0)
    if xhat_term:
        inner = inner - xh * (dy * xh).sum(axis=0, keepdims=True)
    return scale * e["gamma"] / (n * e["sigma"]) * inner


def _colsum(a):
    return a.sum(axis=0, keepdims=True)


# (layer, role) -> [(code, message, mistaken rule)]
MISTAKES = {
    ("affine", "X"): [("transposed", N_("W is not transposed: ∂L/∂X = dY·Wᵀ"), lambda e: e["dY"] @ e["W"])],
    ("affine", "W"): [("transposed", N_("X is not transposed: ∂L/∂W = Xᵀ·dY"), lambda e: e["X"] @ e["dY"]),
                      ("wrong-quantity", N_("Y in place of X: ∂L/∂W = Xᵀ·dY, with the layer's input X"),
                       lambda e: e["Y"].T @ e["dY"])],
    ("affine", "b"): [("wrong-axis", N_("summed over the wrong axis: ∂L/∂b sums dY over the rows (the batch)"),
                       lambda e: e["dY"].sum(axis=1, keepdims=True)),
                      ("missing-sum", N_("the sum over the batch is missing: ∂L/∂b = Σ_n dY"), lambda e: e["dY"])],
    ("relu", "X"): [("flipped-indicator", N_("the ReLU indicator is reversed: ∂L/∂X = dY ⊙ [X > 0]"),
                     lambda e: e["dY"] * (e["X"] <= 0)),
                    ("missing-upstream", N_("the upstream gradient dY is missing: ∂L/∂X = dY ⊙ [X > 0]"),
                     lambda e: (e["X"] > 0) * 1.0),
                    ("missing-factor", N_("the indicator [X > 0] is missing"), lambda e: e["dY"])],
    ("leaky_relu", "X"): [("flipped-indicator", N_("the indicator is reversed: the slope is 1 where X > 0 and α "
                                                   "where X ≤ 0"),
                           lambda e: e["dY"] * ((e["X"] <= 0) + e["alpha"] * (e["X"] > 0))),
                          ("missing-factor", N_("the slope α where X ≤ 0 is missing"),
                           lambda e: e["dY"] * (e["X"] > 0))],
    ("sigmoid", "X"): [("wrong-quantity", N_("σ′ written with the input X: σ′ = Y ⊙ (1 − Y), in the layer's "
                                             "output Y"), lambda e: e["dY"] * e["X"] * (1 - e["X"])),
                       ("missing-upstream", N_("the upstream gradient dY is missing: ∂L/∂X = dY ⊙ Y ⊙ (1 − Y)"),
                        lambda e: e["Y"] * (1 - e["Y"])),
                       ("missing-factor", N_("a factor is missing: σ′ = Y ⊙ (1 − Y)"), lambda e: e["dY"] * e["Y"])],
    ("tanh", "X"): [("wrong-quantity", N_("tanh′ written with the input X: tanh′ = 1 − Y², in the layer's output Y"),
                     lambda e: e["dY"] * (1 - e["X"] ** 2)),
                    ("missing-upstream", N_("the upstream gradient dY is missing: ∂L/∂X = dY ⊙ (1 − Y²)"),
                     lambda e: 1 - e["Y"] ** 2),
                    ("factor-half", N_("tanh′ is 1 − Y² (Y squared), not 1 − Y"), lambda e: e["dY"] * (1 - e["Y"]))],
    ("dropout", "X"): [("missing-1/p", N_("the 1/p is missing: inverted dropout scales by the keep probability, "
                                          "∂L/∂X = dY ⊙ mask / p"), lambda e: e["dY"] * e["mask"]),
                       ("times-p", N_("multiplied by p instead of divided: ∂L/∂X = dY ⊙ mask / p"),
                        lambda e: e["dY"] * e["mask"] * e["p"]),
                       ("missing-factor", N_("the mask is missing: only the kept units pass the gradient"),
                        lambda e: e["dY"] / e["p"])],
    ("batchnorm", "X"): [
        ("missing-1/N", N_("the 1/N is missing: ∂L/∂X = (γ / (N σ)) ⊙ (N dY − Σ dY − x̂ ⊙ Σ(dY ⊙ x̂))"),
         lambda e: _bn_dx(e, e["N"])),
        ("missing-xhat-term", N_("the term x̂ ⊙ Σ(dY ⊙ x̂) is missing: the batch variance depends on X too"),
         lambda e: _bn_dx(e, xhat_term=False)),
        ("missing-mean-term", N_("the term Σ dY is missing: the batch mean depends on X too"),
         lambda e: _bn_dx(e, sums=False)),
        ("direct-path-only", N_("only the direct path γ dY / σ: the batch mean and variance depend on X too"),
         lambda e: _bn_dx(e, direct=True)),
        ("missing-factor", N_("γ is missing: ∂L/∂X = (γ / (N σ)) ⊙ (N dY − Σ dY − x̂ ⊙ Σ(dY ⊙ x̂))"),
         lambda e: _bn_dx(e) / e["gamma"])],
    ("batchnorm", "gamma"): [("swapped", N_("that is ∂L/∂β: ∂L/∂γ = Σ(dY ⊙ x̂)"), lambda e: _colsum(e["dY"])),
                             ("missing-sum", N_("the sum over the batch is missing: ∂L/∂γ = Σ_n (dY ⊙ x̂)"),
                              lambda e: e["dY"] * e["xhat"])],
    ("batchnorm", "beta"): [("swapped", N_("that is ∂L/∂γ: ∂L/∂β = Σ dY"), lambda e: _colsum(e["dY"] * e["xhat"])),
                            ("missing-sum", N_("the sum over the batch is missing: ∂L/∂β = Σ_n dY"),
                             lambda e: e["dY"])],
}


# ---------------------------------------------------------------- convolution and pooling

def upsample(a, o, shape):
    """Each element of `a` (N, C, ho, wo) over its pooling window of an input `shape`; overlaps add."""
    k, s = int(o["size"]), int(o["stride"])
    out = np.zeros(shape)
    for i in range(a.shape[2]):
        for j in range(a.shape[3]):
            out[:, :, i * s:i * s + k, j * s:j * s + k] += a[:, :, i:i + 1, j:j + 1]
    return out


def correlate_dw(xp, dy, s: int, kh: int, kw: int):
    """dW[f,c,i,j] = Σ_n Σ_h Σ_w dY[n,f,h,w] Xp[n,c,h·s+i,w·s+j] (Xp read as 0 past its end)."""
    need = ((dy.shape[2] - 1) * s + kh, (dy.shape[3] - 1) * s + kw)
    xp = np.pad(xp, ((0, 0), (0, 0), (0, max(0, need[0] - xp.shape[2])), (0, max(0, need[1] - xp.shape[3]))))
    out = np.zeros((dy.shape[1], xp.shape[1], kh, kw))
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i:i + (dy.shape[2] - 1) * s + 1:s, j:j + (dy.shape[3] - 1) * s + 1:s]
            out[:, :, i, j] = np.einsum("nfhw,nchw->fc", dy, win)
    return out


def full_corr(dy, k, s: int, pad: int, shape):
    """dX[n,c,y,x] = Σ_f Σ_h Σ_w dY[n,f,h,w] K'[f,c,y+pad−h·s,x+pad−w·s] with K' = flip(K): the full
    correlation of the stride-dilated dY with K, cropped by the pad to `shape` (N, C, H, W)."""
    kf = k[:, :, ::-1, ::-1]
    hp, wp = shape[2] + 2 * pad, shape[3] + 2 * pad
    big = np.zeros((dy.shape[0], k.shape[1], max(hp, (dy.shape[2] - 1) * s + k.shape[2]),
                    max(wp, (dy.shape[3] - 1) * s + k.shape[3])))
    for h in range(dy.shape[2]):
        for w in range(dy.shape[3]):
            big[:, :, h * s:h * s + k.shape[2], w * s:w * s + k.shape[3]] += np.einsum("nf,fcij->ncij",
                                                                                      dy[:, :, h, w], kf)
    return big[:, :, pad:pad + shape[2], pad:pad + shape[3]]


def _conv(e, flip_w=False, flip_dw=False, stride=None, pad_off=False, flip_dy=False):
    """A convolution layer's gradient by a mistaken rule (numpy, at the draw `e`)."""
    o, w, dy = e["_o"], e["W"], e["dY"]
    s = int(o["stride"]) if stride is None else stride
    if flip_w:  # dX as the full correlation of dY with the filters not flipped
        return full_corr(dy, w, s, int(o["pad"]), e["X"].shape)
    dw = correlate_dw(e["X"] if pad_off else e["Xpad"], dy[:, :, ::-1, ::-1] if flip_dy else dy, s, w.shape[2],
                      w.shape[3])
    return dw[:, :, ::-1, ::-1] if flip_dw else dw


def _pool(e, kind):
    """A pooling layer's dX by the other pooling's rule (`kind`: "max", "avg", "spread" = no 1/size²)."""
    from ...networks.stackops import NP, kernel
    if kind == "spread":
        return upsample(e["dY"], e["_o"], e["X"].shape)
    fwd, back = kernel(f"{kind}_pool")
    return back(e["dY"], fwd(e["X"], {}, e["_o"], NP)[1], {}, e["_o"], NP)[0]


_SPREAD = N_("the gradient is spread over the whole window: max pooling routes each dY to its window's maximum")
_CORR = N_("∂L/∂W is flipped: it is the correlation of X with dY, dW[f,c,i,j] = Σ dY[n,f,h,w] X[n,c,h·s+i,w·s+j]")
MISTAKES.update({
    ("conv", "X"): [("unflipped-filter", N_("the filters are not flipped: ∂L/∂X is the full correlation of dY "
                                            "with the flipped filters (a full convolution with W)"),
                     lambda e: _conv(e, flip_w=True))],
    ("conv", "W"): [("flipped-filter", _CORR, lambda e: _conv(e, flip_dw=True)),
                    ("flipped-filter", _CORR, lambda e: _conv(e, flip_dy=True)),
                    ("pad", N_("the padding is missing: X is read padded with zeros, X[n,c,h·s+i−pad,w·s+j−pad]"),
                     lambda e: _conv(e, pad_off=True) if e["pad"] else None),
                    ("stride", N_("the stride is missing: dY[n,f,h,w] meets X[n,c,h·s+i,w·s+j]"),
                     lambda e: _conv(e, stride=1) if e["s"] != 1 else None)],
    ("conv", "b"): [("wrong-axis", N_("summed over the wrong axes: ∂L/∂b sums dY over n, h and w"),
                     lambda e: e["dY"].sum(axis=(1, 2, 3)))],
    ("max_pool", "X"): [("spread-window", _SPREAD, lambda e: _pool(e, "avg")),
                        ("spread-window", _SPREAD, lambda e: _pool(e, "spread"))],
    ("avg_pool", "X"): [("missing-1/size²", N_("the 1/size² is missing: average pooling spreads dY / size² over "
                                               "each window"), lambda e: _pool(e, "spread")),
                        ("missing-1/size²", N_("divided by size, not size²: average pooling spreads dY / size² "
                                               "over each window"), lambda e: _pool(e, "spread") / e["size"]),
                        ("routed-max", N_("that is max pooling's rule: average pooling spreads dY / size² over the "
                                          "whole window"), lambda e: _pool(e, "max"))],
})
_LOSS = [("missing-1/N", N_("the 1/N of the mean is missing: the loss averages over the N samples"),
          lambda e, mean: (e["Y"] - e["T"]) if mean else None),
         ("extra-1/N", N_("divided by N, but the loss is a sum over the batch (reduction = \"sum\")"),
          lambda e, mean: None if mean else (e["Y"] - e["T"]) / e["N"]),
         ("wrong-quantity", N_("the scores X in place of the softmax Y: ∂L/∂X = Y − T"),
          lambda e, mean: (e["X"] - e["T"]) / (e["N"] if mean else 1)),
         ("missing-factor", N_("the softmax is missing: ∂L/∂X = Y − T, with Y = softmax(X)"),
          lambda e, mean: -e["T"] / (e["N"] if mean else 1))]
_GENERAL = [("sign", N_("the sign is wrong"), lambda r, e: -r),
            ("factor-2", N_("twice the gradient"), lambda r, e: 2 * r),
            ("factor-half", N_("half the gradient"), lambda r, e: r / 2),
            ("batch-size", N_("N times the gradient"), lambda r, e: r * e["N"]),
            ("batch-size", N_("the gradient divided by N"), lambda r, e: r / e["N"]),
            ("transposed", N_("the transpose of the gradient"), lambda r, e: r.T)]


def _matches(ast, points, evaluate, same, rule) -> bool:
    for env, refs in points:
        try:
            want, got = rule(env, refs), evaluate(ast, env)
        except (ShapeError, KeyError, ValueError):
            return False
        if want is None or not same(got, np.asarray(want, float)):
            return False
    return True


def diagnose(ast, layer, points, evaluate, same) -> list:
    """The mistakes that explain the answer (most specific first); [] when none does."""
    role, found = layer.role, []
    table = ([(c, m, (lambda e, r, f=f: f(e, layer.mean))) for c, m, f in _LOSS] if layer.loss else
             [(c, m, (lambda e, r, f=f: f(e))) for c, m, f in MISTAKES.get((layer.name, role), [])])
    for code, message, rule in table:
        if _matches(ast, points, evaluate, same, rule):
            return [diagnosis(code, message)]
    for path, node in _paths(ast):  # one matrix transposed, or its transpose undone
        if node[0] == "name" or (node[0] == "T" and node[1][0] == "name"):
            name = node[1] if node[0] == "name" else node[1][1]
            edited = _put(ast, path, ("T", node) if node[0] == "name" else node[1])
            if _matches(edited, points, evaluate, same, lambda e, r: r[role]):
                found.append(diagnosis("transposed", N_("{name} is transposed the wrong way") if node[0] == "T"
                                       else N_("{name} should be transposed"), name=name))
                return found
    for code, message, f in _GENERAL:
        if _matches(ast, points, evaluate, same, lambda e, r, f=f: f(r[role], e)):
            return [diagnosis(code, message)]
    return found
