"""Networks against independent oracles: Mazur's hand-computed numbers, the seeds' formulas
evaluated from forward values, the scalar engine's backward(), and autograd."""
from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from autograd import grad

from derive import problems as problem
from derive.cli.text import network_show_text
from derive.engine.parse import symbol
from derive.engine.reverse import backward
from derive.errors import ProblemError
from derive.networks.resolver import concretize, letter
from derive.networks.solve import build
from derive.pipeline import solve

MAZUR = """
title = "Mazur"
[network]
layers = [2, 2, 2]
activations = "sigmoid"
loss = "mse"
notation = "mitchell"
[values]
x = [0.05, 0.10]
t = [0.01, 0.99]
W1 = [[0.15, 0.20], [0.25, 0.30]]
b1 = [0.35, 0.35]
W2 = [[0.40, 0.45], [0.50, 0.55]]
b2 = [0.60, 0.60]
"""


@pytest.fixture(scope="module")
def mazur():
    return solve(problem.loads(MAZUR, "mazur.toml"))


def test_mazur_published_numbers(mazur):
    # https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/
    res = mazur.extra
    assert res.loss == pytest.approx(0.298371109, abs=1e-9)
    assert res.gradients["W2"][0][0] == pytest.approx(0.082167041, abs=1e-9)  # w5
    assert res.gradients["W2"][1][0] == pytest.approx(-0.0226025, abs=1e-7)  # w7 (0.5 − η·g = 0.511301270)
    assert res.gradients["W1"][0][0] == pytest.approx(0.000438568, abs=1e-9)  # w1
    assert mazur.derivation.values["o_1"] == pytest.approx(0.75136507, abs=1e-8)
    assert mazur.derivation.values["h_1"] == pytest.approx(0.593269992, abs=1e-9)
    assert mazur.report.ok


def test_output_weight_matches_seed_formula(mazur):
    """Seed 000: ∂L/∂w_kj = −(t_k − o_k)·o_k(1 − o_k)·h_j, evaluated from the forward values."""
    v = mazur.derivation.values
    for k in (1, 2):
        for j in (1, 2):
            o, t, h = v[f"o_{k}"], float(mazur.problem.arrays["t"][0][k - 1]), v[f"h_{j}"]
            assert mazur.extra.gradients["W2"][k - 1][j - 1] == pytest.approx(-(t - o) * o * (1 - o) * h, rel=1e-12)


def test_hidden_weight_matches_seed_formula(mazur):
    """Seed 000: ∂L/∂w_ji = (Σ_k δ_k w_kj)·h_j(1 − h_j)·x_i with δ_k = −(t_k − o_k)o_k(1 − o_k)."""
    v = mazur.derivation.values
    p = mazur.problem
    t = [float(x) for x in p.arrays["t"][0]]
    W2 = [[float(x) for x in row] for row in p.arrays["W2"]]
    x = [float(a) for a in p.arrays["x"][0]]
    delta = [-(t[k] - v[f"o_{k + 1}"]) * v[f"o_{k + 1}"] * (1 - v[f"o_{k + 1}"]) for k in range(2)]
    for j in range(2):
        h = v[f"h_{j + 1}"]
        for i in range(2):
            want = sum(delta[k] * W2[k][j] for k in range(2)) * h * (1 - h) * x[i]
            assert mazur.extra.gradients["W1"][j][i] == pytest.approx(want, rel=1e-12)


def test_chain_factors_are_written_in_the_notation(mazur):
    (chain,) = [c for c in mazur.extra.chains if c.param == "W2" and c.index == (1, 2)]
    f1, f2, f3 = chain.chain.factors
    assert (f1.num, f1.den, f2.num, f2.den, f3.num, f3.den) == ("L", "o_1", "o_1", "net^o_1", "net^o_1", "w^o_12")
    # textbook −(t_1 − o_1), not the auto-distributed o_1 − t_1; o_1(1 − o_1), not σ(net)
    assert sp.sstr(f1.expr, order="none") == "-(t_1 - o_1)"
    assert f2.expr.free_symbols == {symbol("o_1")} and f3.expr == symbol("h_2")
    hidden = next(c for c in mazur.extra.chains if c.param == "W1" and c.index == (2, 1)).chain
    assert hidden.factors[0].expr.free_symbols == {symbol(n) for n in ("delta^o_1", "delta^o_2", "w^o_12", "w^o_22")}
    assert mazur.extra.deltas["net^o_1"] == "delta^o_1"


