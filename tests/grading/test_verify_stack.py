"""`derive verify` on layer stacks: answers to one layer's backward rule (grading.matrix.stack).

Right answers in several spellings per layer, each classic mistake with its diagnosis, wrong answers
never accepted (built-ins and random stacks), the reference checked against central differences of
the layer's forward pass (numpy), unknown --wrt and unread layers as one line (exit 2).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from derive import problems
from derive.grading.answers import VerifyError, code_of
from derive.grading.matrix.stack import Layer, _draw_arrays, layer_env
from derive.grading.verify import verify
from derive.pipeline import solve

BN = r"\frac{\gamma}{N\sigma}\odot\left(N\,dY - \sum_n dY - \hat{x}\odot\sum_n (dY \odot \hat{x})\right)"
RIGHT = {  # (built-in, --wrt): spellings that must be accepted
    ("two_layer_net", "W1"): ["X^T dY", "X.T @ dY", "Xᵀ·dY", r"X^{\top} \frac{\partial L}{\partial Y}",
                              "∂L/∂W1 = X^T dY", "transpose(X) dY"],
    ("two_layer_net", "dW2"): ["X^T dY", "(dY^T X)^T"],
    ("two_layer_net", "b1"): ["Σ_n dY", "colsum(dY)", "sum(dY, axis=0)", r"\sum_{n} dY", "1^T dY"],
    ("two_layer_net", "X"): ["dY W^T", "dY @ W.T", "dY W1^T", r"dY \cdot W^{\top}"],
    ("two_layer_net", "dX2"): ["dY ⊙ (X > 0)", r"dY \odot [X > 0]", "(Y > 0) ⊙ dY", r"dY \odot \mathbb{1}[X>0]",
                               "dY ⊙ (X ≥ 0)"],
    ("two_layer_net", "dX3"): ["dY W^T", "dY W2^T"],
    ("two_layer_net", "dScores"): ["(Y - T)/N", r"\frac{1}{N}(Y - T)", "(softmax(X) - T) / N", "Y/N - T/N"],
    ("batchnorm_net", "dX2"): ["(γ / (N σ)) ⊙ (N dY − Σ_n dY − x̂ ⊙ Σ_n (dY ⊙ x̂))", BN,
                               "gamma/(N sigma) ⊙ (N dY - colsum(dY) - xhat ⊙ colsum(dY ⊙ xhat))",
                               "γ ⊙ (dY - Σ dY / N - x̂ ⊙ Σ(dY ⊙ x̂) / N) / σ"],
    ("batchnorm_net", "gamma1"): ["Σ_n dY ⊙ x̂", "colsum(dY ⊙ xhat)", r"\sum_n (dY \odot \hat{x})"],
    ("batchnorm_net", "dbeta1"): ["Σ_n dY", "colsum(dY)"],
    ("batchnorm_net", "dX3"): ["dY ⊙ (X > 0)"],
    ("conv_net", "dX2"): ["dY ⊙ (X > 0)"],
    ("conv_net", "W2"): ["X^T dY"],
    ("conv_net", "dX4"): ["dY W^T"],
}
WRONG = {  # (built-in, --wrt, answer): the diagnosis code it must get
    ("two_layer_net", "W1", "X dY"): "transposed",
    ("two_layer_net", "W1", "dY^T X"): "transposed",
    ("two_layer_net", "X", "dY W"): "transposed",
    ("two_layer_net", "dX2", "dY ⊙ (X <= 0)"): "flipped-indicator",
    ("two_layer_net", "dX2", "dY ⊙ (X < 0)"): "flipped-indicator",
    ("two_layer_net", "dX2", "(X > 0)"): "missing-upstream",
    ("two_layer_net", "dScores", "Y - T"): "missing-1/N",
    ("two_layer_net", "dScores", "T - Y"): "other",
    ("two_layer_net", "b1", "rowsum(dY)"): "wrong-axis",
    ("batchnorm_net", "dX2", "(γ / σ) ⊙ (N dY − Σ_n dY − x̂ ⊙ Σ_n (dY ⊙ x̂))"): "missing-1/N",
    ("batchnorm_net", "dX2", "(γ / (N σ)) ⊙ (N dY − Σ_n dY)"): "missing-xhat-term",
    ("batchnorm_net", "dX2", "(γ / (N σ)) ⊙ (N dY − x̂ ⊙ Σ_n (dY ⊙ x̂))"): "missing-mean-term",
    ("batchnorm_net", "dX2", "γ dY / σ"): "direct-path-only",
    ("batchnorm_net", "gamma1", "Σ_n dY"): "swapped",
    ("batchnorm_net", "beta1", "Σ_n dY ⊙ x̂"): "swapped",
}


@pytest.fixture(scope="module")
def solved():
    return {name: solve(problems.load(name)) for name in ("two_layer_net", "batchnorm_net", "conv_net")}


@pytest.mark.parametrize("case", sorted(RIGHT))
def test_right_spellings(solved, case):
    for answer in RIGHT[case]:
        v = verify(solved[case[0]], case[1], answer)
        assert v.correct, (case, answer, v.diagnosis)


@pytest.mark.parametrize("case", sorted(WRONG))
def test_mistakes_are_named(solved, case):
    v = verify(solved[case[0]], case[1], case[2])
    assert not v.correct
    codes = [code_of(d) for d in v.diagnosis]
    if WRONG[case] == "other":
        assert v.diagnosis, case
    else:
        assert WRONG[case] in codes, (case, list(v.diagnosis))
    assert v.counterexample["expected"] is not None


def test_sign_and_factor_mistakes(solved):
    sol = solved["two_layer_net"]
    assert "sign" in [code_of(d) for d in verify(sol, "dX2", "-dY ⊙ (X > 0)").diagnosis]
    assert "factor-2" in [code_of(d) for d in verify(sol, "W1", "2 X^T dY").diagnosis]


def _stack_toml(rng, layers, n, d, reduction):
    """A random stack: affine layers with the activations between them, values drawn by `rng`."""
    k, width, lines, stack = 0, d, [], []
    for layer in layers:
        if layer == "affine":
            k += 1
            out = int(rng.integers(2, 5))
            lines += [f"W{k} = {np.round(rng.uniform(-1, 1, (width, out)), 2).tolist()}",
                      f"b{k} = {np.round(rng.uniform(-1, 1, out), 2).tolist()}"]
            width = out
            stack.append('"affine"')
        elif layer == "batchnorm":
            lines += [f"gamma{k} = {np.round(rng.uniform(0.5, 2, width), 2).tolist()}",
                      f"beta{k} = {np.round(rng.uniform(-1, 1, width), 2).tolist()}"]
            stack.append('"batchnorm"')
        elif layer == "dropout":
            lines.append(f"mask{k} = {rng.integers(0, 2, (n, width)).tolist()}")
            stack.append('{type = "dropout", p = 0.8}')
        else:
            stack.append(f'"{layer}"')
    c = width
    t = np.eye(c)[rng.integers(0, c, n)].astype(int).tolist()
    x = np.round(rng.uniform(-2, 2, (n, d)), 2).tolist()
    return (f'title = "random"\n[layers]\nstack = [{", ".join(stack)}, "softmax_with_loss"]\nreduction = '
            f'"{reduction}"\n[values]\nX = {x}\n' + "\n".join(lines) + f"\nT = {t}\n")


ACT_RULES = {"relu": "dY ⊙ (X > 0)", "sigmoid": "dY ⊙ Y ⊙ (1 - Y)", "tanh": "dY ⊙ (1 - Y ⊙ Y)",
             "dropout": "dY ⊙ mask / p", "batchnorm": BN}
ACT_WRONG = {"relu": ["dY ⊙ (X < 0)", "dY", "dY ⊙ X"], "sigmoid": ["dY ⊙ X ⊙ (1 - X)", "Y ⊙ (1 - Y)", "dY ⊙ Y"],
             "tanh": ["dY ⊙ (1 - X ⊙ X)", "dY ⊙ (1 - Y)"], "dropout": ["dY ⊙ mask", "dY ⊙ mask * p", "dY / p"],
             "batchnorm": ["γ dY / σ", "(γ / σ) ⊙ (N dY − Σ dY − x̂ ⊙ Σ(dY ⊙ x̂))", "(γ / (N σ)) ⊙ (N dY − Σ dY)"]}


@pytest.mark.parametrize("seed", range(6))
def test_random_stacks_accept_right_reject_wrong(seed):
    rng = np.random.default_rng(100 + seed)
    acts = ["relu", "sigmoid", "tanh", "dropout", "batchnorm"]
    chosen = [acts[i] for i in rng.permutation(len(acts))[:2]]
    n, d = int(rng.integers(1, 4)) + (1 if "batchnorm" in chosen else 0), int(rng.integers(2, 4))
    layers = ["affine", chosen[0], "affine", chosen[1], "affine"]
    reduction = "mean" if seed % 2 else "sum"
    sol = solve(problems.loads(_stack_toml(rng, layers, n, d, reduction)))
    accepted_wrong = []
    for pos, name in enumerate(layers, start=1):
        wrt = f"dX{pos}"
        if name == "affine":
            right, wrong = ["dY W^T"], ["dY W", "X^T dY", "-dY W^T", "2 dY W^T"]
            k = layers[:pos].count("affine")
            assert verify(sol, f"W{k}", "X^T dY").correct
            assert verify(sol, f"b{k}", "Σ_n dY").correct
            assert not verify(sol, f"W{k}", "Y^T dY").correct
        else:
            right, wrong = [ACT_RULES[name]], ACT_WRONG[name]
        for a in right:
            v = verify(sol, wrt, a)
            assert v.correct, (layers, wrt, a, v.diagnosis)
        for a in wrong:
            try:
                if verify(sol, wrt, a).correct:
                    accepted_wrong.append((wrt, a))
            except VerifyError:
                pass
    scores = "(Y - T)/N" if reduction == "mean" else "Y - T"
    other = "Y - T" if reduction == "mean" else "(Y - T)/N"
    assert verify(sol, "dScores", scores).correct
    assert verify(sol, "dScores", other).correct == (n == 1)  # one sample: the mean is the sum
    assert accepted_wrong == []


def _numeric_layer_grad(name, options, x, params, dy, role):
    """∂(Σ dY ⊙ Y)/∂(role) by central differences of the layer's forward pass (numpy)."""
    from derive.networks.stackops import NP, kernel
    fwd = kernel(name)[0]
    args = {"X": x.copy(), **{k: v.copy() for k, v in params.items()}}
    g = np.zeros_like(args[role])
    h = 1e-6
    for idx in np.ndindex(g.shape):
        vals = []
        for step in (h, -h):
            moved = {k: v.copy() for k, v in args.items()}
            moved[role][idx] += step
            y = fwd(moved.pop("X"), moved, options, NP)[0]
            vals.append(float((dy * y).sum()))
        g[idx] = (vals[0] - vals[1]) / (2 * h)
    return g


