"""The scalar engine against independent oracles: seed numbers, whole-expression sympy.diff,
central differences in plain floats, and random graphs (hypothesis)."""
import math

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import problems
from derive.engine.check import check
from derive.engine.graph import build_graph
from derive.engine.ops import sigmoid
from derive.engine.parse import parse, symbol, to_sympy
from derive.engine.reverse import backward, chain
from derive.engine.stage import stage
from derive.engine.steps import split_partial
from derive.pipeline import solve


def solved(name):
    return solve(problems.load(name))


def grads(sol):
    d = sol.derivation
    return {n: d.gradient(n).value for n in d.graph.inputs}


def whole_expression(graph, name):
    """The node's expression in the inputs only, by substituting every step (the sympy.diff oracle)."""
    sub = {}
    for node in graph.nodes:
        if not node.is_input:
            sub[node.symbol] = node.expr.xreplace(sub)
    return sub[graph.node(name).symbol]


# ------------------------------------------------------------------ seed 004 (cs231n)

def test_circuit_seed_numbers():
    sol = solved("circuit")
    assert sol.derivation.values["f"] == -12
    assert sol.derivation.values["q"] == 3
    assert grads(sol) == {"x": -4, "y": -4, "z": 3}
    assert sol.derivation.gradient("q").value == -4
    assert sol.report.ok


def test_neuron_seed_numbers_gate_by_gate_and_with_sigmoid_gate():
    expected = {"w_0": -0.197, "x_0": 0.393, "w_1": -0.393, "x_1": -0.590, "w_2": 0.197}
    for name in ("neuron_gates", "neuron_sigmoid"):
        sol = solved(name)
        assert round(sol.derivation.values["f"], 3) == 0.731
        for k, v in grads(sol).items():
            assert round(v, 3) == expected[k], (name, k)
        assert sol.report.ok


def test_neuron_gates_follow_the_cs231n_circuit():
    sol = solved("neuron_gates")
    d = sol.derivation
    ops = [n.op for n in d.graph.steps]
    assert ops == ["mul", "mul", "add", "add", "neg", "exp", "add", "inv"]
    # the seed: the 1/x gate sends back 1 × (−1/1.37²) = −0.53; the exp gate −0.53 × 0.37 = −0.20
    inv_parent = d.graph.steps[-1].parents[0]
    assert round(d.gradient(inv_parent).value, 2) == -0.53
    exp_node = d.graph.steps[5].name
    assert round(d.values[exp_node], 2) == 0.37


def test_staged_cs231n_function_matches_the_seed_code():
    """Every intermediate value and gradient of the seed's Python code, recomputed here in floats."""
    x, y = 3.0, -4.0
    sigy = 1.0 / (1 + math.exp(-y)); num = x + sigy; sigx = 1.0 / (1 + math.exp(-x))
    xpy = x + y; xpysqr = xpy**2; den = sigx + xpysqr; invden = 1.0 / den; f = num * invden
    dnum = invden; dinvden = num; dden = (-1.0 / (den**2)) * dinvden
    dsigx = dden; dxpysqr = dden; dxpy = (2 * xpy) * dxpysqr
    dx = dxpy; dy = dxpy; dx += ((1 - sigx) * sigx) * dsigx; dx += dnum; dsigy = dnum
    dy += ((1 - sigy) * sigy) * dsigy
    expected_values = dict(sigy=sigy, num=num, sigx=sigx, xpy=xpy, xpysqr=xpysqr, den=den,
                           invden=invden, f=f)
    expected_grads = dict(num=dnum, invden=dinvden, den=dden, sigx=dsigx, xpysqr=dxpysqr,
                          xpy=dxpy, x=dx, y=dy, sigy=dsigy)

    sol = solved("staged")
    d = sol.derivation
    assert [n.name for n in d.graph.steps] == list(expected_values)  # the seed's order and names
    for k, v in expected_values.items():
        assert d.values[k] == pytest.approx(v, rel=1e-12), k
    for k, v in expected_grads.items():
        assert d.gradient(k).value == pytest.approx(v, rel=1e-12), k
    assert round(f, 4) == 1.5456 and round(dx, 4) == 2.0596 and round(dy, 4) == 1.5922
    assert sol.report.ok


