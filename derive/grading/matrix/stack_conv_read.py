"""Reading answers for the convolution and pooling layers (grading.matrix.stack_conv): LaTeX and Unicode
normalized, a small tokenizer and recursive-descent parser to a tuple AST (never run as code), words
resolved to index letters and quantities, and the AST shown back as plain text and LaTeX.

AST: ("num", v), ("name", n), ("letter", l), ("idx", name, (index ASTs)), ("sum", letters, body),
("call", corr|conv|flip|upsample|floor, (args)), ("add"|"sub"|"mul"|"div", a, b), ("neg", a), ("pow", a, v).
"""
from __future__ import annotations

import re

from ...errors import ParseError
from ...i18n import _

_FUNCS = {"corr": "corr", "xcorr": "corr", "correlate": "corr", "fullcorr": "corr", "full_corr": "corr",
          "conv": "conv", "convolve": "conv", "fullconv": "conv", "full_conv": "conv", "flip": "flip",
          "rot180": "flip", "rot": "flip", "upsample": "upsample", "spread": "upsample", "floor": "floor"}

# ---------------------------------------------------------------- reading

_FRAC_GRAD = re.compile(r"\\[dt]?frac\s*\{\s*(?:\\partial|∂|d)\s*L\s*\}\s*\{\s*(?:\\partial|∂|d)\s*"
                        r"((?:[^{}]|\{[^{}]*\})*)\}")
_SLASH_GRAD = re.compile(r"(?:∂|\\partial\s*|(?<![A-Za-z])d)L\s*/\s*(?:∂|\\partial\s*|d)\s*")
_LATEX = [(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])", ""), (r"\\[,;:! ]|~|\\quad|\$", " "),
          (r"\\(?:sum|Sigma)(?![A-Za-z])|∑", "Σ"), (r"\\limits", ""), (r"\\(?:odot|circ)(?![A-Za-z])|∘", "⊙"),
          (r"\\(?:cdot|times)(?![A-Za-z])|[·⋅×∙@]", "*"), (r"−", "-"), (r"²", "^2"),
          (r"\\(?:mathrm|operatorname|text|mathit|mathbf|boldsymbol)\s*\{([^{}]*)\}", r"\1"),
          (r"\b(?:X_\{?(?:pad|padded|p)\}?|Xp|X_pad)(?![A-Za-z0-9])", "Xpad"), (r"\bmask\b", "M"),
          (r"\\lfloor|⌊", " floor("), (r"\\rfloor|⌋", ") ")]


def _frac(text: str) -> str:
    """\\frac{a}{b} -> ((a)/(b)), innermost first."""
    pat = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
    while True:
        new = pat.sub(r"((\1)/(\2))", text)
        if new == text:
            return text
        text = new


def normalize(text: str) -> str:
    text = _FRAC_GRAD.sub(r"d\1", text)
    text = _SLASH_GRAD.sub("d", text)
    for pat, rep in _LATEX:
        text = re.sub(pat, rep, text)
    return _frac(text)


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+\.?\d*|\.\d+)|(?P<word>[A-Za-z][A-Za-z0-9]*)|(?P<op>Σ|⊙|[-+*/^(),\[\]{}_=]))")


def _tokens(text: str) -> list:
    out, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            if text[i:].strip() == "":
                break
            at = len(text) - len(text[i:].lstrip())
            raise ParseError(_("unexpected character {character} in a matrix answer").format(
                character=repr(text[at])), text, at)
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind)))
        i = m.end()
    if len(out) > 200:
        raise ParseError(_("the answer is too long for a matrix form ({count} symbols, at most {most})").format(
            count=len(out), most=200))
    return out


