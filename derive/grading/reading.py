"""A student's answer (plain math or LaTeX) -> the tuple AST of `engine.parse`, read as written.

Nothing is evaluated. LaTeX is first translated to plain text (`latex_reading`); then, around the
one safe parser (`engine.parse.parse(..., implicit=True)`), this module handles what its grammar
does not know, each by a reserved placeholder name that a student cannot type:
  * an equation `∂E/∂w_kj = …` (the left side is kept to be checked against --wrt; `a = b = c`
    checks every right side);
  * sums `sum_k`, `Σ_{k=1}^{2}`, `\\sum_k`: ("sum", k, body, lower, upper); the body is the rest of
    the product the sum starts (the textbook reading: `x_i h_j \\sum_k (o_k - t_k) w_kj` sums the
    whole product, `-\\sum_k …` negates the sum);
  * named gradients ∂E/∂o_k, \\frac{\\partial E}{\\partial net_k}, dE/do_k: ("grad", "E", "o_k");
  * σ′(z), sigma'(z), softplus′, SiLU'(z) (any spelling of an activation record, primed), f′(z):
    calls of the derivative (op "sigmoid′"); 1[z > 0], 𝟙(z > 0): step(z);
  * names with a layer superscript (w^l+1_ij, a^{l−1}_k, delta^L_nj, o^(2)_1): one name when
    the problem has it, else ^ is a power (h_j^2); unicode superscripts (h²) are powers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..engine.ops import FUNCTION_TABLE, Function
from ..engine.parse import MAX_DEPTH, MAX_LENGTH, parse
from ..errors import ParseError
from ..i18n import _
from .latex_reading import to_plain
from .typed_names import _BASE, _NAMECH, _START, UnknownName, _name_at, _strip_parens, resolve_known
from .written import forms

__all__ = ["ANSWER_FUNCTIONS", "Reading", "UnknownName", "parse_answer", "read_answer", "resolve_known"]

_MARK = re.compile(r"(SUMPq|NAMEq|GRADq|PRIMEq|STEPq|DIFFq)")

PRIME = "′"  # a derivative's op is its function's name and a prime: ("call", "sigmoid′", (z,))
GENERIC_PRIME = "act′"  # f′(z), g′, φ′: the derivative of whichever activation z feeds
_GENERIC_PRIMED = ("f", "g", "φ", "phi", "ϕ")


def primed(op: str) -> Function | None:
    """The record whose derivative the op of a call is (sigmoid′ -> sigmoid), else None."""
    return FUNCTION_TABLE.get(op[:-1]) if op.endswith(PRIME) else None


def _spellings(f: Function) -> tuple[str, ...]:
    return (f.name, *f.spellings, *f.answer_only)


# every record is an answer function, under its name and every spelling (name -> (constructor, arity,
# op)); its derivative is a call too: PRIMEq<name> (σ′(z)) and each of its prime_spellings (dsigmoid(z))
ANSWER_FUNCTIONS = {s: (f.make, f.arity, f.name) for f in FUNCTION_TABLE.values() for s in _spellings(f)}
ANSWER_FUNCTIONS.update({"STEPq": (None, 1, "step"), f"PRIMEq{GENERIC_PRIME[:-1]}": (None, 1, GENERIC_PRIME)})
for _f in FUNCTION_TABLE.values():
    if _f.activation:
        for _head in (f"PRIMEq{_f.name}", *_f.prime_spellings):
            ANSWER_FUNCTIONS[_head] = (None, 1, _f.name + PRIME)

# a head written with a prime (σ′, softplus′, SiLU′, f′) -> the record's name (or the generic act)
_PRIMED = {s: f.name for f in FUNCTION_TABLE.values() if f.activation for s in _spellings(f)}
_PRIMED.update({s: GENERIC_PRIME[:-1] for s in _GENERIC_PRIMED})
_HEADS = "|".join(re.escape(s) for s in sorted(_PRIMED, key=len, reverse=True))
_PRIMED_HEAD = re.compile(rf"(?<![{_NAMECH}_])({_HEADS})\s*(′+|\^\(\s*′+\s*\))\s*")

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿ", "0123456789+-()n"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₗₘₙₒₜₓ", "0123456789ijklmnotx"))
_CHARS = {"−": "-", "–": "-", "—": "-", "‒": "-", "∗": "*", "⋅": "*", "∙": "*", "•": "*", "⊙": "*", "∘": "*",
          "∑": "Σ", "'": "′", "’": "′", "ʹ": "′", "\u00a0": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ",
          "⩾": "≥", "⩽": "≤", "√": " sqrt", "\u2061": "", "\u2062": "*", "ᵀ": "^(T)", "⊤": "T",
          "∣": "|", "｜": "|"}


@dataclass(frozen=True)
class Reading:
    """An answer as read: its right sides (ASTs) and, for an equation, its left side."""
    parts: tuple
    lhs: tuple | None = None  # ("grad", num, den) or ("name", δ-name), when the answer is an equation


def _check_size(text: str) -> None:
    if not isinstance(text, str):
        raise ParseError(_("expected the answer as text, got {type}").format(type=type(text).__name__))
    if len(text) > MAX_LENGTH:
        raise ParseError(_("the answer is too long ({count} characters, at most {most})").format(count=len(text),
                                                                                               most=MAX_LENGTH))
    if _MARK.search(text):
        raise ParseError(_("the answer uses a reserved name ({name})").format(name=_MARK.search(text).group()))
    depth = top = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            top = max(top, depth)
        elif ch in ")}]":
            depth -= 1
    if top > MAX_DEPTH:
        raise ParseError(_("the answer is nested too deeply (more than {most} levels)").format(most=MAX_DEPTH))


# ---------------------------------------------------------------- the plain pre-pass

def _normalize(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch in _SUPERSCRIPTS:
            j = i
            while j < len(text) and text[j] in _SUPERSCRIPTS:
                j += 1
            out.append("^(" + "".join(_SUPERSCRIPTS[c] for c in text[i:j]) + ")")
            i = j
            continue
        if ch in _SUBSCRIPTS:
            j = i
            while j < len(text) and text[j] in _SUBSCRIPTS:
                j += 1
            out.append("_" + "".join(_SUBSCRIPTS[c] for c in text[i:j]) + " ")
            i = j
            continue
        if ch == "'" and not (i and re.match(rf"[{_NAMECH})\s]", text[i - 1])):
            out.append(ch)  # a quote, not a prime: the parser names it
        else:
            out.append(_CHARS.get(ch, ch))
        i += 1
    return "".join(out)


def _primes(text: str) -> str:
    def repl(m):
        if m.group(2).count("′") > 1:
            raise ParseError(_("a second derivative {derivative} is not expected here").format(
                derivative=f"{m.group(1)}′′"), text)
        if not text.startswith("(", m.end()):
            raise ParseError(_("write {prime} with its argument in parentheses, e.g. {example}").format(
                prime=f"{m.group(1)}′", example=f"{m.group(1)}′(net_k)"),
                             text)
        return f" PRIMEq{_PRIMED[m.group(1)]}"

    text = _PRIMED_HEAD.sub(repl, text)
    if "′" in text and "'" not in text:
        heads = ", ".join(f.plain for f in FUNCTION_TABLE.values() if f.activation and f.in_problems)
        raise ParseError(_("a prime (′) is understood on an activation ({functions}) and on f, with its argument: "
                           "σ′(z); write any other derivative out").format(functions=heads), text, text.index("′"))
    return text


def _enclosing(text: str, i: int) -> tuple[int, int] | None:
    depth, a = 0, i
    while a > 0:
        a -= 1
        if text[a] in ")]":
            depth += 1
        elif text[a] in "([":
            if depth == 0:
                break
            depth -= 1
    else:
        return None
    if text[a] not in "([":
        return None
    depth, b = 0, i
    while b < len(text):
        if text[b] in "([":
            depth += 1
        elif text[b] in ")]":
            if depth == 0:
                return a, b
            depth -= 1
        b += 1
    return None


_COMPARISON = re.compile(r">=|<=|≥|≤|>|<")
_INDICATOR = re.compile(rf"(?<![{_NAMECH}_])(?:𝟙|1|I|step|H|Heaviside|heaviside|ind|indicator)\s*$")


def _indicators(text: str) -> str:
    """1[z > 0], 𝟙(z ≥ 0), [0 < z] (Iverson brackets) -> STEPq((z)-(0))."""
    while True:
        m = _COMPARISON.search(text)
        if not m:
            return text.replace("𝟙", " 1 ")
        span = _enclosing(text, m.start())
        if span is None:
            raise ParseError(_("a comparison (>, <) is understood only inside an indicator, e.g. 1[z > 0]"),
                             text, m.start())
        a, b = span
        left, right = text[a + 1:m.start()], text[m.end():b]
        if _COMPARISON.search(left) or _COMPARISON.search(right):
            raise ParseError(_("one comparison per indicator, e.g. 1[z > 0]"), text, m.start())
        if not left.strip() or not right.strip():
            raise ParseError(_("a comparison needs two sides, e.g. 1[z > 0]"), text, m.start())
        big, small = (left, right) if m.group() in (">", ">=", "≥") else (right, left)
        prefix = _INDICATOR.search(text[:a])
        start = prefix.start() if prefix else a
        if re.fullmatch(r"\s*0*\.?0*\s*", small):
            inner = big
        elif re.fullmatch(r"\s*0*\.?0*\s*", big):
            inner = f"-({small})"
        else:
            inner = f"({big})-({small})"
        text = f"{text[:start]} STEPq({inner}){text[b + 1:]}"


_SUM = re.compile(r"(?<![A-Za-z0-9_\u0370-\u03ff])(?:sum|Sum|SUM|Σ)\s*_\s*"
                  r"(?:\{([^{}]*)\}|\(([^()]*)\)|([A-Za-z])(?:\s*=\s*(\d+))?)"
                  r"(?:\s*\^\s*(?:\{([^{}]*)\}|\(([^()]*)\)|([A-Za-z0-9]+)))?")


def _term_end(text: str, i: int) -> int:
    """Where the product starting at `i` ends: a top-level + or −, a closing bracket, or the end."""
    depth, prev = 0, ""
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]" or (ch == "," and depth == 0):
            if depth == 0:
                return i
            depth -= 1
        elif ch in "+-" and depth == 0 and prev and (prev.isalnum() or prev in ")]_′") \
                and not re.search(r"\^\s*[A-Za-z]\s*$", text[:i]):  # w^l+1_ij: a layer, not a sum
            return i
        if not ch.isspace():
            prev = ch
        i += 1
    return i


def _sums(text: str, known, table: dict) -> str:
    """Σ_k … -> SUMPqN(…): the sum's body is the rest of the product it starts (textbook)."""
    out, pos = [], 0
    for m in _SUM.finditer(text):
        if m.start() < pos:
            continue
        inner = next((g for g in m.group(1, 2) if g is not None), None)
        if inner is None:
            index, lower = m.group(3), m.group(4)
        else:
            b = re.fullmatch(r"\s*([A-Za-z])\s*(?:=\s*(.+?))?\s*", inner)
            if not b:
                raise ParseError(_("a sum needs a one-letter index, e.g. {example}; got {index}").format(
                    example="Σ_k or Σ_{k=1}^{m}", index=repr(inner)))
            index, lower = b.groups()
        upper = next((g for g in m.group(5, 6, 7) if g is not None), None)
        if inner is None and upper is None and resolve_known(m.group().replace(" ", ""), known):
            continue  # a quantity named sum_k, not a sum
        key = f"SUMPq{len(table)}"
        table[key] = ("sum", index, lower, upper)
        end = _term_end(text, m.end())
        out += [text[pos:m.start()], f" {key}(", _sums(text[m.end():end], known, table), ")"]
        pos = end
    out.append(text[pos:])
    text = "".join(out)
    bare = re.search(r"(?<![A-Za-z0-9_\u0370-\u03ff])(?:sum|Σ)\s*\(", text)
    if bare and not resolve_known("sum", known):
        raise ParseError(_("a sum needs its index: Σ_k(...) or sum_k(...)"), text, bare.start())
    return text


