"""The one place that decides how derive's math looks in LaTeX.

`DerivePrinter` is a SymPy `LatexPrinter` subclass with `_print_<Class>` methods for derive's
notation; nothing patches the printed strings afterwards.

    names       w_kj -> w_{kj}, a^2_1 -> a^{2}_{1}, delta^l_j -> \\delta^{l}_{j}, m1 -> m_{1},
                sigy -> \\mathrm{sigy}, sum_1 -> \\mathrm{sum}_{1}, net_k -> \\mathrm{net}_{k} (names of
                several letters upright), σ/sigma -> \\sigma, nabla_a C -> \\nabla_{a} C
    gradients   the symbol "∂f/∂q" (steps.partial) -> \\frac{\\partial f}{\\partial q}
                (setting gradient="slash": \\partial f/\\partial q, for tables and running text)
    functions   derive's own functions print from their records (engine.ops): sigmoid -> \\sigma(.),
                relu -> \\operatorname{relu}(.), leaky_relu(z, 0.2) -> \\operatorname{lrelu}_{0.2}(z)
                (a parameter at its default is not printed); Heaviside -> \\mathbf{1}[. > 0] and
                Heaviside(-z) -> \\mathbf{1}[z < 0]; SymPy's own (exp, log, tanh, |x|, max) as SymPy prints them
    matrices    HadamardProduct -> \\odot, Transpose -> ^{\\top} ((W^{o})^{\\top} when the base has a superscript)
    numbers     Floats with `digits` significant digits, 1.5 \\times 10^{-7} for small/large ones

Sums and products keep their written (argument) order: `order` defaults to 'none'.
Unknown settings raise TypeError (SymPy's Printer checks them against `_default_settings`).

    latex(expr, **settings) -> str     print one expression
    number(x, digits=6) -> str         print a Python/mpmath number the same way as a Float
    name(text) -> str                  print a bare name (a node or parameter name)
"""
from __future__ import annotations

import math
import re

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..engine.ops import FUNCTION_TABLE, function_of
from ..engine.steps import split_partial

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi",
    "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
    "Upsilon", "Phi", "Psi", "Omega", "nabla",
}
# Greek letters written as unicode characters -> the LaTeX command's name
UNICODE_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
    "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi",
    "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi",
    "Π": "Pi", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}
_WORD = re.compile(r"[A-Za-z]+")
_LETTERS_DIGITS = re.compile(r"([A-Za-z]+?)([0-9]+)")
_SAFE_PART = re.compile(r"[A-Za-z0-9]+")


def _greek(word: str) -> str | None:
    word = "".join(UNICODE_GREEK.get(ch, ch) for ch in word) if len(word) == 1 else word
    return f"\\{word}" if word in GREEK else None


