"""Every activation record, in scalar circuits and in networks, against autograd.

The table is read from the records (every row with activation=True), so a new activation row is
tested here without this file naming it; its independent autograd form must be added to
REFERENCE (a row without one fails, naming it). Also: the BP rules a report prints are the ones
checked (a corrupted displayed derivative fails its check), and a unit exactly at a kink is
reported as a kink, not as a failure.
"""
from __future__ import annotations

import json

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from autograd import grad
from click.testing import CliRunner

from derive import problems as problem
from derive.cli import main
from derive.cli.text import check_json
from derive.engine.ops import FUNCTION_TABLE
from derive.networks import vector
from derive.pipeline import solve

# independent forms in autograd (α: the documented defaults, leaky_relu 0.01 and elu 1)
REFERENCE = {
    "sigmoid": lambda z: 1 / (1 + anp.exp(-z)),
    "tanh": anp.tanh,
    "relu": lambda z: anp.where(z > 0, z, 0.0),
    "identity": lambda z: z,
    "softplus": lambda z: anp.logaddexp(0, z),
    "leaky_relu": lambda z, a=0.01: anp.where(z > 0, z, a * z),
    "elu": lambda z, a=1.0: anp.where(z > 0, z, a * (anp.exp(z) - 1)),
    "swish": lambda z: z / (1 + anp.exp(-z)),
}
ROWS = [f for f in FUNCTION_TABLE.values() if f.activation]
SCALAR_ROWS = [f for f in ROWS if f.in_problems]
KINKED_AT_0 = [f for f in ROWS if 0 in f.kinks]
RTOL = 1e-7


def reference(name):
    assert name in REFERENCE, f"activation {name!r} has no independent autograd form in REFERENCE"
    return REFERENCE[name]


def test_every_activation_row_has_a_reference():
    missing = [f.name for f in ROWS if f.name not in REFERENCE]
    assert not missing, f"no autograd form for {missing}"


# ---------------------------------------------------------------- scalar circuits

POINTS = ({"w": 0.8, "x": -0.6, "b": 0.3, "y": 1.5},  # w x + b = −0.18: the negative side
          {"w": -1.3, "x": -0.7, "b": 0.2, "y": -0.9})  # w x + b = 1.11: the positive side


def _circuit(expr: str, point: dict):
    values = "\n".join(f"{k} = {v}" for k, v in point.items())
    return problem.loads(f'title = "t"\n[graph]\nf = "{expr}"\n[values]\n{values}\n', "circuit.toml")


def _assert_scalar(expr, point, f):
    sol = solve(_circuit(expr, point))
    out = check_json(sol)
    assert out["ok"], expr
    names = list(point)
    want = grad(lambda v: f(*v))(np.array([point[k] for k in names]))
    for k, g in zip(names, want):
        assert out["gradients"][k] == pytest.approx(float(g), rel=RTOL, abs=1e-12), (expr, k)
    assert out["output"] == pytest.approx(float(f(*[point[k] for k in names])), rel=1e-12)


@pytest.mark.parametrize("row", SCALAR_ROWS, ids=lambda r: r.name)
@pytest.mark.parametrize("point", POINTS, ids=("negative", "positive"))
def test_scalar_circuit_matches_autograd(row, point):
    act = reference(row.name)
    _assert_scalar(f"{row.name}(w*x + b) * y", point, lambda w, x, b, y: act(w * x + b) * y)


@pytest.mark.parametrize("row", [f for f in SCALAR_ROWS if f.params], ids=lambda r: r.name)
@pytest.mark.parametrize("point", POINTS, ids=("negative", "positive"))
def test_a_parameter_written_in_the_call_is_used(row, point):
    act = reference(row.name)
    _assert_scalar(f"{row.name}(w*x + b, 0.2) * y", point, lambda w, x, b, y: act(w * x + b, 0.2) * y)


# ---------------------------------------------------------------- 2-3-2 networks

X = [[0.5, -0.8]]
W1 = [[0.3, -0.6], [-0.9, 0.2], [0.7, 0.4]]  # hidden nets 0.63, −0.67, 0.08 with b1: both sides
B1 = [0.0, -0.3, 0.05]
W2 = [[0.5, -0.4, 0.3], [-0.2, 0.6, 0.8]]
B2 = [0.1, -0.1]


def _network(hidden, out, loss, notation, t, x=X, w1=W1, b1=B1):
    return (f'title = "t"\n[network]\nlayers = [2, 3, 2]\nactivations = ["{hidden}", "{out}"]\n'
            f'loss = "{loss}"\nnotation = "{notation}"\n[values]\nx = {x}\nt = {t}\nW1 = {w1}\nb1 = {b1}\n'
            f"W2 = {W2}\nb2 = {B2}\n")


def _reference_loss(hidden, out, loss, t):
    f, x, t = reference(hidden), np.array(X, dtype=float), np.array(t, dtype=float)

    def loss_of(p):
        h = f(x @ p["W1"].T + p["b1"])
        z = h @ p["W2"].T + p["b2"]
        if out == "softmax":
            e = anp.exp(z - anp.max(z))
            return -anp.sum(t * anp.log(e / anp.sum(e)))
        return 0.5 * anp.sum((t - reference(out)(z)) ** 2)
    return loss_of


