"""Matrix answers for [layers] problems (`X^T dY`, `dY W^T`, `colsum(dY)`, `Y - T`, LaTeX alike).

Vocabulary: the problem's matrix names (X, W, B, Y, T, A, dY / ∂L/∂Y / \\frac{\\partial L}{\\partial Y},
dA / ∂L/∂A); products written `*`, `·`, `@`, `\\cdot`, `\\times` or by juxtaposition; transposes
`^T`, `^{T}`, `^\\top`, `^{\\top}`, `^\\intercal`, `ᵀ`, `'`, `.T` or `transpose(M)`; `+`, `-`, numbers,
division by a number; column sums `colsum(M)` = `sum_rows(M)` = `sum(M, axis=0)` = `1^T M`; row
sums `rowsum(M)` = `sum_cols(M)` = `sum(M, axis=1)`; `sum(M)` (every element); `softmax(A)`.
The result is a small tuple AST: ("name", "X"), ("num", "2"), ("T", a), ("neg", a),
("add"|"sub"|"mul"|"had"|"div", a, b), ("call", "colsum"|"rowsum"|"sum"|"softmax", a), ("ones",),
("slice", a, row, column) (0-based; None for ":"). ⊙, \\odot, ∘ are elementwise products.
"""
from __future__ import annotations

import re

from ...errors import ParseError
from ...i18n import _
from ..latex_reading import _FRACS, _SIZERS, _SPACES, _TIMES
from ..reading import _check_size

MAX_MATRIX_TOKENS = 120
MATRIX_FUNCTIONS = {"colsum": "colsum", "colsums": "colsum", "sum_rows": "colsum", "sumrows": "colsum",
                    "rowsum": "rowsum", "rowsums": "rowsum", "sum_cols": "rowsum", "sumcols": "rowsum",
                    "sum": "sum", "softmax": "softmax", "transpose": "transpose"}
_GRAD_FRAC = re.compile(r"\\[dtc]?frac\s*\{\s*(?:\\partial|∂|d)\s*L\s*\}\s*\{\s*(?:\\partial|∂|d)\s*"
                        r"(?:\\(?:mathbf|boldsymbol|bm|mathit|mathrm)\s*\{\s*([A-Z])\s*\}|([A-Z]))\s*\}")
_GRAD_SLASH = re.compile(r"(?:\\partial\s*|∂|(?<![A-Za-z])d)L\s*/\s*(?:\\partial\s*|∂|d)\s*([A-Z])(?![A-Za-z0-9_])")
_TRANSPOSE_SUP = re.compile(r"\s*(?:T|\{\s*T\s*\}|\\top|\{\s*\\top\s*\}|\\intercal|\{\s*\\intercal\s*\}|"
                            r"\{?\s*\\(?:mathsf|mathrm|rm|mathbf|text)\s*\{?\s*T\s*\}?\s*\}?)")
_SUM_SLICE = re.compile(r"(?:\\sum|Σ|∑|sum)\s*(?:\\limits\s*)?_\s*\{?\s*([a-z])\s*(?:=\s*[01]\s*)?\}?"
                        r"(?:\s*\^\s*(?:\{[^{}]*\}|\w))?\s*([A-Za-z]+)\s*(?:\[|_\s*\{)\s*([a-z:])\s*,\s*([a-z:])\s*[\]}]")
_SLICE = re.compile(r"\s*(?:\[|_\s*\{)\s*(\d+|:)\s*,\s*(\d+|:)\s*[\]}]")
_ODOT = ("odot", "circ")
_CMP = {"gt": ">", "lt": "<", "geq": ">=", "ge": ">=", "leq": "<=", "le": "<="}
_WRAPPERS = ("mathbf", "boldsymbol", "bm", "mathrm", "mathit", "mathsf", "operatorname", "text", "textrm")


