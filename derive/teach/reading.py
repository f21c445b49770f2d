"""A student's answer (plain math or LaTeX) -> the tuple AST of `derive.parse`.

Nothing is evaluated. LaTeX is translated token by token into the plain syntax that
`parse.parse(..., implicit=True)` reads (\\frac{a}{b} -> ((a)/(b)), \\sigma -> σ, \\cdot -> *,
w_{kj} -> w_kj, \\left( -> ( ...), then the plain text is parsed by the one safe parser.

Two things the plain grammar does not know are handled here, around the parser:
  * sums over an index: `sum_k(expr)`, `Σ_k(expr)`, `\\sum_k expr`, `\\sum_{k=1}^{m} expr` become the
    node ("sum", "k", expr). With parentheses right after the sum, the sum covers that group;
    without them it covers the rest of the product it starts (the textbook reading).
  * names with a layer superscript (Nielsen: w^l_jk, δ^{l+1}_k, a^{l-1}_k): if such a name is one of
    the `known` names of the problem it is read as one name, otherwise ^ is a power.
"""
from __future__ import annotations

import re
import unicodedata

from ..engine.parse import MAX_DEPTH, MAX_LENGTH, parse
from ..errors import ParseError

_SPACES = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits", "nolimits"}
_SIZERS = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
           "biggr", "Biggl", "Biggr", "middle"}
_TIMES = {"cdot", "times", "ast", "cdotp"}
_FUNCS = {"exp": "exp", "ln": "ln", "log": "log", "tanh": "tanh", "max": "max"}
_TEXT = {"operatorname", "mathrm", "text", "textrm", "mathit", "mathbf", "boldsymbol", "mathsf", "bm"}
_FRACS = {"frac", "dfrac", "tfrac", "cfrac"}
_GREEK_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
                "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "sigma", "varsigma", "tau",
                "upsilon", "phi", "varphi", "chi", "psi", "omega")
_SUMP_MARK = "SUMPq"  # placeholder prefixes: plain names a student cannot mean
_NAME_MARK = "NAMEq"


def _greek(name: str) -> str | None:
    if name.startswith("var"):
        name = name[3:]
    try:
        return unicodedata.lookup(f"GREEK {'CAPITAL' if name[0].isupper() else 'SMALL'} LETTER {name.upper()}")
    except KeyError:
        return None


def _check_size(text: str) -> None:
    if not isinstance(text, str):
        raise ParseError(f"expected the answer as text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the answer is too long ({len(text)} characters, at most {MAX_LENGTH})")
    if "SUMPq" in text or "NAMEq" in text:
        raise ParseError("the answer uses a reserved name (SUMPq/NAMEq)")
    depth = top = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            top = max(top, depth)
        elif ch in ")}]":
            depth -= 1
    if top > MAX_DEPTH:
        raise ParseError(f"the answer is nested too deeply (more than {MAX_DEPTH} levels)")


def is_latex(text: str) -> bool:
    return "\\" in text or "{" in text