class _Parser:
    """expr := term (± term)*; term := unary ((* ⊙ / or nothing) unary)*; unary := −unary | Σ_letters term
    | power; power := postfix (^ number)?; postfix := primary ([indices] | _{indices} | _letter)*."""

    def __init__(self, text, names, free=()):
        self.text, self.toks, self.i, self.names = text, _tokens(text), 0, set(names)
        self.letters: list[str] = []
        self.free = set(free)

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else (None, None, len(self.text))

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def err(self, message):
        raise ParseError(message, self.text, min(self.peek()[2], max(len(self.text) - 1, 0)))

    def expect(self, op):
        if self.peek()[1] != op:
            self.err(_("expected {token}").format(token=repr(op)))
        self.take()

    def expr(self):
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            node = ("add" if self.take()[1] == "+" else "sub", node, self.term())
        return node

    def term(self):
        node = self.unary()
        while True:
            kind, val, _at = self.peek()
            if val in ("*", "⊙", "/"):
                self.take()
                node = ("div" if val == "/" else "mul", node, self.unary())
            elif kind in ("num", "word") or val in ("(", "Σ"):
                node = ("mul", node, self.unary())
            else:
                return node

    def unary(self):
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary())
        if self.peek()[1] == "+":
            self.take()
            return self.unary()
        if self.peek()[1] == "Σ":
            self.take()
            letters = self._sum_letters() if self.peek()[1] == "_" else []
            self.letters += [x for x in letters if x not in self.letters]
            return ("sum", tuple(letters), self.unary_product())
        node = self.postfix()
        if self.peek()[1] == "^":
            self.take()
            brace = self.peek()[1] in ("{", "(")
            if brace:
                self.take()
            if self.peek()[0] != "num":
                self.err(_("only a number may be an exponent here"))
            node = ("pow", node, float(self.take()[1]))
            if brace:
                self.take()
        return node

    def unary_product(self):
        """What a Σ sums: the product that follows it (up to a + or − outside parentheses)."""
        node = self.unary()
        while self.peek()[1] in ("*", "⊙") or self.peek()[0] in ("num", "word") or self.peek()[1] in ("(", "Σ"):
            if self.peek()[1] in ("*", "⊙"):
                self.take()
            node = ("mul", node, self.unary())
        while self.peek()[1] == "/":
            self.take()
            node = ("div", node, self.unary())
        return node

    def _sum_letters(self):
        self.take()  # _
        if self.peek()[1] == "{":
            self.take()
            letters, depth, bounds = [], 1, False
            while depth:
                kind, val, _at = self.take()
                if kind is None:
                    self.err(_("unbalanced braces: a {brace} is never closed").format(brace="'{'"))
                depth += (val == "{") - (val == "}")
                bounds = bounds or val == "="
                if kind == "word" and not bounds and depth == 1:
                    letters += list(val) if val.islower() else [val]
                if val == "," and depth == 1:
                    bounds = False
        else:
            kind, val, _at = self.take()
            if kind != "word":
                self.err(_("expected the summed index after Σ_"))
            letters = list(val) if val.islower() else [val]
        if self.peek()[1] == "^":  # an upper bound: read past it (the ranges come from the arrays)
            self.take()
            if self.peek()[1] == "{":
                depth = 0
                while True:
                    val = self.take()[1]
                    depth += (val == "{") - (val == "}")
                    if depth == 0 or val is None:
                        break
            else:
                self.take()
        return letters

    def index_suffix(self) -> tuple:
        """The indices after a name: [i, j], _{ij} or _ij (one letter or one number each)."""
        if self.take()[1] == "[":
            return self.indices("]")
        if self.peek()[1] == "{":
            self.take()
            return self.indices("}")
        kind, val, _at = self.take()
        if kind not in ("word", "num"):
            self.i -= 1
            self.err(_("expected an index after _"))
        return tuple(("word", ch) for ch in val) if kind == "word" else (("num", float(val)),)

    def postfix(self):
        node = self.primary()
        while node[0] == "name" and self.peek()[1] in ("[", "_"):
            node = ("idx", node[1], self.index_suffix())
        return node

    def indices(self, close):
        out = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            out.append(self.expr())
        self.expect(close)
        return tuple(out)

    def primary(self):
        kind, val, _at = self.take()
        if kind == "num":
            return ("num", float(val))
        if val in ("(", "{"):
            node = self.expr()
            self.expect(")" if val == "(" else "}")
            return node
        if kind == "word":
            low = val.lower()
            if low in ("sum",) and self.peek()[1] == "_":
                self.i -= 1
                self.toks[self.i] = ("op", "Σ", _at)
                return self.unary()
            if low == "sum" and self.peek()[1] == "(":
                self.take()
                node = self.expr()
                self.expect(")")
                return ("sum", (), node)
            if low in _FUNCS and self.peek()[1] == "(":
                self.take()
                args = [self.expr()]
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.expr())
                self.expect(")")
                return ("call", _FUNCS[low], tuple(args))
            if val in self.names and val not in self.free and val not in self.letters:
                return ("name", val)
            return ("word", val)
        self.i -= 1
        if kind is None:
            self.err(_("the answer ends too early"))
        self.err(_("unexpected {token}").format(token=repr(val)))


