"""Moodle keys carry enough digits for their tolerance (issue 27, item 4): at every allowed relative
tolerance, down to limits.MIN_TOLERANCE, the printed key and its printed band accept the exact
value (50 digits, mpmath, never derive's), for values of every size and sign; a quiz written at the
finest tolerance does the same against the sympy oracle of test_moodle.
"""
from __future__ import annotations

import random
import re
from decimal import Decimal

import mpmath
import pytest

from derive import limits
from derive.problems import load
from derive.sheets.moodle import band, number, quiz_xml
from derive.sheets.moodle_text import relative
from derive.sheets.sheet_view import build_versions

TOLERANCES = [0.5, 0.1, 0.01, 1e-3, 1e-5, 1e-7, 1e-9, 3e-10, 1e-10, 1e-11, 1e-12, 5e-13, 1e-13, 2e-14,
              limits.MIN_TOLERANCE]


def exact_values(count=400, seed=27):
    """50-digit values of every size (1e-30 … 1e30), both signs, some near a power of ten."""
    rng = random.Random(seed)
    with mpmath.workdps(50):
        out = []
        for _ in range(count):
            mant = mpmath.mpf(rng.randrange(10**49, 10**50)) / 10**49
            if rng.random() < 0.2:
                mant = mpmath.mpf(rng.choice(["9.999999999999999999999", "1.0000000000000000000001",
                                              "4.99999999999999999999", "5.0000000000000000001"]))
            out.append(rng.choice([-1, 1]) * mant * mpmath.mpf(10) ** rng.randint(-30, 30))
        return out


def accepts(key: str, tolerance_text: str, exact) -> bool:
    """Moodle's test |response − key| ≤ tolerance, the response being the exact value (in 50 digits)."""
    with mpmath.workdps(50):
        return abs(exact - mpmath.mpf(key)) <= mpmath.mpf(tolerance_text)


@pytest.mark.parametrize("tolerance", TOLERANCES)
def test_keys_accept_the_exact_answer_at_every_allowed_tolerance(tolerance):
    for exact in exact_values():
        a = relative(float(exact), tolerance)
        key, tol = number(a.value, a.band), band(a)
        assert accepts(key, tol, exact), (mpmath.nstr(exact, 30), key, tol)
        # and with room to spare: the key's own rounding is well inside the band
        assert abs(Decimal(key) - Decimal(repr(a.value))) <= Decimal(tol) / 10, (key, tol)


def test_digits_grow_only_as_the_tolerance_needs():
    assert number(0.123456789012345, 0.01 * 0.123456789012345) == "0.123456789"  # ten digits at most as before
    v = 1 / 3
    lengths = [len(number(v, v * t).lstrip("0.")) for t in (1e-9, 1e-11, 1e-13, 1e-14)]
    assert lengths == sorted(lengths) and lengths[0] <= 11 and lengths[-1] <= 17
    assert float(number(v, v * 1e-14)) == v  # seventeen digits or fewer: the double itself
    assert number(0.0, 1e-12) == "0" and number(-0.0) == "0"


@pytest.mark.parametrize("text", ["1e-15", "0", "-1e-3", "nan", "1"])
def test_tolerances_below_what_a_key_carries_are_refused(text):
    with pytest.raises(limits.LimitError, match="--tolerance"):
        limits.tolerance(text)


def test_the_finest_tolerance_is_allowed():
    assert limits.tolerance(str(limits.MIN_TOLERANCE)) == limits.MIN_TOLERANCE


BLANK = re.compile(r"\{1:NUMERICAL:=([-0-9.e+]+):([-0-9.e+]+)\}")


def test_a_quiz_at_the_finest_tolerance_accepts_the_oracle_values():
    from test_moodle import at, expanded, oracle_gradient
    sheets = build_versions([load("circuit"), load("staged")], 1, 3)
    xml = quiz_xml(sheets, tolerance=limits.MIN_TOLERANCE, figure=lambda tikz: "<svg/>")
    checked = 0
    for sheet in sheets:
        for e in sheet.exercises:
            g, vals = e.variant.graph, e.variant.values
            if e.kind == "forward":
                want = [at(expanded(g, line.node), vals) for line in e.answer.lines]
            elif e.kind == "gates":
                want = [oracle_gradient(g, vals, x.node) for x in e.answer.gradients if x.node != g.output]
            else:
                continue
            tag = f"version {sheet.version}: "
            text = next(q for q in xml.split("<question ") if f"Exercise {e.number}, {tag}" in q)
            blanks = BLANK.findall(text)
            assert len(blanks) == len(want)
            for (key, tol), w in zip(blanks, want):
                assert abs(float(key) - w) <= float(tol), (key, tol, w)
                checked += 1
    assert checked >= 4
