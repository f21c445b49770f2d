"""Computational graphs: named nodes, each a SymPy expression of its parents' symbols.

`build_graph` takes named steps (name, AST) as a user wrote them; `stage` splits one expression
into gates with one primitive operation each, in the order a person computes them, named the
way the cs231n notes name them (sigy, num, sigx, xpy, xpysqr, den, invden, f).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from .errors import DeriveError
from .parse import names as ast_names
from .parse import symbol, to_sympy


@dataclass(frozen=True)
class Node:
    name: str
    expr: sp.Expr | None = None  # None for an input (leaf)
    parents: tuple[str, ...] = ()
    op: str = "input"  # input, add, sub, mul, div, neg, inv, pow, exp, log, sigmoid, tanh, relu, abs, max, expr

    @property
    def symbol(self) -> sp.Symbol:
        return symbol(self.name)

    @property
    def is_input(self) -> bool:
        return self.expr is None


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]  # topological order: inputs first, then steps
    output: str
    _index: dict = field(default=None, compare=False, repr=False)
    _consumers: dict = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_index", {n.name: n for n in self.nodes})
        consumers: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for p in n.parents:
                consumers[p].append(n.name)
        object.__setattr__(self, "_consumers", {k: tuple(v) for k, v in consumers.items()})

    def node(self, name: str) -> Node:
        return self._index[name]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.is_input)

    @property
    def steps(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if not n.is_input)

    def consumers(self, name: str) -> tuple[str, ...]:
        """Nodes that use `name`, in topological order."""
        return self._consumers[name]

    def depth(self) -> dict[str, int]:
        """Longest distance from an input, for left-to-right layouts."""
        depth: dict[str, int] = {}
        for n in self.nodes:
            depth[n.name] = 1 + max((depth[p] for p in n.parents), default=-1)
        return depth


# ---------------------------------------------------------------- building from user steps

def _op_of(ast) -> str:
    kind = ast[0]
    if kind == "call":
        return ast[1]
    if kind == "div" and ast[1] == ("num", "1"):
        return "inv"
    return {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "neg": "neg", "pow": "pow"}.get(kind, "expr")


def _is_primitive(ast) -> bool:
    """One operation whose operands are names or numbers."""
    children = ast[2] if ast[0] == "call" else ast[1:]
    return ast[0] not in ("num", "name") and all(c[0] in ("num", "name") for c in children)


def build_graph(steps: list[tuple[str, object]], output: str | None = None,
                input_order=None) -> Graph:
    """A Graph from (name, AST) steps; names that no step defines become inputs.

    Raises DeriveError on duplicate steps, cycles or an unknown output; the caller
    adds the file and key to the message.
    """
    defined: dict[str, object] = {}
    for name, ast in steps:
        if name in defined:
            raise DeriveError(f"step {name!r} is defined twice")
        defined[name] = ast
    if not defined:
        raise DeriveError("the graph has no steps")
    output = output or steps[-1][0]
    if output not in defined:
        raise DeriveError(f"output {output!r} is not one of the steps ({', '.join(defined)})")

    inputs: list[str] = [n for n in (input_order or ()) if n not in defined]
    for _, ast in steps:
        for n in ast_names(ast):
            if n not in defined and n not in inputs:
                inputs.append(n)
    order = _stable_order([name for name, _ in steps], defined)
    used, stack = {output}, [output]
    while stack:
        for p in ast_names(defined[stack.pop()]):
            if p in defined and p not in used:
                used.add(p)
                stack.append(p)
    unused = [n for n in order if n not in used]
    if unused:
        raise DeriveError(f"step {unused[0]!r} does not lead to the output {output!r}; "
                          f"remove it or set output = \"{unused[0]}\"")

    nodes = [Node(n) for n in inputs]
    for n in order:
        ast = defined[n]
        op = _op_of(ast) if _is_primitive(ast) else "expr"
        nodes.append(Node(n, to_sympy(ast, keep_order=op != "expr"), tuple(ast_names(ast)), op))
    return Graph(tuple(nodes), output)


def _stable_order(names: list[str], defined: dict) -> list[str]:
    """Depth-first topological order that keeps the user's order where it is already valid.

    Iterative, so deep graphs do not hit the recursion limit; a back edge is a cycle.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = placed
    for root in names:
        if state.get(root) == 2:
            continue
        stack = [(root, iter([p for p in ast_names(defined[root]) if p in defined]))]
        state[root] = 1
        while stack:
            name, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif state.get(dep) == 1:
                path = [n for n, _ in stack]
                cycle = path[path.index(dep):] + [dep]
                raise DeriveError(f"the steps form a cycle: {' -> '.join(cycle)}")
            elif state.get(dep) is None:
                state[dep] = 1
                stack.append((dep, iter([p for p in ast_names(defined[dep]) if p in defined])))
    return order


