"""Safe parsing of user math into a small AST, and from the AST into SymPy.

Nothing here evaluates user text: a tokenizer and a recursive-descent parser accept only
numbers, names, the operators + - * / ^ ** and the functions of the records (`ops.spelled`).

The AST is made of tuples, so it is plain data that keeps the order the user wrote:
    ("num", "2.5")  ("name", "w_0")  ("call", "exp", (arg, ...))
    ("add" | "sub" | "mul" | "div" | "pow", left, right)  ("neg", operand)
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy as sp

from .. import limits
from ..errors import ParseError
from ..i18n import _
from .ops import FUNCTION_TABLE, function_names, spelled

MAX_LENGTH = limits.MAX_EXPRESSION_CHARS
MAX_DEPTH = limits.MAX_NESTING

_GREEK = "\u0370-\u03ff"
_NAME = re.compile(
    rf"[A-Za-z{_GREEK}][A-Za-z0-9{_GREEK}]*(?:_(?:[A-Za-z0-9{_GREEK}]+|\{{[A-Za-z0-9{_GREEK},]+\}}))*"
)
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("**", "+", "-", "−", "*", "×", "·", "/", "÷", "^", "(", ")", ",")
_CANONICAL = {"−": "-", "×": "*", "·": "*", "÷": "/", "**": "^"}


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split `text` into (kind, value, position) tokens; kind is num, name or op."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})")
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        m = _NUMBER.match(text, i)
        if m:
            _check_number(m.group(), text, i)
            tokens.append(("num", m.group(), i))
            i = m.end()
            continue
        m = _NAME.match(text, i)
        if m:
            tokens.append(("name", m.group().replace("{", "").replace("}", ""), i))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(("op", _CANONICAL.get(op, op), i))
                i += len(op)
                break
        else:
            if ch == "$":  # math delimiters around an answer: the answer is read as a formula already
                raise ParseError(_("'$' cannot be used: type the expression alone, without math delimiters"), text, i)
            raise ParseError(_("unexpected character {character}").format(character=repr(ch)), text, i)
    return tokens


def _check_number(literal: str, text: str, pos: int) -> None:
    """Refuse number literals no 50-digit computation can use (5000 digits, 1e999999999)."""
    mantissa, _e, exponent = literal.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    if digits > limits.MAX_NUMBER_DIGITS:
        raise ParseError(f"the number is too long: {digits} digits, at most {limits.MAX_NUMBER_DIGITS}",
                         text, pos)
    if exponent and (len(exponent.lstrip("+-").lstrip("0")) > 6 or abs(int(exponent)) > limits.MAX_EXPONENT):
        raise ParseError(f"the number is too large or too small: its exponent {exponent} is out of range "
                         f"(|e| at most {limits.MAX_EXPONENT})", text, pos)


class _Parser:
    def __init__(self, text: str, implicit: bool, functions: dict | None = None):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.implicit = implicit
        self.depth = 0
        self.functions = functions  # None: the records

    def function(self, name: str):
        """(constructor, arity, op) of a function name, or None: from the records or the given table."""
        if self.functions is not None:
            return self.functions.get(name)
        f = spelled(name)
        return None if f is None else (f.make, f.arity, f.name)

    def function_names(self) -> str:
        if self.functions is None:
            return function_names()
        return ", ".join(sorted(k for k in self.functions if k.isascii()))

    # helpers
    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str):
        kind, got, pos = self.take()
        if got != value:
            found = _("the end") if kind == "end" else repr(got)
            raise ParseError(_("expected {expected} but found {found}").format(expected=repr(value), found=found),
                             self.text, pos)

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(_("expression is nested too deeply (more than {most} levels)").format(most=MAX_DEPTH))

    # grammar
    def parse(self):
        if not self.tokens:
            raise ParseError(_("empty expression"), self.text)
        node = self.expr()
        kind, value, pos = self.peek()
        if kind != "end":
            raise ParseError(_("unexpected {token}").format(token=repr(value)), self.text, pos)
        return node

    def expr(self):
        self.enter()
        node = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.term())
        self.depth -= 1
        return node

    def term(self):
        node = self.unary()
        while True:
            kind, value, _ = self.peek()
            if kind == "op" and value in ("*", "/"):
                self.take()
                node = ("mul" if value == "*" else "div", node, self.unary())
            elif self.implicit and (kind in ("num", "name") or value == "("):
                node = ("mul", node, self.power())
            else:
                return node

    def unary(self):
        kind, value, _ = self.peek()
        if kind == "op" and value in ("-", "+"):
            self.take()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return ("neg", operand) if value == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek()[:2] == ("op", "^"):
            self.take()
            self.enter()
            exponent = self.unary()
            self.depth -= 1
            return ("pow", base, exponent)
        return base

    def atom(self):
        kind, value, pos = self.take()
        if kind == "num":
            return ("num", value)
        if kind == "name":
            known = self.function(value) is not None
            if known and self.peek()[1] == "(":
                return self.call(value, pos)
            if known:
                message = _("function {function} needs its argument in parentheses")
                raise ParseError(message.format(function=repr(value)), self.text, pos)
            if self.peek()[1] == "(" and not self.implicit:
                raise ParseError(
                    _("unknown function {function}; expected one of {names}").format(function=repr(value),
                                                                                     names=self.function_names()),
                    self.text, pos
                )
            return ("name", value)
        if value == "(":
            node = self.expr()  # expr() counts this level of nesting
            self.expect(")")
            return node
        found = _("the end of the expression") if kind == "end" else repr(value)
        raise ParseError(_("expected a number, a name or '(' but found {found}").format(found=found), self.text, pos)

    def call(self, name: str, pos: int):
        self.expect("(")
        self.enter()
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.depth -= 1
        self.expect(")")
        _constructor, arity, op = self.function(name)
        if arity is None and len(args) < 2:
            raise ParseError(_("{function} takes two or more arguments").format(function=f"{name}()"), self.text, pos)
        record = FUNCTION_TABLE.get(op)
        params = record.params if record is not None and arity is not None else ()
        if params and len(args) == arity + len(params):  # leaky_relu(x, 0.2): its parameters, as numbers
            for arg in args[arity:]:
                if arg[0] != "num" and not (arg[0] == "neg" and arg[1][0] == "num"):
                    raise ParseError(_("the parameter {parameter} of {function} must be a number").format(
                        parameter=", ".join(p for p, _v in params), function=f"{name}()"), self.text, pos)
        elif params and len(args) != arity:
            raise ParseError(_("{function} takes {count} or {more} arguments, got {got}").format(
                function=f"{name}()", count=arity, more=arity + len(params), got=len(args)), self.text, pos)
        elif arity is not None and len(args) != arity:
            raise ParseError(_("{function} takes {count} argument, got {got}").format(function=f"{name}()", count=arity,
                                                                                    got=len(args)),
                             self.text, pos)
        return ("call", op, tuple(args))


def parse(text: str, implicit: bool = False, functions: dict | None = None):
    """Parse plain math into the tuple AST. `implicit=True` reads `2x` and `h(1-h)` as products.

    `functions` replaces the records' function names (`ops.spelled`) by a table name -> (constructor,
    arity or None for two or more, op); the call node then carries that table's op. A function
    with parameters (leaky_relu's α) takes its arity or its arity plus one number per parameter.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an expression as text, got {type(text).__name__}")
    return _Parser(text, implicit, functions).parse()


def names(ast) -> list[str]:
    """The names an AST uses, in order of first appearance (iterative: long sums are deep ASTs)."""
    out: dict[str, None] = {}
    stack = [ast]
    while stack:
        node = stack.pop()
        if node[0] == "name":
            out.setdefault(node[1])
        elif node[0] == "call":
            stack.extend(reversed(node[2]))
        elif node[0] != "num":
            stack.extend(reversed(node[1:]))
    return list(out)


def symbol(name: str) -> sp.Symbol:
    """The one way a graph name becomes a SymPy symbol (all quantities are real)."""
    return sp.Symbol(name, real=True)


def number(text: str) -> sp.Rational:
    """A decimal literal as an exact rational (0.5 -> 1/2)."""
    return sp.Rational(Fraction(text))


_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


def _power(a, b):
    """a^b, refusing an exact constant too big to write down (9^9^9) before SymPy computes it."""
    if a.is_Number and b.is_Number and b.is_real and abs(a) > 1 and b > 0:
        digits = float(b) * math.log10(abs(float(a))) if abs(a) < 10**300 else math.inf
        if digits > limits.MAX_POWER_DIGITS:
            raise ParseError(f"the constant {a}^{b} would have about {digits:.3g} digits; at most "
                             f"{limits.MAX_POWER_DIGITS}")
    return a**b


def _chain(ast, kind_set):
    """A left-deep chain a op b op c ... as (first operand, [(op, operand), ...])."""
    links = []
    while ast[0] in kind_set:
        links.append((ast[0], ast[2]))
        ast = ast[1]
    return ast, links[::-1]


def to_sympy(ast, lookup=symbol, keep_order: bool = False) -> sp.Expr:
    """Build the SymPy expression of an AST; `lookup` maps a name to its SymPy object.

    `keep_order` keeps the written order of the top-level sum or product (x + sigy stays
    x + sigy, not SymPy's canonical sigy + x), for gates shown to a reader. Chains of + − and
    of × ÷ are built in a loop, so a sum of a thousand terms is not a thousand-deep recursion.
    """
    kind = ast[0]
    if keep_order and kind in ("add", "sub", "mul"):
        a, b = to_sympy(ast[1], lookup), to_sympy(ast[2], lookup)
        if kind == "mul":
            return sp.Mul(a, b, evaluate=False)
        return sp.Add(a, b if kind == "add" else -b, evaluate=False)
    if kind == "num":
        return number(ast[1])
    if kind == "name":
        return lookup(ast[1])
    if kind == "neg":
        return -to_sympy(ast[1], lookup)
    if kind == "call":
        return FUNCTION_TABLE[ast[1]].make(*(to_sympy(a, lookup) for a in ast[2]))
    if kind in ("add", "sub"):
        first, links = _chain(ast, ("add", "sub"))
        terms = [to_sympy(first, lookup)]
        terms += [to_sympy(t, lookup) * (1 if op == "add" else -1) for op, t in links]
        return sp.Add(*terms)
    if kind in ("mul", "div"):
        first, links = _chain(ast, ("mul", "div"))
        factors = [to_sympy(first, lookup)]
        factors += [to_sympy(t, lookup) ** (1 if op == "mul" else -1) for op, t in links]
        return sp.Mul(*factors)
    return _power(to_sympy(ast[1], lookup), to_sympy(ast[2], lookup))