def test_graph_nodes_use_their_parents_only(mazur):
    g = mazur.derivation.graph
    for node in g.steps:
        assert {s.name for s in node.expr.free_symbols} <= set(node.parents), node.name


def test_records_agree_with_the_scalar_engine(mazur):
    """The network path (float values, names in the notation) and the scalar path (backward) agree."""
    p = problem.loads(MAZUR, "m.toml")
    b = build(p)
    d = backward(b.graph, b.inputs)
    for g in mazur.derivation.steps:
        assert d.gradient(g.node).value == pytest.approx(g.value, rel=1e-12)
        for c in g.contributions:
            slow = d.gradient(g.node)
            (same,) = [s for s in slow.contributions if s.via == c.via]
            assert sp.simplify(same.local.expr - c.local.expr) == 0


def test_index_rules_and_bp_equations_are_checked(mazur):
    rules = {r.target: r for r in mazur.extra.rules}
    assert set(rules) == {"delta_k", "w_kj", "b_k", "delta_j", "w_ji", "b_j"}
    assert all(r.checked for r in rules.values())
    assert len(rules["w_ji"].instances) == 4
    for _bind, node, _conc, value in rules["w_kj"].instances:
        assert value == pytest.approx(mazur.derivation.gradient(node).value, rel=1e-12)
    hidden = rules["w_ji"].expr
    assert hidden.atoms(sp.Sum), "the hidden rule sums over the next layer"
    conc = concretize(rules["w_ji"], hidden, {"j": 2, "i": 1})
    assert {s.name for s in conc.free_symbols} == {"delta^o_1", "delta^o_2", "w^o_12", "w^o_22", "h_2", "x_1"}
    names = [v.name for v in mazur.extra.vector_rules]
    assert names[:2] == ["BP1", "BP2 (l = 2)"] and all(v.checked for v in mazur.extra.vector_rules)


def test_json_shapes_follow_the_values(mazur):
    from derive.cli.text import check_json
    out = check_json(mazur)
    assert np.shape(out["gradients"]["W1"]) == (2, 2) and np.shape(out["gradients"]["b2"]) == (2,)
    assert out["ok"] and {"wrt", "analytic", "numeric", "rel_error", "verdict", "ok"} <= set(out["checks"][0])


# ---------------------------------------------------------------- autograd on random networks

ACT = {"sigmoid": lambda z: 1 / (1 + anp.exp(-z)), "tanh": anp.tanh, "relu": lambda z: anp.maximum(z, 0),
       "identity": lambda z: z}


def _reference_loss(sizes, acts, loss, bias, x, t):
    def f(params):
        a = x  # rows: samples
        for l in range(1, len(sizes)):
            z = a @ params[f"W{l}"].T + (params[f"b{l}"] if bias else 0)
            if acts[l - 1] == "softmax":
                e = anp.exp(z - anp.max(z, axis=1, keepdims=True))
                a = e / anp.sum(e, axis=1, keepdims=True)
            else:
                a = ACT[acts[l - 1]](z)
        if loss == "mse":
            return 0.5 * anp.sum((t - a) ** 2)
        if loss in ("cross_entropy", "softmax_cross_entropy"):
            return -anp.sum(t * anp.log(a))
        return -anp.sum(t * anp.log(a) + (1 - t) * anp.log(1 - a))
    return f


CASES = [
    ((2, 3, 2), ["sigmoid", "sigmoid"], "mse", "mitchell", True, 1),
    ((3, 4, 3, 2), ["tanh", "relu", "softmax"], "cross_entropy", "nielsen", True, 1),
    ((2, 3, 3), ["sigmoid", "softmax"], "softmax_cross_entropy", "mitchell", True, 3),
    ((3, 2), ["sigmoid"], "binary_cross_entropy", "mitchell", False, 2),
    ((4, 3, 3, 3, 2), ["tanh", "sigmoid", "tanh", "identity"], "mse", "nielsen", True, 2),
    ((2, 5, 1), ["relu", "identity"], "mse", "nielsen", False, 4),
    ((12, 11, 3), ["sigmoid", "softmax"], "softmax_cross_entropy", "nielsen", True, 1),
]