def _matrix_tokens(s: str, names) -> list:
    """(kind, value, position) tokens: name, num, func, op (+ - * / , =), (, ), T."""
    s = _GRAD_FRAC.sub(lambda m: f" d{m.group(1) or m.group(2)} ", s)
    s = _GRAD_SLASH.sub(lambda m: f" d{m.group(1)} ", s)
    s = _SUM_SLICE.sub(_sum_of_slices, s)
    toks, i = [], 0

    def err(msg, at):
        raise ParseError(msg, s, min(at, len(s) - 1) if s else None)

    while i < len(s):
        ch = s[i]
        if ch.isspace() or ch == "~":
            i += 1
        elif ch == "\\":
            m = re.compile(r"\\([A-Za-z]+|.)").match(s, i)
            if not m or m.end() == i + 1:
                err(_("a lone backslash"), i)
            cmd = m.group(1)
            i = m.end()
            if cmd in _SPACES or cmd in _SIZERS:
                continue
            if cmd in ("{", "}"):
                toks.append(("(" if cmd == "{" else ")", cmd, i - 2))
            elif cmd in _ODOT:
                toks.append(("op", "⊙", i - len(cmd) - 1))
            elif cmd in _TIMES:
                toks.append(("op", "*", i - len(cmd) - 1))
            elif cmd == "div":
                toks.append(("op", "/", i - 4))
            elif cmd in _CMP:
                toks.append(("cmp", _CMP[cmd], i - len(cmd) - 1))
            elif cmd in _FRACS:
                num, i = _brace_group(s, i, err)
                den, i = _brace_group(s, i, err)
                toks += [("(", "(", i)] + _matrix_tokens(num, names) + [(")", ")", i), ("op", "/", i),
                                                                         ("(", "(", i)]
                toks += _matrix_tokens(den, names) + [(")", ")", i)]
            elif cmd in _WRAPPERS:
                inner, i = _brace_group(s, i, err)
                word = re.sub(r"\s|\\(?=_)", "", inner)
                if not re.fullmatch(r"[A-Za-z0-9_.]+", word):
                    err(_("{command} is not a matrix name or function").format(command=f"\\{cmd}{{{inner}}}"), i - 1)
                toks += _matrix_tokens(word, names)
            elif cmd == "partial":
                err(_("write the upstream gradient as \\frac{\\partial L}{\\partial Y} (or dY)"), i - 8)
            else:
                err(_("unsupported LaTeX command {command} in a matrix answer").format(command="\\" + cmd),
                    i - len(cmd) - 1)
        elif ch in "([{":
            toks.append(("(", ch, i))
            i += 1
        elif ch in ")]}":
            toks.append((")", ch, i))
            i += 1
        elif ch == "^":
            m = _TRANSPOSE_SUP.match(s, i + 1)
            if not m:
                err(_("only the transpose (^T, ^{\\top}) may be a superscript in a matrix answer"), i)
            toks.append(("T", "T", i))
            i = m.end()
        elif ch in "ᵀ'":
            toks.append(("T", "T", i))
            i += 1
        elif ch == "." and re.match(r"\.T(?![A-Za-z0-9_])", s[i:]):
            toks.append(("T", "T", i))
            i += 2
        elif ch.isdigit() or (ch == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            m = re.compile(r"\d*\.?\d+|\d+\.").match(s, i)
            if len(m.group()) > 20:
                err(_("a number this long is not meant"), i)
            toks.append(("num", m.group(), i))
            i = m.end()
        elif ch in "+-\u2212":
            toks.append(("op", "-" if ch != "+" else "+", i))
            i += 1
        elif ch in "⊙∘":
            toks.append(("op", "⊙", i))
            i += 1
        elif ch in "*·⋅@×∙":
            toks.append(("op", "*", i))
            i += 1
        elif ch in "/÷":
            toks.append(("op", "/", i))
            i += 1
        elif ch in "<>≤≥" and not s.startswith("<=>", i):  # (X > 0): a 0/1 indicator (layer stacks)
            op = {"≤": "<=", "≥": ">="}.get(ch, ch + "=" if s.startswith("=", i + 1) else ch)
            toks.append(("cmp", op, i))
            i += 1 + (s.startswith("=", i + 1) and ch in "<>")
        elif ch in ",=":
            toks.append(("op", ch, i))
            i += 1
        elif ch.isalpha() or ch == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?").match(s, i)
            if not m:
                err(_("unexpected character {character}").format(character=repr(ch)), i)
            word = m.group()
            if word.startswith(("np.", "numpy.")):
                word = word.split(".", 1)[1]
            elif "." in word:  # X.T handled above; anything else: read up to the dot
                word = word.split(".", 1)[0]
                m = re.compile(re.escape(word)).match(s, i)
            i = m.end()
            toks += _words(word, names, m.start(), err)
            sl = _SLICE.match(s, i)
            if sl and (sl.group(1) == ":") != (sl.group(2) == ":"):  # dY[1,:], dY_{:,2}
                toks.append(("slice", tuple(None if g == ":" else int(g) for g in sl.groups()), i))
                i = sl.end()
        else:
            err(_("unexpected character {character} in a matrix answer").format(character=repr(ch)), i)
    return toks


def _sum_of_slices(m) -> str:
    """Σ_n dY_{n,:} (the rows summed) -> colsum(dY); Σ_j dY_{:,j} -> rowsum(dY)."""
    index, name, row, col = m.groups()
    if row == index and col == ":":
        return f" colsum({name}) "
    if row == ":" and col == index:
        return f" rowsum({name}) "
    return m.group()


def split_equation(text: str) -> tuple[str | None, str]:
    """`∂L/∂W = X^T dY` -> ("W", "X^T dY"): the matrix a left side names, and the right side; a
    text without '=' -> (None, text). A left side that is not a gradient raises ParseError."""
    depth, at = 0, []
    for i, ch in enumerate(text):
        depth += (ch in "({[") - (ch in ")}]")
        if ch == "=" and depth == 0:
            at.append(i)
    if not at:
        return None, text
    left, right = text[:at[0]], text[at[0] + 1:]
    if len(at) > 1 or not right.strip():
        raise ParseError(_("a matrix answer is one expression, or ∂L/∂W = one expression"), text)
    named = _GRAD_SLASH.sub(lambda m: f" d{m.group(1)} ", _GRAD_FRAC.sub(lambda m: f" d{m.group(1) or m.group(2)} ",
                                                                       left))
    m = re.fullmatch(r"\s*(?:\$\s*)?d\s*([A-Z])\s*", named)
    if not m:
        raise ParseError(_("the left side of '=' must name the gradient, e.g. {example}").format(
            example="∂L/∂W = X^T dY"), text)
    return m.group(1), right


def _brace_group(s: str, i: int, err):
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s) or s[i] != "{":
        err(_("a LaTeX command is missing its {argument}"), i)
    depth, start = 0, i
    while i < len(s):
        depth += (s[i] == "{") - (s[i] == "}")
        i += 1
        if depth == 0:
            return s[start + 1:i - 1], i
    err(_("unbalanced braces: a {brace} is never closed").format(brace="'{'"), start)


