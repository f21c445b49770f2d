"""Layer stacks: bad input (one line naming file, key and what was expected; exit 2), `check --json`,
the derived rules of every layer row, kinks, the zero bias gradient under BatchNorm, a broken rule
caught, the original single-layer files at a size the per-element path could not take, and the
built-ins."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from derive.engine.ops import LAYERS
from derive.errors import ProblemError
from derive.networks import stackops
from derive.networks.stack_rules import derive_layer
from derive.pipeline import solve
from derive.problems import load, loads
from derive.problems.network import NetworkProblem
from derive.problems.stack import StackProblem

X = "X = [[1.0, 2.0, -1.0], [0.5, -0.3, 0.2]]\n"
W1 = "W1 = [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]\nb1 = [0.1, -0.1]\n"
W2 = "W2 = [[0.1, -0.5, 0.3], [0.4, 0.2, -0.1]]\nb2 = [0.0, 0.1, -0.1]\n"
T = "T = [[0, 1, 0], [1, 0, 0]]\n"


def stack(entries: str, values: str, extra: str = "") -> str:
    return f"[layers]\nstack = [{entries}]\n{extra}[values]\n{values}"


GOOD = stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + T)
IMG = "X = " + json.dumps(np.arange(50, dtype=float).reshape(2, 1, 5, 5).tolist()) + "\n"

BAD = [
    (stack('"affine", "relu", "affine", "softmax_with_loss"',
           X + W1 + "W2 = [[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]]\nb2 = [0, 0, 0, 0]\n" + T),
     "[values] W2", ["W2 is 3×4", "layer 3", "expects 2×4"]),
    (stack('"affine", "rlu", "affine", "softmax_with_loss"', X + W1 + W2 + T), "[layers] stack[2]",
     ["unknown layer 'rlu'", "affine", "batchnorm", "max_pool"]),
    (stack('"affine", {type = "dropout", q = 0.5}, "affine", "softmax_with_loss"', X + W1 + W2 + T),
     "[layers] stack[2] q", ["unknown option", "p"]),
    (stack('"affine", {type = "dropout", p = 0.5}, "affine", "softmax_with_loss"',
           X + W1 + "mask1 = [[1, 2], [0, 1]]\n" + W2 + T), "[values] mask1", ["0s and 1s"]),
    (stack('"affine", {type = "dropout", p = 0.5}, "affine", "softmax_with_loss"',
           X + W1 + "mask1 = [[1, 0, 1], [0, 1, 1]]\n" + W2 + T), "[values] mask1", ["2×3", "expects 2×2"]),
    (stack('"affine", {type = "dropout", p = 0.0}, "affine", "softmax_with_loss"', X + W1 + W2 + T),
     "[layers] stack[2] p", ["(0, 1]"]),
    (stack('"affine", {type = "dropout", p = 1.5}, "affine", "softmax_with_loss"', X + W1 + W2 + T),
     "[layers] stack[2] p", ["(0, 1]"]),
    (stack('"affine", {type = "batchnorm", eps = 0}, "affine", "softmax_with_loss"', X + W1 + W2 + T),
     "[layers] stack[2] eps", ["> 0"]),
    (stack('"affine", {type = "batchnorm", eps = -1e-5}, "affine", "softmax_with_loss"', X + W1 + W2 + T),
     "[layers] stack[2] eps", ["> 0"]),
    (stack('"max_pool", "mse"', IMG + "T = [[0, 0, 0, 0], [0, 0, 0, 0]]\n"), "[layers] stack[1]",
     ["do not tile", "5×5"]),
    (stack('{type = "conv", stride = 2}, "mse"', IMG + "W1 = [[[[1, 0], [0, 1]]]]\nb1 = [0]\nT = [[0]]\n"),
     "[layers] stack[1]", ["not a whole number"]),
    (stack('{type = "conv", stride = 1.5}, "mse"', IMG + "W1 = [[[[1, 0], [0, 1]]]]\nb1 = [0]\nT = [[0]]\n"),
     "[layers] stack[1] stride", ["whole number"]),
    (stack('{type = "conv", pad = "1"}, "mse"', IMG), "[layers] stack[1] pad", ["expected a number"]),
    (stack('"conv", "mse"', X + "W1 = [[[[1]]]]\nb1 = [0]\nT = [[0], [0]]\n"), "[layers] stack[1]",
     ["N × C × H × W"]),
    (stack('"conv", "mse"', IMG + "W1 = [[[[1]], [[1]]]]\nb1 = [0]\nT = [[0], [0]]\n"), "[values] W1",
     ["1×2×1×1", "expects F×1×HH×WW"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + "W1 = [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]\n"
           + W2 + T), "[values] b1", ["missing"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + T + "W3 = [[1]]\n"), "[values] W3",
     ["unknown array", "W1"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + "T = [[0.2, 0.3, 0.4], [1, 0, 0]]\n"),
     "[values] T", ["row 1", "summing to 1"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + "T = [[0, 1], [1, 0]]\n"),
     "[values] T", ["2×2", "2×3"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + T, 'reduction = "avg"\n'),
     "[layers] reduction", ['"mean"']),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + T, "weight_decay = -0.1\n"),
     "[layers] weight_decay", ["≥ 0"]),
    (stack('"affine", "relu", "affine", "softmax_with_loss"', X + W1 + W2 + T, "momentum = 0.9\n"),
     "[layers] momentum", ["unknown key"]),
    (stack('"affine", "softmax_with_loss", "affine"', X + W1 + W2 + T), "[layers] stack[2]", ["must come last"]),
    (stack('"affine", "relu"', X + W1), "[layers] stack", ["loss layer", "expected one of"]),
    (stack('"affine", "batchnorm", "softmax_with_loss"', "X = [[1.0, 2.0, -1.0]]\n" + W1
           + "gamma1 = [1, 1]\nbeta1 = [0, 0]\nT = [[0, 1]]\n"), "[layers] stack[2]", ["at least 2"]),
    (stack('"affine", "batchnorm", "batchnorm", "softmax_with_loss"', X + W1
           + "gamma1 = [1, 1]\nbeta1 = [0, 0]\nT = [[0, 1], [1, 0]]\n"), "[layers] stack[3]", ["a second"]),
    (stack('"affine", "softmax_with_loss"', "X = [[[1.0, 2.0]]]\n" + W1 + T), "[values] X", ["N × D"]),
    (stack('"affine", "softmax_with_loss"', "X = [[1.0, 2.0], [3.0]]\n" + W1 + T), "[values] X", ["rows"]),
    ("[layers]\nstack = []\n[values]\n" + X, "[layers] stack", ["a list of layers"]),
]


@pytest.mark.parametrize("text, key, words", BAD)
def test_bad_stacks_get_one_clear_line(text, key, words):
    with pytest.raises(ProblemError) as e:
        loads(text, "bad.toml")
    message = str(e.value)
    assert e.value.source == "bad.toml" and e.value.key == key, message
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_bad_stack_on_the_command_line_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD[0][0], encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "derive", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "W2 is 3×4" in run.stderr and "Traceback" not in run.stderr


def test_check_json_gives_loss_and_gradients_shaped_like_the_values(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(stack('"affine", {type = "batchnorm", eps = 0.001}, "relu", "affine", "softmax_with_loss"',
                          X + W1 + "gamma1 = [1.5, 0.5]\nbeta1 = [0.1, 0.2]\n" + W2 + T,
                          'reduction = "mean"\nweight_decay = 0.1\n'), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "derive", "check", str(path), "--json"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert isinstance(out["loss"], float) and out["ok"] is True
    assert list(out["gradients"]) == ["X", "W1", "b1", "gamma1", "beta1", "W2", "b2"]
    assert np.shape(out["gradients"]["X"]) == (2, 3) and np.shape(out["gradients"]["W1"]) == (3, 2)
    assert np.shape(out["gradients"]["gamma1"]) == (2,) and np.shape(out["gradients"]["b2"]) == (3,)
    # the bias feeding BatchNorm: zero, and proven (not a false alarm)
    assert np.abs(out["gradients"]["b1"]).max() < 1e-12
    assert all(c["ok"] for c in out["checks"] if c["wrt"].startswith("b1"))
    # weight decay ½λΣW² on W only, not divided by N under mean: dW includes λW
    p = loads(path.read_text(), "net")
    sol_no_decay = solve(loads(path.read_text().replace("weight_decay = 0.1", "weight_decay = 0.0"), "n"))
    diff = np.array(out["gradients"]["W2"]) - sol_no_decay.extra.gradients["W2"]
    assert np.allclose(diff, 0.1 * p.arrays["W2"], rtol=1e-9, atol=1e-12)
    assert np.allclose(np.array(out["gradients"]["b2"]), sol_no_decay.extra.gradients["b2"], rtol=1e-12)
    decay = 0.05 * sum((p.arrays[w] ** 2).sum() for w in ("W1", "W2"))
    assert abs(out["loss"] - sol_no_decay.extra.loss - decay) < 1e-12


RULE_CASES = [
    ("affine", {}, 2), ("relu", {}, 2), ("sigmoid", {}, 2), ("tanh", {}, 2), ("leaky_relu", {"alpha": 0.2}, 2),
    ("batchnorm", {"eps": 1e-5}, 2), ("batchnorm", {"eps": 0.01}, 4), ("dropout", {"p": 0.8}, 2),
    ("conv", {"stride": 2, "pad": 1}, 4), ("conv", {"stride": 1, "pad": 0}, 4),
    ("max_pool", {"size": 3, "stride": 1}, 4), ("avg_pool", {"size": 2, "stride": 1}, 4)]
LOSS_CASES = [(name, {}, 2, mean) for name in ("softmax_with_loss", "mse") for mean in (False, True)]


@pytest.mark.parametrize("name, options, ndim, mean", [(*c, False) for c in RULE_CASES] + LOSS_CASES)
def test_every_layer_rule_is_derived_from_its_per_element_graph(name, options, ndim, mean):
    derived = derive_layer(name, tuple(sorted(options.items())), ndim, mean, (2, 1, 3, 3) if name == "conv" else None)
    roles = {role for role, _, _ in derived}
    assert roles == {"X"} | {r for r, _ in LAYERS[name].own if r != "mask"}
    assert all(ok for _, ok, _ in derived)
    assert {n for n in LAYERS} == {c[0] for c in RULE_CASES + LOSS_CASES}  # every row is walked


def test_a_wrong_rule_is_caught_by_the_derivation_and_by_the_proof(monkeypatch):
    forward, _ = stackops.KERNELS["batchnorm"]

    def no_mean_term(dy, c, p, o, lib):  # the classic mistake: the Σ(dY ⊙ x̂) term left out
        shape, xhat, std = c
        d2 = stackops._channels_last(dy)
        n = d2.shape[0]
        dx = (p["gamma"] / (n * std)) * (n * d2 - d2.sum(axis=0))
        return stackops._channels_back(dx, shape), {"gamma": (d2 * xhat).sum(axis=0), "beta": d2.sum(axis=0)}
    monkeypatch.setitem(stackops.KERNELS, "batchnorm", (forward, no_mean_term))
    stackops.kernel.cache_clear()
    derive_layer.cache_clear()
    try:
        derived = dict((role, ok) for role, ok, _ in derive_layer("batchnorm", (("eps", 1e-5),), 2, False))
        assert derived["X"] is False and derived["gamma"] is True
        sol = solve(load("batchnorm_net"))
        assert not sol.report.ok
        assert {c.wrt.split("[")[0] for c in sol.report.failures()} >= {"X", "W1"}
    finally:
        stackops.kernel.cache_clear()
        derive_layer.cache_clear()


def test_a_max_pool_tie_is_a_kink_not_a_failure():
    x = json.dumps([[[[1.0, 1.0, 0.0, 0.5], [0.2, 0.3, 0.1, 0.4], [0.0, 0.1, 0.9, 0.2], [0.3, 0.2, 0.1, 0.0]]]])
    sol = solve(loads(stack('"max_pool", "mse"', f"X = {x}\nT = [[0.1, 0.2, 0.3, 0.4]]\n"), "tie"))
    assert sol.extra.kinks == ((1, "max_pool", (1, 1, 1, 1)),)
    assert sol.report.ok


def test_original_affine_files_of_any_size_go_through_the_stack_path():
    rng = np.random.default_rng(5)
    x, w, b, dy = rng.normal(size=(60, 60)), rng.normal(size=(60, 60)), rng.normal(size=60), rng.normal(size=(60, 60))
    text = (f'[layers]\nstack = ["affine"]\n[values]\nX = {json.dumps(x.tolist())}\nW = {json.dumps(w.tolist())}\n'
            f"B = {json.dumps(b.tolist())}\ndY = {json.dumps(dy.tolist())}\n")
    p = loads(text, "big")
    assert isinstance(p, StackProblem)
    sol = solve(p)
    g = sol.extra.gradients
    assert list(g) == ["X", "W", "B"]
    np.testing.assert_allclose(g["X"], np.einsum("nm,dm->nd", dy, w), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["W"], np.einsum("nd,nm->dm", x, dy), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["B"], dy.sum(axis=0), rtol=1e-10)
    assert abs(sol.extra.loss - float((dy * (x @ w + b)).sum())) < 1e-9 * abs(sol.extra.loss)
    assert sol.report.ok and len(sol.report.checks) == 60 * 60 * 2 + 60


def test_small_original_files_stay_per_element():
    assert isinstance(load("affine_layer"), NetworkProblem) and isinstance(load("affine_softmax"), NetworkProblem)


@pytest.mark.parametrize("name", ["two_layer_net", "batchnorm_net", "conv_net"])
def test_builtin_stacks_are_proven_and_translated(name):
    p = load(name)
    assert isinstance(p, StackProblem) and p.translations["ko"]["title"]
    sol = solve(p)
    assert sol.report.ok and all(r.checked for r in sol.extra.vector_rules) and not sol.extra.kinks


def test_a_stack_too_big_for_memory_is_refused_up_front(monkeypatch):
    import derive.problems.stack as stack_module
    monkeypatch.setattr(stack_module, "memory_available", lambda: 50 * 2**20)
    with pytest.raises(ProblemError) as e:
        loads(GOOD, "big.toml")
    assert e.value.key == "[values]" and "GiB" in str(e.value) and "gradient elements" in str(e.value)
    monkeypatch.setattr(stack_module, "memory_available", lambda: None)
    assert isinstance(loads(GOOD, "ok.toml"), StackProblem)


def test_a_stack_whose_proof_would_not_end_is_refused_up_front():
    big = json.dumps(np.ones((1, 1, 300, 300)).tolist())
    text = stack('{type = "conv", pad = 0}, "avg_pool", "mse"',
                 f"X = {big}\nW1 = [[[[1.0]]]]\nb1 = [0.0]\nT = {json.dumps(np.zeros((1, 150 * 150)).tolist())}\n")
    with pytest.raises(ProblemError) as e:
        loads(text, "huge.toml")
    assert e.value.key == "[values]" and "operations" in str(e.value)
