"""A table of circuits and networks built from Python, against autograd at random points; and every
display of every built-in problem renders (figures off here: test_display draws them)."""
from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import derive
from derive.api import display


def sig(z):
    return 1 / (1 + anp.exp(-z))


CIRCUITS = [  # (derive expression, the same function for autograd, inputs)
    ("x * y + x**2", lambda x, y: x * y + x ** 2, "xy"),
    ("(x + y) * z", lambda x, y, z: (x + y) * z, "xyz"),
    ("exp(x) / (1 + exp(x))", lambda x: anp.exp(x) / (1 + anp.exp(x)), "x"),
    ("sigmoid(w_0*x_0 + w_1*x_1 + w_2)", lambda w_0, x_0, w_1, x_1, w_2: sig(w_0 * x_0 + w_1 * x_1 + w_2),
     ["w_0", "x_0", "w_1", "x_1", "w_2"]),
    ("tanh(a * b) - log(c**2 + 1)", lambda a, b, c: anp.tanh(a * b) - anp.log(c ** 2 + 1), "abc"),
    ("x / y - y / x", lambda x, y: x / y - y / x, "xy"),
    ("(x - y)^2 / 2", lambda x, y: (x - y) ** 2 / 2, "xy"),
    ("abs(x) * y + 3", lambda x, y: anp.abs(x) * y + 3, "xy"),
    ("exp(-x * x) * sigmoid(y) + x * y * z", lambda x, y, z: anp.exp(-x * x) * sig(y) + x * y * z, "xyz"),
    ("1 / (1 + (a - b)**2)", lambda a, b: 1 / (1 + (a - b) ** 2), "ab"),
    ("log(sigmoid(p) * q + 2)", lambda p, q: anp.log(sig(p) * q + 2), "pq"),
    ("(x + σ(y)) / (σ(x) + (x + y)**2)", lambda x, y: (x + sig(y)) / (sig(x) + (x + y) ** 2), "xy"),
]


@pytest.mark.parametrize("i", range(len(CIRCUITS)))
@pytest.mark.parametrize("seed", [0, 1])
def test_circuits_against_autograd(i, seed):
    text, fn, names = CIRCUITS[i]
    names = list(names)
    rng = np.random.default_rng(100 * i + seed)
    point = {n: float(np.round(rng.uniform(0.2, 1.5) * rng.choice([-1, 1]), 2)) for n in names}
    s = derive.circuit(text, **point).solve()
    args = [point[n] for n in names]
    assert s.output == pytest.approx(fn(*args), rel=1e-12)
    for k, n in enumerate(names):
        assert s.gradients[n] == pytest.approx(grad(fn, k)(*args), rel=1e-9, abs=1e-12), (text, n)
    assert s.checks.ok


ACTS = {"sigmoid": sig, "tanh": anp.tanh, "identity": lambda z: z}


@pytest.mark.parametrize("sizes, acts, loss", [
    ([2, 3, 1], ["tanh", "sigmoid"], "mse"),
    ([3, 2, 2], ["sigmoid", "identity"], "mse"),
    ([2, 2, 3], ["tanh", "softmax"], "softmax_cross_entropy"),
    ([2, 3, 2, 2], ["tanh", "sigmoid", "sigmoid"], "mse"),
])
def test_random_networks_against_autograd(sizes, acts, loss):
    notation = "nielsen" if len(sizes) > 3 else "mitchell"
    s = derive.network(sizes, activations=acts, loss=loss, notation=notation, seed=len(sizes) + sizes[1]).solve()
    p = s.parameters
    x, t = p["x"][0], p["t"][0]
    names = [k for k in p if k not in ("x", "t")]

    def cost(*params):
        a = x
        for layer, act in enumerate(acts):
            z = anp.dot(params[2 * layer], a) + params[2 * layer + 1]
            a = anp.exp(z) / anp.sum(anp.exp(z)) if act == "softmax" else ACTS[act](z)
        return -anp.sum(t * anp.log(a)) if loss == "softmax_cross_entropy" else 0.5 * anp.sum((t - a) ** 2)

    args = [p[k] for k in names]
    assert s.output == pytest.approx(cost(*args), rel=1e-10)
    for k, name in enumerate(names):
        np.testing.assert_allclose(s.gradients[name], grad(cost, k)(*args), rtol=1e-8, atol=1e-14)


def test_mitchells_delta_sign_and_verify():
    n = derive.load("mlp_222")
    minus = derive.network([2, 2, 2], values=n.solve().parameters | {"x": [0.05, 0.10], "t": [0.01, 0.99]},
                           delta="-dL/dnet")
    assert minus.data.delta_sign == -1
    assert derive.verify(minus, wrt="w_kj", answer="-(t_k-o_k) o_k(1-o_k) h_j").correct


@pytest.fixture
def no_figures(monkeypatch):
    monkeypatch.setattr(display, "figure_svg", lambda tikz: None)


@pytest.mark.parametrize("name", derive.builtins())
def test_every_display_of_every_builtin(name, no_figures):
    p = derive.load(name)
    s = p.solve()
    for obj in (p, s, s.steps, s.checks):
        md, html = obj._repr_markdown_(), obj._repr_html_()
        assert md.strip() and html.startswith('<div class="derive-output">')
        assert "$" not in html  # all math handed to MathJax/KaTeX as \( \) and \[ \]
    assert repr(s.problem.title) in repr(s) and len(s.latex()) > 100 and s.markdown().startswith("# ")


def test_matrix_answers_from_python():
    p = derive.load("affine_layer")
    assert derive.verify(p, wrt="W", answer="X^T dY").correct
    wrong = derive.verify(p, wrt="W", answer="dY X^T")
    assert not wrong.correct and any("wrong order" in d for d in wrong.diagnosis)
    assert r"\begin{bmatrix}" in wrong._repr_markdown_()
    with pytest.raises(derive.DeriveError, match=r"^cannot read the answer"):
        derive.verify(p, wrt="W", answer="X^T ** (")
    assert derive.verify("affine_layer", wrt="W", answer="X^T dY").correct  # a name is loaded
    with pytest.raises(derive.DeriveError, match="Problem or a Solution"):
        derive.verify(42, wrt="W", answer="X^T dY")