def _words(word: str, names, at: int, err) -> list:
    """A word as tokens: a known name, a function, an axis keyword, or known names run together."""
    if word in names:
        return [("name", word, at)]
    if word in MATRIX_FUNCTIONS:
        return [("func", MATRIX_FUNCTIONS[word], at)]
    if word == "axis":
        return [("axis", word, at)]
    best = {0: []}
    for end in range(1, len(word) + 1):
        for n in sorted(names, key=len, reverse=True):
            start = end - len(n)
            if start >= 0 and start in best and word[start:end] == n:
                best[end] = best[start] + [("name", n, at + start)]
                break
    if len(word) in best:
        return best[len(word)]
    functions = ", ".join(sorted(set(MATRIX_FUNCTIONS) - {"colsums", "rowsums", "sumrows", "sumcols"}))
    err(_("the answer uses {word}, which is not a matrix of this problem; it may use: {names} and {functions}").format(
        word=repr(word), names=", ".join(names), functions=functions), at)


class _MatrixParser:
    def __init__(self, toks, text):
        self.toks, self.i, self.text = toks, 0, text

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.text))

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def err(self, msg):
        at = self.peek()[2]
        raise ParseError(msg, self.text, min(at, len(self.text) - 1) if self.text else None)

    def expr(self):
        node = self.sum()
        if self.peek()[0] == "cmp":  # (X > 0): 1 where it holds, else 0
            node = ("cmp", self.take()[1], node, self.sum())
        return node

    def sum(self):
        node = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.term())
        return node

    def starts_primary(self):
        return self.peek()[0] in ("name", "num", "func", "(")

    def term(self):
        node = self.unary()
        while True:
            kind, val, _pos = self.peek()
            if kind == "op" and val in "*/⊙":
                self.take()
                node = ({"*": "mul", "/": "div", "⊙": "had"}[val], node, self.unary())
            elif self.starts_primary():
                node = ("mul", node, self.unary())
            else:
                return node

    def unary(self):
        signs = 0
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            signs += self.take()[1] == "-"
        node = self.postfix()
        return ("neg", node) if signs % 2 else node

    def postfix(self):
        node = self.primary()
        while self.peek()[0] in ("T", "slice"):
            kind, val, _pos = self.take()
            transposed = ("ones",) if node == ("num", "1") else ("T", node)
            node = ("slice", node, *val) if kind == "slice" else transposed
        return node

    def primary(self):
        kind, val, _pos = self.take()
        if kind == "num":
            return ("num", val)
        if kind == "name":
            return ("name", val)
        if kind == "(":
            node = self.expr()
            if self.take()[0] != ")":
                self.i -= 1
                self.err(_("expected a closing parenthesis"))
            return node
        if kind == "func":
            if self.take()[0] != "(":
                self.i -= 1
                self.err(_("{function} needs its argument in parentheses: {example}").format(function=val,
                                                                                            example=f"{val}(dY)"))
            arg = self.expr()
            if val == "sum" and self.peek()[1] == ",":
                self.take()
                if self.peek()[0] == "axis":
                    self.take()
                    if self.take()[1] != "=":
                        self.i -= 1
                        self.err(_("expected axis=0 or axis=1"))
                axis = self.take()
                if axis[1] not in ("0", "1"):
                    self.i -= 1
                    self.err(_("expected axis=0 (column sums) or axis=1 (row sums)"))
                val = "colsum" if axis[1] == "0" else "rowsum"
            if self.take()[0] != ")":
                self.i -= 1
                self.err(_("expected a closing parenthesis"))
            return ("T", arg) if val == "transpose" else ("call", val, arg)
        self.i -= 1
        if kind is None:
            self.err(_("the answer ends too early"))
        self.err(_("unexpected {token}").format(token=repr(val)))


