"""The data side of worksheets: seeded variants, nice and clean values, answers proven.

Oracles are independent of the engine's reverse mode: each node is expanded into one expression
of the inputs and differentiated whole with sympy.diff, then evaluated with evalf.
"""
import itertools
from fractions import Fraction

import pytest
import sympy as sp

from derive.engine.ops import relu, sigmoid
from derive.errors import DeriveError
from derive.pipeline import graph_and_inputs
from derive.problems import load, loads
from derive.sheets.exercises import KINDS, LEVELS, build_sheet, choose_kinds, level_name
from derive.sheets.variants import degeneracies, draw_variant

SEEDS = range(1, 13)


WORKSHEET_PROBLEMS = ("circuit", "fanout", "neuron_gates", "neuron_sigmoid", "staged", "mlp_222")


@pytest.fixture(scope="module")
def builtins():
    return [load(n) for n in WORKSHEET_PROBLEMS]


@pytest.fixture(scope="module")
def sheets(builtins):
    return [build_sheet(builtins, seed, version) for seed in SEEDS for version in (1, 2)]


# ---------------------------------------------------------------- independent oracle

def expanded(graph, name, keep=None):
    """Node `name` as one expression of the inputs (and of `keep`, left as a free symbol)."""
    node = graph.node(name)
    if node.is_input or name == keep:
        return node.symbol
    return node.expr.xreplace({graph.node(p).symbol: expanded(graph, p, keep) for p in node.parents})


def at(expr, values):
    e = expr.rewrite(sp.Max) if expr.has(relu) else expr
    v = e.xreplace({sp.Symbol(k, real=True): sp.Rational(v.numerator, v.denominator)
                    for k, v in values.items()}).evalf(30)
    return float(v)


def oracle_value(graph, values, name):
    return at(expanded(graph, name), values)


def oracle_gradient(graph, values, name):
    """∂output/∂name with `name` perturbed alone: differentiate the output in terms of it."""
    out = expanded(graph, graph.output, keep=name)
    d = sp.diff(out, graph.node(name).symbol)
    d = d.xreplace({graph.node(name).symbol: expanded(graph, name)})
    return at(d, values)


def close(a, b):
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- determinism

def values_of(sheet):
    return [(v.key, tuple(v.values.items()), v.redraws) for v in sheet.variants] + \
           [(e.number, e.kind, e.target, e.given) for e in sheet.exercises]


def test_same_seed_same_sheet(builtins):
    a = build_sheet(builtins, 7, 1)
    b = build_sheet(builtins, 7, 1)
    assert values_of(a) == values_of(b)


def test_variant_does_not_touch_the_global_rng(builtins):
    import random
    random.seed(123)
    expected = random.random()
    random.seed(123)
    build_sheet(builtins, 3, 1)
    assert random.random() == expected


def test_seeds_and_versions_differ(builtins):
    a = build_sheet(builtins, 1, 1)
    assert values_of(a) != values_of(build_sheet(builtins, 2, 1))
    assert values_of(a) != values_of(build_sheet(builtins, 1, 2))
    # and the drawn values really change, not only the keys
    assert [v.values for v in a.variants] != [v.values for v in build_sheet(builtins, 2, 1).variants]


# ---------------------------------------------------------------- nice values, clean points

def test_values_are_small_integers_or_one_decimal(sheets, builtins):
    original = {p.title: graph_and_inputs(p)[1] for p in builtins}
    for sheet in sheets:
        for v in sheet.variants:
            for name, x in v.values.items():
                if v.problem.kind == "network" and name.startswith("t_"):
                    assert x == original[v.problem.title][name]  # targets are data: kept
                    continue
                assert isinstance(x, Fraction)
                assert (x * 10).denominator == 1, (v.key, name, x)
                assert x != 0 and abs(x) <= 5, (v.key, name, x)
        for e in sheet.exercises:
            if e.kind == "update":
                eta = dict(e.given)["η"]
                assert (eta * 10).denominator == 1 and 0 < eta < 1


