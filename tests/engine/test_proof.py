"""The numeric proof never cries wolf, says how it proved each gradient, and still catches a wrong
derivation; valid input never crashes (|u| of a non-integer power or of a product with log). Oracles:
mpmath's own numerical differentiation at high precision, and closed forms evaluated in mpmath."""
import dataclasses

import mpmath
import pytest
import sympy as sp

from derive import problems
from derive.engine import numeric
from derive.engine.check import CONFIRM, LEVELS, check, prove
from derive.engine.graph import build_graph
from derive.engine.parse import parse
from derive.engine.reverse import backward
from derive.engine.stage import stage
from derive.errors import DeriveError
from derive.pipeline import solve


def scalar(text: str, values: dict, staged: bool):
    steps = stage(parse(text), "f") if staged else [("f", parse(text))]
    return build_graph(steps)


def oracle(fn, point: dict, name: str) -> mpmath.mpf:
    """∂fn/∂name at `point` by mpmath's own numerical differentiation at 60 digits."""
    with mpmath.workdps(60):
        args = {k: mpmath.mpf(str(v)) for k, v in point.items()}
        return mpmath.diff(lambda t: fn(**{**args, name: t}), args[name])


ABS_CASES = [  # SymPy's complex Abs derivative leaked re/im/arg here: TypeError: cannot evaluate ...
    ("abs(x^x)", {"x": 0.5}, lambda x: abs(x**x)),
    ("abs(x^0.5) + y", {"x": 0.5, "y": 2}, lambda x, y: abs(mpmath.sqrt(x)) + y),
    ("abs(log(x)*y)", {"x": 0.5, "y": 2}, lambda x, y: abs(mpmath.log(x) * y)),
    ("abs(x^1.5 - y) * exp(x)", {"x": 1.7, "y": 0.3}, lambda x, y: abs(x**1.5 - y) * mpmath.exp(x)),
]


@pytest.mark.parametrize("staged", [False, True], ids=["one node", "staged gates"])
@pytest.mark.parametrize("text, point, fn", ABS_CASES, ids=[c[0] for c in ABS_CASES])
def test_abs_is_differentiated_on_the_reals(text, point, fn, staged):
    g = scalar(text, point, staged)
    d = backward(g, point)
    report = check(d, point)
    assert report.ok and not d.kinks
    for name in point:
        assert d.gradient_value(name) == pytest.approx(float(oracle(fn, point, name)), rel=1e-12), name
    local = [c.local.expr for s in d.steps for c in s.contributions]
    assert not any(e.has(sp.re, sp.im, sp.arg) for e in local)  # written on the reals: sign(u)·u'


def test_abs_at_zero_is_a_kink_not_a_failure():
    point = {"x": 1, "y": 2}  # log(1)·y = 0: |u| has a kink at u = 0
    for staged in (False, True):
        d = backward(scalar("abs(log(x)*y) + x", point, staged), point)
        report = check(d, point)
        assert d.kinks and report.ok
        assert next(c for c in report.checks if c.wrt == "y").verdict == "kink"


@pytest.mark.parametrize("text, value, words", [
    ("log(x) * 2", 0, "log of 0"),
    ("1 / (x - 1)", 1, "division by 0"),
    ("x ^ 0.5", -2, "not a real number"),
])
def test_values_that_are_not_finite_reals_are_named(text, value, words):
    g = scalar(text, {"x": value}, True)
    with pytest.raises(DeriveError, match=words) as err:
        backward(g, {"x": value})
    assert isinstance(err.value, numeric.DomainError)


def test_a_step_near_the_edge_of_a_domain_is_made_smaller():
    """log at 1e-20: a step of 1e-16 would leave the domain; the proof shrinks it instead of failing."""
    point = {"x": 1e-20, "y": 3}
    d = backward(scalar("log(x) * y", point, True), point)
    report = check(d, point)
    assert report.ok
    assert d.gradient_value("x") == pytest.approx(3e20, rel=1e-14)


def test_precision_is_raised_when_cancellation_eats_the_digits():
    """1 − tanh(50)² = 1.5e-43: at 50 digits only 7 of its digits survive. The proof notices that the
    derivation and the numeric derivative only agree at 100 digits, and derive derives again there."""
    sol = solve(problems.loads('[graph]\nf = "(1 - tanh(u)^2) * 10^40 * w"\n[values]\nu = 50\nw = 1\n', "t"))
    assert sol.report.ok and sol.derivation.digits == 100
    assert {m["digits"] for m in sol.report.proof["methods"]} == {100}
    with mpmath.workdps(120):
        u = mpmath.mpf(50)
        du = -2 * mpmath.tanh(u) * (1 - mpmath.tanh(u) ** 2) * mpmath.mpf(10) ** 40
    assert sol.derivation.gradient_value("u") == pytest.approx(float(du), rel=1e-15)


def test_each_check_says_how_it_was_proven():
    sol = solve(problems.load("staged"))
    proof = sol.report.proof
    assert proof["checked"] == len(sol.report.checks) == proof["inputs"] + proof["intermediates"]
    assert proof["digits"] == numeric.PRECISION and "50-digit" in proof["values"]
    (m,) = proof["methods"]
    assert (m["method"], m["digits"], m["relative_step"]) == ("central difference", 50, True)
    assert m["step"] == pytest.approx(1e-16) and m["count"] == proof["checked"]
    for c in sol.report.checks:
        assert (c.method, c.digits) == ("central difference", 50)
        assert c.step == pytest.approx(1e-16 * max(abs(sol.derivation.values[c.wrt]), 1e-300), rel=1e-9) or \
            sol.derivation.values[c.wrt] == 0
        assert c.error < 1e-25 and c.rel_error <= CONFIRM


def test_a_wrong_record_is_condemned_only_after_it_persists():
    """A corrupted local derivative is flagged wrong; the proof re-checked it at twice the digits first."""
    d = solve(problems.load("circuit")).derivation
    bad = []
    for g in d.steps:
        if g.node == "x":
            c = g.contributions[0]
            c = dataclasses.replace(c, local=dataclasses.replace(c.local, expr=sp.Integer(2)))
            g = dataclasses.replace(g, contributions=(c,))
        bad.append(g)
    report = check(dataclasses.replace(d, steps=tuple(bad)), {"x": -2, "y": 5, "z": -4})
    (fail,) = report.failures()
    assert (fail.wrt, fail.verdict, fail.digits) == ("x", "wrong", LEVELS[1])


def test_big_graphs_use_the_vectorised_complex_step():
    """A scalar graph over 200 nodes takes the big path: one complex-step pass per depth."""
    terms = " + ".join(f"sigmoid(a*x_{i}) * tanh(x_{i})" for i in range(60))
    point = {"a": 0.7, **{f"x_{i}": (i - 30) / 7 for i in range(60)}}
    g = build_graph(stage(parse(terms), "f"))
    assert len(g.nodes) > 200
    d = backward(g, point)
    report = prove(d, point)
    assert report.ok
    assert {m["method"] for m in report.proof["methods"]} == {"complex step"}
    with mpmath.workdps(40):
        want = sum(mpmath.mpf(str(point[f"x_{i}"])) * _dsig(0.7 * point[f"x_{i}"]) * mpmath.tanh(point[f"x_{i}"])
                   for i in range(60))
    assert d.gradient_value("a") == pytest.approx(float(want), rel=1e-13)


def _dsig(z):
    s = 1 / (1 + mpmath.exp(-mpmath.mpf(str(z))))
    return s * (1 - s)