def _part(text: str) -> str:
    """One sub/superscript: 0, kj, l, l+1, delta, out."""
    if not text:
        return ""
    g = _greek(text)
    if g:
        return g
    if _SAFE_PART.fullmatch(text):
        if text.isdigit() or len(text) <= 2:
            return text
        return f"\\mathrm{{{text}}}"
    return "".join(_part(ch) if ch.isalnum() or ch in UNICODE_GREEK else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    if ch in "+-=,()'":
        return ch
    return f"\\text{{\\char{ord(ch)}}}" if ord(ch) < 128 else "?"


def _base(text: str) -> tuple[str, str | None]:
    """(printed base, subscript split off the base or None): m1 -> (m, 1), sigy -> (\\mathrm{sigy}, None)."""
    g = _greek(text)
    if g:
        return g, None
    m = _LETTERS_DIGITS.fullmatch(text)
    if m:
        return _base(m.group(1))[0], m.group(2)
    if len(text) == 1:
        return (text if text.isalpha() else _escape_char(text)), None
    if _SAFE_PART.fullmatch(text):
        return f"\\mathrm{{{text}}}", None
    pieces = []
    for ch in text:
        if ch in UNICODE_GREEK:
            pieces.append(_greek(ch))
        elif ch.isascii() and ch.isalnum():
            pieces.append(ch)
        else:
            pieces.append(_escape_char(ch))
    return f"\\mathrm{{{''.join(pieces)}}}", None


def name(text: str) -> str:
    """LaTeX for a name: a base and any number of _sub and ^sup parts, in any order.

    Trailing primes mark a derivative (sigma' -> \\sigma').
    """
    if text.startswith("nabla_") and " " in text:  # a gradient with respect to a vector: ∇_a C
        sub, _, rest = text[len("nabla_"):].partition(" ")
        return f"\\nabla_{{{_part(sub) if '^' not in sub else name(sub)}}} {name(rest)}"
    stripped = text.rstrip("'")
    if stripped != text and stripped:
        return name(stripped) + "'" * (len(text) - len(stripped))
    tokens = re.split(r"([_^])", text)
    base, extra_sub = _base(tokens[0])
    subs, sups = ([extra_sub] if extra_sub else []), []
    for i in range(1, len(tokens) - 1, 2):
        (subs if tokens[i] == "_" else sups).append(_part(tokens[i + 1]))
    out = base
    if sups:
        out += "^{" + ",".join(sups) + "}"
    if subs:
        out += "_{" + ",".join(subs) + "}"
    return out


def number(x, digits: int = 6) -> str:
    """A number as LaTeX: 6 significant digits, scientific form as m \\times 10^{e}; a number
    beyond double precision (engine.precision.Wide) from its 50-digit value."""
    if hasattr(x, "exact"):
        text = x.text(digits)
    else:
        x = float(x)
        if math.isnan(x):
            return r"\mathrm{NaN}"
        if math.isinf(x):
            return r"\infty" if x > 0 else r"-\infty"
        if x == 0:
            return "0"
        text = f"{x:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        exp = int(exp)
        return f"{mant} \\times 10^{{{exp}}}" if mant not in ("1", "-1") else f"{mant[:-1]}10^{{{exp}}}"
    return text


class DerivePrinter(LatexPrinter):
    """LaTeX in derive's notation (see the module docstring)."""

    printmethod = "_derive_latex"
    _default_settings = {  # noqa: RUF012 - SymPy's Printer reads this class attribute
        **LatexPrinter._default_settings,
        "order": "none",
        # a thin space between factors, so multi-letter names stay apart (num\,invden, not numinvden)
        "mul_symbol": r"\,",
        "digits": 6,  # significant digits of printed Floats
        "gradient": "frac",  # gradient symbols: "frac" (display) or "slash" (tables, running text)
    }

    def __init__(self, settings=None):
        super().__init__(settings)
        digits = self._settings["digits"]
        if not isinstance(digits, int) or not 1 <= digits <= 30:
            raise ValueError(f"'digits' must be an int from 1 to 30, got {digits!r}")
        if self._settings["gradient"] not in ("frac", "slash"):
            raise ValueError(f"'gradient' must be 'frac' or 'slash', got {self._settings['gradient']!r}")

    # ---- names
    def _print_Symbol(self, expr, style="plain"):
        given = self._settings["symbol_names"].get(expr)
        if given is not None:
            return given
        parts = split_partial(expr)
        if parts:
            num, den = parts
            if self._settings["gradient"] == "slash":
                return f"\\partial {name(num)}/\\partial {name(den)}"
            return f"\\frac{{\\partial {name(num)}}}{{\\partial {name(den)}}}"
        return name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Dots(self, expr):
        return r"\cdots"

    def _print_MatrixSymbol(self, expr, style="plain"):
        return self._print_Symbol(sp.Symbol(expr.name))

    def _print_IndexedBase(self, expr):
        return self._print(expr.label)

    def _print_Indexed(self, expr):
        """w[k, j] -> w_{kj}; delta^l[j] -> \\delta^{l}_{j} (indices joined with the base's own)."""
        label = expr.base.label
        simple = all(isinstance(i, (sp.Symbol, sp.Integer)) for i in expr.indices)
        if isinstance(label, sp.Symbol) and simple:
            idx = [str(i) for i in expr.indices]
            joiner = "" if all(len(i) == 1 for i in idx) else ","
            return name(f"{label.name}_{joiner.join(idx)}")
        indices = ",".join(self._print(i) for i in expr.indices)
        return f"{{{self._print(expr.base)}}}_{{{indices}}}"

    def _print_Pow(self, expr, **kwargs):
        """An indexed base that already has a superscript is parenthesised: (a^{l}_{j})^{2}."""
        if self._substituted() and isinstance(expr.base, sp.Float) and expr.base < 0 and expr.exp.is_Integer:
            return f"{self._print_Float(expr.base)}^{{{self._print(expr.exp)}}}"
        if isinstance(expr.base, sp.Indexed) and expr.exp.is_Integer and expr.exp > 0:
            base = self._print(expr.base)
            if "^" in base:
                return f"\\left({base}\\right)^{{{self._print(expr.exp)}}}"
        return super()._print_Pow(expr, **kwargs)

    # ---- functions
    def _print_Heaviside(self, expr, exp=None):
        """The step as an indicator: 1[z > 0]; an argument whose first term is negative is negated,
        1[z < 0] for Heaviside(-z) and 1[x + z < 0] for Heaviside(-x - z) (but 1[1 - z > 0])."""
        arg = expr.args[0]
        relation = ">"
        if (arg.args[0] if arg.is_Add else arg).could_extract_minus_sign():
            arg, relation = -arg, "<"
        body = f"{function_of(sp.Heaviside).latex}\\left[{self._print(arg)} {relation} 0\\right]"
        return f"{body}^{{{exp}}}" if exp else body

    def _print_own(self, record, expr, exp=None) -> str:
        """A function of derive's own from its record: its LaTeX head, the parameters that differ
        from their defaults as a subscript (lrelu_{0.2}, a fraction as a decimal), the arguments in
        \\left(...\\right)."""
        arity = record.arity or len(expr.args)
        params = expr.args[arity:]
        head = record.latex
        if any(not _is_default(v, d) for v, (_, d) in zip(params, record.params)):
            head += "_{" + ",".join(number(v, self._settings["digits"]) if v.is_Rational else self._print(v)
                                    for v in params) + "}"
        body = f"{head}\\left({', '.join(self._print(a) for a in expr.args[:arity])}\\right)"
        return f"{body}^{{{exp}}}" if exp else body

    def _print_Function(self, expr, exp=None):
        """Derive's own functions print from their records; undefined functions (sigma', f) print
        their name in derive's notation."""
        record = _OWN.get(expr.func)
        if record is not None:
            return self._print_own(record, expr, exp)
        if isinstance(expr, AppliedUndef):
            args = ", ".join(self._print(a) for a in expr.args)
            head = name(expr.func.__name__)
            return f"{head}\\left({args}\\right)" + (f"^{{{exp}}}" if exp else "")
        return super()._print_Function(expr, exp)

    def _print_ElementwiseApplyFunction(self, expr):
        """f applied elementwise to a matrix symbol, written f(Z) as in Nielsen's σ'(z^l)."""
        fn, arg = expr.function, expr.expr
        if isinstance(fn, sp.Lambda) and len(fn.variables) == 1 and isinstance(arg, sp.MatrixSymbol):
            return self._print(fn.expr.xreplace({fn.variables[0]: sp.Symbol(arg.name)}))
        return super()._print_ElementwiseApplyFunction(expr)

    # ---- numbers
    def _substituted(self) -> bool:
        """mul_symbol "dot" marks numbers substituted into a formula: a negative one keeps its
        parentheses wherever it stands, 1 − (−0.09), (−0.5) · (1 − (−0.5)), e^{−(−0.09)}."""
        return self._settings["mul_symbol"] == "dot"

    def _print_Float(self, expr):
        text = number(expr, self._settings["digits"])
        return f"\\left({text}\\right)" if self._substituted() and expr < 0 else text

    def _print_Add(self, expr, order=None):
        """In substituted numbers, every term is written as it stands: 1 − (−0.09), (−0.09) + (−2),
        x − 2·(−2), never 1 − −0.09 or a sign folded into the number."""
        if not self._substituted():
            return super()._print_Add(expr, order)
        pieces = [self._print(expr.args[0])]
        for term in expr.args[1:]:
            head = term.args[0] if isinstance(term, sp.Mul) else None
            sign, body = "+", term
            if isinstance(head, sp.Rational) and head < 0:  # −2·(−2), not −(−4): written, not evaluated
                rest = term.args[1:] if head == -1 else (-head, *term.args[1:])
                sign, body = "-", rest[0] if len(rest) == 1 else sp.Mul(*rest, evaluate=False)
            text = self._print(body) if isinstance(body, sp.Float) else self.parenthesize(
                body, PRECEDENCE["Add"], strict=sign == "+")
            pieces.append(f"{sign} " + (f"\\left({text}\\right)" if text.startswith("-") else text))
        return " ".join(pieces)

    def _print_Mul(self, expr):
        """In substituted numbers, a negative factor is written as it is, not pulled out in front."""
        if self._substituted() and expr.args[0] == -1 and len(expr.args) > 1:  # −x, never (−1)·x
            rest = expr.args[1] if len(expr.args) == 2 else sp.Mul(*expr.args[1:], evaluate=False)
            text = self.parenthesize(rest, PRECEDENCE["Mul"], strict=False)
            return "- " + (f"\\left({text}\\right)" if text.startswith("-") else text)
        negative = [a for a in expr.args if isinstance(a, sp.Float) and a < 0]
        if not (self._substituted() and negative and len(expr.args) > 1):
            return super()._print_Mul(expr)
        marks = {a: sp.Dummy() for a in negative}
        names = {**self._settings["symbol_names"], **{m: self._print_Float(a) for a, m in marks.items()}}
        inner = DerivePrinter({**self._settings_given(), "symbol_names": names})
        return inner._print_Mul(sp.Mul(*(marks.get(a, a) for a in expr.args), evaluate=False))

    def _settings_given(self) -> dict:
        return {k: v for k, v in self._settings.items() if k in self._default_settings}

    # ---- matrices
    def _print_OneMatrix(self, expr):
        """A row of ones multiplies to column sums: 1ᵀ ∂L/∂Y; a column of ones is 1."""
        rows, _ = expr.shape
        return r"\mathbf{1}^{\top}" if rows == 1 else r"\mathbf{1}"

    def _print_HadamardProduct(self, expr):
        """a ⊙ b ⊙ c, a nested product unparenthesised (⊙ is associative)."""
        return r" \odot ".join(self.parenthesize(a, 50) for a in _hadamard_factors(expr))

    def _print_HadamardPower(self, expr):
        """h^{∘2}; a base that has a superscript already is parenthesised: (a^{2})^{∘2}."""
        base = self._print(expr.base)
        if "^" in base or not isinstance(expr.base, sp.MatrixSymbol):
            base = f"\\left({base}\\right)"
        return f"{base}^{{\\circ {self._print(expr.exp)}}}"

    def _print_Transpose(self, expr):
        """X^⊤; a base that has a superscript already is parenthesised: (W^{o})^{⊤}, never W^{oT}."""
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, (sp.MatrixSymbol, sp.Symbol)) or "^" in inner:
            inner = f"\\left({inner}\\right)"
        return f"{{{inner}}}^{{\\top}}"


# the records of derive's own functions (sigmoid, relu, ...): SymPy's own (exp, tanh, Abs) keep its printing
_OWN = {f.sympy: f for f in FUNCTION_TABLE.values()
        if isinstance(f.sympy, type) and not f.sympy.__module__.startswith("sympy")}


def _hadamard_factors(expr) -> list:
    if not isinstance(expr, sp.HadamardProduct):
        return [expr]
    return [f for a in expr.args for f in _hadamard_factors(a)]


def _is_default(value, default) -> bool:
    """A parameter's value equals its default (0.01 written as 1/100 too)."""
    return value.is_number and float(value) == float(default)


def latex(expr, **settings) -> str:
    """Print `expr` (a SymPy expression, or anything sympify-free SymPy can print) in derive's notation."""
    return DerivePrinter(settings).doprint(expr)


class Dots(sp.Symbol):
    """The ⋯ of an elided long sum (render.view.elided); printed as \\cdots."""

    def __new__(cls):
        return sp.Symbol.__new__(cls, "⋯")