def test_integer_problems_get_integer_values(sheets):
    circuit = [v for s in sheets for v in s.variants if v.problem.title.startswith("A simple circuit")]
    assert circuit and all(x.denominator == 1 for v in circuit for x in v.problem.values.values())


def test_no_degenerate_points(sheets):
    """Checked from the whole-expression values, not from the module's own walk."""
    for sheet in sheets:
        for v in sheet.variants:
            g, vals = v.graph, v.values
            for node in g.steps:
                for f in sp.preorder_traversal(node.expr):
                    if isinstance(f, (sigmoid, sp.exp, sp.tanh, relu, sp.Abs, sp.log, sp.Pow)):
                        arg = at(f.args[0].xreplace(
                            {g.node(p).symbol: expanded(g, p) for p in node.parents}), vals)
                        if isinstance(f, sigmoid):
                            assert abs(arg) <= 4, (v.key, node.name, arg)
                        if isinstance(f, sp.exp):
                            assert abs(arg) <= 4, (v.key, node.name, arg)
                        if isinstance(f, (relu, sp.Abs)):
                            assert abs(arg) >= 0.1 - 1e-12, (v.key, node.name, arg)
                        if isinstance(f, sp.log):
                            assert arg >= 0.1 - 1e-12
                        if isinstance(f, sp.Pow) and f.args[1].is_negative:
                            assert abs(arg) >= 0.1 - 1e-12, (v.key, node.name, arg)
            assert v.solution.report.ok and not v.derivation.kinks


def test_degeneracies_named():
    relu_p = loads('[graph]\nf = "relu(x - y - 1)"\n[values]\nx = 1\ny = 1\n')
    assert "kink" in degeneracies(relu_p.graph(), {"x": Fraction(305, 100), "y": 2})[0]
    # a gate whose value is 0 or ±1 hides its operation (xpy = 1 into a square, z = 0 into σ) ...
    square = loads('[graph]\nxpy = "x + y"\nf = "xpy**2"\n[values]\nx = 1\ny = 2\n').graph()
    assert "xpy = 1" in degeneracies(square, {"x": 3, "y": -2})[0]
    assert degeneracies(square, {"x": 3, "y": -1}) == ()
    neuron = loads('[graph]\nz = "w*x + b"\nf = "sigmoid(z)"\n[values]\nw = 1\nx = 2\nb = 3\n').graph()
    assert "z = 0" in degeneracies(neuron, {"w": 2, "x": 1, "b": -2})[0]
    # ... but a switch may be 0 or one of its inputs by its rule (a ReLU unit off, the max chosen)
    switch = loads('[graph]\nm = "max(x, y)"\nf = "relu(m - z) + w"\n[values]\nx = 1\ny = 2\nz = 4\nw = 3\n')
    assert degeneracies(switch.graph(), {"x": 1, "y": 2, "z": 4, "w": 3}) == ()
    assert degeneracies(relu_p.graph(), {"x": 1, "y": Fraction(-1, 10)}) == ()
    div = loads('[graph]\nf = "1 / (x - y)"\n[values]\nx = 1\ny = 0.5\n')
    assert "division" in degeneracies(div.graph(), {"x": 1, "y": Fraction(95, 100)})[0]
    assert "division" in degeneracies(div.graph(), {"x": 1, "y": Fraction(9, 10)})[0]
    assert "equal inputs" in degeneracies(div.graph(), {"x": 1, "y": 1})[0]
    log = loads('[graph]\nf = "log(x) * y"\n[values]\nx = 1\ny = 2\n')
    assert "log" in degeneracies(log.graph(), {"x": -2, "y": 2})[0]
    sat = load("neuron_sigmoid")
    assert "saturated" in degeneracies(sat.graph(), {"w_0": 5, "x_0": 4, "w_1": 1, "x_1": -1, "w_2": 2})[0]
    # cs231n's own point has xpy = −1: squared, it hides the squaring; a worksheet redraws it
    assert "xpy = -1" in degeneracies(load("staged").graph(), {"x": 3, "y": -4})[0]
    assert degeneracies(load("staged").graph(), {"x": 2, "y": -4}) == ()