class _Latex:
    """One pass over LaTeX source, writing the plain syntax."""

    def __init__(self, text: str, known=frozenset()):
        self.s, self.i, self.known = text, 0, known  # any container: `name in known`

    def error(self, message: str):
        raise ParseError(message, self.s, min(self.i, len(self.s) - 1) if self.s else None)

    def group(self) -> str:
        """The argument after a command: {...} or one character/command; returns raw source."""
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1
        if self.i >= len(self.s):
            self.error("a LaTeX command is missing its argument")
        if self.s[self.i] == "{":
            depth, start = 0, self.i
            while self.i < len(self.s):
                ch = self.s[self.i]
                depth += (ch == "{") - (ch == "}")
                self.i += 1
                if depth == 0:
                    return self.s[start + 1:self.i - 1]
            self.error("unbalanced braces: a '{' is never closed")
        if self.s[self.i] == "\\":
            m = re.compile(r"\\([A-Za-z]+|.)").match(self.s, self.i)
            self.i = m.end()
            return m.group()
        self.i += 1
        return self.s[self.i - 1]

    def sub(self, source: str) -> str:
        return _Latex(source, self.known).run()

    def trailing_name(self, out: list[str]) -> str:
        m = re.search(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9\u0370-\u03ff]*$", "".join(out[-8:]))
        return m.group() if m else ""

    def run(self) -> str:
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if ch == "\\":
                m = re.compile(r"\\([A-Za-z]+|.)").match(s, self.i)
                if not m or m.end() == self.i + 1:
                    self.error("a lone backslash")
                self.i = m.end()
                out.append(self.command(m.group(1), out))
            elif ch == "{":
                out.append("(" + self.sub(self.group()) + ")")
            elif ch == "}":
                self.error("unbalanced braces: an extra '}'")
            elif ch == "_":
                self.i += 1
                out.append(self.subscript(out))
            elif ch == "^":
                self.i += 1
                arg = self.group()
                out.append("^(" + self.sub(arg) + ")" if len(arg) > 1 else "^" + self.sub(arg))
            elif ch == "'":
                self.error("primes (f') are not supported; write the derivative out, e.g. σ(z)(1 - σ(z))")
            else:
                out.append(ch)
                self.i += 1
        return "".join(out)

    def subscript(self, out) -> str:
        if self.i < len(self.s) and self.s[self.i] == "{":
            inner = self.group()
            return "_" + re.sub(r"[\s,]", "", self.sub(inner)) + " "
        m = re.compile(r"[A-Za-z0-9]+").match(self.s, self.i)
        if not m:
            self.error("a subscript must be letters or digits")
        run = m.group()
        base = self.trailing_name(out)
        take = 1
        if run.isdigit() or f"{base}_{run}" in self.known:
            take = len(run)
        self.i += take
        return "_" + run[:take] + " "

    def command(self, name: str, out) -> str:
        if name in _SPACES:
            return " "
        if name in ("{", "}"):
            return "(" if name == "{" else ")"
        if name in _SIZERS:
            while self.i < len(self.s) and self.s[self.i].isspace():
                self.i += 1
            if self.s.startswith("\\{", self.i) or self.s.startswith("\\}", self.i):
                self.i += 2
                return "(" if self.s[self.i - 1] == "{" else ")"
            if self.i < len(self.s) and self.s[self.i] in "()[].":
                self.i += 1
                return {"(": "(", "[": "(", ")": ")", "]": ")", ".": ""}[self.s[self.i - 1]]
            return ""
        if name in _TIMES:
            return "*"
        if name == "div":
            return "/"
        if name in _FRACS:
            num, den = self.sub(self.group()), self.sub(self.group())
            return f"(({num})/({den}))"
        if name == "sqrt":
            if self.s.startswith("[", self.i):
                self.error("only square roots are supported (\\sqrt{...})")
            return f"(({self.sub(self.group())})^(1/2))"
        if name in _FUNCS:
            return self.function(_FUNCS[name])
        if name in _TEXT:
            return " " + re.sub(r"\s", "", self.sub(self.group()))
        if name == "sum":
            return self.sum()
        letter = _greek(name)
        if letter:
            return " " + letter
        self.error(f"unsupported LaTeX command \\{name}")

    def function(self, fname: str) -> str:
        """\\log x stays a name for the parser; \\tanh^{2}{(u)} (SymPy's style) is (tanh(u))^(2)."""
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1
        if not self.s.startswith("^", self.i):
            return " " + fname + " "
        self.i += 1
        power = self.sub(self.group())
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1
        if self.s.startswith("{", self.i):
            arg = "(" + self.sub(self.group()) + ")"
        elif self.s.startswith(("(", "\\left"), self.i):
            start, depth = self.i, 0
            while self.i < len(self.s):
                ch = self.s[self.i]
                self.i += 1
                depth += (ch == "(") - (ch == ")")
                if ch == ")" and depth == 0:
                    break
            arg = self.sub(self.s[start:self.i])
        else:
            self.error(f"\\{fname}^{{...}} needs its argument in braces or parentheses")
        return f" ({fname}{arg})^({power})"

    def sum(self) -> str:
        index = None
        while self.i < len(self.s) and self.s[self.i] in "_^ ":
            ch = self.s[self.i]
            self.i += 1
            if ch == " ":
                continue
            arg = self.group()
            if ch == "_":
                m = re.match(r"\s*([A-Za-z])\s*(=.*)?$", arg)
                if not m:
                    self.error("expected the summation index after \\sum_, e.g. \\sum_k or \\sum_{k=1}^{m}")
                index = m.group(1)
        if index is None:
            self.error("a sum needs its index: \\sum_k")
        return f" sum_{index} "


# ---------------------------------------------------------------- plain text -> AST with sums

_SUM_TEXT = re.compile(r"(?<![A-Za-z0-9_])(?:sum|Sum|Σ)_\{?([A-Za-z])\}?(\s*\()?")
_SUP = r"(?:\{[^{}()]*\}|\([^()]*\)|[A-Za-z0-9])"
_SUB = r"(?:\{[^{}()]*\}|[A-Za-z0-9]+)"
_BASE = r"[A-Za-z\u0370-\u03ff]+"
_LAYERED = re.compile(rf"(?<![A-Za-z0-9_\u0370-\u03ff])({_BASE})(?:\^({_SUP})_({_SUB})|_({_SUB})\^({_SUP}))")


def _strip(part: str) -> str:
    return re.sub(r"[\s{}(),]", "", part)


def layered_name(base: str, sup: str, sub: str) -> str:
    """The canonical spelling of a name with a layer superscript: base^sup_sub (w^l_jk, δ^l+1_k)."""
    return f"{base}^{_strip(sup)}_{_strip(sub)}"


def alias(name: str) -> str:
    """The same name with its Greek base spelled the other way: δ_k <-> delta_k, σ <-> sigma."""
    m = re.match(r"([A-Za-z\u0370-\u03ff]+)(.*)$", name, re.S)
    base, rest = m.groups() if m else (name, "")
    if len(base) == 1 and "\u0370" <= base <= "\u03ff":
        spelled = unicodedata.name(base, "").split()[-1].lower()
        return (spelled.capitalize() if base.isupper() else spelled) + rest
    letter = _greek(base) if base.lower() in _GREEK_NAMES else None
    return letter + rest if letter else name