def _random_problem(sizes, acts, loss, notation, bias, batch, rng):
    def mat(rows, cols, lo=-1, hi=1):
        return "[" + ", ".join("[" + ", ".join(f"{v:.3f}" for v in rng.uniform(lo, hi, cols)) + "]"
                               for _ in range(rows)) + "]"
    if acts[-1] == "softmax":
        t = np.eye(sizes[-1])[rng.integers(sizes[-1], size=batch)]
        t_text = "[" + ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in t) + "]"
    else:
        t_text = mat(batch, sizes[-1], 0.05, 0.95)
    lines = ["[network]", f"layers = {list(sizes)}", f"activations = {acts}", f'loss = "{loss}"',
             f'notation = "{notation}"', f"bias = {'true' if bias else 'false'}", "[values]",
             f"x = {mat(batch, sizes[0])}", f"t = {t_text}"]
    for l in range(1, len(sizes)):
        lines.append(f"W{l} = {mat(sizes[l], sizes[l - 1])}")
        if bias:
            lines.append(f"b{l} = [" + ", ".join(f"{v:.3f}" for v in rng.uniform(-1, 1, sizes[l])) + "]")
    return problem.loads("\n".join(lines).replace("'", '"'), "random.toml")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{'-'.join(map(str, c[0]))}-{c[2]}-{c[3]}-b{c[5]}")
def test_gradients_match_autograd(case):
    sizes, acts, loss, notation, bias, batch = case
    rng = np.random.default_rng(sum(sizes) + batch)
    p = _random_problem(sizes, acts, loss, notation, bias, batch, rng)
    sol = solve(p)
    arr = lambda v: np.array(v, dtype=float)  # noqa: E731
    x, t = arr(p.arrays["x"]), arr(p.arrays["t"])
    params = {k: arr(v) for k, v in p.arrays.items() if k not in ("x", "t")}
    f = _reference_loss(sizes, acts, loss, bias, x, t)
    assert sol.extra.loss == pytest.approx(float(f(params)), rel=1e-10)
    want = grad(f)(params)
    for name, g in want.items():
        np.testing.assert_allclose(arr(sol.extra.gradients[name]), g, rtol=1e-9, atol=1e-12)
    assert sol.report.ok
    assert all(r.checked for r in sol.extra.rules), [r.target for r in sol.extra.rules if not r.checked]
    assert all(v.checked for v in sol.extra.vector_rules)
    # every element's index-form instance reproduces autograd's number
    for r in sol.extra.rules:
        if r.target.startswith(("w", "b")):
            for _, node, _, value in r.instances:
                (c,) = [c for c in sol.extra.chains if c.node == node]
                assert value == pytest.approx(want[c.param][tuple(i - 1 for i in c.index)], rel=1e-9, abs=1e-12)


def test_activation_changes_the_local_derivative():
    """tanh' = 1 − h², relu' a step, identity' 1, softmax + CE sends back o − t (seeds 000, 003)."""
    rng = np.random.default_rng(0)
    p = _random_problem((2, 2, 2), ["tanh", "softmax"], "softmax_cross_entropy", "mitchell", True, 1, rng)
    sol = solve(p)
    d = sol.derivation
    tanh_local = d.gradient("net^h_1").contributions[0].local
    assert tanh_local.expr.free_symbols == {symbol("h_1")}
    assert tanh_local.value == pytest.approx(1 - d.values["h_1"] ** 2, rel=1e-12)
    delta = d.gradient("net^o_2").contributions[0].local.expr
    assert delta.free_symbols == {symbol("o_2"), symbol("t_2")}
    assert d.gradient("net^o_2").value == pytest.approx(d.values["o_2"] - float(p.arrays["t"][0][1]), rel=1e-12)
    rule = next(r for r in sol.extra.rules if r.target == "delta_k")
    k = letter("k")
    assert rule.expr.atoms(sp.Indexed) == {sp.IndexedBase("o")[k], sp.IndexedBase("t")[k]} and rule.checked

    p = _random_problem((2, 2, 1), ["relu", "identity"], "mse", "nielsen", True, 1, rng)
    d = solve(p).derivation
    relu_local = d.gradient("z^2_1").contributions[0].local.expr
    assert relu_local.atoms(sp.Heaviside)
    ident = d.gradient("z^3_1").contributions[0].local.expr
    assert ident == 1


