"""Verify on big networks: an index-form answer is checked on a smaller copy of the same form
(grading.targets.reduced). The oracle is the check on the whole network (every instance), made by
lifting the size limit; a wrong answer whose error sits in one unit at the edge is still rejected."""
from __future__ import annotations

import dataclasses

import pytest

from derive.cli.bench import problem_text
from derive.grading import targets
from derive.grading.answers import VerifyError
from derive.grading.verify import verify
from derive.pipeline import solve
from derive.problems import load, loads

SOFTMAX = ("softmax", "cross_entropy")
SIGMOID = ("sigmoid", "mse")


def net(sizes, out=SOFTMAX, notation="nielsen", batch_rows=None):
    text = problem_text(sizes, out).replace('notation = "nielsen"', f'notation = "{notation}"')
    return loads(text, "size-test")


NIELSEN = [  # (wrt, answer, right)
    ("w^l_jk", "delta^l_j a^{l-1}_k", True),
    ("b^l_j", "delta^l_j", True),
    ("delta^L_j", "a^L_j - y_j", True),
    ("delta^l_j", "sum_k w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", True),
    ("w^l_jk", "delta^l_j a^{l}_k", False),
    ("w^l_jk", "delta^l_k a^{l-1}_j", False),
    ("w^l_jk", "-delta^l_j a^{l-1}_k", False),
    ("w^l_jk", "delta^l_j a^{l-1}_k a^l_j", False),
    ("b^l_j", "delta^l_j a^l_j", False),
    ("delta^L_j", "y_j - a^L_j", False),
    ("delta^L_j", "a^L_j", False),
    ("delta^l_j", "sum_k w^{l+1}_{kj} delta^{l+1}_k", False),
    ("delta^l_j", "sum_{k=1}^{5} w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", False),  # one output short
    ("delta^l_j", "sum_{k=2}^{6} w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", False),  # the first one missing
    ("delta^l_j", "sum_{k=1}^{6} w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", True),  # written out in full
    ("W2[6,7]", "delta^3_6 a^2_7", True),  # the far corner of W2 (6 × 7)
    ("W2[6,7]", "delta^3_6 a^2_6", False),
    ("W2[6,7]", "delta^3_5 a^2_7", False),
    ("W1[7,8]", "delta^2_7 a^1_8", True),
    ("W1[7,8]", "delta^2_7 a^1_7", False),
]


@pytest.fixture(scope="module")
def nielsen():
    """An 8-7-6 softmax network: 98 weights, checked whole (the oracle) and on a copy."""
    return net((8, 7, 6))


def _verdict(problem, wrt, answer, limit, monkeypatch):
    monkeypatch.setattr(targets, "REDUCE_ABOVE", limit)
    return verify(solve(targets.reduced(problem, (wrt, answer))), wrt, answer)


@pytest.mark.parametrize("wrt, answer, right", NIELSEN)
def test_copy_agrees_with_the_whole_network(nielsen, monkeypatch, wrt, answer, right):
    small = _verdict(nielsen, wrt, answer, 10, monkeypatch)
    full = _verdict(nielsen, wrt, answer, 10**9, monkeypatch)
    assert full.correct is right  # the oracle: every instance of the whole network
    assert small.correct is right
    monkeypatch.setattr(targets, "REDUCE_ABOVE", 10)
    copy = targets.reduced(nielsen, (wrt, answer))
    assert all(c <= n for c, n in zip(copy.sizes, nielsen.sizes))
    if not any(ch in answer + wrt for ch in "5678"):
        assert copy.sizes == (5, 4, 3)  # a few units a layer, in the order of the real sizes


def test_a_unit_named_by_the_answer_is_inside_the_copy(nielsen, monkeypatch):
    monkeypatch.setattr(targets, "REDUCE_ABOVE", 10)
    copy = targets.reduced(nielsen, ("delta^l_j", "sum_{k=1}^{5} w^{l+1}_{kj} delta^{l+1}_k"))
    assert copy.sizes[-1] == 6  # one past the 5 the answer names: the unit it leaves out is there
    v = verify(solve(copy), "delta^l_j", "sum_{k=1}^{5} w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)")
    assert not v.correct and v.diagnosis[0].code == "narrow-sum"