def _cases():
    for row in ROWS:
        yield row.name, row.name, "mse", "mitchell", [[0.2, 0.7]]
        yield row.name, "softmax", "cross_entropy", "nielsen", [[0, 1]]


@pytest.mark.parametrize("hidden, out, loss, notation, t", list(_cases()),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_network_matches_autograd_and_checks(hidden, out, loss, notation, t):
    text = _network(hidden, out, loss, notation, t)
    sol = solve(problem.loads(text, "net.toml"))
    params = {k: np.array(v, dtype=float) for k, v in (("W1", W1), ("b1", B1), ("W2", W2), ("b2", B2))}
    f = _reference_loss(hidden, out, loss, t)
    assert sol.extra.loss == pytest.approx(float(f(params)), rel=1e-10)
    for name, g in grad(f)(params).items():
        np.testing.assert_allclose(np.array(sol.extra.gradients[name], dtype=float), g, rtol=RTOL, atol=1e-12)
    assert sol.report.ok and all(r.checked for r in sol.extra.rules)
    assert all(v.checked for v in sol.extra.vector_rules), [v.name for v in sol.extra.vector_rules if not v.checked]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_derive_check_json_exits_0(row, tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(_network(row.name, "softmax", "cross_entropy", "mitchell", [[1, 0]]))
    res = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"] is True


# ---------------------------------------------------------------- the printed BP rules are the checked ones

def _hidden_delta_by_autograd(hidden, t):
    """δ^2 = ∂C/∂b^2 (one sample), from autograd: the oracle for the printed BP2."""
    params = {k: np.array(v, dtype=float) for k, v in (("W1", W1), ("b1", B1), ("W2", W2), ("b2", B2))}
    return grad(_reference_loss(hidden, "softmax", "cross_entropy", t))(params)["b1"]


def _env(sol):
    """The printed matrices (Nielsen's names, one sample) from the solution's values and gradients."""
    v, d = sol.derivation.values, sol.derivation
    col = lambda names: np.array([[x] for x in names], dtype=float)  # noqa: E731
    return {"a^2": col([v[f"a^2_{j}"] for j in (1, 2, 3)]), "z^2": col([v[f"z^2_{j}"] for j in (1, 2, 3)]),
            "w^3": np.array([[v[f"w^3_{j}{k}"] for k in (1, 2, 3)] for j in (1, 2)]),
            "delta^3": col([d.gradient_value(f"z^3_{j}") for j in (1, 2)])}


@pytest.mark.parametrize("row", [f for f in ROWS if f.name in REFERENCE], ids=lambda r: r.name)
def test_printed_bp2_is_the_activations_own_derivative(row):
    """The displayed δ^2 = ((w^3)ᵀ δ^3) ⊙ σ′(z^2), evaluated as printed, equals autograd's δ^2 (a
    softplus layer printed with a^2 where σ(z^2) belongs would not)."""
    sol = solve(problem.loads(_network(row.name, "softmax", "cross_entropy", "nielsen", [[0, 1]]), "n.toml"))
    bp2 = next(v for v in sol.extra.vector_rules if v.name.startswith("BP2"))
    assert bp2.checked and bp2.display is not None
    got = vector.mat_eval(bp2.display[1], _env(sol))
    np.testing.assert_allclose(np.ravel(got), _hidden_delta_by_autograd(row.name, [[0, 1]]), rtol=RTOL)
    a, z = sp.Symbol("a"), sp.Symbol("z")
    if sp.Symbol("a") not in sp.sympify(row.own_derivative(a, z)).free_symbols:  # σ′ is in z alone
        assert "a^2" not in {m.name for m in bp2.display[1].atoms(sp.MatrixSymbol)}, bp2.display[1]


def test_a_corrupted_displayed_derivative_fails_its_check(monkeypatch):
    """Print h where softplus′ = σ(net^h) belongs (the old bug): the rule as printed is what is
    checked, so it is NOT checked and the solution is not ok."""
    def activation_instead(built, m, act_matrix, net_matrix):
        return act_matrix
    monkeypatch.setattr(vector, "derivative_matrix", activation_instead)
    sol = solve(problem.loads(_network("softplus", "softplus", "mse", "mitchell", [[0.2, 0.7]]), "n.toml"))
    shown = {v.name: v for v in sol.extra.vector_rules}
    for name in ("BP1", "BP2 (l = 2)"):
        assert "h" in {m.name for m in shown["BP2 (l = 2)"].display[1].atoms(sp.MatrixSymbol)}
        assert not shown[name].checked, name


# ---------------------------------------------------------------- kinks

@pytest.mark.parametrize("row", KINKED_AT_0, ids=lambda r: r.name)
def test_a_unit_exactly_at_its_kink_is_a_kink_not_a_failure(row):
    # hidden unit 1: 0.5·1 − 0.5·1 + 0 = 0 exactly
    text = _network(row.name, "softmax", "cross_entropy", "mitchell", [[0, 1]], x=[[1, 1]],
                    w1=[[0.5, -0.5], [-0.9, 0.2], [0.7, 0.4]], b1=[0, -0.3, 0.05])
    sol = solve(problem.loads(text, "kink.toml"))
    assert "h_1" in sol.derivation.kinks
    kinked = [c for c in sol.report.checks if c.verdict == "kink"]
    assert kinked and sol.report.ok
    assert all(c.ok for c in sol.report.checks if c.verdict != "kink")
