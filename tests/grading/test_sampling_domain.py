"""Random points inside the problem's domain: a problem with log(s) (or 1/s, a power) whose s is
negative or 0 at most random points is still checked at many points, drawn near its own values
by rejection; a right answer is accepted and a wrong one rejected, at points where s > 0."""
from __future__ import annotations

import math

import pytest

import derive
from derive.grading.sampling import Engine
from derive.pipeline import solve

CASES = [  # (steps, values, wrt, right answer, wrong answer, the domain as a test of the point)
    ("s = x - y; f = log(s)", {"x": 3, "y": 1}, "x", "1/s", "1/(x + y)", lambda p: p["x"] - p["y"] > 0),
    ("s = x*x - 4; f = log(s)", {"x": 2.5}, "x", "2x/s", "2/s", lambda p: p["x"] ** 2 - 4 > 0),
    ("f = log(x) + log(y)", {"x": 0.5, "y": 0.2}, "x", "1/x", "1/y", lambda p: p["x"] > 0 and p["y"] > 0),
    ("s = x - 5; f = log(s)", {"x": 5.01}, "x", "1/s", "-1/s", lambda p: p["x"] > 5),
    ("s = 1 - x*x - y*y; f = log(s)", {"x": 0.1, "y": 0.2}, "x", "-2x/s", "2x/s",
     lambda p: 1 - p["x"] ** 2 - p["y"] ** 2 > 0),
    ("s = 0.01 - (x - 1)*(x - 1); f = log(s)", {"x": 1}, "x", "-2(x - 1)/s", "-2x/s",
     lambda p: 0.01 - (p["x"] - 1) ** 2 > 0),
    ("s = x*y - 6; f = log(s) * z", {"x": 2.5, "y": 3, "z": 2}, "y", "z x/s", "z y/s", lambda p: p["x"] * p["y"] > 6),
    ("s = 7 - x; f = log(s) + log(x)", {"x": 3.5}, "x", "-1/s + 1/x", "1/s + 1/x", lambda p: 0 < p["x"] < 7),
]


@pytest.mark.parametrize("steps, values, wrt, right, wrong, inside", CASES)
def test_points_are_drawn_inside_the_domain(steps, values, wrt, right, wrong, inside):
    p = derive.circuit(steps, values=values)
    good = derive.verify(p, wrt=wrt, answer=right)
    assert good.correct, good.diagnosis
    assert "30 random points" in good.method
    bad = derive.verify(p, wrt=wrt, answer=wrong)
    assert not bad.correct
    point = bad.counterexample["point"]
    assert inside(point)  # the counterexample is a point of the domain
    raw = solve(p.data)
    engine = Engine(raw.derivation, raw.inputs, seed=3)
    drawn = [engine.sample(i) for i in range(30)]
    assert all(s is not None for s in drawn)
    assert all(inside({k: float(v) for k, v in s.fractions.items()}) for s in drawn)
    assert len({tuple(sorted(s.fractions.items())) for s in drawn}) >= 20  # many different points


def test_a_domain_of_one_point_says_so():
    p = derive.circuit("s = -(x - 1)*(x - 1) + 0.000000000001; f = log(s)", x=1)
    try:
        v = derive.verify(p, wrt="x", answer="-2(x - 1)/s")
    except derive.VerifyError as e:
        assert "points" in str(e)
    else:
        assert v.correct or v.diagnosis  # either enough points were found, or it says why not


@pytest.mark.parametrize("x", [0.5, 2.0, 10.0])
def test_values_at_sampled_points_are_the_functions(x):
    p = derive.circuit("s = x - 0.25; f = log(s)", x=x)
    raw = solve(p.data)
    engine = Engine(raw.derivation, raw.inputs, seed=1)
    for i in range(10):
        s = engine.sample(i)
        xv = float(s.fractions["x"])
        assert float(s.values["f"]) == pytest.approx(math.log(xv - 0.25), rel=1e-12)
        assert float(s.grads["x"]) == pytest.approx(1 / (xv - 0.25), rel=1e-12)