def test_the_whole_network_is_never_solved_by_verify(nielsen, monkeypatch):
    """A Solution of the whole network: verify answers from the copy it solves itself."""
    monkeypatch.setattr(targets, "REDUCE_ABOVE", 10)
    whole = solve(nielsen)
    v = verify(whole, "w^l_jk", "delta^l_j a^{l-1}_k")
    assert v.correct and any("5-4-3" in n for n in v.notes)
    assert not verify(whole, "w^l_jk", "delta^l_j a^{l}_k").correct


SIZES = [  # (real sizes, numbers named by the texts)
    ((784, 64, 10), set()), ((784, 64, 10), {7, 12}), ((50, 20, 10), {9}), ((2, 100, 3), set()),
    ((784, 128, 64, 10), {1, 2}), ((10, 10, 10, 10), {11}), ((30, 12, 10), {63}), ((3, 3), {2}),
    ((5, 9, 9, 2), {8}), ((100, 1, 100), {50}), ((1, 1, 1), set()), ((40, 40, 3), {39}),
]


@pytest.mark.parametrize("sizes, named", SIZES)
def test_small_sizes_keep_order_and_named_units(sizes, named):
    small = targets._small_sizes(sizes, named)
    assert len(small) == len(sizes)
    for c, n in zip(small, sizes):
        assert 1 <= c <= n
        fits = [x for x in named if x <= n]
        assert c >= min(n, max(fits, default=0) + 1)
    for a in range(len(sizes)):
        for b in range(len(sizes)):
            if sizes[a] > sizes[b]:
                assert small[a] > small[b] or small[a] == sizes[a]
            if sizes[a] == sizes[b]:
                assert small[a] == small[b]


@pytest.mark.parametrize("sizes, out", [((30, 12, 10), SOFTMAX), ((30, 12, 10), SIGMOID), ((20, 9, 8, 7), SOFTMAX)])
def test_copy_values_are_the_problems_own_cut_to_size(sizes, out):
    p = net(sizes, out)
    copy = targets.reduced(p, ("w^l_jk",))
    assert copy is not p and targets.whole(copy) is p
    for key, arr in copy.arrays.items():
        if key.startswith("W"):
            assert all(row == p.arrays[key][j][:len(row)] for j, row in enumerate(arr))
    for row in copy.arrays["t"]:
        assert len(row) == copy.sizes[-1]
        if out == SOFTMAX:
            assert sum(row) == 1
    solve(copy)  # the copy is a valid problem


def test_batches_keep_at_least_two_samples():
    text = ('[network]\nlayers = [12, 10, 3]\nactivations = ["sigmoid", "sigmoid"]\nloss = "mse"\n'
            'notation = "nielsen"\n[values]\n')
    import numpy as np
    rng = np.random.default_rng(1)
    rows = lambda r, c: "[" + ", ".join("[" + ", ".join(f"{v:.2f}" for v in rng.uniform(-1, 1, c)) + "]"  # noqa: E731
                                        for _ in range(r)) + "]"
    text += f"x = {rows(4, 12)}\nt = {rows(4, 3).replace('-', '')}\nW1 = {rows(10, 12)}\nb1 = {rows(1, 10)[1:-1]}\n"
    text += f"W2 = {rows(3, 10)}\nb2 = {rows(1, 3)[1:-1]}\n"
    p = loads(text, "batch")
    copy = targets.reduced(p, ("w^l_jk", "sum_n delta^l_nj a^{l-1}_nk"))
    assert copy.batch == 2 and len(copy.arrays["x"]) == 2
    assert targets.reduced(p, ("sum_{n=1}^{3} x",)).batch == 4


@pytest.mark.parametrize("name", ["circuit", "mlp_222", "affine_layer"])
def test_small_and_other_problems_are_their_own_copy(name):
    p = load(name)
    assert targets.reduced(p, ("x",)) is p


@pytest.mark.parametrize("wrt, expect", [
    ("W2[0,0]", "indices start at 1"), ("W3[1,1]", "W1[1..64, 1..784]"), ("W2[11,3]", "10×64"),
    ("dela^l_j", "did you mean delta^l_j"), ("w^l_jx", "w^l_jk"),
])
def test_unknown_wrt_on_a_big_network_is_one_short_line(wrt, expect):
    p = net((784, 64, 10))
    copy = targets.reduced(p, (wrt, "x"))
    with pytest.raises(VerifyError) as e:
        verify(solve(copy), wrt, "x")
    message = str(e.value)
    assert expect in message and "\n" not in message and len(message) < 400