def test_staged_local_gradients_are_written_in_the_gates_names():
    d = solved("staged").derivation
    sigy, y = symbol("sigy"), "y"
    local = next(c.local for c in d.gradient(y).contributions if c.via == "sigy")
    assert sp.simplify(local.expr - sigy * (1 - sigy)) == 0
    assert local.expr.free_symbols == {sigy}


# ------------------------------------------------------------------ seed 000: fan-out

def test_fanout_two_contributions_summed():
    d = solved("fanout").derivation
    gx = d.gradient("x")
    assert gx.is_fanout and len(gx.contributions) == 2
    x, y = symbol("x"), symbol("y")
    # the contributions, with upstream gradients substituted, are y and 2x; their sum 2x + y
    closed = [c.expr.xreplace({c.upstream: d.gradient(c.via).closed}) for c in gx.contributions]
    assert {sp.simplify(e) for e in closed} == {y, 2 * x}
    assert sp.simplify(gx.closed - (2 * x + y)) == 0
    assert gx.value == 2 * 3 + 2


def test_local_gradient_rules_in_own_names():
    for text, expected in [("tanh(u)", lambda t: 1 - t**2), ("exp(u)", lambda e: e),
                           ("sigmoid(u)", lambda s: s * (1 - s))]:
        g = build_graph(stage(parse(text), "g"))
        d = backward(g, {"u": 0.3})
        local = d.gradient("u").contributions[0].local.expr
        own = symbol("g")
        assert sp.simplify(local - expected(own)) == 0, text


# ------------------------------------------------------------------ whole-expression oracle