def test_every_builtin_network_passes_check():
    for name in problem.builtin_names():
        p = problem.load(name)
        if p.kind == "scalar":
            continue
        sol = solve(p)
        assert sol.report.ok, name
        assert all(r.checked for r in sol.extra.rules) and all(v.checked for v in sol.extra.vector_rules), name
        text = network_show_text(sol)
        assert p.title in text


def test_seeded_values_are_deterministic():
    text = '[network]\nlayers = [3, 4, 2]\nactivations = ["relu", "softmax"]\nloss = "cross_entropy"\nseed = 4\n'
    a, b = problem.loads(text, "a.toml"), problem.loads(text, "b.toml")
    assert a.arrays == b.arrays and a.seeded
    assert [sum(row) for row in a.arrays["t"]] == [1]
    assert solve(a).report.ok


# ---------------------------------------------------------------- bad files

BASE = {
    "layers": "[2, 2, 2]", "activations": '"sigmoid"', "loss": '"mse"', "notation": '"mitchell"',
}
VALUES = ('x = [0.05, 0.10]\nt = [0.01, 0.99]\nW1 = [[0.15, 0.20], [0.25, 0.30]]\nb1 = [0.35, 0.35]\n'
          'W2 = [[0.40, 0.45], [0.50, 0.55]]\nb2 = [0.60, 0.60]\n')


def _net(values=VALUES, **over):
    spec = {**BASE, **over}
    return "[network]\n" + "".join(f"{k} = {v}\n" for k, v in spec.items()) + "[values]\n" + values


@pytest.mark.parametrize("text, key, words", [
    (_net(values=VALUES.replace("W2 = [[0.40, 0.45], [0.50, 0.55]]", "W2 = [[0.40, 0.45, 0.1], [0.50, 0.55, 0.2]]")),
     "[values] W2", "2×2"),
    (_net(values=VALUES.replace("x = [0.05, 0.10]", "x = [0.05, 0.10, 0.2]")), "[values] x", "2 input"),
    (_net(activations='"gelu"'), "[network] activations", "unknown activation 'gelu'"),
    (_net(activations='["softmax", "sigmoid"]'), "[network] activations", "only allowed on the output"),
    (_net(values=VALUES.replace("b1 = [0.35, 0.35]", "b1 = [nan, 0.35]")), "[values] b1", "finite"),
    (_net(layers="[2, 2, 2, 2]", values=VALUES), "[network] notation", "nielsen"),
    (_net(loss='"hinge"'), "[network] loss", "unknown loss"),
    (_net(activations='["sigmoid", "softmax"]', loss='"mse"'), "[network] loss", "softmax output"),
    (_net(values=VALUES.replace("t = [0.01, 0.99]", "t = [[0.01, 0.99], [0.1, 0.2]]")), "[values] t", "rows"),
    (_net(values=VALUES.replace("b2 = [0.60, 0.60]\n", "")), "[values] b2", "missing"),
    (_net(layers="[2, 0, 2]"), "[network] layers", "unit counts"),
    ('[layers]\nstack = ["affine"]\n[values]\nX = [[1, 2]]\nW = [[1], [2], [3]]\nB = [0]\ndY = [[1]]\n',
     "[values] W", "2 × M"),
    ('[layers]\nstack = ["conv"]\n', "[layers] stack", "expected one of"),
    ('[layers]\nstack = ["softmax_with_loss"]\n[values]\nA = [[1, 2]]\nT = [[0.5, 0.6]]\n', "[values] T",
     "summing to 1"),
])
def test_bad_files_get_clear_errors(text, key, words):
    with pytest.raises(ProblemError) as e:
        problem.loads(text, "bad.toml")
    assert e.value.source == "bad.toml" and e.value.key == key, str(e.value)
    assert words in str(e.value)


