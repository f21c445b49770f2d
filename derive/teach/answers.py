"""What a verdict is about and how an answer is read: Target, Instance, answer_expr.

A Target is one gradient a student may be asked for (∂f/∂x, ∂L/∂w_kj, W2[1,2]): the names the
answer may use and the concrete instances (index bindings) it must equal. `answer_expr` reads the
answer (plain or LaTeX, through `reading.parse_answer`) into SymPy over those names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from ..engine.ops import FUNCTIONS
from ..engine.parse import number
from ..errors import DeriveError, ParseError
from .reading import parse_answer, resolve_known


class VerifyError(DeriveError):
    """An answer that cannot be read or a NAME the problem does not have (exit code 2)."""


def text(expr) -> str:
    """Plain text of an expression for messages: a·b, x^2."""
    return sp.sstr(expr, order="none").replace("**", "^")


@dataclass
class Instance:
    """One concrete gradient the answer must equal: the graph node and how answer symbols map."""
    bindings: dict
    node: str
    to_graph: object  # callable: answer expr -> expr in graph symbols
    generic: dict = field(default_factory=dict)  # concrete node name -> name in the answer's terms


@dataclass
class Target:
    wrt: str
    label: str
    reference: sp.Expr
    names: dict  # name a student may type -> SymPy object in the answer
    instances: list
    half_loss: bool = False  # the loss has a ½ (a factor 2 is "a loss without ½")
    indices: tuple = ()
    ranges: dict = field(default_factory=dict)
    summable: object = None  # callable (index, body_expr) -> expr, for sum_k(...)
    rule: object = None  # networks.IndexRule for a generic index-form target
    extra_env: dict = field(default_factory=dict)  # δ symbol -> the net node whose gradient it is
    transposed: str | None = None  # for a matrix element W2[1,2]: "W2[2,1]"


def _check_numbers(ast):
    kind = ast[0]
    if kind == "num":
        m = re.fullmatch(r"(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?", ast[1])
        if len(m.group(1)) + len(m.group(2)) > 40 or (m.group(3) and abs(int(m.group(3))) > 100):
            raise ParseError(f"the number {ast[1][:20]} is too large or too long to be meant")
    elif kind == "call":
        for a in ast[2]:
            _check_numbers(a)
    elif kind == "sum":
        _check_numbers(ast[2])
    elif kind != "name":
        for child in ast[1:]:
            _check_numbers(child)


def _split_name(name: str, known) -> list[str] | None:
    """'xz' -> ['x', 'z'] when every part is a known name without subscripts (implicit product)."""
    plain = [k for k in known if "_" not in k and "^" not in k]
    best: dict[int, list[str]] = {0: []}
    for i in range(1, len(name) + 1):
        for k in plain:
            j = i - len(k)
            if j >= 0 and j in best and name[j:i] == k:
                best[i] = best[j] + [k]
                break
    return best.get(len(name))


def answer_expr(target: Target, answer_text: str) -> sp.Expr:
    try:
        ast = parse_answer(answer_text, target.names)
        _check_numbers(ast)
    except ParseError as e:
        raise VerifyError(f"cannot read the answer: {e}") from None
    return _to_expr(ast, target)


def _name(name: str, target: Target):
    known = resolve_known(name, target.names)
    if known is not None:
        return target.names[known]
    if name == "e":
        return sp.E
    if name in ("pi", "π"):
        return sp.pi
    parts = _split_name(name, target.names)
    if parts and len(parts) > 1:
        return sp.Mul(*(target.names[p] for p in parts))
    shown = ", ".join(sorted(target.names, key=lambda s: (len(s), s)))
    raise VerifyError(f"the answer uses {name!r}, which is not a quantity of this problem; "
                      f"it may use: {shown}")


def _to_expr(ast, target: Target):
    kind = ast[0]
    if kind == "num":
        return number(ast[1])
    if kind == "name":
        return _name(ast[1], target)
    if kind == "neg":
        return -_to_expr(ast[1], target)
    if kind == "call":
        constructor = next(f for f, _, op in FUNCTIONS.values() if op == ast[1])
        return constructor(*(_to_expr(a, target) for a in ast[2]))
    if kind == "sum":
        if target.summable is None:
            raise VerifyError(f"a sum over {ast[1]} only makes sense in a network problem with "
                              "indexed quantities")
        return target.summable(ast[1], _to_expr(ast[2], target))
    a, b = _to_expr(ast[1], target), _to_expr(ast[2], target)
    if kind == "pow":
        if b.is_Number and abs(b) > 1000:
            raise VerifyError(f"cannot read the answer: the exponent {b} is too large")
        if a.is_Number and b.is_Number and abs(a) > 1 and abs(b) > 64:
            raise VerifyError(f"cannot read the answer: the power {a}^{b} is too large")
    return {"add": sp.Add, "sub": lambda x, y: x - y, "mul": sp.Mul, "div": lambda x, y: x / y,
            "pow": sp.Pow}[kind](a, b)


@dataclass(frozen=True)
class Verdict:
    correct: bool
    diagnosis: list
    counterexample: dict | None
    reference: sp.Expr  # the expected gradient in the problem's named quantities
    wrt: str
    label: str  # "∂f/∂x"
    answer: sp.Expr
    method: str  # how equivalence was decided
    points: int  # random points compared

    def to_json(self) -> dict:
        return {"correct": self.correct, "diagnosis": list(self.diagnosis),
                "counterexample": self.counterexample, "wrt": self.wrt, "gradient": self.label,
                "reference": text(self.reference), "answer": text(self.answer),
                "method": self.method, "points": self.points}


@dataclass(frozen=True)
class MatrixVerdict(Verdict):
    """A verdict on a matrix-form answer; the answer as the student's matrices (not SymPy)."""
    answer_text: str = ""
    answer_tex: str = ""

    def to_json(self) -> dict:
        return {**super().to_json(), "answer": self.answer_text}
