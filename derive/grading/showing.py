"""How an answer was read, shown back to the student (as STACK does before it assesses).

`show(ast, style)` prints the tuple AST of `reading` in the order it was written, in plain text
(`PLAIN`: `σ(net_k)(1 − σ(net_k))`, `Σ_k[δ_k w_kj] h_j(1 − h_j)`, `∂E/∂o_k`) or in TeX (`TEX`);
a function is written with its record's plain or LaTeX head (its derivative: prime_plain,
prime_latex). `ast_of` turns a SymPy expression into that AST (diagnosis labels print through the
same walk); `sympy_plain` prints a SymPy expression of a verdict as plain text that reads back.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.printing.str import StrPrinter

from ..engine.ops import FUNCTION_TABLE, constant, function_of
from .reading import GENERIC_PRIME, primed

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_PREC = {"add": 1, "sub": 1, "neg": 2, "mul": 2, "div": 2, "sum": 2, "pow": 4}
_SPELLED = {"delta": "δ", "sigma": "σ", "eta": "η", "alpha": "α", "beta": "β", "gamma": "γ", "theta": "θ",
            "lambda": "λ", "mu": "μ", "phi": "φ", "epsilon": "ε"}


def _prec(ast) -> int:
    return _PREC.get(ast[0], 5)


def display_name(name: str) -> str:
    """delta_k -> δ_k (the Greek letter of a spelled base), a sample's superscript in braces
    (delta^L,(n)_j -> δ^{L,(n)}_j); everything else as typed."""
    name = re.sub(r"\^([^,{}_^]+),\(n\)(?=_)", r"^{\1,(n)}", name)
    m = re.match(r"([A-Za-z]+)(.*)$", name, re.S)
    if m and m.group(1) in _SPELLED:
        return _SPELLED[m.group(1)] + m.group(2)
    return name


# ---------------------------------------------------------------- LaTeX

def _greek_tex(ch: str) -> str:
    name = unicodedata.name(ch, "")
    m = re.match(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z]+)$", name)
    if not m:
        return r"\mathrm{?}"
    word = m.group(2).lower()
    if m.group(1) == "CAPITAL":
        word = word.capitalize()
        if word in ("Alpha", "Beta", "Epsilon", "Zeta", "Eta", "Iota", "Kappa", "Mu", "Nu", "Omicron", "Rho",
                    "Tau", "Chi"):
            return {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I", "Kappa": "K",
                    "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P", "Tau": "T", "Chi": "X"}[word]
    if word in ("omicron",):
        return "o"
    return "\\" + word + " "


def _tex_part(s: str) -> str:
    out = []
    for ch in s:
        if "\u0370" <= ch <= "\u03ff":
            out.append(_greek_tex(ch))
        elif ch.isascii() and (ch.isalnum() or ch in "+-,()"):
            out.append(ch)
        else:
            out.append("?")
    return "".join(out).strip()


def tex_name(name: str) -> str:
    """w^l+1_ij -> w^{l+1}_{ij}; net_k -> \\mathrm{net}_{k}; delta_k -> \\delta_{k}."""
    m = re.fullmatch(r"([^\^_]+)(?:\^([^_]+))?(?:_(.+))?", name)
    if not m:
        return _tex_part(name)
    base, sup, sub = m.groups()
    base = display_name(base)
    head = rf"\mathrm{{{_tex_part(base)}}}" if len(base) > 1 and base.isascii() else _tex_part(base)
    return head + (f"^{{{_tex_part(sup)}}}" if sup else "") + (f"_{{{_tex_part(sub)}}}" if sub else "")


# ---------------------------------------------------------------- the one walk, in a style

@dataclass(frozen=True)
class Style:
    """How `show` writes each piece: plain text (PLAIN) or TeX (TEX)."""
    name: Callable[[str], str]  # a quantity's name
    grad: Callable[[str, str], str]  # ∂num/∂den
    head: Callable  # a function's head from its record (plain, latex)
    prime: Callable  # its derivative's head (prime_plain, prime_latex)
    generic_prime: str  # f′: the derivative of whichever activation its argument feeds
    unknown: Callable[[str], str]  # the head of a function no record has
    call: Callable[[str, str], str]  # (head, arguments) -> the call
    group: Callable[[str], str]  # parentheses
    diff: Callable[[str, str], str]  # (shown expression, variable) -> ∂(expression)/∂variable
    minus: str
    sum: Callable[[tuple, str], str]  # (the sum's AST, its shown body) -> the sum
    power: Callable  # (base AST, exponent AST, walk) -> the power
    quotient: Callable  # (numerator AST, denominator AST, walk) -> the quotient
    product: Callable[[tuple, tuple, str, str], str]  # (left AST, right AST, left, right) -> the product


def show(ast, style: Style) -> str:
    """The AST as written, in `style`."""
    def walk(x):
        return show(x, style)
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        return style.name(ast[1])
    if kind == "grad":
        return style.grad(ast[1], ast[2])
    if kind == "call":
        return style.call(_head(ast[1], style), ", ".join(walk(a) for a in ast[2]))
    if kind == "neg":
        inner = ast[1]
        s = walk(inner)
        return style.minus + (style.group(s) if _prec(inner) <= 2 and inner[0] not in ("mul", "sum") else s)
    if kind == "sum":
        return style.sum(ast, walk(ast[2]))
    if kind == "diff":
        return style.diff(walk(ast[1]), ast[2])
    a, b = ast[1], ast[2]
    if kind in ("add", "sub"):
        right = walk(b)
        if kind == "sub" and _prec(b) <= 1:
            right = style.group(right)
        return f"{walk(a)} {'+' if kind == 'add' else style.minus} {right}"
    if kind == "pow":
        return style.power(a, b, walk)
    if kind == "div":
        return style.quotient(a, b, walk)
    left, right = walk(a), walk(b)
    if _prec(a) < 2:
        left = style.group(left)
    if _prec(b) < 2 or b[0] == "neg":
        right = style.group(right)
    return style.product(a, b, left, right)


def _head(op: str, style: Style) -> str:
    if op == GENERIC_PRIME:
        return style.generic_prime
    f = primed(op)
    if f is not None:
        return style.prime(f)
    f = FUNCTION_TABLE.get(op)
    return style.head(f) if f is not None else style.unknown(op)


def _plain_sum(ast, body: str) -> str:
    bounds = ast[1] if ast[3] is None and ast[4] is None else \
        f"{{{ast[1]}={ast[3] or 1}}}" + (f"^{{{ast[4]}}}" if ast[4] else "")
    return f"Σ_{bounds}[{body}]"


def _plain_power(a, b, walk) -> str:
    base = walk(a)
    if _prec(a) <= 4 or a[0] == "neg" or (a[0] == "num" and a[1].startswith("-")):
        base = f"({base})"
    if b[0] == "num" and b[1].isdigit():
        return base + b[1].translate(_SUP)
    exp = walk(b)
    return f"{base}^{exp}" if b[0] in ("num", "name") else f"{base}^({exp})"


def _plain_quotient(a, b, walk) -> str:
    left, right = walk(a), walk(b)
    return f"({left})/" * (_prec(a) < 2) + f"{left}/" * (_prec(a) >= 2) + \
        (f"({right})" if _prec(b) <= 2 else right)


def _plain_product(a, b, left: str, right: str) -> str:
    if right.startswith("(") and a[0] != "num":
        return left + right
    if a[0] == "num" and b[0] in ("name", "call", "grad"):
        return left + right
    if b[0] == "num" or b[-1] == "joined":  # a name written against the one before it (zz read as z·z)
        return f"{left}·{right}"
    return f"{left} {right}"


PLAIN = Style(
    name=lambda n: display_name(n), grad=lambda num, den: f"∂{num}/∂{display_name(den)}",
    head=lambda f: f.plain, prime=lambda f: f.prime_plain, generic_prime="f′", unknown=lambda op: op,
    call=lambda head, args: f"{head}({args})", group=lambda s: f"({s})", minus="−",
    diff=lambda body, x: f"∂({body})/∂{display_name(x)}", sum=_plain_sum,
    power=_plain_power, quotient=_plain_quotient, product=_plain_product)


def show_plain(ast) -> str:
    return show(ast, PLAIN)


def _tex_call(head: str, args: str) -> str:
    if head == r"\sqrt":
        return rf"\sqrt{{{args}}}"
    if head == function_of(sp.Heaviside).latex:  # the step as an indicator, as reports print it: 1[z > 0]
        return rf"{head}\left[{args} > 0\right]"
    return rf"{head}\left({args}\right)"


def _tex_sum(ast, body: str) -> str:
    bounds = f"_{{{ast[1]}}}" if ast[3] is None and ast[4] is None else \
        f"_{{{ast[1]}={_tex_part(ast[3] or '1')}}}" + (f"^{{{_tex_part(ast[4])}}}" if ast[4] else "")
    return rf"\sum{bounds} \left[{body}\right]"


def _tex_power(a, b, walk) -> str:
    base = walk(a)
    if _prec(a) <= 4 or a[0] == "neg":
        base = rf"\left({base}\right)"
    elif a[0] == "name" and ("^" in a[1]):
        base = f"{{{base}}}"
    return f"{base}^{{{walk(b)}}}"


TEX = Style(
    name=lambda n: tex_name(n),
    grad=lambda num, den: rf"\frac{{\partial {tex_name(num)}}}{{\partial {tex_name(den)}}}",
    head=lambda f: f.latex, prime=lambda f: f.prime_latex, generic_prime="f'",
    unknown=lambda op: rf"\operatorname{{{op}}}", call=_tex_call, group=lambda s: rf"\left({s}\right)",
    diff=lambda body, x: rf"\frac{{\partial}}{{\partial {tex_name(x)}}}\left({body}\right)",
    minus="-", sum=_tex_sum, power=_tex_power,
    quotient=lambda a, b, walk: rf"\frac{{{walk(a)}}}{{{walk(b)}}}",
    product=lambda a, b, left, right: left + (r" \cdot " if b[0] == "num" else r"\,") + right)


def show_tex(ast) -> str:
    return show(ast, TEX)


def ast_of(expr) -> tuple:
    """A SymPy expression as the AST `show` prints (for labels such as σ′(net_j) = σ(net_j)(1 − σ(net_j))):
    a number first in a product and a sum last, a function by its record (parameters at their defaults
    left out)."""
    if expr.is_Symbol:
        return ("name", expr.name)
    if expr.is_Number:
        if expr.is_negative:
            return ("neg", ast_of(-expr))
        if expr.is_Integer:
            return ("num", str(expr))
        if expr.is_Rational:
            return ("div", ("num", str(expr.p)), ("num", str(expr.q)))
        return ("num", f"{float(expr):g}")
    if expr.is_Add:
        terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
        out = ast_of(terms[0])
        for t in terms[1:]:
            out = ("sub", out, ast_of(-t)) if t.could_extract_minus_sign() else ("add", out, ast_of(t))
        return out
    if expr.is_Mul:
        if expr.could_extract_minus_sign():
            return ("neg", ast_of(-expr))
        factors = sorted(expr.args, key=lambda f: (not f.is_Number, f.is_Add))
        out = ast_of(factors[0])
        for f in factors[1:]:
            out = ("mul", out, ast_of(f))
        return out
    if expr.is_Pow:
        return ("pow", ast_of(expr.base), ast_of(expr.exp))
    f = function_of(expr.func)
    if f is None:
        return ("name", str(expr))
    args = list(expr.args)
    n = len(args) if f.arity is None else f.arity
    if all(constant(v) == a for (_, v), a in zip(f.params, args[n:])):
        args = args[:n]
    return ("call", f.name, tuple(ast_of(a) for a in args))


# ---------------------------------------------------------------- SymPy -> plain text

class _Plain(StrPrinter):
    def __init__(self, names=None):
        super().__init__({"order": "none"})
        self.names = names

    def _print_Indexed(self, expr):
        if self.names is not None and "@" in str(expr.base.label):
            return self.names.label(expr)
        return f"{expr.base.label}_{''.join(str(i) for i in expr.indices)}"

    def _print_Sum(self, expr):
        out = self._print(expr.function)
        for v, lo, hi in expr.limits:
            bound = str(v) if (lo == 1 and not hi.is_Integer) else f"{{{v}={lo}}}^{{{hi}}}"
            out = f"Σ_{bound}({out})"
        return out

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Heaviside(self, expr):
        return f"step({self._print(expr.args[0])})"

    def _print_Function(self, expr):
        name = {"Grad": None, "Local": None, "ActPrime": "f′"}.get(type(expr).__name__, "")
        if type(expr).__name__ == "Grad":
            return f"∂{getattr(self.names, 'out', 'L')}/∂{self._print(expr.args[0])}"
        if type(expr).__name__ == "Local":
            return f"∂{self._print(expr.args[0])}/∂{self._print(expr.args[1])}"
        if name:
            return f"{name}({self._print(expr.args[0])})"
        return super()._print_Function(expr)


def sympy_plain(expr, names=None) -> str:
    """A SymPy expression as plain text (x^2, w_kj, Σ_k(...)), in the order SymPy holds it."""
    return _Plain(names).doprint(expr).replace("**", "^")


def spelled_out(reading, names, split):
    """The reading with each run of names written together (zz, xy) as the product it is read as
    (`split(name, names)`: its parts, answers._split_name), so that `read_as` shows z·z."""
    from dataclasses import replace

    from .reading import resolve_known

    def walk(ast):
        if not isinstance(ast, tuple) or not ast:
            return ast
        if ast[0] == "name" and isinstance(ast[1], str) and resolve_known(ast[1], names) is None:
            parts = split(ast[1], names)
            if parts and len(parts) > 1:
                out = ("name", parts[0])
                for p in parts[1:]:
                    out = ("mul", out, ("name", p, "joined"))  # shown z·z (grading.showing)
                return out
            return ast
        if ast[0] in ("name", "num", "grad"):
            return ast
        return tuple(walk(a) if isinstance(a, tuple) else [walk(x) for x in a] if isinstance(a, list) else a
                     for a in ast)
    try:
        return replace(reading, parts=tuple(walk(a) for a in reading.parts))
    except (TypeError, ValueError):
        return reading
