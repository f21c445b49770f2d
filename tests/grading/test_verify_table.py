"""verify on its answer table (verify_table.py), decided by an independent oracle (verify_oracle.py:
central differences of an mpmath forward pass written from the problem file, never derive's code).

Right answers in many written forms (plain, LaTeX, unicode; δ or its definition; σ′ spelled every
way; sums in brackets, textbook style, with bounds, written out term by term; Nielsen names braced
or not), single mutations of them (a sign, a factor 2, a factor dropped or repeated, the wrong
index, layer or activation, half of σ′, a sum dropped or cut short), equations, plain numbers and
malformed text. The issue's targets: no wrong answer accepted, at most 2 % of right answers
refused, no traceback, a specific diagnosis for at least 90 % of wrong answers. Property tests
draw fresh rewrites and mutations at random.
"""
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from verify_table import BUILTIN_NETWORKS, GENERIC, NEW_NETWORKS, _label, judge, network_targets, rows, styles, tally
from verify_trees import mutations, render, shuffled

ROWS = rows()
GROUPS: dict = {}
for _row in ROWS:
    GROUPS.setdefault(_row[0].split("\n")[0] if "\n" in _row[0] else _row[0], []).append(_row)


def test_the_table_is_large_and_mixed():
    counts = tally(ROWS, [("wrong", [])] * len(ROWS))
    assert counts["right"] >= 500 and counts["wrong"] >= 400 and counts["malformed"] >= 50
    assert len(GROUPS) >= 10


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_table(group):
    table = GROUPS[group]
    outcomes = [judge(r) for r in table]
    c = tally(table, outcomes)
    shown = [f"{r[3]} -> {o}: {r[1]} | {r[2]!r} | {d[:1]}" for r, (o, d) in zip(table, outcomes)
             if (r[3] == "right") != (o == "correct") or o == "traceback"
             or (r[3] == "wrong" and (o != "wrong" or any(GENERIC in x for x in d)))]
    assert c["false_correct"] == 0, shown
    assert c["tracebacks"] == 0, shown
    assert c["refused_right"] <= 0.02 * c["right"], shown
    assert c["generic"] + c["wrong_refused"] <= 0.10 * max(c["wrong"], 1), shown
    malformed = [o for r, (o, _d) in zip(table, outcomes) if r[3] == "malformed"]
    assert all(o == "error" for o in malformed), shown


# ---------------------------------------------------------------- property tests

NETWORKS = BUILTIN_NETWORKS + list(NEW_NETWORKS)
_TARGETS = {}


def _targets(name):
    if name not in _TARGETS:
        _TARGETS[name] = network_targets(name)
    return _TARGETS[name]


def _problem(name):
    return name if name in BUILTIN_NETWORKS else NEW_NETWORKS[name]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NETWORKS), st.integers(0, 10**6), st.data())
def test_random_rewrites_of_a_right_answer_stay_right(name, seed, data):
    o, targets = _targets(name)
    wrt, ctx, instances, truth, trees = data.draw(st.sampled_from(targets))
    rng = random.Random(seed)
    tree = shuffled(data.draw(st.sampled_from(trees)), rng)
    style = styles(rng, 2, o.notation)[1]
    assert _label(o, tree, instances, truth) == "right"  # the generator's own check
    text = render(tree, style, ctx)
    outcome, diagnosis = judge((_problem(name), wrt, text, "right", "property"))
    assert outcome == "correct", (wrt, text, diagnosis)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NETWORKS), st.integers(0, 10**6), st.data())
def test_random_single_mutations_are_never_accepted(name, seed, data):
    o, targets = _targets(name)
    wrt, ctx, instances, truth, trees = data.draw(st.sampled_from(targets))
    rng = random.Random(seed)
    letters = sorted({x for bind, _ in instances for x in bind})
    muts = mutations(data.draw(st.sampled_from(trees)), letters, ctx)
    _cls, tree = data.draw(st.sampled_from(muts))
    assume(_label(o, tree, instances, truth) == "wrong")
    text = render(tree, styles(rng, 2, o.notation)[1], ctx)
    outcome, diagnosis = judge((_problem(name), wrt, text, "wrong", "property"))
    assert outcome in ("wrong", "error"), (wrt, text, outcome)
    assert outcome != "traceback", diagnosis