# ---------------------------------------------------------------- auto-staging

_PLAIN = re.compile(r"[A-Za-z]+[0-9]*")
_UNARY_NAME = {"sigmoid": "sig", "exp": "exp", "log": "log", "tanh": "tanh", "relu": "relu", "abs": "abs", "neg": "neg", "inv": "inv"}
_BINARY_JOIN = {"add": "p", "sub": "m", "mul": ""}
_GENERIC = {"add": "s", "sub": "d", "mul": "m", "div": "q", "pow": "w", "max": "mx", "neg": "n", "inv": "r",
            "sigmoid": "sg", "exp": "e", "log": "lg", "tanh": "th", "relu": "rl", "abs": "ab"}


def stage(ast, out_name: str, reserved=()) -> list[tuple[str, object]]:
    """Split one expression into primitive gates, post-order, left to right.

    A division a/b with compound a and b becomes num, den, invden = 1/den and num * invden,
    as in the cs231n staged example. Gate names are short compositions of their operands'
    names where these are plain (sigy, xpy, xpysqr, invden), otherwise op letters with a count.
    """
    used = set(reserved) | set(ast_names(ast)) | {out_name}
    gates: list[tuple[str, object]] = []
    counters: dict[str, int] = {}

    def fresh(preferred: str | None, op: str) -> str:
        if preferred and preferred not in used and len(preferred) <= 8:
            used.add(preferred)
            return preferred
        base = preferred if preferred and len(preferred) <= 8 else _GENERIC.get(op, "g")
        while True:
            counters[base] = counters.get(base, 0) + 1
            candidate = f"{base}{counters[base]}"
            if candidate not in used:
                used.add(candidate)
                return candidate

    def operand_name(operand):
        return operand[1] if operand[0] == "name" and _PLAIN.fullmatch(operand[1]) else None

    def emit(op: str, gate_ast, operands, hint: str | None) -> tuple:
        if hint:
            name = hint if hint == out_name else fresh(hint, op)
        else:
            parts = [operand_name(o) for o in operands if o[0] != "num"]
            preferred = None
            if all(parts) and parts:
                if op in _UNARY_NAME and len(parts) == 1:
                    preferred = _UNARY_NAME[op] + parts[0]
                elif op == "pow" and operands[1][0] == "num":
                    preferred = parts[0] + {"2": "sqr", "3": "cube"}.get(operands[1][1], "pow")
                elif op in _BINARY_JOIN and len(parts) == 2 and all(o[0] == "name" for o in operands):
                    preferred = parts[0] + _BINARY_JOIN[op] + parts[1]
            name = fresh(preferred, op)
        gates.append((name, gate_ast))
        return ("name", name)

    def constant(node) -> bool:
        return not ast_names(node)

    def gate(node, hint=None):
        kind = node[0]
        if kind in ("num", "name") or constant(node):
            return node if kind in ("num", "name") else ("num", str(to_sympy(node)))
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
        a, b = gate(node[1]), gate(node[2])
        return emit(kind, (kind, a, b), (a, b), hint)

    top = gate(ast, out_name)
    if not gates or gates[-1][0] != out_name:  # the expression is a bare name or number
        gates.append((out_name, top))
    return gates