def test_redraws_are_counted_and_bounded():
    # σ(3x) with integer x saturates unless x = ±1: some draws are rejected, all are counted
    p = loads('[graph]\nf = "sigmoid(3 * x) * y"\n[values]\nx = 1\ny = 2\n')
    v = draw_variant(p, 5, 1)
    assert abs(v.problem.values["x"]) == 1
    assert v.redraws == len(v.rejected)
    assert all("saturated" in r for r in v.rejected)
    total = sum(draw_variant(p, s, 1).redraws for s in range(20))
    assert total > 0
    # σ(100 x) is saturated at every nice x: the bound is reached and reported
    bad = loads('[graph]\nf = "sigmoid(100 * x)"\n[values]\nx = 1\n')
    with pytest.raises(DeriveError, match=r"no clean variant .* in 11 draws .*most often: 11× \w+ = # is not"):
        draw_variant(bad, 1, 1, max_redraws=10)


# ---------------------------------------------------------------- answers vs the oracle

def test_every_answer_matches_an_independent_computation(sheets):
    checked = {kind: 0 for kind in KINDS}
    for sheet in sheets:
        for e in sheet.exercises:
            g, vals = e.variant.graph, e.variant.values
            a = e.answer
            if e.kind == "forward":
                for line in a.lines:
                    assert close(line.value, oracle_value(g, vals, line.node)), (e.variant.key, line.node)
                    assert [p for p, _ in line.operands] == list(g.node(line.node).parents)
                assert close(a.value, oracle_value(g, vals, g.output))
            elif e.kind == "gates":
                assert {x.node for x in a.gradients} == {n.name for n in g.nodes}
                for grad in a.gradients:
                    assert close(grad.value, oracle_gradient(g, vals, grad.node)), (e.variant.key, grad.node)
            elif e.kind == "symbolic":
                whole = sp.diff(expanded(g, g.output), g.node(e.target).symbol)
                closed = a.closed.xreplace({n.symbol: expanded(g, n.name) for n in g.steps})
                for point in _points(vals):
                    assert close(at(closed, point), at(whole, point))
            elif e.kind == "rule":
                _, node, concrete, value = a.instance
                assert node == e.target
                assert close(value, oracle_gradient(g, vals, node))
                env = {n.symbol: v for n, v in ((g.node(k), v) for k, v in e.variant.derivation.values.items())}
                # a hidden rule names the output deltas δ_k = ∂L/∂net_k: their values from the oracle
                env.update({sp.Symbol(delta, real=True): oracle_gradient(g, vals, net)
                            for net, delta in e.variant.solution.extra.deltas.items()})
                assert close(float(concrete.xreplace(env)), value)
            elif e.kind == "numeric":
                assert close(a.value, oracle_gradient(g, vals, e.target))
                assert e.given == tuple(vals.items())
            elif e.kind == "update":
                grad = oracle_gradient(g, vals, e.target)
                eta = dict(e.given)["η"]
                assert close(a.new_value, float(vals[e.target]) - float(eta) * grad)
                assert a.weight == vals[e.target] and a.eta == eta
            checked[e.kind] += 1
    assert all(checked.values()), checked


def _points(values):
    """The variant's point and two nearby generic ones (a symbolic answer must hold off it too)."""
    yield values
    for shift in (Fraction(1, 7), Fraction(-2, 9)):
        yield {k: v + shift * (i + 1) for i, (k, v) in enumerate(values.items())}