def parse(text: str, names) -> tuple:
    """(left side or None, right side AST, summed letters) of a conv/pool answer."""
    text = normalize(text)
    depth, at = 0, []
    for i, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "=" and depth == 0:
            at.append(i)
    if len(at) > 1:
        raise ParseError(_("a matrix answer is one expression, or ∂L/∂W = one expression"), text)
    left = None
    if at:
        lp = _Parser(text[:at[0]], ())
        kind, val, _pos = lp.take()
        if kind != "word" or not val.startswith("d"):
            raise ParseError(_("the left side of '=' must name the gradient, e.g. {example}").format(
                example="dW[f,c,i,j] = …"), text)
        idx = lp.index_suffix() if lp.peek()[1] in ("[", "_") else ()
        if lp.peek()[0] is not None or any(e[0] not in ("word", "num") for e in idx):
            raise ParseError(_("the left side of '=' must name the gradient, e.g. {example}").format(
                example="dW[f,c,i,j] = …"), text)
        left = (val, tuple(e[1] for e in idx))
        text = text[at[0] + 1:]
    p = _Parser(text, names, [e for e in (left[1] if left else ()) if isinstance(e, str)])
    node = p.expr()
    if p.peek()[0] is not None:
        p.err(_("unexpected {token}").format(token=repr(p.peek()[1])))
    return left, node, tuple(p.letters)


# ---------------------------------------------------------------- evaluating

def resolve(node, letters, names):
    """Words as bound index letters, or known names and letters run together (hs -> h·s)."""
    kind = node[0]
    if kind == "word":
        w = node[1]
        if w in letters:
            return ("letter", w)
        best = {0: []}
        pieces = sorted(set(letters) | set(names), key=len, reverse=True)
        for end in range(1, len(w) + 1):
            for n in pieces:
                if end - len(n) in best and w[end - len(n):end] == n:
                    best[end] = best[end - len(n)] + [("letter", n) if n in letters else ("name", n)]
                    break
        if len(w) not in best:
            raise ParseError(_("the answer uses {word}, which is neither a quantity of this layer nor an index "
                               "on the left side or under a Σ; it may use: {names}").format(
                word=repr(w), names=", ".join(sorted(n for n in names if not n.startswith("_")))))
        out = best[len(w)][0]
        for piece in best[len(w)][1:]:
            out = ("mul", out, piece)
        return out
    if kind == "idx":
        return ("idx", node[1], tuple(resolve(e, letters, names) for e in node[2]))
    if kind == "call":
        return ("call", node[1], tuple(resolve(e, letters, names) for e in node[2]))
    if kind == "sum":
        return ("sum", node[1], resolve(node[2], letters, names))
    if kind in ("add", "sub", "mul", "div"):
        return (kind, resolve(node[1], letters, names), resolve(node[2], letters, names))
    if kind in ("neg",):
        return (kind, resolve(node[1], letters, names))
    if kind == "pow":
        return ("pow", resolve(node[1], letters, names), node[2])
    return node


def _has_zero_index(node) -> bool:
    if node[0] == "idx" and any(e == ("num", 0.0) for e in node[2]):
        return True
    return any(_has_zero_index(c) for c in node[1:] if isinstance(c, tuple) and c and isinstance(c[0], str)) or \
        any(_has_zero_index(c) for t in node[1:] if isinstance(t, tuple) and t and isinstance(t[0], tuple) for c in t)


def show(node) -> str:
    """Plain text of the AST (names and numbers the parser accepted, fixed symbols)."""
    kind = node[0]
    if kind == "num":
        return f"{node[1]:g}"
    if kind in ("name", "letter", "word"):
        return node[1]
    if kind == "idx":
        return f"{node[1]}[{','.join(show(e) for e in node[2])}]"
    if kind == "sum":
        return f"Σ_{{{','.join(node[1])}}} ({show(node[2])})" if node[1] else f"Σ({show(node[2])})"
    if kind == "call":
        return f"{node[1]}({', '.join(show(a) for a in node[2])})"
    if kind == "neg":
        return f"−({show(node[1])})"
    if kind == "pow":
        return f"({show(node[1])})^{node[2]:g}"
    op = {"add": " + ", "sub": " − ", "mul": "·", "div": " / "}[kind]
    return f"({show(node[1])}{op}{show(node[2])})"


def tex(node) -> str:
    kind = node[0]
    if kind == "num":
        return f"{node[1]:g}"
    if kind in ("name", "letter", "word"):
        n = node[1]
        return {"Xpad": r"X_{\mathrm{pad}}", "dY": r"\mathrm{d}Y"}.get(n, n if len(n) == 1 else rf"\mathrm{{{n}}}")
    if kind == "idx":
        return f"{tex(('name', node[1]))}_{{{','.join(tex(e) for e in node[2])}}}"
    if kind == "sum":
        return rf"\sum_{{{','.join(node[1])}}} \left({tex(node[2])}\right)"
    if kind == "call":
        return rf"\operatorname{{{node[1]}}}\left({', '.join(tex(a) for a in node[2])}\right)"
    if kind == "neg":
        return rf"-\left({tex(node[1])}\right)"
    if kind == "pow":
        return rf"\left({tex(node[1])}\right)^{{{node[2]:g}}}"
    op = {"add": " + ", "sub": " - ", "mul": r" \cdot ", "div": " / "}[kind]
    return rf"\left({tex(node[1])}{op}{tex(node[2])}\right)"
