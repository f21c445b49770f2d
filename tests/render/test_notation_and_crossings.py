"""Issue 24's last items: the sample index in one position (a^{L,(n)}_j in rules and instances),
BP rules labelled from their layer field, worksheet figures never scaled, and the figure's edge
crossings counted from the drawn geometry (never more than the barycentre ordering alone)."""
from __future__ import annotations

import random
import re
from itertools import pairwise

import numpy as np
import pytest

from derive import problems
from derive.api.problem import loads
from derive.grading.verify import verify
from derive.pipeline import solve
from derive.render import crossings, markdown, netview, tex, tikz
from derive.render.view import _param_leaves

BATCH = """title = "b"
[network]
layers = [2, 3, 2]
activations = ["{act}", "sigmoid"]
loss = "mse"
notation = "{notation}"
[values]
x = [[1.0, 2.0], [-0.5, 1.5], [0.25, -1.0]]
t = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
W1 = [[0.5, -0.25], [0.3, 0.4], [-0.6, 0.2]]
b1 = [0.1, -0.2, 0.05]
W2 = [[0.7, -0.4, 0.9], [0.2, 0.1, -0.3]]
b2 = [0.2, -0.1]
"""


@pytest.fixture(scope="module")
def solutions():
    solved = {p.source.split(" ")[0]: solve(p) for p in problems.load_builtins()}
    return {k: s for k, s in solved.items() if s.derivation is not None}


def _batch(notation, act="tanh"):
    return solve(problems.loads(BATCH.format(notation=notation, act=act), f"batch-{notation}"))


# ---------------------------------------------------------------- the sample index: a superscript (n)

SUBSCRIPTED_SAMPLE = re.compile(r"_\{n[a-z]\}|_\{n,[a-z]")  # a^{L}_{nj}, a_{n,j}


@pytest.mark.parametrize("notation", ["nielsen", "mitchell"])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_a_batch_writes_the_sample_as_a_superscript_everywhere(notation, act):
    sol = _batch(notation, act)
    assert sol.report.ok and all(r.checked for r in sol.extra.rules)  # the rewritten rules still evaluate
    for detail in ("concise", "full"):
        section = tex.render_section(sol, detail)
        assert not SUBSCRIPTED_SAMPLE.search(section), SUBSCRIPTED_SAMPLE.search(section)
        assert ",(n)}_{" in section if notation == "nielsen" else "^{(n)}_{" in section
        assert "(1)}_{" in section  # the instances: the same position with the sample's number
    text, _ = markdown.render_markdown([sol])
    assert not SUBSCRIPTED_SAMPLE.search(text) and "(n)}_{" in text


def test_without_a_batch_there_is_no_sample_index(solutions):
    for name in ("mlp_222", "mlp_nielsen"):
        assert "(n)" not in tex.render_section(solutions[name], "full"), name


def test_verify_reads_both_spellings_of_the_sample_index(solutions):
    sol = solutions["mlp_relu_batch"]
    right = ["sum_n (a^{L,(n)}_j - y^{(n)}_j) a^{L-1,(n)}_k", "sum_n (a^L_nj - y_nj) a^{L-1}_nk"]
    wrong = ["sum_n (a^{L,(n)}_j - y^{(n)}_j) a^{L,(n)}_k", "sum_n (a^L_nj - y_nj) a^{L}_nk"]
    for answer in right:
        assert verify(sol, "w^L_jk", answer).correct, answer
    for answer in wrong:
        assert not verify(sol, "w^L_jk", answer).correct, answer


