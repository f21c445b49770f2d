"""Worksheet draws read the records: every function whose record has kinks is kept away from them,
every saturating one out of its flat tails, and every activation can be drawn for a worksheet.

The points are chosen from the functions' mathematics (a kink at 0, σ′(12) ≈ 6e-6, tanh′(12) ≈ 2e-10),
not from the engine; a new row with kinks or saturation is covered without this file changing.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from derive.engine.ops import FUNCTION_TABLE
from derive.problems import loads
from derive.sheets.variants import degeneracies, draw_variant

IN_PROBLEMS = [f for f in FUNCTION_TABLE.values() if f.in_problems]
KINKED = [(f, k) for f in IN_PROBLEMS for k in f.kinks]
SATURATING = [f for f in IN_PROBLEMS if f.saturates]


def _graph(expr: str):
    return loads(f'[graph]\nf = "{expr}"\n[values]\nx = 1\ny = 2\n').graph()


@pytest.mark.parametrize(("f", "kink"), KINKED, ids=lambda v: getattr(v, "name", str(v)))
def test_a_draw_at_or_near_a_kink_is_redrawn(f, kink):
    if kink == "tie":  # a near tie of two arguments (max, min)
        graph, near, clear = _graph(f"{f.name}(x, y)"), {"x": 2, "y": Fraction(205, 100)}, {"x": 2, "y": 3}
    else:  # x - y lands on the kink, or 1/20 from it
        graph = _graph(f"{f.name}(x - y)")
        near = {"x": kink + Fraction(1, 20), "y": 0} if kink == 0 else {"x": kink + 1, "y": 1}
        clear = {"x": kink + 3, "y": 1}
    reasons = degeneracies(graph, near)
    assert reasons and ("kink" in reasons[0] or "tie" in reasons[0]) and f.name in reasons[0], (f.name, reasons)
    assert degeneracies(graph, clear) == (), f.name


@pytest.mark.parametrize("f", SATURATING, ids=lambda f: f.name)
def test_a_saturated_draw_is_redrawn(f):
    graph = _graph(f"{f.name}(x + y)")
    reasons = degeneracies(graph, {"x": 7, "y": 5})  # the argument 12: every saturating function is flat there
    assert reasons and "saturated" in reasons[0] and f.name in reasons[0], (f.name, reasons)
    assert degeneracies(graph, {"x": Fraction(1, 2), "y": Fraction(3, 10)}) == (), f.name  # 0.8: steep


@pytest.mark.parametrize("f", [f for f in IN_PROBLEMS if f.activation], ids=lambda f: f.name)
def test_every_activation_can_be_drawn_for_a_worksheet(f):
    circuit = loads(f'[graph]\nq = "w * x + b"\nf = "{f.name}(q) * y"\n[values]\nw = 2\nx = -1\nb = 0.5\ny = 3\n')
    network = loads(f'[network]\nlayers = [2, 2, 1]\nactivations = "{f.name}"\nloss = "mse"\nseed = 4\n')
    for problem in (circuit, network):
        v = draw_variant(problem, 7, 1)
        assert v.solution.report.ok and not v.derivation.kinks, f.name