def parse_matrix_answer(text: str, names) -> tuple:
    """A matrix-form answer (plain or LaTeX) as the matrix AST; `names` are the allowed matrices."""
    _check_size(text)
    toks = _matrix_tokens(text, tuple(names))
    if not toks:
        raise ParseError(_("the answer is empty"))
    if len(toks) > MAX_MATRIX_TOKENS:
        raise ParseError(_("the answer is too long for a matrix form ({count} symbols, at most {most})").format(
            count=len(toks), most=MAX_MATRIX_TOKENS))
    p = _MatrixParser(toks, text)
    node = p.expr()
    if p.peek()[0] is not None:
        p.err(_("unexpected {token}").format(token=repr(p.peek()[1])))
    slices = [t[1] for t in toks if t[0] == "slice"]
    if slices:  # NumPy counts from 0 (dY[0,:]); otherwise rows count from 1, as W[1,2] does
        base = 0 if any(i == 0 for pair in slices for i in pair) else 1
        node = _slices_from(node, base)
    return node


def _slices_from(node, base: int):
    if node[0] == "slice":
        return ("slice", _slices_from(node[1], base), *(None if i is None else i - base for i in node[2:]))
    if node[0] in ("name", "num", "ones"):
        return node
    if node[0] == "call":
        return ("call", node[1], _slices_from(node[2], base))
    return (node[0], *(_slices_from(x, base) for x in node[1:]))