def test_chain_factors_multiply_to_the_gradient(sheets):
    for sheet in sheets:
        for e in sheet.exercises:
            if e.kind in ("symbolic", "numeric"):
                f = e.answer.chain.factors
                assert f[-1].den == e.target and f[0].num == e.variant.graph.output
                assert all(a.den == b.num for a, b in itertools.pairwise(f))


# ---------------------------------------------------------------- structure

def test_numbers_run_one_to_n(sheets):
    for sheet in sheets:
        assert [e.number for e in sheet.exercises] == list(range(1, len(sheet.exercises) + 1))


def test_kinds_chosen_per_problem(builtins):
    by_title = {p.title: choose_kinds(p) for p in builtins}
    circuit = by_title["A simple circuit: $f = (x + y) z$"]
    assert circuit == ("forward", "gates", "symbolic", "numeric")  # no parameter: no update
    neuron = by_title["A 2-D sigmoid neuron with a sigmoid gate"]
    assert "update" not in neuron  # its output is not a loss: no gradient descent on it
    loss = loads('[graph]\nz = "w*x + b"\nE = "(z - t)**2"\n[values]\nw = 1\nx = 2\nb = 3\nt = 1\n')
    assert "update" in choose_kinds(loss)
    big = loads('[graph]\nf = "' + " + ".join(f"a{i}*b{i}" for i in range(8)) + '"\n[values]\n'
                + "".join(f"a{i} = 1\nb{i} = 2\n" for i in range(8)))
    assert "forward" not in choose_kinds(big) and "symbolic" in choose_kinds(big)


def test_fanout_target_and_hints(builtins):
    """x in f = xy + x²: no chain hint (one factor would restate the question), but the sum of
    its two paths, and at local-gradients each path's local gradient."""
    fan = load("fanout")
    sheet = build_sheet([fan], 4, 1)
    sym = next(e for e in sheet.exercises if e.kind == "symbolic")
    assert sym.target == "x"  # the input used twice
    assert {h.kind for h in sym.hints} == {"fanout", "rule"}
    (fanout,) = [h for h in sym.hints if h.kind == "fanout"]
    g = sym.variant.graph
    assert fanout.node == "x" and set(fanout.nodes) == set(g.consumers("x"))
    rules = {(h.node, h.wrt) for h in sym.hints if h.kind == "rule"}
    assert rules == {(c, "x") for c in g.consumers("x")}
    gates = next(e for e in sheet.exercises if e.kind == "gates")
    rules = [h for h in gates.hints if h.kind == "rule"]
    n_contribs = sum(len(g.contributions) for g in gates.answer.gradients)
    assert len(rules) == n_contribs


def test_no_hint_restates_its_question(sheets):
    """A chain hint has two factors or more; a rule hint's two sides differ; a fan-out hint is
    about a node that really is used several times."""
    for sheet in sheets:
        for e in sheet.exercises:
            d = e.variant.derivation
            for h in e.hints:
                if h.kind == "chain":
                    assert len(h.factors) >= 2, (e.variant.key, e.number)
                    assert h.factors[0][0] == h.node and h.factors[-1][1] == h.wrt
                elif h.kind == "fanout":
                    assert len(h.nodes) >= 2 and set(h.nodes) == set(d.graph.consumers(h.node))
                elif h.kind == "rule":
                    assert not h.expr.has(sp.Symbol(f"∂{h.node}/∂{h.wrt}", real=True))


def test_targets_need_the_chain_rule(sheets):
    """The symbolic and numeric items ask about an input two gates deep or used twice."""
    for sheet in sheets:
        for e in sheet.exercises:
            if e.kind in ("symbolic", "numeric") and e.variant.problem.kind == "scalar":
                d = e.variant.derivation
                assert len(e.answer.chain.factors) > 1 or d.gradient(e.target).is_fanout, (e.variant.key, e.target)