# ---------------------------------------------------------------- matrix layers

def test_affine_layer_matches_autograd_and_seed_form():
    p = problem.load("affine_layer")
    sol = solve(p)
    X, W, B, G = (np.array(p.arrays[k], dtype=float) for k in ("X", "W", "B", "dY"))

    def loss(params):
        return anp.sum(G * (params["X"] @ params["W"] + params["B"]))
    want = grad(loss)({"X": X, "W": W, "B": B})
    for k in ("X", "W", "B"):
        np.testing.assert_allclose(np.array(sol.extra.gradients[k]), want[k], rtol=1e-12)
    # seed 002: ∂L/∂x_11 = w_11 ∂L/∂y_11 + w_12 ∂L/∂y_12, from the per-element records
    g = sol.derivation.gradient("x_11")
    assert [(c.via, c.local.expr) for c in g.contributions] == [("y_11", symbol("w_11")), ("y_12", symbol("w_12"))]
    assert [v.name for v in sol.extra.vector_rules] == ["Affine ∂L/∂X", "Affine ∂L/∂W", "Affine ∂L/∂B"]
    assert all(v.checked for v in sol.extra.vector_rules) and sol.report.ok


@pytest.mark.parametrize("name", ["softmax_with_loss", "affine_softmax"])
def test_softmax_with_loss_matches_autograd(name):
    p = problem.load(name)
    sol = solve(p)
    T = np.array(p.arrays["T"], dtype=float)

    def loss_from_scores(A):
        e = anp.exp(A - anp.max(A, axis=1, keepdims=True))
        return -anp.sum(T * anp.log(e / anp.sum(e, axis=1, keepdims=True)))
    if "A" in p.arrays:
        A = np.array(p.arrays["A"], dtype=float)
        np.testing.assert_allclose(np.array(sol.extra.gradients["A"]), grad(loss_from_scores)(A), rtol=1e-10)
    else:
        X, W, B = (np.array(p.arrays[k], dtype=float) for k in ("X", "W", "B"))
        f = lambda q: loss_from_scores(q["X"] @ q["W"] + q["B"])  # noqa: E731
        want = grad(f)({"X": X, "W": W, "B": B})
        for k in ("X", "W", "B"):
            np.testing.assert_allclose(np.array(sol.extra.gradients[k]), want[k], rtol=1e-10)
    (swl,) = [v for v in sol.extra.vector_rules if v.name == "Softmax-with-Loss"]
    assert swl.checked and {s.name for s in swl.rhs.free_symbols} == {"Y", "T"}
    assert sol.report.ok and math.isfinite(sol.extra.loss)


def test_mitchells_delta_sign_flips_every_delta_and_no_gradient():
    """[network] delta = "-dL/dnet": δ = −∂L/∂net in every rule (Mitchell's δ_k = o_k(1 − o_k)(t_k − o_k)),
    while every gradient stays ∂L/∂w; compared with the default convention and with Mazur's numbers."""
    minus = solve(problem.loads(MAZUR.replace("[network]\n", '[network]\ndelta = "-dL/dnet"\n'), "m.toml"))
    plus = solve(problem.loads(MAZUR, "p.toml"))
    rp = {r.target: r for r in plus.extra.rules}
    for r in minus.extra.rules:
        assert r.checked, r.target
        want = [(-v if r.target.startswith("delta") else v) for *_, v in rp[r.target].instances]
        assert [v for *_, v in r.instances] == pytest.approx(want, rel=1e-12)
    o1, t1 = minus.derivation.values["o_1"], 0.01
    delta_k = next(r for r in minus.extra.rules if r.target == "delta_k")
    assert delta_k.instances[0][3] == pytest.approx(o1 * (1 - o1) * (t1 - o1), rel=1e-12)  # Mitchell's δ_1
    assert all(v.checked for v in minus.extra.vector_rules)
    assert minus.extra.gradients == plus.extra.gradients
