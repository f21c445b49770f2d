"""How an answer was read, shown back to the student (as STACK does before it assesses).

`show_plain(ast)` / `show_tex(ast)` print the tuple AST of `reading` in the order it was written:
`σ(net_k)(1 − σ(net_k))`, `Σ_k[δ_k w_kj] h_j(1 − h_j)`, `∂E/∂o_k`. `sympy_plain` prints a SymPy
expression of a verdict (a reference, a mutated factor) as plain text that reads back.
"""
from __future__ import annotations

import re
import unicodedata

from sympy.printing.str import StrPrinter

_CALLS = {"sigmoid": "σ", "dsigmoid": "σ′", "dtanh": "tanh′", "drelu": "relu′", "dact": "f′", "step": "step",
          "log": "log", "exp": "exp", "tanh": "tanh", "relu": "relu", "abs": "abs", "max": "max",
          "min": "min", "cosh": "cosh", "sinh": "sinh", "sech": "sech", "sqrt": "sqrt", "sign": "sgn"}
_TEX_CALLS = {"sigmoid": r"\sigma", "dsigmoid": r"\sigma'", "dtanh": r"\tanh'", "drelu": r"\operatorname{relu}'",
              "dact": "f'", "step": r"\operatorname{step}", "log": r"\log", "exp": r"\exp", "tanh": r"\tanh",
              "relu": r"\operatorname{relu}", "abs": r"\operatorname{abs}", "max": r"\max", "min": r"\min",
              "cosh": r"\cosh", "sinh": r"\sinh", "sech": r"\operatorname{sech}", "sqrt": r"\sqrt",
              "sign": r"\operatorname{sgn}"}
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_PREC = {"add": 1, "sub": 1, "neg": 2, "mul": 2, "div": 2, "sum": 2, "pow": 4}
_SPELLED = {"delta": "δ", "sigma": "σ", "eta": "η", "alpha": "α", "beta": "β", "gamma": "γ", "theta": "θ",
            "lambda": "λ", "mu": "μ", "phi": "φ", "epsilon": "ε"}


def _prec(ast) -> int:
    return _PREC.get(ast[0], 5)


def display_name(name: str) -> str:
    """delta_k -> δ_k (the Greek letter of a spelled base); everything else as typed."""
    m = re.match(r"([A-Za-z]+)(.*)$", name, re.S)
    if m and m.group(1) in _SPELLED:
        return _SPELLED[m.group(1)] + m.group(2)
    return name


def show_plain(ast) -> str:
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        return display_name(ast[1])
    if kind == "grad":
        return f"∂{ast[1]}/∂{display_name(ast[2])}"
    if kind == "call":
        return f"{_CALLS.get(ast[1], ast[1])}(" + ", ".join(show_plain(a) for a in ast[2]) + ")"
    if kind == "neg":
        inner = ast[1]
        s = show_plain(inner)
        return f"−({s})" if _prec(inner) <= 2 and inner[0] not in ("mul", "sum") else f"−{s}"
    if kind == "sum":
        bounds = ast[1] if ast[3] is None and ast[4] is None else \
            f"{{{ast[1]}={ast[3] or 1}}}" + (f"^{{{ast[4]}}}" if ast[4] else "")
        return f"Σ_{bounds}[{show_plain(ast[2])}]"
    a, b = ast[1], ast[2]
    if kind in ("add", "sub"):
        right = show_plain(b)
        if kind == "sub" and _prec(b) <= 1:
            right = f"({right})"
        return f"{show_plain(a)} {'+' if kind == 'add' else '−'} {right}"
    if kind == "pow":
        base = show_plain(a)
        if _prec(a) <= 4 or a[0] == "neg" or (a[0] == "num" and a[1].startswith("-")):
            base = f"({base})"
        if b[0] == "num" and b[1].isdigit():
            return base + b[1].translate(_SUP)
        exp = show_plain(b)
        return f"{base}^{exp}" if b[0] in ("num", "name") else f"{base}^({exp})"
    left = show_plain(a)
    if _prec(a) < 2:
        left = f"({left})"
    right = show_plain(b)
    if kind == "div":
        if _prec(b) <= 2:
            right = f"({right})"
        return f"{left}/{right}"
    if _prec(b) < 2 or b[0] == "neg":
        right = f"({right})"
    if right.startswith("(") and a[0] != "num":
        return left + right
    if a[0] == "num" and b[0] in ("name", "call", "grad"):
        return left + right
    if b[0] == "num":
        return f"{left}·{right}"
    return f"{left} {right}"


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


def show_tex(ast) -> str:
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        return tex_name(ast[1])
    if kind == "grad":
        return rf"\frac{{\partial {tex_name(ast[1])}}}{{\partial {tex_name(ast[2])}}}"
    if kind == "call":
        head = _TEX_CALLS.get(ast[1], rf"\operatorname{{{ast[1]}}}")
        args = ", ".join(show_tex(a) for a in ast[2])
        if ast[1] == "sqrt":
            return rf"\sqrt{{{args}}}"
        return rf"{head}\left({args}\right)"
    if kind == "neg":
        inner = ast[1]
        s = show_tex(inner)
        return rf"-\left({s}\right)" if _prec(inner) <= 2 and inner[0] not in ("mul", "sum") else f"-{s}"
    if kind == "sum":
        bounds = f"_{{{ast[1]}}}" if ast[3] is None and ast[4] is None else \
            f"_{{{ast[1]}={_tex_part(ast[3] or '1')}}}" + (f"^{{{_tex_part(ast[4])}}}" if ast[4] else "")
        return rf"\sum{bounds} \left[{show_tex(ast[2])}\right]"
    a, b = ast[1], ast[2]
    if kind in ("add", "sub"):
        right = show_tex(b)
        if kind == "sub" and _prec(b) <= 1:
            right = rf"\left({right}\right)"
        return f"{show_tex(a)} {'+' if kind == 'add' else '-'} {right}"
    if kind == "div":
        return rf"\frac{{{show_tex(a)}}}{{{show_tex(b)}}}"
    if kind == "pow":
        base = show_tex(a)
        if _prec(a) <= 4 or a[0] == "neg":
            base = rf"\left({base}\right)"
        elif a[0] == "name" and ("^" in a[1]):
            base = f"{{{base}}}"
        return f"{base}^{{{show_tex(b)}}}"
    left = show_tex(a)
    if _prec(a) < 2:
        left = rf"\left({left}\right)"
    right = show_tex(b)
    if _prec(b) < 2 or b[0] == "neg":
        right = rf"\left({right}\right)"
    sep = r" \cdot " if b[0] == "num" else r"\,"
    return f"{left}{sep}{right}"


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