def test_levels_and_their_old_names():
    c = load("circuit")
    assert LEVELS == ("exam", "outline", "local-gradients", "fill-in", "worked")
    for old, new in (("full", "worked"), ("hints", "local-gradients"), ("blanks", "fill-in")):
        assert level_name(old) == new
        assert build_sheet([c], 1, 1, level=old).level == new
    assert build_sheet([c], 1, 1).level == "outline"


def test_bad_level_and_kind():
    with pytest.raises(DeriveError, match=r"level 'most'.*exam, outline, local-gradients, fill-in, worked"):
        build_sheet([load("circuit")], 1, 1, level="most")
    with pytest.raises(DeriveError, match="kind"):
        build_sheet([load("circuit")], 1, 1, kinds=("essay",))


# ---------------------------------------------------------------- degenerate draws, many seeds

LESSON_PROBLEMS = {
    "circuit": 60, "fanout": 60, "neuron_sigmoid": 40, "staged": 40, "mlp_222": 8,
    '[graph]\nq = "a * b"\nr = "q + c"\nf = "r * d"\n[values]\na = 2\nb = -3\nc = 1\nd = 4\n': 60,
    '[graph]\nf = "tanh(w * x + b) * x"\n[values]\nw = 0.5\nx = 1.5\nb = -0.2\n': 40,
    '[graph]\nf = "exp(x * y) / (1 + x * x)"\n[values]\nx = 0.5\ny = 1.5\n': 40,
}


def test_no_lesson_is_hidden_over_many_seeds():
    """Over many seeds, computed here from whole expressions: no non-constant local gradient is
    0 or ±1, no gate gets two equal inputs, a small graph's inputs all differ, no gradient vanishes."""
    trivial = 0
    for source, seeds in LESSON_PROBLEMS.items():
        p = load(source) if "\n" not in source else loads(source)
        for seed in range(1, seeds + 1):
            v = draw_variant(p, seed, 1)
            g, vals = v.graph, v.values
            value = {n.name: oracle_value(g, vals, n.name) for n in g.nodes}
            if p.kind == "scalar" and len(g.inputs) <= 3:
                xs = [vals[n] for n in g.inputs]
                assert len(set(xs)) == len(xs), (v.key, "equal inputs", vals)
            for node in g.steps:
                if len(node.parents) <= 3:
                    ps = [value[q] for q in dict.fromkeys(node.parents)]
                    assert all(abs(a - b) > 1e-12 for a, b in itertools.combinations(ps, 2)), (v.key, node.name)
                for parent in dict.fromkeys(node.parents):
                    local = sp.diff(node.expr, g.node(parent).symbol)
                    if local.is_number or not v.derivation.has(parent):  # data (x, t) gets no gradient
                        continue
                    x = float(local.xreplace({g.node(q).symbol: sp.Float(value[q], 30) for q in node.parents}))
                    assert min(abs(x), abs(abs(x) - 1)) > 1e-9, (v.key, f"∂{node.name}/∂{parent} = {local} = {x}")
            wrt = [n for n in g.inputs if v.derivation.has(n)]
            for n in wrt:
                assert abs(oracle_gradient(g, vals, n)) >= 1e-3, (v.key, n)
            trivial += sum(1 for r in v.rejected if "does not show" in r)
    assert trivial > 0  # the rule is exercised: such draws happen and are redrawn


def test_a_hidden_lesson_is_named():
    """z = 1 in the circuit hides the multiply gate's swap; x = y in the staged problem."""
    from derive.pipeline import solve
    from derive.sheets.variants import solution_problems
    c = load("circuit")
    import dataclasses
    one = dataclasses.replace(c, values={"x": Fraction(3), "y": Fraction(2), "z": Fraction(1)})
    assert any("∂f/∂q" in r and "does not show" in r for r in solution_problems(solve(one)))
    staged = load("staged")
    assert "equal inputs" in degeneracies(staged.graph(), {"x": 2, "y": 2})[0]
