"""Textbook forms of a plain-text answer that the parser's grammar does not know, rewritten to forms it does.

Each pass takes the plain text (after `latex_reading.to_plain` and unicode normalizing) and returns
plain text; nothing is evaluated and every reading is still checked at random points:
  * powers of functions: tanh²(x), sech^2(u) -> (tanh(x))^(2) (the power of the value, as in \\tanh^2);
  * absolute value bars |x| -> abs(x);
  * a component of a matrix product: ((w^{l+1})^T δ^{l+1})_j, [Wᵀδ]_j -> Σ_k(w^(l+1)_kj δ^(l+1)_k);
  * partial derivatives of expressions ∂(xy)/∂x, ∂x^2/∂x -> DIFFqN((xy)) with the variable in a table.
`balanced` rebuilds a long chain of + − or · / (a 1,000-term sum) as a balanced tree, so that the
recursive walks over an answer stay shallow; `depth` measures an AST without recursion.
"""
from __future__ import annotations

import re

from ...errors import ParseError
from ...i18n import _

_NAMECH = r"A-Za-z0-9\u0370-\u03ff"


def _close(text: str, i: int) -> int | None:
    """The index of the bracket closing the one at text[i], else None."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] in "([":
            depth += 1
        elif text[j] in ")]":
            depth -= 1
            if depth == 0:
                return j
    return None


# ---------------------------------------------------------------- tanh²(x)

def function_powers(text: str, heads) -> str:
    """f^(2)(u), f^2(u) and f^(-2)(u) for a function head -> (f(u))^(2): the power of the function's value
    (as \\tanh^{-1} reads in LaTeX: a power, never the inverse function)."""
    if not heads:
        return text
    alt = "|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True))
    pattern = re.compile(rf"(?<![{_NAMECH}_])({alt})\s*\^\s*(\(\s*[-−]?\s*\d+\s*\)|[-−]?\d+)\s*(?=\()")
    while True:
        m = pattern.search(text)
        if not m:
            return text
        end = _close(text, m.end())
        if end is None:
            return text
        power = re.sub(r"[\s−]", lambda c: "-" if c.group() == "−" else "", m.group(2).strip("() "))
        text = f"{text[:m.start()]}({m.group(1)}{text[m.end():end + 1]})^({power}){text[end + 1:]}"


# ---------------------------------------------------------------- |x|

def absolute_values(text: str) -> str:
    """|x| -> abs(x): a bar closes an open one when it follows an operand, else it opens one."""
    if "|" not in text:
        return text
    out, open_bars, operand = [], 0, False
    for ch in text:
        if ch == "|":
            if open_bars and operand:
                out.append(")")
                open_bars -= 1
                operand = True
            else:
                out.append(" abs(")
                open_bars += 1
                operand = False
            continue
        out.append(ch)
        if not ch.isspace():
            operand = bool(re.match(rf"[{_NAMECH})\]′_.]", ch))
    if open_bars:
        raise ParseError(_("an absolute value |…| is not closed"), text)
    return "".join(out)


# ---------------------------------------------------------------- ((w^{l+1})^T δ^{l+1})_j

_MAT = r"(?P<m>[Ww])\s*(?:\^\s*\(\s*(?P<msup>(?!T\s*\))[^()]*?)\s*\))?"
_VEC = r"(?P<v>δ|delta|Δ)\s*(?:\^\s*\(\s*(?P<vsup>[^()]*?)\s*\))?"
_MAT2 = _MAT.replace("?P<m>", "?P<m2>").replace("?P<msup>", "?P<msup2>")
_COMPONENT = re.compile(rf"[(\[]\s*(?:\(\s*{_MAT}\s*\)|{_MAT2})"
                        rf"\s*\^\s*(?:\(\s*T\s*\)|T)\s*\*?\s*{_VEC}\s*[)\]]\s*_\s*\{{?\s*(?P<c>[A-Za-z0-9])\s*\}}?")


def matrix_components(text: str, known, resolve) -> str:
    """The j-th component of Wᵀδ as the sum it stands for, in names the problem has (the layer of a
    bare W and δ is the next one: w^{l+1}, δ^{l+1} in Nielsen's names, w_kj and δ_k in Mitchell's)."""
    while True:
        m = _COMPONENT.search(text)
        if not m:
            return text
        c = m.group("c")
        msup = m.group("msup") if m.group("msup") is not None else m.group("msup2")
        vsup = m.group("vsup")
        used = set(re.findall(r"_\s*\{?([A-Za-z]+)", text))
        letters = [s for s in "kimpqsu" if s != c and not any(s in u for u in used)] or ["k"]
        found = None
        for s in letters:
            for ms in ([msup] if msup else ["", "l+1"]):
                vs = vsup if vsup else ms
                w = f"w^{_squash(ms)}_{s}{c}" if ms else f"w_{s}{c}"
                d = f"delta^{_squash(vs)}_{s}" if vs else f"delta_{s}"
                if resolve(w, known) and (resolve(d, known) or resolve(d.replace("_", "_n", 1), known)):
                    found = (w, d, s)
                    break
            if found:
                break
        if found is None:
            raise ParseError(_("cannot tell which weights and deltas {component} means; write the sum out, "
                               "e.g. {example}").format(component=m.group().strip(), example="Σ_k w_kj δ_k"), text)
        w, d, s = found
        text = f"{text[:m.start()]} Σ_{s}({w} {d}){text[m.end():]}"


def _squash(sup: str) -> str:
    return re.sub(r"\s", "", sup).replace("−", "-").strip("()")


# ---------------------------------------------------------------- ∂(xy)/∂x

_SIMPLE_GRAD = re.compile(r"∂\s*[A-Za-z\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*\s*/\s*∂")


def expression_derivatives(text: str, table: dict, name_end) -> str:
    """∂(expr)/∂x and ∂x^2/∂x (a derivative of an expression, not of a quantity) -> DIFFqN((expr)):
    a call of a placeholder whose table entry holds the variable. `name_end(text, i)` gives (end,
    name) of the variable's name at i, or None (with True: only a name the problem has)."""
    text = _operators(text, name_end)
    i = 0
    while True:
        i = text.find("∂", i)
        if i < 0:
            return text
        if _SIMPLE_GRAD.match(text, i):
            i += 1
            continue
        j = i + 1
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "(":
            end = _close(text, j)
            if end is None:
                return text
            num, after = text[j:end + 1], end + 1
        else:
            depth, k = 0, j
            while k < len(text) and not (depth == 0 and text[k] in "/+-,"):
                depth += (text[k] in "([") - (text[k] in ")]")
                if depth < 0:
                    break
                k += 1
            num, after = text[j:k], k
        slash = re.compile(r"\s*/\s*∂\s*").match(text, after)
        if not num.strip() or not slash:
            i += 1
            continue
        found = name_end(text, slash.end())
        if found is None:
            i += 1
            continue
        end, name = found
        inner = num.strip()
        while inner.startswith("(") and _close(inner, 0) == len(inner) - 1:
            inner = inner[1:-1].strip()
        whole = name_end(inner, 0, True) if inner else None
        if whole is not None and whole[0] == len(inner):  # ∂a^l_j/∂z^l_j: a quantity's derivative
            key = f"GRADq{len(table)}"
            table[key] = ("grad", whole[1], name)
            text = f"{text[:i]} {key} {text[end:]}"
            continue
        key = f"DIFFq{len(table)}"
        table[key] = ("diff", name)
        text = f"{text[:i]} {key}(({num})){text[end:]}"


