"""LaTeX answers -> the plain syntax `reading` reads (nothing is evaluated).

One pass over the source, command by command: \\frac{a}{b} -> ((a)/(b)), \\sigma -> σ, \\cdot -> *,
w_{kj} -> w_kj, \\left( -> (, \\sum_{k=1}^{m} -> Σ_{k=1}^{m}, \\frac{\\partial E}{\\partial o_k} -> (∂E/∂o_k),
\\sigma'(z) and \\sigma^{\\prime}(z) -> σ′(z), \\mathbb{1}[z > 0] -> 𝟙[z > 0]. Superscripts become ^(...)
so that a layer (w^{l+1}_{ij}) and a power (h_j^{2}) are told apart later, by the names the problem has.
"""
from __future__ import annotations

import re
import unicodedata

from ..engine.ops import FUNCTION_TABLE
from ..errors import ParseError
from ..i18n import _

_SPACES = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits", "nolimits",
           "scriptstyle", "medspace", "thinspace", "thickspace", "enspace"}
_SIZERS = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
           "biggr", "Biggl", "Biggr", "middle"}
_TIMES = {"cdot", "times", "ast", "cdotp", "odot", "circ", "bullet"}
_TEXT = {"operatorname", "mathrm", "text", "textrm", "mathit", "textit", "mathsf", "mathbf", "boldsymbol", "bm",
         "mathds", "mathbb", "mathnormal", "textsf", "textbf"}
_FRACS = {"frac", "dfrac", "tfrac", "cfrac"}
_COMPARE = {"gt": ">", "lt": "<", "geq": "≥", "ge": "≥", "leq": "≤", "le": "≤", "geqslant": "≥",
            "leqslant": "≤"}
_BRACKETS = {"lbrack": "[", "rbrack": "]", "lbrace": "(", "rbrace": ")", "langle": "(", "rangle": ")"}
_GREEK_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
                "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "sigma", "varsigma", "tau",
                "upsilon", "phi", "varphi", "chi", "psi", "omega")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_LOSS = r"(?:[ELCJ](?:_\w+)?|Loss|loss)"


def greek(name: str) -> str | None:
    """The Greek letter of a spelled name (delta -> δ, Sigma -> Σ, varphi -> φ), else None."""
    if name.startswith("var"):
        name = name[3:]
    if not name:
        return None
    try:
        return unicodedata.lookup(f"GREEK {'CAPITAL' if name[0].isupper() else 'SMALL'} LETTER {name.upper()}")
    except KeyError:
        return None


# a function's LaTeX head: \tanh, \log, \ln, \cosh, and every other spelling of a record that is a word
# (\softplus, \relu); \sigma is a Greek letter (σ, a spelling of sigmoid); \operatorname{softplus},
# \mathrm{ReLU}, \text{SiLU} name any function by its spelling (_TEXT)
_FUNCS = frozenset(s for f in FUNCTION_TABLE.values() for s in (f.name, *f.spellings, *f.answer_only)
                   if re.fullmatch(r"[A-Za-z]+", s) and greek(s) is None)


def is_latex(text: str) -> bool:
    return "\\" in text or "{" in text


def _has_comparison(text: str) -> bool:
    return bool(re.search(r"[<>≤≥]|\\(?:gt|lt|geq?|leq?|geqslant|leqslant)\b", text))


def _derivative_fraction(num: str, den: str) -> str | None:
    """∂E/∂o_k (or dE/do_k) from the two halves of a \\frac, in the plain syntax; else None."""
    n = re.fullmatch(r"\s*(?:∂|d)\s*(.+?)\s*", num)
    d = re.fullmatch(r"\s*(?:∂|d)\s*(.+?)\s*", den)
    if d and num.strip() in ("∂", "d"):  # \frac{\partial}{\partial x}(…): the operator, read with its operand
        return f" ∂/∂{d.group(1).strip()} "
    if not n or not d:
        return None
    if num.strip().startswith("d") and not re.fullmatch(_LOSS, n.group(1).replace(" ", "")):
        return None  # d x / d y only for the loss (dE/dw); a plain "d" may be a quantity
    return f"(∂{n.group(1).strip()}/∂{d.group(1).strip()})"


