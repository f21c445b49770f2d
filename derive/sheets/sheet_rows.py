"""Equation rows for worksheets and answer keys: `lhs = part = part = …`, never `a = a`, and
long lines broken after "+" (or before "=") so that nothing crosses the margin.

    Part: a printed expression (a LaTeX string) or a Sum: printed pieces that may be broken over
          rows, every piece after the first starting with its operator ("+ b", "- c", "\\cdot d").
    rows(lhs, parts, budget=BUDGET) -> list[Row]
          Row(left, right) for an align* row `left & right`: the first row's left is the lhs;
          continuation rows start "= …" or "\\qquad + …". Consecutive equal parts (and parts
          equal to the lhs) are dropped, so `∂q/∂y = 1 = 1 = 1` prints as `∂q/∂y = 1`.
    width(tex) -> float  a rough width of LaTeX math, in units of one letter (~5.5 pt at 11 pt):
          fractions count their wider line, scripts 0.7 of a letter, binary signs 3.
    sum_terms(expr, **settings) -> Sum   a SymPy Add printed term by term, in the printer's order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..render import printer

BUDGET = 82.0  # letters in one row of an align* (the text is 484 pt, a letter 5.1-5.7 pt at 11 pt)
LHS_MIN = 9.0  # the left column of an align* is as wide as its widest left side: allow for one
CONTINUATION = 6.0  # the \qquad of a continuation row


class Sum(tuple):
    """A sum printed term by term ("a", "+ b", "- c"), or a product factor by factor ("a", "\\cdot b")."""

    def text(self) -> str:
        return " ".join(self)


@dataclass(frozen=True)
class Row:
    left: str
    right: str


def as_text(part) -> str:
    return part.text() if isinstance(part, Sum) else part


def sum_terms(expr, **settings) -> Sum | str:
    """An Add printed term by term (a sum that rows() may break); anything else as one string."""
    if not isinstance(expr, sp.Add):
        return printer.latex(expr, **settings)
    p = printer.DerivePrinter({"mul_symbol": "dot", **settings})
    whole = p.doprint(expr)
    ordered = p._as_ordered_terms(expr, order=None)
    out = []
    for i, term in enumerate(ordered):
        text = p._print(term)
        if i == 0:
            out.append(text)
        elif text.startswith("-"):
            out.append("- " + text[1:].lstrip())
        else:
            out.append("+ " + text)
    joined = " ".join(out)
    return Sum(out) if _normal(joined) == _normal(whole) else whole


def _normal(text: str) -> str:
    """For comparing printed parts: no spaces, no \\left/\\right, no outer parentheses."""
    t = re.sub(r"\\left|\\right|\\,|\\!|\\;|\s+", "", text)
    while t.startswith("(") and t.endswith(")") and _balanced(t[1:-1]):
        t = t[1:-1]
    return t


def _balanced(t: str) -> bool:
    depth = 0
    for ch in t:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def distinct(lhs: str, parts) -> list:
    """The parts without consecutive repeats and without a part equal to the lhs; of two
    parts that differ only in parentheses the later is kept (`q = (−2) = −2` reads `q = −2`)."""
    out, last = [], _normal(lhs)
    for part in parts:
        if part is None:
            continue
        n = _normal(as_text(part))
        if not n:
            continue
        if n == last:
            if out and as_text(out[-1]) != as_text(part):
                out[-1] = part
            continue
        out.append(part)
        last = n
    return out


# ---------------------------------------------------------------- width

_SIGNS = {"+": 3.0, "-": 3.0, "=": 3.0, "<": 3.0, ">": 3.0}
_COMMAND_WIDTH = {"cdot": 1.4, "times": 2.6, ",": 0.3, ";": 0.5, "quad": 3.0, "qquad": 6.0, "!": -0.3,
                  "left": 0.0, "right": 0.0, "Bigl": 0.0, "Bigr": 0.0, "bigl": 0.0, "bigr": 0.0,
                  "displaystyle": 0.0, "partial": 1.2, "ldots": 2.5, "cdots": 2.5, "sum": 2.0,
                  "underbrace": 0.0, "boxed": 0.6,
                  "numbox": 10.5, "exprbox": 19.5, "smallbox": 4.2}  # the worksheet's answer boxes
_WRAPPERS = {"mathit", "mathrm", "operatorname", "mathbf", "text", "textit", "mathsf", "boldsymbol"}


def width(tex: str) -> float:
    """Rough width of LaTeX math (see the module docstring)."""
    w, _ = _width(tex, 0)
    return w


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group (or single token) starting at i: (its content, the index after it)."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def _width(tex: str, i: int) -> tuple[float, int]:
    total = 0.0
    prev = ""  # the last character that counts, to tell a unary minus from a binary one
    while i < len(tex):
        ch = tex[i]
        if ch not in " }&":
            before, prev = prev, ch
        else:
            before = prev
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            cmd = m.group(1)
            i += len(m.group(0))
            if cmd in ("frac", "dfrac", "tfrac"):
                a, i = _group(tex, i)
                b, i = _group(tex, i)
                total += max(width(a), width(b)) * (0.75 if cmd == "tfrac" else 1.0) + 0.8
            elif cmd in _WRAPPERS:
                a, i = _group(tex, i)
                total += width(a)
            elif cmd in ("\\", "\\\\"):
                break
            else:
                total += _COMMAND_WIDTH.get(cmd, 1.0)
        elif ch in "^_":
            scripts = []
            while i < len(tex) and tex[i] in "^_":
                a, i = _group(tex, i + 1)
                scripts.append(width(a) * 0.7)
            total += max(scripts)
        elif ch == "{":
            a, i = _group(tex, i)
            total += width(a)
        elif ch in " }&":
            i += 1
        elif ch in "+-" and before in ("", "(", "=", "[", "{", ","):
            total += 1.6  # unary
            i += 1
        else:
            total += _SIGNS.get(ch, 0.55 if ch in ".,;:" else 0.8 if ch in "()[]|" else 1.0)
            i += 1
    return total, i


# ---------------------------------------------------------------- rows

def rows(lhs: str, parts, budget: float = BUDGET) -> list[Row]:
    """`lhs = part = …` as align* rows, broken where a row would be wider than `budget`."""
    parts = distinct(lhs, parts)
    lw = width(lhs)
    out: list[Row] = []
    left, cur, cur_w = lhs, "", 0.0
    room = budget - max(lw, LHS_MIN)

    def flush():
        nonlocal left, cur, cur_w
        if cur:
            out.append(Row(left, cur))
        left, cur, cur_w = "", "", 0.0

    for part in parts:
        text = as_text(part)
        w = width(text) + 3.0
        if cur_w + w <= room:
            cur, cur_w = f"{cur} = {text}" if cur else f"= {text}", cur_w + w
            continue
        if cur:
            flush()
        if w <= room:
            cur, cur_w = f"= {text}", w
            continue
        terms = list(part) if isinstance(part, Sum) else [text]
        cur, cur_w = "= " + terms[0], width(terms[0]) + 3.0
        for term in terms[1:]:
            tw = width(term) + 1.0
            if cur_w + tw <= room:
                cur, cur_w = f"{cur} {term}", cur_w + tw
            else:
                flush()
                cur, cur_w = "\\qquad {} " + term, CONTINUATION + tw
    flush()
    if not out:
        out.append(Row(lhs, ""))
    return out