def _operators(text: str, name_end) -> str:
    """The operator form ∂/∂x (expr) (\\frac{\\partial}{\\partial x}(…)) -> ∂(expr)/∂x."""
    i = 0
    while (m := re.compile(r"∂\s*/\s*∂\s*").search(text, i)) is not None:
        found = name_end(text, m.end())
        j = found[0] if found else len(text)
        while j < len(text) and text[j] == " ":
            j += 1
        end = _close(text, j) if j < len(text) and text[j] == "(" else None
        if found is None or end is None:
            i = m.end()
            continue
        text = f"{text[:m.start()]}∂{text[j:end + 1]}/∂{found[1]}{text[end + 1:]}"
        i = m.start() + 1
    return text


# ---------------------------------------------------------------- long chains

_CHAINS = {"add": ("add", "sub"), "sub": ("add", "sub"), "mul": ("mul", "div"), "div": ("mul", "div")}
LONG = 24  # a chain of more operands than this is rebuilt balanced


def _chain(ast) -> list:
    """The operands of a left-deep chain of + − (or · /) as [(inverted, operand)], in order."""
    kinds = _CHAINS[ast[0]]
    out = []
    while isinstance(ast, tuple) and ast[0] in kinds:
        out.append((ast[0] in ("sub", "div"), ast[2]))
        ast = ast[1]
    out.append((False, ast))
    out.reverse()
    return out


def _tree(kind: str, items: list):
    while len(items) > 1:
        items = [(kind, items[i], items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def balanced(ast):
    """The AST with every long chain of + − or · / rebuilt as a balanced tree (same value), without
    recursion on the chain's length."""
    stack, done = [(ast, False)], {}
    while stack:
        node, seen = stack.pop()
        if not isinstance(node, tuple) or node[0] in ("num", "name", "grad"):
            done[id(node)] = node
            continue
        kids = _children(node)
        if not seen:
            stack.append((node, True))
            stack += [(k, False) for k in kids if id(k) not in done]
            continue
        done[id(node)] = _rebuild(node, done)
    return done[id(ast)]


def _children(node) -> list:
    if node[0] in _CHAINS:
        return [x for _inv, x in _chain(node)]
    if node[0] == "call":
        return list(node[2])
    return [x for x in node[1:] if isinstance(x, tuple)]


def _rebuild(node, done):
    kind = node[0]
    if kind in _CHAINS:
        chain = [(inv, done[id(x)]) for inv, x in _chain(node)]
        if len(chain) <= LONG:
            out = chain[0][1]
            for inv, x in chain[1:]:
                out = ({"add": "sub", "mul": "div"}[_CHAINS[kind][0]] if inv else _CHAINS[kind][0], out, x)
            return out
        base = _CHAINS[kind][0]
        if base == "add":
            return _tree("add", [("neg", x) if inv else x for inv, x in chain])
        top = _tree("mul", [x for inv, x in chain if not inv])
        bottom = [x for inv, x in chain if inv]
        return ("div", top, _tree("mul", bottom)) if bottom else top
    if kind == "call":
        return ("call", node[1], tuple(done[id(a)] for a in node[2]))
    return (kind, *(done[id(x)] if isinstance(x, tuple) else x for x in node[1:]))


def depth(ast) -> int:
    """How deeply an AST nests, measured without recursion."""
    most, stack = 0, [(ast, 1)]
    while stack:
        node, d = stack.pop()
        most = max(most, d)
        if isinstance(node, tuple) and node[0] not in ("num", "name", "grad"):
            stack += [(k, d + 1) for k in _children(node)]
    return most