class Latex:
    """One pass over LaTeX source, writing the plain syntax."""

    def __init__(self, text: str, known=frozenset()):
        self.s, self.i, self.known = text, 0, known

    def error(self, message: str):
        raise ParseError(message, self.s, min(self.i, len(self.s) - 1) if self.s else None)

    def skip_space(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def group(self) -> str:
        """The argument after a command: {...} or one character/command; returns raw source."""
        self.skip_space()
        if self.i >= len(self.s):
            self.error(_("a LaTeX command is missing its argument"))
        if self.s[self.i] == "{":
            depth, start = 0, self.i
            while self.i < len(self.s):
                ch = self.s[self.i]
                if ch == "\\" and self.i + 1 < len(self.s):
                    self.i += 2
                    continue
                depth += (ch == "{") - (ch == "}")
                self.i += 1
                if depth == 0:
                    return self.s[start + 1:self.i - 1]
            self.error(_("unbalanced braces: a {brace} is never closed").format(brace="'{'"))
        if self.s[self.i] == "\\":
            m = _COMMAND.match(self.s, self.i)
            if not m:
                self.error(_("a lone backslash"))
            self.i = m.end()
            return m.group()
        self.i += 1
        return self.s[self.i - 1]

    def sub(self, source: str) -> str:
        return Latex(source, self.known).run()

    def run(self) -> str:
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if ch == "\\":
                m = _COMMAND.match(s, self.i)
                if not m or m.end() == self.i + 1:
                    self.error(_("a lone backslash"))
                self.i = m.end()
                out.append(self.command(m.group(1)))
            elif ch == "{":
                out.append("(" + self.sub(self.group()) + ")")
            elif ch == "}":
                self.error(_("unbalanced braces: an extra {brace}").format(brace="'}'"))
            elif ch == "_":
                self.i += 1
                out.append(self.subscript(out))
            elif ch == "^":
                self.i += 1
                layer = re.compile(r"\s*([lL]\s*[-+−]\s*\d)(?=\s*_)").match(self.s, self.i)
                if layer:  # w^l+1_{ij}: a layer written without braces, not w^l + 1_{ij}
                    self.i = layer.end()
                    out.append("^(" + re.sub(r"\s", "", layer.group(1)) + ")")
                else:
                    out.append("^(" + self.sub(self.group()) + ")")
            elif ch == "'":
                self.i += 1
                out.append("′")
            elif ch == "~":
                self.i += 1
                out.append(" ")
            elif ch in "&$":
                self.i += 1
                if ch == "&":
                    out.append(" ")
            else:
                out.append(ch)
                self.i += 1
        return "".join(out)

    def subscript(self, out) -> str:
        self.skip_space()
        if self.i < len(self.s) and self.s[self.i] == "{":
            raw = self.group()
            if _has_comparison(raw):  # 𝟙_{z > 0}: a condition, not an index
                return "[" + self.sub(raw) + "]"
            inner = self.sub(raw)
            parts = [p for p in re.split(r"[\s,]+", inner) if p]
            if len(parts) > 1 and any(len(p) > 1 and p.isdigit() for p in parts):
                return "_{" + ",".join(parts) + "} "
            return "_" + "".join(parts) + " "
        if self.i < len(self.s) and self.s[self.i] == "\\":
            return "_" + re.sub(r"\s", "", self.sub(self.group())) + " "
        m = re.compile(r"[A-Za-z0-9]+").match(self.s, self.i)
        if not m:
            self.error(_("a subscript must be letters or digits"))
        run = m.group()
        base = re.search(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9\u0370-\u03ff]*(?:\^\([^()]*\))?$", "".join(out[-8:]))
        take = 1
        after = re.compile(r"\s*\^\s*(\{[^{}]*\}|[A-Za-z0-9](?:[-+−]\d)?)").match(self.s, self.i + len(run))
        later = f"^({after.group(1).strip('{}')})" if after else ""
        mixed = re.sub(r"[A-Za-z]", "1", run) if re.search(r"\d", run) else run  # x_n1: x_{n1}, as x_11 is
        if run.isdigit() or (base and (self._known(base.group(), run) or self._known(base.group(), mixed) or
                                       (later and self._known(base.group() + later, run)))):
            take = len(run)
        self.i += take
        return "_" + run[:take] + " "

    def _known(self, base: str, run: str) -> bool:
        """w_kj typed in LaTeX means w_{kj} when the problem has such a name."""
        sup = re.fullmatch(r"(.+?)\^\((.*)\)", base)
        layer = re.sub(r"[\s{}]", "", sup.group(2)).replace("−", "-") if sup else ""
        name = f"{sup.group(1)}^{layer}_{run}" if sup else f"{base}_{run}"
        spelled = name
        if name[:1] and "\u0370" <= name[0] <= "\u03ff":
            spelled = unicodedata.name(name[0], "").split()[-1].lower() + name[1:]
        try:
            return name in self.known or spelled in self.known
        except (TypeError, ValueError):
            return False

    def command(self, name: str) -> str:
        if name in _SPACES:
            return " "
        if name in ("{", "}"):
            return "(" if name == "{" else ")"
        if name in ("|", "vert", "lvert", "rvert", "mid"):
            return "|"
        if name in ("top", "intercal", "T"):
            return "T"
        if name in _SIZERS:
            return self.sizer()
        if name in _TIMES:
            return "*"
        if name == "div":
            return "/"
        if name in _COMPARE:
            return _COMPARE[name]
        if name in _BRACKETS:
            return _BRACKETS[name]
        if name in ("prime",):
            return "′"
        if name == "partial":
            return "∂"
        if name in _FRACS:
            num, den = self.sub(self.group()), self.sub(self.group())
            return _derivative_fraction(num, den) or f"(({num})/({den}))"
        if name == "sqrt":
            if self.s.startswith("[", self.i):
                self.error(_("only square roots are supported (\\sqrt{...})"))
            return f"(({self.sub(self.group())})^(1/2))"
        if name in _FUNCS:
            return self.function(name)
        if name == "_":  # \operatorname{leaky\_relu}
            return "_"
        if name in _TEXT:
            inner = re.sub(r"\s", "", self.sub(self.group()))
            if name in ("mathbb", "mathds", "mathbf", "bm", "boldsymbol") and inner in ("1", "I"):
                return " 𝟙"
            return " " + inner
        if name == "sum":
            return self.sum()
        if name in ("mathbb1",):
            return " 𝟙"
        letter = greek(name)
        if letter:
            return " " + letter
        self.error(_("unsupported LaTeX command {command}").format(command="\\" + name))

    def sizer(self) -> str:
        self.skip_space()
        if self.s.startswith("\\{", self.i) or self.s.startswith("\\}", self.i):
            self.i += 2
            return "(" if self.s[self.i - 1] == "{" else ")"
        for word, out in (("\\lbrack", "["), ("\\rbrack", "]"), ("\\langle", "("), ("\\rangle", ")")):
            if self.s.startswith(word, self.i):
                self.i += len(word)
                return out
        if self.i < len(self.s) and self.s[self.i] in "()[].|":
            self.i += 1
            return {"(": "(", "[": "[", ")": ")", "]": "]", ".": "", "|": "|"}[self.s[self.i - 1]]
        return ""

    def function(self, fname: str) -> str:
        """\\log x stays a name for the parser; \\tanh^{2}{(u)} (SymPy's style) is (tanh(u))^(2)."""
        self.skip_space()
        if not self.s.startswith("^", self.i):
            return " " + fname + " "
        self.i += 1
        power = self.sub(self.group())
        if power.strip() in ("′", "′′"):
            return " " + fname + power.strip()
        self.skip_space()
        if self.s.startswith("{", self.i):
            arg = "(" + self.sub(self.group()) + ")"
        elif self.s.startswith(("(", "\\left", "\\big", "\\Big"), self.i):
            start, depth = self.i, 0
            while self.i < len(self.s):
                ch = self.s[self.i]
                self.i += 1
                depth += (ch == "(") - (ch == ")")
                if ch == ")" and depth == 0:
                    break
            arg = self.sub(self.s[start:self.i])
        else:
            self.error(_("{command} needs its argument in braces or parentheses").format(command=f"\\{fname}^{{...}}"))
        return f" ({fname}{arg})^({power})"

    def sum(self) -> str:
        index = lower = upper = None
        while True:
            self.skip_space()
            if self.s.startswith(("\\limits", "\\nolimits", "\\displaystyle"), self.i):
                self.i = _COMMAND.match(self.s, self.i).end()
                continue
            if self.i >= len(self.s) or self.s[self.i] not in "_^":
                break
            ch = self.s[self.i]
            self.i += 1
            arg = self.sub(self.group())
            if ch == "_":
                index = arg
            else:
                upper = arg
        if index is None:
            self.error(_("a sum needs its index: \\sum_k or \\sum_{k=1}^{m}"))
        m = re.fullmatch(r"\s*([A-Za-z])\s*(?:=\s*(.+?))?\s*", index)
        if not m:
            self.error(_("expected the summation index after \\sum_, e.g. \\sum_k or \\sum_{k=1}^{m}"))
        index, lower = m.group(1), m.group(2)
        bounds = f"{index}={lower}" if lower else index
        return f" Σ_{{{bounds}}}" + (f"^{{{upper.strip()}}} " if upper else " ")


def to_plain(text: str, known=frozenset()) -> str:
    """LaTeX translated to the plain syntax (plain text passes through unchanged)."""
    return Latex(text, known).run() if is_latex(text) else text
