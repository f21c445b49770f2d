"""Auto-staging: one expression split into gates with one primitive operation each.

Gates come in the order a person computes them and are named the way the cs231n notes name
them (sigy, num, sigx, xpy, xpysqr, den, invden, f); where operands have no short names, a
gate is named by a word for its operation (sum, prod, neg, exp), subscripted when repeated
(sum_1, sum_2); see `stage`.
"""
from __future__ import annotations

import re

from .ops import FUNCTION_TABLE
from .parse import names as ast_names
from .parse import to_sympy

_PLAIN = re.compile(r"[A-Za-z]+[0-9]*")
_SUBSCRIPTED = re.compile(r"([A-Za-z]+)_?([0-9]+)")  # w_0, x0: a letter name and its subscript
# a one-operand gate whose operand has a plain name is named by prefixing it: sigy, expx, negy
_UNARY_NAME = {"neg": "neg", "inv": "inv", **{f.name: f.short for f in FUNCTION_TABLE.values() if f.arity == 1}}
_BINARY_JOIN = {"add": "p", "sub": "m", "mul": ""}
# a gate whose operands have no short names gets a word for its operation, numbered with a
# subscript when the expression has several of them (sum_1, sum_2), as a person would write
_WORD = {"add": "sum", "sub": "diff", "mul": "prod", "div": "quot", "pow": "pow", "neg": "neg", "inv": "inv",
         **{f.name: f.word for f in FUNCTION_TABLE.values()}}
MAX_NAME = 8  # letters of a composed name (xpysqr, invden)


def stage(ast, out_name: str, reserved=()) -> list[tuple[str, object]]:
    """Split one expression into primitive gates, post-order, left to right.

    A division a/b with compound a and b becomes num, den, invden = 1/den and num * invden,
    as in the cs231n staged example. Gate names are short compositions of their operands'
    names where these are plain (sigy, xpy, xpysqr, invden), otherwise op letters with a count.
    """
    used = set(reserved) | set(ast_names(ast)) | {out_name}
    gates: list[tuple[str, object]] = []
    words: dict[str, list[int]] = {}  # word -> the indices in `gates` of the gates it names

    def fresh(preferred: str | None, op: str) -> str | None:
        """The preferred composed name if it is free and short, else None (a word is used)."""
        if preferred and preferred not in used and len(preferred) <= MAX_NAME:
            used.add(preferred)
            return preferred
        return None

    def operand_name(operand):
        return operand[1] if operand[0] == "name" and _PLAIN.fullmatch(operand[1]) else None

    def product_name(operands):
        """w_0 * x_0 -> wx_0 (one shared subscript), x * y -> xy."""
        if len(operands) != 2 or any(o[0] != "name" for o in operands):
            return None
        ms = [_SUBSCRIPTED.fullmatch(o[1]) for o in operands]
        if all(ms) and ms[0].group(2) == ms[1].group(2):
            return ms[0].group(1) + ms[1].group(1) + "_" + ms[0].group(2)
        parts = [operand_name(o) for o in operands]
        return parts[0] + parts[1] if all(parts) else None

    def emit(op: str, gate_ast, operands, hint: str | None) -> tuple:
        if hint:
            name = hint if hint == out_name else (fresh(hint, op) or None)
        else:
            parts = [operand_name(o) for o in operands if o[0] != "num"]
            preferred = None
            if op == "mul":
                preferred = product_name([o for o in operands if o[0] != "num"])
            elif all(parts) and parts:
                if op in _UNARY_NAME and len(parts) == 1:
                    preferred = _UNARY_NAME[op] + parts[0]
                elif op == "pow" and operands[1][0] == "num":
                    preferred = parts[0] + {"2": "sqr", "3": "cube"}.get(operands[1][1], "pow")
                elif op in _BINARY_JOIN and len(parts) == 2 and all(o[0] == "name" for o in operands):
                    preferred = parts[0] + _BINARY_JOIN[op] + parts[1]
            name = fresh(preferred, op)
        if name is None:  # numbered later, once we know how many gates share the word
            word = hint or _WORD.get(op, "g")
            words.setdefault(word, []).append(len(gates))
            name = f"#{word}#{len(words[word])}"
        gates.append((name, gate_ast))
        return ("name", name)

    names_of: dict[int, bool] = {}

    def constant(node) -> bool:
        key = id(node)
        if key not in names_of:
            names_of[key] = not ast_names(node)
        return names_of[key]

    def gate(node, hint=None):
        kind = node[0]
        if kind in ("num", "name") or constant(node):
            if kind in ("num", "name"):
                return node
            value = to_sympy(node)  # a rational constant is folded; exp(2) stays as written
            return ("num", str(value)) if value.is_Rational else node
        if kind == "call":
            args = tuple(gate(a) for a in node[2])
            return emit(node[1], ("call", node[1], args), args, hint)
        if kind == "neg":
            a = gate(node[1])
            return emit("neg", ("neg", a), (a,), hint)
        if kind == "div":
            num_ast, den_ast = node[1], node[2]
            if constant(num_ast):
                den = gate(den_ast, None if den_ast[0] == "name" else "den")
                if num_ast == ("num", "1"):
                    return emit("inv", ("div", ("num", "1"), den), (den,), hint)
                inv = emit("inv", ("div", ("num", "1"), den), (den,), None)
                return emit("mul", ("mul", gate(num_ast), inv), (inv,), hint)
            num = gate(num_ast, "num")
            den = gate(den_ast, "den")
            if constant(den_ast):
                return emit("div", ("div", num, den), (num,), hint)
            inv = emit("inv", ("div", ("num", "1"), den), (den,), None)
            return emit("mul", ("mul", num, inv), (num, inv), hint)
        if kind not in ("add", "sub", "mul"):
            a, b = gate(node[1]), gate(node[2])
            return emit(kind, (kind, a, b), (a, b), hint)
        # a chain a + b − c · d ...: walked in a loop (a sum of a thousand terms is a thousand-deep
        # tree), gated in the same post-order as the recursion would
        links = []
        while node[0] in ("add", "sub", "mul") and not constant(node):
            links.append((node[0], node[2]))
            node = node[1]
        cur = gate(node)
        for i, (op, right) in enumerate(reversed(links)):
            b = gate(right)
            cur = emit(op, (op, cur, b), (cur, b), hint if i == len(links) - 1 else None)
        return cur

    top = gate(ast, out_name)
    if not gates or gates[-1][0] != out_name:  # the expression is a bare name or number
        gates.append((out_name, top))
    return _number_words(gates, words, used)


def _number_words(gates, words: dict, used: set):
    """Placeholders #word#k -> word (used once) or word_k (used several times), avoiding taken names."""
    final = {}
    for word, indices in words.items():
        if len(indices) == 1 and word not in used:
            final[f"#{word}#1"] = word
            used.add(word)
            continue
        k = 0
        for i in range(1, len(indices) + 1):
            k += 1
            while f"{word}_{k}" in used:
                k += 1
            final[f"#{word}#{i}"] = f"{word}_{k}"
            used.add(f"{word}_{k}")

    def rename(node):
        if isinstance(node, tuple):
            if node and node[0] == "name" and len(node) == 2:
                return ("name", final.get(node[1], node[1]))
            return tuple(rename(x) for x in node)
        return node
    return [(final.get(name, name), rename(gate_ast)) for name, gate_ast in gates]
