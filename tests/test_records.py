"""Every row of the rule tables walked through every stage: load, check, report, verify, worksheet,
figure and catalog. A row with a missing piece fails with a message naming the row and the piece.

The tables are read, not listed: a new activation or function row is tested here without a line
of this file changing. Oracles are independent: central differences of the record's own numeric
form (mpmath, 40 digits) for the values derive proves, and the record's spellings for verify.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import derive
from derive.engine.ops import ACTIVATIONS, FUNCTION_TABLE, LAYERS, LOSSES
from derive.engine.precision import mp as mpmath  # derive's context: its records compute at its precision
from derive.sheets.exercises import build_sheet

ROOT = Path(__file__).resolve().parent.parent
KO_PO = ROOT / "derive" / "locale" / "ko" / "LC_MESSAGES" / "derive.po"

PROBLEM_ROWS = [f for f in FUNCTION_TABLE.values() if f.in_problems]
ACTIVATION_ROWS = [f for f in FUNCTION_TABLE.values() if f.activation]
UNARY_PROBLEM_ROWS = [f for f in PROBLEM_ROWS if f.arity == 1]
X, Y = 0.7, -0.4  # inside every function's domain (log(x·y + 1) below keeps its argument positive)


def _missing(row, fields):
    return [name for name in fields if not getattr(row, name)]


@pytest.mark.parametrize("row", list(FUNCTION_TABLE.values()), ids=lambda r: r.name)
def test_every_function_row_is_complete(row):
    fields = ["name", "sympy", "mp", "np", "latex", "plain", "glyph", "short", "word", "label"]
    if row.activation:
        fields += ["unit", "prime", "confused"]
    missing = _missing(row, fields)
    assert not missing, f"function row {row.name!r} has no {', '.join(missing)}"
    for other in row.confused:
        assert other in FUNCTION_TABLE, f"function row {row.name!r}: confused names an unknown row {other!r}"


@pytest.fixture(scope="module")
def korean():
    with KO_PO.open("rb") as f:
        return read_po(f)


@pytest.mark.parametrize("row", list(FUNCTION_TABLE.values()), ids=lambda r: r.name)
def test_every_row_has_its_korean_messages(row, korean):
    for piece in ("label", "unit"):
        msgid = getattr(row, piece)
        if not msgid:
            continue
        message = korean.get(msgid)
        assert message is not None and message.string, f"function row {row.name!r}: {piece} {msgid!r} has no Korean"
        assert not message.fuzzy, f"function row {row.name!r}: the Korean {piece} {msgid!r} is fuzzy"


def _argument(row) -> str:
    return "x*y + 1" if row.name in ("log", "sqrt") else "x*y"


def _numeric_gradient(row, wrt: str) -> float:
    """∂/∂wrt of f = row(arg) + x by central differences of the record's mpmath form."""
    mpmath.dps = 40
    try:
        def f(x, y):
            arg = x * y + (1 if row.name in ("log", "sqrt") else 0)
            params = [mpmath.mpf(v) for _, v in row.params]
            return row.mp(arg, *params) + x
        h = mpmath.mpf(10) ** -15
        x, y = mpmath.mpf(X), mpmath.mpf(Y)
        if wrt == "x":
            return float((f(x + h, y) - f(x - h, y)) / (2 * h))
        return float((f(x, y + h) - f(x, y - h)) / (2 * h))
    finally:
        mpmath.dps = 15


def _raw_names(row, tex: str) -> list[str]:
    """The row's name where the .tex prints it other than as its LaTeX head or its label (prose)."""
    for shown in (row.latex, row.label):
        tex = tex.replace(shown, "")
    name = re.escape(row.name).replace("_", r"\\?_")
    return re.findall(rf"(?<![A-Za-z\\{{]){name}(?![A-Za-z}}])", tex)