_GRAD = re.compile(r"∂\s*([A-Za-z\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*)\s*/\s*∂\s*")
_DGRAD = re.compile(r"(?<![A-Za-z0-9_\u0370-\u03ff])d\s*(E|L|C|J|E_total|Loss|loss)\s*/\s*d\s*"
                    r"(?=[A-Za-z\u0370-\u03ff])")
_SIMPLE_NAME = re.compile(rf"[A-Za-z\u0370-\u03ff][{_NAMECH}]*(?:_(?:\{{[^{{}}]*\}}|[A-Za-z0-9]+))?")


_ELEMENT = re.compile(r"∂\s*([A-Za-z][A-Za-z0-9_]*)\s*/\s*∂\s*([A-Za-z]+\d*)\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]")


def _element_gradients(text: str, table: dict) -> str:
    """∂E/∂W2[1,2]: the gradient of one element of a weight matrix, as one name."""
    def repl(m):
        key = f"GRADq{len(table)}"
        element = f"{m.group(2)}[{m.group(3)}" + (f",{m.group(4)}]" if m.group(4) else "]")
        table[key] = ("grad", m.group(1), element)
        return f" {key} "
    return _ELEMENT.sub(repl, text)


def _gradients(text: str, known, table: dict) -> str:
    out, pos = [], 0
    text = _DGRAD.sub(lambda m: f"∂{m.group(1)}/∂", text)
    for m in _GRAD.finditer(text):
        if m.start() < pos:
            continue
        if not _START.match(text, m.end()):
            raise ParseError(_("write a derivative as ∂E/∂name"), text, m.start())
        found = _name_at(text, m.end(), known)
        power = None
        if found:
            end, den, power = found  # ∂E/∂o_k² : the power belongs to the derivative, (∂E/∂o_k)²
        else:
            n = _SIMPLE_NAME.match(text, m.end())
            end, den = n.end(), re.sub(r"[{}\s]", "", n.group())
        key = f"GRADq{len(table)}"
        table[key] = ("grad", m.group(1), den)
        out += [text[pos:m.start()], f" {key} " + (f"^({power}) " if power is not None else "")]
        pos = end
    out.append(text[pos:])
    text = "".join(out)
    if "∂" in text:
        raise ParseError(_("write a derivative as ∂E/∂name (or \\frac{\\partial E}{\\partial name})"), text,
                         text.index("∂"))
    return text