def resolve_known(name: str, known) -> str | None:
    """`name` as one of the known names (directly or through its Greek alias), else None."""
    for candidate in (name, alias(name)):
        if candidate in known:
            return candidate
    return None


def _protect_layered(text: str, known) -> tuple[str, dict]:
    """Replace known superscripted names by placeholder names the parser reads as one name."""
    table: dict[str, str] = {}

    def repl(m):
        base = m.group(1)
        sup, sub = (m.group(2), m.group(3)) if m.group(2) is not None else (m.group(5), m.group(4))
        name = resolve_known(layered_name(base, sup, sub), known)
        if name is None:
            return m.group()
        key = next((k for k, v in table.items() if v == name), None)
        if key is None:
            key = f"{_NAME_MARK}{len(table)}"
            table[key] = name
        return f" {key} "

    return _LAYERED.sub(repl, text), table


def _term_end(text: str, i: int) -> int:
    """Where the product starting at `i` ends: a top-level + or -, a closing bracket, or the end."""
    depth, prev = 0, ""
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch in "),":
            if depth == 0:
                return i
            depth -= 1
        elif ch in "+-\u2212" and depth == 0 and (prev.isalnum() or prev in ")_"):
            return i
        if not ch.isspace():
            prev = ch
        i += 1
    return i


def _mark_sums(text: str) -> str:
    """sum_k(...) -> the paren form; a sum without parentheses covers the rest of its product."""
    out, pos = [], 0
    for m in _SUM_TEXT.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.start()])
        if m.group(2):
            out.append(f" {_SUMP_MARK}{m.group(1)}(")
            pos = m.end()
        else:
            end = _term_end(text, m.end())
            out.append(f" {_SUMP_MARK}{m.group(1)}({_mark_sums(text[m.end():end])})")
            pos = end
    out.append(text[pos:])
    return "".join(out)


def _unmark(ast, table):
    """Put layered names back and turn sum markers into ("sum", index, body) nodes."""
    kind = ast[0]
    if kind == "name":
        if ast[1].startswith(_SUMP_MARK):
            raise ParseError("a sum needs something to sum, e.g. sum_k(delta_k * w_kj)")
        return ("name", table.get(ast[1], ast[1]))
    if kind == "num":
        return ast
    if kind == "call":
        return ("call", ast[1], tuple(_unmark(a, table) for a in ast[2]))
    if kind == "neg":
        return ("neg", _unmark(ast[1], table))
    if kind in ("mul", "div"):
        return _unmark_product(ast, table)
    if kind == "sum":
        return ("sum", ast[1], _unmark(ast[2], table))
    return (kind, _unmark(ast[1], table), _unmark(ast[2], table))


def _sum_marker(node):
    if node[0] == "name" and node[1].startswith(_SUMP_MARK) and len(node[1]) == len(_SUMP_MARK) + 1:
        return node[1][-1]
    return None


def _unmark_product(ast, table):
    """A left-nested chain of * and / is the written product; a sum marker takes what follows it."""
    factors = []  # (op, node) in written order
    node = ast
    while node[0] in ("mul", "div"):
        factors.append(("mul" if node[0] == "mul" else "div", node[2]))
        node = node[1]
    factors.append(("mul", node))
    factors.reverse()
    return _fold(factors, table)


def _fold(factors, table):
    out = None
    i = 0
    while i < len(factors):
        op, node = factors[i]
        marker = _sum_marker(node)
        if marker:
            if i + 1 >= len(factors) or factors[i + 1][0] != "mul":
                raise ParseError(f"sum over {marker} has nothing to sum")
            value = ("sum", marker, _unmark(factors[i + 1][1], table))
            i += 2
        else:
            value = _unmark(node, table)
            i += 1
        out = value if out is None else (op, out, value)
    return out


def parse_answer(text: str, known=frozenset()):
    """An answer in plain math or LaTeX as the tuple AST (plus ("sum", index, body) nodes).

    `known` holds the problem's quantity names (used to read w^l_jk as one name and w_{kj} or
    w_kj in LaTeX as one subscript). Raises ParseError with a clear message for anything else,
    including oversized or too deeply nested input, before any real work.
    """
    _check_size(text)
    known = known if isinstance(known, (set, frozenset, dict)) else frozenset(known)
    plain = _Latex(text, known).run() if is_latex(text) else text
    plain, table = _protect_layered(plain, known)
    plain = _mark_sums(plain)
    if len(plain) > 2 * MAX_LENGTH:
        raise ParseError("the answer is too long once translated")
    try:
        ast = parse(plain, implicit=True)
    except ParseError as e:
        if plain == text:
            raise
        raise ParseError(e.bare.replace(_SUMP_MARK, "sum_"), text) from None
    return _unmark(ast, table)


def to_plain(text: str, known=frozenset()) -> str:
    """LaTeX translated to the plain syntax (for messages and tests)."""
    _check_size(text)
    return _Latex(text, frozenset(known)).run() if is_latex(text) else text