@pytest.mark.parametrize("row", UNARY_PROBLEM_ROWS, ids=lambda r: r.name)
def test_every_function_in_a_circuit_is_checked_and_typeset(row):
    p = derive.circuit(f"f = {row.name}({_argument(row)}) + x", x=X, y=Y, title="A circuit")
    s = p.solve()
    assert s.checks.ok, f"function row {row.name!r}: the circuit's check failed"
    for wrt in ("x", "y"):
        want = _numeric_gradient(row, wrt)
        assert s.gradient(wrt) == pytest.approx(want, rel=1e-9, abs=1e-12), f"{row.name}: ∂f/∂{wrt}"
    assert not _raw_names(row, s.latex()), f"function row {row.name!r}: the report's .tex prints its raw name"


@pytest.mark.parametrize("row", UNARY_PROBLEM_ROWS, ids=lambda r: r.name)
def test_every_spelling_of_a_function_reads_in_problems(row):
    want = derive.circuit(f"f = {row.name}({_argument(row)}) + x", x=X, y=Y).solve().gradient("x")
    for spelling in row.spellings:
        got = derive.circuit(f"f = {spelling}({_argument(row)}) + x", x=X, y=Y).solve().gradient("x")
        assert got == pytest.approx(want, rel=1e-12), f"function row {row.name!r}: spelling {spelling!r}"


def _net(row, loss="mse"):
    out = "sigmoid" if loss == "mse" else "softmax"
    return derive.network([2, 3, 2], activations=[row.name, out], loss=loss, seed=3)


@pytest.mark.parametrize("row", ACTIVATION_ROWS, ids=lambda r: r.name)
def test_every_activation_in_a_network_is_checked_and_typeset(row):
    for loss in ("mse", "cross_entropy"):
        s = _net(row, loss).solve()
        assert s.checks.ok, f"activation row {row.name!r}: the network's check failed ({loss})"
        rules = s.raw.rules if hasattr(s.raw, "rules") else ()
        assert all(r.ok for r in rules), f"activation row {row.name!r}: a rule failed ({loss})"
    assert not _raw_names(row, s.latex()), f"activation row {row.name!r}: the report's .tex prints its raw name"


@pytest.mark.parametrize("row", ACTIVATION_ROWS, ids=lambda r: r.name)
def test_every_activation_is_drawn_as_a_worksheet(row):
    p = _net(row)
    sheet = build_sheet([p.data], 5, 1)
    assert sheet.exercises, f"activation row {row.name!r}: the worksheet has no exercise"


def _prime_spellings(row):
    heads = [row.name, *row.spellings, *row.answer_only]
    return [f"{h}{mark}" for h in heads for mark in ("′", "'")] + list(row.prime_spellings)


@pytest.mark.parametrize("row", [r for r in ACTIVATION_ROWS if r.in_problems], ids=lambda r: r.name)
def test_every_spelling_of_a_derivative_is_read_by_verify(row):
    p = derive.circuit(f"f = {row.name}(w*x)", w=0.8, x=0.6)
    for head in _prime_spellings(row):
        verdict = derive.verify(p, wrt="w", answer=f"{head}(w x) x")
        assert verdict.correct, f"activation row {row.name!r}: verify did not accept {head}(w x) x"
    verdict = derive.verify(p, wrt="w", answer="w")
    assert not verdict.correct


def test_every_activation_and_loss_combination_the_tables_allow_loads():
    for name, loss in LOSSES.items():
        for out in loss.outputs:
            acts = [out] if ACTIVATIONS.get(out) is None else ["tanh", out]
            p = derive.network([2, 2, 2], activations=acts if len(acts) == 2 else ["sigmoid", out],
                               loss=name, seed=1)
            assert p.solve().checks.ok, f"loss row {name!r} with output {out!r}"


@pytest.mark.parametrize("name", list(LAYERS), ids=str)
def test_every_layer_row_is_complete(name):
    row = LAYERS[name]
    missing = _missing(row, ["name", "params", "forward", "backward", "label"])
    assert not missing, f"layer row {name!r} has no {', '.join(missing)}"
