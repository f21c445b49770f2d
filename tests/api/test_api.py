"""The Python API alone (no CLI) reproduces the seed numbers, computed here independently: by hand
(the seed texts), with autograd, or with a numpy forward/backward pass written in the test."""
from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import derive


def sigmoid(z):
    return 1 / (1 + anp.exp(-z))


# ---------------------------------------------------------------- circuits

def test_cs231n_circuit_from_one_line():
    s = derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4).solve()
    assert s.output == -12 and s.output_name == "f"
    # seed 004: f = (x + y) z: ∂f/∂x = ∂f/∂y = z = -4, ∂f/∂z = x + y = 3
    assert s.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert s.checks.ok and len(s.checks) >= 3


def test_circuit_in_steps_and_as_a_graph_agree():
    a = derive.circuit("q = x + y\nf = q * z", values={"x": -2, "y": 5, "z": -4}).solve()
    b = derive.circuit("q = x + y; f = q * z", x=-2, y=5, z=-4).solve()
    c = derive.graph({"q": "x + y", "f": "q * z"}, values={"x": -2, "y": 5, "z": -4}).solve()
    for s in (a, b, c):
        assert s.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
        assert s.values["q"] == 3.0 and s.values["f"] == -12.0


STAGED = "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)"


def staged_f(v):
    x, y = v[0], v[1]
    return (x + sigmoid(y)) / (sigmoid(x) + (x + y) ** 2)


@pytest.mark.parametrize("x, y", [(3, -4), (0.5, 1.5), (-1, 2)])
def test_staged_example_against_autograd(x, y):
    s = derive.circuit(f"f = {STAGED}", x=x, y=y).solve()
    expected = grad(staged_f)(np.array([x, y], dtype=float))
    assert s.output == pytest.approx(staged_f(np.array([x, y], dtype=float)), rel=1e-12)
    assert s.gradients["x"] == pytest.approx(expected[0], rel=1e-10)
    assert s.gradients["y"] == pytest.approx(expected[1], rel=1e-10)
    # staged into the gates the seed names, one backward step per node
    assert {"sigy", "sigx", "invden"} <= set(s.values)
    assert len(s.steps) == len(s.values)


def test_sigmoid_neuron_seed_numbers():
    s = derive.load("neuron_sigmoid").solve()
    # seed 004: f ≈ 0.73; w0 ≈ -0.20, x0 ≈ 0.39, w1 ≈ -0.39, x1 ≈ -0.59, w2 ≈ 0.20
    w, x = np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])
    f = 1 / (1 + np.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))
    local = f * (1 - f)
    assert s.output == pytest.approx(f, rel=1e-12)
    g = s.gradients
    assert g["w_0"] == pytest.approx(x[0] * local) and round(g["w_0"], 2) == -0.20
    assert g["x_0"] == pytest.approx(w[0] * local) and round(g["x_0"], 2) == 0.39
    assert g["w_1"] == pytest.approx(x[1] * local) and round(g["w_1"], 2) == -0.39
    assert g["x_1"] == pytest.approx(w[1] * local) and round(g["x_1"], 2) == -0.59
    assert g["w_2"] == pytest.approx(local) and round(g["w_2"], 2) == 0.20


def test_fanout_sums_two_contributions():
    s = derive.circuit("f = x*y + x**2", x=3, y=2).solve()
    assert s.gradients == {"x": 2 * 3 + 2, "y": 3}  # seed 000: ∂f/∂x = 2x + y
    assert s.steps.of("x").is_fanout


# ---------------------------------------------------------------- networks

MAZUR = {"x": [0.05, 0.10], "t": [0.01, 0.99], "W1": [[0.15, 0.20], [0.25, 0.30]], "b1": [0.35, 0.35],
         "W2": [[0.40, 0.45], [0.50, 0.55]], "b2": [0.60, 0.60]}


def numpy_mlp(v, act=lambda z: 1 / (1 + np.exp(-z)), dact=lambda a: a * (1 - a)):
    """One hidden layer, ½Σ(t − o)², written out by hand: (loss, {param: gradient})."""
    x, t = np.array(v["x"], float), np.array(v["t"], float)
    W1, b1, W2, b2 = (np.array(v[k], float) for k in ("W1", "b1", "W2", "b2"))
    h = act(W1 @ x + b1)
    o = act(W2 @ h + b2)
    loss = 0.5 * np.sum((t - o) ** 2)
    d_o = -(t - o) * dact(o)
    d_h = (W2.T @ d_o) * dact(h)
    return loss, {"W1": np.outer(d_h, x), "b1": d_h, "W2": np.outer(d_o, h), "b2": d_o}