def _names(text: str, known, table: dict) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        prev = text[i - 1] if i else " "
        if _START.match(ch) and not re.match(rf"[{_NAMECH}_]", prev):
            m = _BASE.match(text, i)
            if _MARK.match(m.group()):
                out.append(m.group())
                i = m.end()
                continue
            found = _name_at(text, i, known)
            if found:
                end, name, power = found
                key = next((k for k, v in table.items() if v == ("name", name)), None)
                if key is None:
                    key = f"NAMEq{len(table)}"
                    table[key] = ("name", name)
                out.append(f" {key} " + (f"^({power}) " if power else ""))
                i = end
                continue
            out.append(m.group())
            i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _split_equation(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "=" and depth == 0 and not re.search(r"(?:sum|Σ|\\sum)\s*_\s*[A-Za-z]\s*$", text[:i]):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if any(not p.strip() for p in parts):
        raise ParseError(_("an equation needs an expression on each side of '='"), text)
    return parts


# ---------------------------------------------------------------- plain text -> AST

def _expression(text: str, known) -> tuple:
    plain = to_plain(_DGRAD.sub(lambda m: f"∂{m.group(1)}/∂", text), known)
    plain = _normalize(plain)
    plain = _primes(plain)
    plain = forms.function_powers(plain, [k for k in ANSWER_FUNCTIONS if re.fullmatch(r"[A-Za-zσΘ]+", k)
                                          and not resolve_known(k, known)])
    plain = forms.absolute_values(plain)
    plain = forms.matrix_components(plain, known, resolve_known)
    table: dict = {}
    plain = _element_gradients(plain, table)
    plain = forms.expression_derivatives(plain, table, lambda t, i, strict=False: _variable_at(t, i, known, strict))
    plain = _indicators(plain).replace("[", "(").replace("]", ")")
    plain = _sums(plain, known, table)
    plain = _gradients(plain, known, table)
    plain = _names(plain, known, table)
    if len(plain) > 3 * MAX_LENGTH:
        raise ParseError(_("the answer is too long once translated"))
    functions = {k: v for k, v in ANSWER_FUNCTIONS.items()
                 if _MARK.match(k) or not resolve_known(k, known)}
    functions.update({k: (None, 1, k) for k, v in table.items() if v[0] in ("sum", "diff")})
    try:
        ast = forms.balanced(parse(plain, implicit=True, functions=functions))
    except ParseError as e:
        raise ParseError(_unmark_text(e.bare, table), text if len(text) <= 120 else "") from None
    except RecursionError:
        ast = None
    if ast is None or forms.depth(ast) > 4 * MAX_DEPTH:
        raise ParseError(_("the answer nests too deeply once read (at most {most} levels): write a long sum "
                           "with Σ").format(most=4 * MAX_DEPTH))
    return _unmark(ast, table)


def _variable_at(text: str, i: int, known, strict: bool = False):
    """(end, name) of the quantity a derivative ∂(…)/∂x is taken with respect to, else None."""
    if not _START.match(text, i):
        return None
    found = _name_at(text, i, known)
    if found and found[2] is None:
        return found[0], found[1]
    n = _SIMPLE_NAME.match(text, i)
    name = re.sub(r"[{}\s]", "", n.group()) if n else ""
    if not n or (strict and not resolve_known(name, known)):
        return None
    return n.end(), name


def _unmark_text(message: str, table: dict) -> str:
    def show(m):
        v = table.get(m.group())
        if v is None:
            if m.group() == "STEPq":
                return "step"
            f = FUNCTION_TABLE.get(m.group()[len("PRIMEq"):])
            return f.prime_plain if f is not None else "f′"
        return {"sum": lambda: f"Σ_{v[1]} ", "grad": lambda: f"∂{v[1]}/∂{v[2]}", "diff": lambda: f"∂/∂{v[1]} ",
                "name": lambda: v[1]}[v[0]]()
    return re.sub(r"(?:SUMPq|NAMEq|GRADq|DIFFq)\d+|PRIMEq\w+|STEPq", show, message)


def read_answer(text: str, known=frozenset()) -> Reading:
    """An answer in plain math or LaTeX, as its right sides and (for an equation) its left side.

    `known` holds the problem's quantity names (anything with `in`): it decides that w^l+1_ij is one
    name and h_j^2 a power. Raises ParseError with a clear message for anything it cannot read,
    including oversized or too deeply nested input, before any real work.
    """
    _check_size(text)
    if not text.strip():
        raise ParseError(_("empty answer: expected an expression"))
    parts = _split_equation(text)
    asts = [_expression(p, known) for p in parts]
    lhs = None
    if len(asts) > 1 and _is_designation(asts[0]):
        lhs, asts = asts[0], asts[1:]
    return Reading(tuple(asts), lhs)


def _is_designation(ast) -> bool:
    return ast[0] == "grad" or (ast[0] == "name" and re.match(r"(δ|delta|Δ)", ast[1]) is not None)


def parse_answer(text: str, known=frozenset()):
    """One expression (no equation) as the tuple AST."""
    r = read_answer(text, known)
    if r.lhs is not None or len(r.parts) != 1:
        raise ParseError(_("expected one expression, not an equation"), text)
    return r.parts[0]


# ---------------------------------------------------------------- placeholders -> AST nodes

def _unmark(ast, table):
    kind = ast[0]
    if kind == "name":
        entry = table.get(ast[1])
        if entry is None:
            return ast
        if entry[0] == "grad":
            return ("grad", entry[1], entry[2])
        return ("name", entry[1])
    if kind == "num":
        return ast
    if kind == "call":
        args = tuple(_unmark(a, table) for a in ast[2])
        entry = table.get(ast[1])
        if entry is not None and entry[0] == "sum":
            return ("sum", entry[1], args[0], _bound(entry[2]), _bound(entry[3]))
        if entry is not None and entry[0] == "diff":
            return ("diff", args[0], entry[1])
        return ("call", ast[1], args)
    if kind == "neg":
        return ("neg", _unmark(ast[1], table))
    return (kind, _unmark(ast[1], table), _unmark(ast[2], table))


def _bound(text):
    return None if text is None else _strip_parens(text)