def test_the_sampled_rule_evaluates_to_the_numbers():
    """The δ^L rule with its sample superscript, concretized, equals numpy's (a − y) ⊙ σ′ per sample."""
    from derive.networks.resolver import concretize
    sol = _batch("nielsen")
    x, t = np.array([[1.0, 2.0], [-0.5, 1.5], [0.25, -1.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w1, b1 = np.array([[0.5, -0.25], [0.3, 0.4], [-0.6, 0.2]]), np.array([0.1, -0.2, 0.05])
    w2, b2 = np.array([[0.7, -0.4, 0.9], [0.2, 0.1, -0.3]]), np.array([0.2, -0.1])
    a = 1 / (1 + np.exp(-(np.tanh(x @ w1.T + b1) @ w2.T + b2)))
    delta = (a - t) * a * (1 - a)
    rule = next(r for r in sol.extra.rules if str(r.lhs).startswith("delta^L"))
    values = sol.derivation.values
    for n in range(3):
        for j in range(2):
            e = concretize(sol, rule.expr, {"n": n + 1, "j": j + 1})
            got = float(e.subs({s: values[s.name] for s in e.free_symbols}))
            assert got == pytest.approx(delta[n, j], rel=1e-9)


# ---------------------------------------------------------------- BP labels from the rule's layer

def test_bp_rules_carry_their_layer(solutions):
    for name, s in solutions.items():
        if s.problem.kind != "network":
            continue
        for v in s.extra.vector_rules:
            assert v.layer is not None and re.fullmatch(r"BP[1-4].*", v.name), (name, v.name)
            numbers = {int(d) for d in re.findall(r"\^(\d+)", v.lhs.name)}  # delta^3, ∂C/∂w^2
            assert numbers == {v.layer}, (name, v.name, v.lhs.name)
            label = netview.rule_label(v, s.problem)
            if s.problem.notation == "nielsen":
                assert label == v.name
            else:
                output = v.layer == len(s.problem.sizes)
                assert ("output layer o" in label) == output and ("hidden layer h" in label) != output, label


# ---------------------------------------------------------------- worksheet figures: never scaled

def test_the_worksheet_figure_is_never_scaled(solutions):
    fig = tikz.layout(solutions["staged"].derivation, values=False, gradients=False)
    page = tex.render("worksheet_figure.tex", fig=fig, figure_boxes=True, reaches=())
    assert r"\begin{tikzpicture}" in page
    assert not re.search(r"adjustbox|resizebox|scalebox|totalheight", page)


# ---------------------------------------------------------------- edge crossings, counted on the drawing

def _segments(fig):
    pos = {n.id: (n.x, n.y) for n in fig.nodes}
    for k, e in enumerate(fig.edges):
        pts = [pos[e.src], *e.via, pos[e.dst]]
        yield from ((k, a, b) for a, b in pairwise(pts))


def _side(p, q, r):
    v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return 0 if abs(v) < 1e-9 else (1 if v > 0 else -1)


def drawn_crossings(fig) -> int:
    """Proper intersections of two edges' segments (edges meeting at a node do not count)."""
    segs = list(_segments(fig))
    count = 0
    for i, (k1, p1, q1) in enumerate(segs):
        for k2, p2, q2 in segs[i + 1:]:
            if k1 != k2 and not {p1, q1} & {p2, q2} \
                    and _side(p1, q1, p2) * _side(p1, q1, q2) < 0 and _side(p2, q2, p1) * _side(p2, q2, q1) < 0:
                count += 1
    return count


def _barycentre_only(derivation, omit=frozenset()):
    """Crossings of the columns as placed, ordered by the barycentre sweeps alone."""
    graph, _ = tikz.as_drawn(derivation)
    col = {k: v for k, v in tikz.columns_of(graph).items() if k not in omit}
    low = min(col.values())
    col = {k: v - low for k, v in col.items()}
    cols, up, down, _ = tikz._layers(graph, col)
    saved = crossings.fewer
    try:
        crossings.fewer = lambda cols, down, chains=(): cols
        cols = tikz._order(cols, up, down)
    finally:
        crossings.fewer = saved
    return crossings.total(cols, down)


def _random_graph(seed: int) -> str:
    rng = random.Random(seed)
    names = ["x", "y", "z", "w"][:rng.randint(2, 4)]
    inputs, unused, lines = list(names), list(names), []
    for i in range(rng.randint(3, 9)):
        a = rng.choice(unused) if unused and rng.random() < 0.7 else rng.choice(names)
        b = rng.choice([v for v in names if v != a])
        op = rng.choice(["{a} + {b}", "{a} * {b}", "{a} - {b}", "sigmoid({a}) + {b}", "tanh({a}) * {b}",
                         "({a} + {b})**2"])
        lines.append(f'g{i} = "{op.format(a=a, b=b)}"')
        unused = [v for v in unused if v not in (a, b)] + [f"g{i}"]
        names.append(f"g{i}")
    if len(unused) > 1:
        lines.append('out = "' + " + ".join(unused) + '"')
    values = "\n".join(f"{v} = {rng.choice([0.5, -1.5, 2.0, 1.25])}" for v in inputs)
    return 'title = "r"\n[graph]\n' + "\n".join(lines) + f"\n[values]\n{values}\n"


def _tree(seed: int) -> str:
    """An expression tree: every input used once, so a drawing without crossings exists."""
    rng = random.Random(seed)
    leaves = [f"x{i}" for i in range(rng.randint(3, 7))]
    pool, lines, k = list(leaves), [], 0
    while len(pool) > 1:
        a, b = pool.pop(rng.randrange(len(pool))), pool.pop(rng.randrange(len(pool)))
        lines.append(f'g{k} = "{rng.choice(["{a} + {b}", "{a} * {b}", "tanh({a}) - {b}"]).format(a=a, b=b)}"')
        pool.insert(rng.randrange(len(pool) + 1), f"g{k}")
        k += 1
    values = "\n".join(f"{v} = {rng.choice([0.5, -1.5, 2.0])}" for v in leaves)
    return 'title = "t"\n[graph]\n' + "\n".join(lines) + f"\n[values]\n{values}\n"


def test_the_staged_graph_is_drawn_without_crossings(solutions):
    fig = tikz.layout(solutions["staged"].derivation)
    assert not fig.summary and drawn_crossings(fig) == 0
    assert fig.extent()[0] <= tikz.LINE_CM + 0.6 and fig.sx >= tikz.MIN_SCALE_X


def test_builtin_figures_never_cross_more_than_the_barycentre_ordering(solutions):
    for name, s in solutions.items():
        if s.problem.kind == "layers":
            continue
        omit = _param_leaves(s)
        fig = tikz.layout(s.derivation, omit=omit)
        if fig.summary:
            continue
        assert drawn_crossings(fig) <= _barycentre_only(s.derivation, omit), name


def test_random_graphs_cross_less_than_the_barycentre_ordering():
    drawn = reference = 0
    for seed in range(120):
        d = loads(_random_graph(seed)).solve().raw.derivation
        fig = tikz.layout(d)
        if fig.summary:
            continue
        here, before = drawn_crossings(fig), _barycentre_only(d)
        assert here <= before, seed
        drawn, reference = drawn + here, reference + before
    assert reference > 50 and drawn <= 0.7 * reference, (drawn, reference)


@pytest.mark.parametrize("seed", range(25))
def test_expression_trees_are_drawn_without_crossings(seed):
    fig = tikz.layout(loads(_tree(seed)).solve().raw.derivation)
    assert fig.summary or drawn_crossings(fig) == 0