def test_mazur_222_from_python_values():
    n = derive.network([2, 2, 2], activations="sigmoid", loss="mse", notation="mitchell",
                       values={k: np.array(v) for k, v in MAZUR.items()})
    s = n.solve()
    loss, grads = numpy_mlp(MAZUR)
    assert s.output == pytest.approx(loss, rel=1e-12)
    assert round(s.output, 9) == 0.298371109  # Mazur's total error
    assert round(s.gradients["W2"][0, 0], 9) == 0.082167041  # Mazur's ∂E/∂w5 (h1 -> o1)
    assert round(0.40 - 0.5 * s.gradients["W2"][0, 0], 8) == 0.35891648  # his updated w5
    for k, g in grads.items():
        assert s.gradients[k].shape == np.shape(MAZUR[k])
        np.testing.assert_allclose(s.gradients[k], g, rtol=1e-10)
    assert s.checks.ok


def test_builtin_and_python_network_agree():
    a = derive.load("mlp_222").solve()
    b = derive.network([2, 2, 2], values=MAZUR).solve()
    assert a.output == b.output
    for k in a.gradients:
        np.testing.assert_array_equal(a.gradients[k], b.gradients[k])


def test_nielsen_232_against_autograd():
    s = derive.load("mlp_nielsen").solve()
    p = s.parameters
    x, y = p["x"][0], p["t"][0]

    def cost(params):
        W1, b1, W2, b2 = params
        a1 = sigmoid(anp.dot(W1, x) + b1)
        a2 = sigmoid(anp.dot(W2, a1) + b2)
        return 0.5 * anp.sum((y - a2) ** 2)

    params = [p["W1"], p["b1"], p["W2"], p["b2"]]
    expected = grad(cost)(params)
    assert s.output == pytest.approx(cost(params), rel=1e-12) and s.output_name == "C"
    for name, g in zip(("W1", "b1", "W2", "b2"), expected):
        np.testing.assert_allclose(s.gradients[name], g, rtol=1e-9)
    assert all(r.checked for r in s.steps.rules)


def test_a_batch_of_relu_rows_sums_the_loss():
    rng = np.random.default_rng(3)
    v = {"x": rng.uniform(-1, 1, (3, 2)).round(2), "t": rng.uniform(0, 1, (3, 2)).round(2),
         "W1": rng.uniform(-1, 1, (3, 2)).round(2), "b1": rng.uniform(-1, 1, 3).round(2),
         "W2": rng.uniform(-1, 1, (2, 3)).round(2), "b2": rng.uniform(-1, 1, 2).round(2)}
    s = derive.network([2, 3, 2], activations=["relu", "sigmoid"], values=v).solve()
    total, grads = 0.0, {k: 0.0 for k in ("W1", "b1", "W2", "b2")}
    for x, t in zip(v["x"], v["t"]):
        row = {**v, "x": x, "t": t}
        h = np.maximum(row["W1"] @ x + row["b1"], 0)
        o = 1 / (1 + np.exp(-(row["W2"] @ h + row["b2"])))
        total += 0.5 * np.sum((t - o) ** 2)
        d_o = -(t - o) * o * (1 - o)
        d_h = (row["W2"].T @ d_o) * (h > 0)
        for k, g in (("W1", np.outer(d_h, x)), ("b1", d_h), ("W2", np.outer(d_o, h)), ("b2", d_o)):
            grads[k] = grads[k] + g
    assert s.output == pytest.approx(total, rel=1e-12)
    for k, g in grads.items():
        np.testing.assert_allclose(s.gradients[k], g, rtol=1e-9, atol=1e-15)


def test_affine_layer_matrix_forms():
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    W = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    B = np.array([0.1, -0.2])
    dY = np.array([[1.0, -2.0], [0.5, 0.25]])
    s = derive.layers(["affine"], values={"X": X, "W": W, "B": B, "dY": dY}).solve()
    # seed 002: ∂L/∂X = ∂L/∂Y·Wᵀ, ∂L/∂W = Xᵀ·∂L/∂Y, ∂L/∂B = column sums of ∂L/∂Y
    np.testing.assert_allclose(s.gradients["X"], dY @ W.T, rtol=1e-12)
    np.testing.assert_allclose(s.gradients["W"], X.T @ dY, rtol=1e-12)
    np.testing.assert_allclose(s.gradients["B"], dY.sum(axis=0), rtol=1e-12)
    assert s.checks.ok


def test_softmax_with_loss_is_y_minus_t():
    A = np.array([[0.3, 2.9, 4.0], [1.0, -1.0, 0.5]])
    T = np.array([[0, 0, 1], [1, 0, 0]])
    s = derive.layers(["softmax_with_loss"], values={"A": A, "T": T}).solve()
    Y = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
    assert s.output == pytest.approx(-np.sum(T * np.log(Y)), rel=1e-12)
    np.testing.assert_allclose(s.gradients["A"], Y - T, rtol=1e-10)  # seed 003: y − t


def test_every_builtin_solves_with_checks_ok():
    for name in derive.builtins():
        s = derive.load(name).solve()
        assert s.checks.ok, name
        assert s.gradients, name