EXPRESSIONS = [
    "(x + y) * z",
    "x*y + x**2",
    "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)",
    "tanh(x*y) - log(1 + x**2) / y",
    "exp(-x) * (y - 2*x)**3 + abs(y)",
    "max(x, y) * relu(x - z) + x/z",
    "x**y + sigmoid(-z*x)",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_gradients_equal_whole_expression_diff(text):
    point = {"x": 1.3, "y": 0.7, "z": -0.4}
    steps = stage(parse(text), "f")
    g = build_graph(steps)
    inputs = {k: v for k, v in point.items() if k in g.inputs}
    d = backward(g, inputs)
    whole = to_sympy(parse(text)).rewrite(sp.exp)
    subs = {symbol(k): sp.Rational(str(v)) for k, v in inputs.items()}
    for name in g.inputs:
        oracle = float(sp.diff(whole, symbol(name)).subs(subs).evalf(30))
        assert d.gradient(name).value == pytest.approx(oracle, rel=1e-12), (text, name)
        closed = d.gradient(name).closed.xreplace(
            {n.symbol: whole_expression(g, n.name) for n in g.steps})
        assert float(closed.rewrite(sp.exp).subs(subs).evalf(30)) == pytest.approx(oracle, rel=1e-12)
    assert check(d, inputs).ok


def test_multi_step_graph_any_order_and_compound_steps():
    steps = [("f", parse("q*z + exp(q)")), ("q", parse("x*y - 1"))]  # f written before q
    g = build_graph(steps, "f")
    assert [n.name for n in g.steps] == ["q", "f"]
    d = backward(g, {"x": 0.5, "y": 2, "z": 3})
    # f = (xy − 1) z + e^(xy − 1) at x=.5, y=2: ∂f/∂x = y z + y e^(xy−1) = 6 + 2 = 8
    assert d.gradient("x").value == pytest.approx(8.0, rel=1e-14)
    assert check(d, {"x": 0.5, "y": 2, "z": 3}).ok
    with pytest.raises(Exception, match="'f' does not lead to the output 'q'"):
        build_graph(steps)  # the last step is the output by default


# ------------------------------------------------------------------ kinks and failures

def test_relu_and_abs_at_zero_are_reported_as_kinks():
    for text in ("relu(x) * y", "abs(x) + y", "max(x, y) * 2"):
        g = build_graph(stage(parse(text), "f"))
        inputs = {"x": 0, "y": 0 if "max" in text else 2}
        d = backward(g, inputs)
        report = check(d, inputs)
        assert d.kinks, text
        assert {c.verdict for c in report.checks if c.wrt == "x"} == {"kink"}
        assert report.ok


def test_check_catches_a_wrong_local_derivative():
    """Corrupt one local gradient in the records: the numeric proof must flag it."""
    import dataclasses
    d = solved("circuit").derivation
    bad_steps = []
    for g in d.steps:
        if g.node == "x":
            c = g.contributions[0]
            wrong = dataclasses.replace(c, local=dataclasses.replace(c.local, expr=sp.Integer(2)))
            g = dataclasses.replace(g, contributions=(wrong,))
        bad_steps.append(g)
    report = check(dataclasses.replace(d, steps=tuple(bad_steps)), {"x": -2, "y": 5, "z": -4})
    assert not report.ok
    assert [c.wrt for c in report.failures()] == ["x"]
    assert report.failures()[0].verdict == "wrong"


def test_chain_of_factors_along_single_path():
    d = solved("neuron_sigmoid").derivation
    c = chain(d, "w_0")
    assert [(f.num, f.den) for f in c.factors] == [("f", "z"), ("z", "w_0")]
    assert c.value == pytest.approx(-0.196612, abs=1e-6)
    prod = 1.0
    for f in c.factors:
        prod *= f.value
    assert prod == pytest.approx(c.value, rel=1e-12)


def test_gradient_symbols_round_trip():
    d = solved("circuit").derivation
    assert split_partial(d.gradient("q").symbol) == ("f", "q")
    assert split_partial(symbol("q")) is None


# ------------------------------------------------------------------ random graphs

UNARY = ["sigmoid({})", "tanh({})", "exp({}/4)", "({})**2", "-{}", "log(1 + ({})**2)"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / (2 + ({})**2)"]


@st.composite
def random_graph(draw):
    names = ["a", "b", "c"]
    steps, pool = [], list(names)
    for i in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            text = draw(st.sampled_from(UNARY)).format(draw(st.sampled_from(pool)))
        else:
            text = draw(st.sampled_from(BINARY)).format(draw(st.sampled_from(pool)), draw(st.sampled_from(pool)))
        name = f"n{i}"
        steps.append((name, text))
        pool.append(name)
    steps.append(("out", " + ".join(n for n, _ in steps)))  # every step feeds the output
    point = {n: draw(st.integers(-20, 20)) / 10 for n in names}
    return steps, point


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_graphs_match_float_central_differences(case):
    steps, point = case
    g = build_graph([(n, parse(t)) for n, t in steps])
    inputs = {k: v for k, v in point.items() if k in g.inputs}
    d = backward(g, inputs)
    report = check(d, inputs)
    assert report.ok, report.failures()

    def f(values):
        env = {}
        for node in g.nodes:
            env[node.symbol] = sp.Float(values[node.name], 30) if node.is_input else sp.Float(
                sp.sympify(node.expr.xreplace(env)).rewrite(sp.exp).evalf(30), 30)
        return float(env[g.node(g.output).symbol])

    for name in g.inputs:
        h = 1e-6
        plus = dict(inputs, **{name: inputs[name] + h}); minus = dict(inputs, **{name: inputs[name] - h})
        fd = (f(plus) - f(minus)) / (2 * h)
        assert d.gradient(name).value == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_sigmoid_function_values():
    assert sigmoid(0) == sp.Rational(1, 2)
    assert float(sigmoid(sp.Float(2)).evalf()) == pytest.approx(1 / (1 + math.exp(-2)))


def test_an_exact_zero_gradient_is_not_failed_by_round_off():
    """Found by hypothesis: ∂/∂b of (a − b) + (b + c) is exactly 0; 1e-36 of noise is not an error."""
    g = build_graph([("n0", parse("a - b")), ("n1", parse("b + c")), ("out", parse("n0 + n1"))])
    inputs = {"a": 0, "b": 0.1, "c": 0.1}
    report = check(backward(g, inputs), inputs)
    assert report.ok
    assert next(c for c in report.checks if c.wrt == "b").rel_error == 0.0


def test_a_kink_reached_through_decimal_round_off_is_a_kink():
    """0.3 − 0.1 − 0.2 is 0 at the proof's precision; at 15 digits it was 1e-17 and the
    relu's gradient was reported wrong instead of as a kink."""
    g = build_graph(stage(parse("relu(x - y - z) * w"), "f"))
    inputs = {"x": 0.3, "y": 0.1, "z": 0.2, "w": 2}
    d = backward(g, inputs)
    report = check(d, inputs)
    assert d.kinks
    assert report.ok
    assert {c.verdict for c in report.checks if c.wrt in ("x", "y", "z")} == {"kink"}
