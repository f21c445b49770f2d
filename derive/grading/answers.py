"""What a verdict is about and how an answer is read: Target, Instance, Verdict, answer_expr.

A Target is one gradient a student may be asked for (∂f/∂x, ∂L/∂w_kj, δ_j, W2[1,2]): the names the
answer may use (`names`, which also turns them into graph symbols per instance) and the concrete
instances (index bindings) it must equal. `answer_expr` turns a read answer (`reading`) into SymPy
over those names: sums with their bounds, named gradients ∂E/∂o_k, σ′, tanh′, step, cosh ...
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import sympy as sp

from .. import errors
from ..engine.ops import FUNCTION_TABLE
from ..engine.parse import number
from ..errors import ParseError
from ..i18n import _
from .reading import GENERIC_PRIME, primed, resolve_known

GENERIC = "no single common mistake"  # the diagnosis when none of the simulated mistakes explains an answer
LOSS_ALIASES = ("E", "L", "C", "J", "Loss", "loss", "E_total", "Etotal", "E_tot")


VerifyError = errors.VerifyError  # an unreadable answer or a NAME the problem does not have: exit code 2


class Diagnosis(str):
    """One diagnosis, in the language it was made in (i18n), with a machine-readable `code` in
    English ("sign", "factor-2", "missing-factor", "wrong-index", "generic", ...) that the code
    tests instead of the text."""

    def __new__(cls, message: str, code: str = "other", msgid: str = "", values: dict | None = None):
        d = super().__new__(cls, message)
        d.code = code
        d.msgid, d.values = msgid, dict(values or {})  # so a renderer can typeset each value as math
        return d

    def __reduce__(self):
        return Diagnosis, (str(self), self.code, self.msgid, self.values)


def diagnosis(code: str, message: str, **values) -> Diagnosis:
    """`message` (an English msgid) in the current language, formatted with `values` (kept, with
    the msgid, for renderers that typeset the values as math)."""
    return Diagnosis(_(message).format(**values) if values else _(message), code, message, values)


def code_of(d) -> str:
    return getattr(d, "code", "other")


def is_generic(d) -> bool:
    """The diagnosis that no simulated mistake explains the answer (in any language)."""
    return code_of(d) == "generic" or GENERIC in d


def cannot_read(error) -> str:
    """'cannot read the answer: …' in the current language, from a ParseError (its message, with
    the column and the answer it was found in) or any other text."""
    return _("cannot read the answer: {message}").format(message=error)


def text(expr) -> str:
    """Plain text of an expression for messages: a·b, x^2, w_kj for w[k, j], Σ_k(...)."""
    from .showing import sympy_plain
    return sympy_plain(expr)


@dataclass
class Instance:
    """One concrete gradient the answer must equal: its index bindings and the graph node."""
    bindings: dict
    node: str


@dataclass
class Target:
    wrt: str
    label: str  # ∂L/∂w_kj, or δ_k for a δ (delta_sign · ∂L/∂net_k)
    reference: sp.Expr  # the expected gradient in the problem's named quantities (for display)
    names: object  # vocabulary.NetNames or ScalarNames: `in`, [name], resolve, concretize, generic_of
    instances: list
    half_loss: bool = False  # the loss has a ½ (a factor 2 is "a loss without ½")
    indices: tuple = ()
    scale: int = 1  # the answer must equal scale · ∂L/∂(instance node): delta_sign for a δ target
    kind: str = "scalar"  # scalar, rule, element, layer-element
    rule: object = None  # networks IndexRule (rule targets and elements of a network)
    transposed: str | None = None  # for a matrix element W2[1,2]: "W2[2,1]"
    is_delta: bool = False
    generic: sp.Expr | None = None  # the reference in the answer's own terms (vocabulary objects)
    extra: dict = field(default_factory=dict)


def _check_numbers(ast):
    kind = ast[0]
    if kind == "num":
        m = re.fullmatch(r"(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?", ast[1])
        if len(m.group(1)) + len(m.group(2)) > 40 or (m.group(3) and abs(int(m.group(3))) > 100):
            raise ParseError(_("the number {number} is too large or too long to be meant").format(number=ast[1][:20]))
    elif kind == "call":
        for a in ast[2]:
            _check_numbers(a)
    elif kind in ("sum", "diff"):
        _check_numbers(ast[2] if kind == "sum" else ast[1])
    elif kind not in ("name", "grad"):
        for child in ast[1:]:
            _check_numbers(child)


def _split_name(name: str, known) -> list[str] | None:
    """'xz' -> ['x', 'z'] when every part is a known name without subscripts (implicit product)."""
    plain = [k for k in known if "_" not in k and "^" not in k] if isinstance(known, dict) else []
    best: dict[int, list[str]] = {0: []}
    for i in range(1, len(name) + 1):
        for k in plain:
            j = i - len(k)
            if j >= 0 and j in best and name[j:i] == k:
                best[i] = best[j] + [k]
                break
    return best.get(len(name))


def unknown_name(name: str, target: Target) -> VerifyError:
    shown = target.names.shown()
    close = difflib.get_close_matches(name, shown, n=3, cutoff=0.6)
    hint = _(" (did you mean {names}?)").format(names=_(" or ").join(close)) if close else ""
    return VerifyError(_("the answer uses {name}, which is not a quantity of this problem{hint}. It may use: "
                         "{names}; and ∂{out}/∂(any of them)").format(name=repr(name), hint=hint,
                                                                       names=", ".join(shown), out=target.names.out))


def lookup(name: str, target: Target):
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
    raise unknown_name(name, target)


def answer_expr(target: Target, ast) -> sp.Expr:
    """A read answer (one side, an AST) as SymPy over the target's names."""
    try:
        _check_numbers(ast)
    except ParseError as e:
        raise VerifyError(cannot_read(e)) from None
    return _to_expr(ast, target)