def test_reference_is_the_layers_gradient_by_finite_differences():
    text = _stack_toml(np.random.default_rng(7), ["affine", "batchnorm", "sigmoid", "affine", "relu", "affine"],
                       4, 3, "sum")
    sol = solve(problems.loads(text))
    rng = np.random.default_rng(3)
    for ps in sol.extra.passes[:-1]:
        roles = ["X", *ps.arrays]
        for i in range(3):
            x, params, dy = _draw_arrays(ps, sol.problem, rng, i)
            for role in roles:
                _env, refs = layer_env(Layer(ps, role, "", False, False), sol.problem, x, params, dy)
                want = _numeric_layer_grad(ps.name, ps.options, x, params, dy, role)
                got = refs[role].reshape(want.shape) if role != "X" or ps.name != "affine" else \
                    refs[role].reshape(x.shape)
                assert np.allclose(got, want, rtol=1e-5, atol=1e-7), (ps.name, role)


def test_unknown_wrt_lists_the_gradients(solved):
    with pytest.raises(VerifyError) as e:
        verify(solved["two_layer_net"], "Q7", "dY")
    message = str(e.value)
    assert "\n" not in message
    for name in ("dX1", "dW1", "db2", "dX2", "dScores"):
        assert name in message


def test_conv_layer_read_and_cli_exit_codes(solved):
    assert verify(solved["conv_net"], "W1", "corr(X, dY)").correct  # the conv layer: test_verify_stack_conv.py
    with pytest.raises(VerifyError):
        verify(solved["conv_net"], "W1", "X^T dY")
    run = [sys.executable, "-m", "derive", "verify", "two_layer_net", "--wrt"]
    ok = subprocess.run(run + ["dW1", "--answer", "X^T dY"], capture_output=True, text=True)
    bad = subprocess.run(run + ["dW1", "--answer", "X dY"], capture_output=True, text=True)
    unknown = subprocess.run(run + ["V9", "--answer", "X"], capture_output=True, text=True)
    assert (ok.returncode, bad.returncode, unknown.returncode) == (0, 1, 2)
    assert "Traceback" not in unknown.stderr + unknown.stdout