def test_mitchell_copy(monkeypatch):
    p = dataclasses.replace(net((9, 8, 7), SIGMOID, "mitchell"))
    for wrt, answer, right in [("w_kj", "(o_k - t_k) o_k (1 - o_k) h_j", True), ("w_kj", "(o_k - t_k) h_j", False),
                               ("w_ji", "x_i h_j (1 - h_j) sum_k w_kj (o_k - t_k) o_k (1 - o_k)", True),
                               ("w_ji", "x_i h_j (1 - h_j) sum_{k=1}^{6} w_kj (o_k - t_k) o_k (1 - o_k)", False)]:
        small = _verdict(p, wrt, answer, 10, monkeypatch)
        full = _verdict(p, wrt, answer, 10**9, monkeypatch)
        assert small.correct is full.correct is right, (wrt, answer)


def test_cli_and_api_on_a_big_network_solve_only_the_copy(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    import derive
    from derive import pipeline
    from derive.cli import main
    path = tmp_path / "big.toml"
    path.write_text(problem_text((40, 30, 10), SOFTMAX), encoding="utf-8")
    solved = []
    real = pipeline.solve
    monkeypatch.setattr(pipeline, "solve", lambda p, *a, **k: solved.append(p.sizes) or real(p, *a, **k))
    ok = CliRunner().invoke(main, ["verify", str(path), "--wrt", "w^l_jk", "--answer", "delta^l_j a^{l-1}_k",
                                   "--json"])
    assert ok.exit_code == 0, ok.output
    assert any("5-4-3" in n for n in json.loads(ok.stdout)["notes"])
    bad = CliRunner().invoke(main, ["verify", str(path), "--wrt", "W2[10,30]", "--answer", "delta^3_10 a^2_29"])
    assert bad.exit_code in (1, 2), bad.output  # wrong (or unreadable two-digit names): never accepted
    problem = derive.load(path)
    assert derive.verify(problem, wrt="b^l_j", answer="delta^l_j").correct
    assert not derive.verify(problem, wrt="b^l_j", answer="delta^l_j a^l_j").correct
    assert (40, 30, 10) not in solved and solved


def _batch_problem(rows=4):
    import numpy as np
    rng = np.random.default_rng(3)

    def table(r, c, low=-1.0):
        rows_ = ["[" + ", ".join(f"{v:.2f}" for v in rng.uniform(low, 1, c)) + "]" for _ in range(r)]
        return "[" + ", ".join(rows_) + "]"
    text = ('[network]\nlayers = [6, 5, 3]\nactivations = ["tanh", "sigmoid"]\nloss = "mse"\nnotation = "nielsen"\n'
            f"[values]\nx = {table(rows, 6)}\nt = {table(rows, 3, 0.0)}\nW1 = {table(5, 6)}\nb1 = {table(1, 5)[1:-1]}\n"
            f"W2 = {table(3, 5)}\nb2 = {table(1, 3)[1:-1]}\n")
    return loads(text, "batch-test")


BATCH = [
    ("w^l_jk", "sum_n delta^l_nj a^{l-1}_nk", True),
    ("b^l_j", "sum_n delta^l_nj", True),
    ("w^l_jk", "delta^l_nj a^{l-1}_nk", False),  # the sum over the batch missing
    ("w^l_jk", "sum_{n=1}^{3} delta^l_nj a^{l-1}_nk", False),  # the last sample left out
    ("w^l_jk", "sum_{n=2}^{4} delta^l_nj a^{l-1}_nk", False),  # the first sample left out
    ("w^l_jk", "sum_{n=1}^{4} delta^l_nj a^{l-1}_nk", True),
    ("w^l_jk", "sum_n delta^l_nj a^{l}_nk", False),
]


@pytest.mark.parametrize("wrt, answer, right", BATCH)
def test_batch_copy_agrees_with_the_whole_batch(monkeypatch, wrt, answer, right):
    p = _batch_problem()
    monkeypatch.setattr(targets, "REDUCE_ABOVE", 10)
    copy = targets.reduced(p, (wrt, answer))
    assert copy.batch < p.batch or any(ch in answer for ch in "34")
    small = verify(solve(copy), wrt, answer)
    full = _verdict(p, wrt, answer, 10**9, monkeypatch)
    assert full.correct is right and small.correct is right