def _call(op: str, args):
    """A call of the answer as SymPy: the record's own function, or its derivative at the argument
    (σ′(u) = σ(u)(1 − σ(u)), in the record's own terms), or f′(u), the derivative of u's activation."""
    from .symbols import ActPrime
    if op == GENERIC_PRIME:
        return ActPrime(args[0])
    f = primed(op)
    if f is not None:
        return f.own_derivative(f.make(args[0]), args[0])
    return FUNCTION_TABLE[op].make(*args)


def _bound(text_, what: str, default):
    if text_ is None:
        return default
    if re.fullmatch(r"\d+", text_.strip()):
        return sp.Integer(int(text_))
    if what == "lower":
        raise VerifyError(_("cannot read the sum's lower bound {bound}: expected a number (k=1)").format(
            bound=repr(text_)))
    return default  # a symbolic upper bound (m, n_L, K): the whole layer


def _at_index(ast, index: str, value: int):
    """The answer's tree with the index letter in every name's subscript set to a number (x_n1 -> x_21)."""
    if ast[0] == "name" and "_" in ast[1]:
        head, sub = ast[1].split("_", 1)
        if re.fullmatch(r"\{?[A-Za-z0-9]{1,3}\}?", sub):  # x_n1, dY_{nm}: one character per index
            return ("name", head + "_" + sub.replace(index, str(value)))
        return ("name", head + "_" + re.sub(rf"(?<![A-Za-z]){re.escape(index)}(?![A-Za-z])", str(value), sub))
    if ast[0] == "sum" and ast[1] == index:
        return ast
    return tuple(_at_index(a, index, value) if isinstance(a, tuple) else
                 [_at_index(x, index, value) for x in a] if isinstance(a, list) else a for a in ast)


def _unrolled(ast, target: Target):
    """Σ_n over plain names (a layer problem's x_n1 dY_{n,2}): the terms for n = 1, 2, … up to the
    upper bound, or while every name of the summand exists."""
    lo, hi = _bound(ast[3], "lower", sp.Integer(1)), _bound(ast[4], "upper", None)
    if _at_index(ast[2], ast[1], 0) == ast[2]:  # no name carries the index: nothing to sum over
        raise VerifyError(_("a sum over {index} only makes sense in a network problem with indexed "
                            "quantities").format(index=ast[1]))
    terms = []
    for value in range(int(lo), int(lo) + 1000):
        if hi is not None and value > hi:
            break
        try:
            terms.append(_to_expr(_at_index(ast[2], ast[1], value), target))
        except VerifyError:
            if hi is not None or not terms:
                raise
            break
    return sp.Add(*terms)


def _to_expr(ast, target: Target):
    from .symbols import FULL, Grad, Local, letter
    kind = ast[0]
    if kind == "num":
        return number(ast[1])
    if kind == "name":
        return lookup(ast[1], target)
    if kind == "neg":
        return -_to_expr(ast[1], target)
    if kind == "call":
        return _call(ast[1], [_to_expr(a, target) for a in ast[2]])
    if kind == "grad":
        num, den = ast[1], ast[2]
        x = lookup(den, target)
        if num in LOSS_ALIASES or num == target.names.out or (resolve_known(num, target.names) is None \
                and num.split("_")[0] in LOSS_ALIASES):
            return Grad(x)
        return Local(lookup(num, target), x)
    if kind == "diff":  # ∂(xy)/∂x: the expression's partial derivative, other quantities held fixed
        x = lookup(ast[2], target)
        if not isinstance(x, (sp.Symbol, sp.Indexed)):
            raise VerifyError(_("cannot take a derivative with respect to {name}").format(name=ast[2]))
        return sp.diff(_to_expr(ast[1], target), x)
    if kind == "sum":
        if not hasattr(target.names, "nm"):
            return _unrolled(ast, target)
        lo = _bound(ast[3], "lower", sp.Integer(1))
        hi = _bound(ast[4], "upper", FULL)
        return sp.Sum(_to_expr(ast[2], target), (letter(ast[1]), lo, hi))
    a, b = _to_expr(ast[1], target), _to_expr(ast[2], target)
    if kind == "pow":
        if b.is_Number and abs(b) > 1000:
            raise VerifyError(cannot_read(_("the exponent {power} is too large").format(power=b)))
        if a.is_Number and b.is_Number and abs(a) > 1 and abs(b) > 64:
            raise VerifyError(cannot_read(_("the power {power} is too large").format(power=f"{a}^{b}")))
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
    read_as: str = ""  # the answer as it was read, plain text (σ(net_k)(1 − σ(net_k)))
    read_as_tex: str = ""  # the same, typeset
    notes: tuple = ()  # how an ambiguous name or a convention was read

    def to_json(self) -> dict:
        return {"correct": self.correct, "diagnosis": list(self.diagnosis),
                "counterexample": self.counterexample, "wrt": self.wrt, "gradient": self.label,
                "read_as": self.read_as, "read_as_latex": self.read_as_tex, "notes": list(self.notes),
                "reference": text(self.reference), "answer": text(self.answer),
                "method": self.method, "points": self.points}


@dataclass(frozen=True)
class MatrixVerdict(Verdict):
    """A verdict on a matrix-form answer; the answer as the student's matrices (not SymPy)."""
    answer_text: str = ""
    answer_tex: str = ""

    def to_json(self) -> dict:
        return {**super().to_json(), "answer": self.answer_text}
