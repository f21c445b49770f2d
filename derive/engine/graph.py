"""Computational graphs: named nodes, each a SymPy expression of its parents' symbols.

`build_graph` takes named steps (name, AST) as a user wrote them (after `stage.stage` when one
expression is split into gates) and checks them: no duplicates, no cycles, every step leads to
the output. `ancestors` is the set of nodes a node depends on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import DeriveError
from .parse import names as ast_names
from .parse import symbol, to_sympy


class Node:
    """One node: an input (leaf) or a step whose expression uses its parents' symbols.

    A step may be given as `terms` instead of an expression: a sum of products of parent names,
    ((w, a), (w2, a2), (b,)) = w·a + w2·a2 + b (an affine unit). Its expression is then built only
    when asked for, and numbers and local derivatives come straight from the terms (an MNIST layer
    has 50,000 of them; SymPy is never asked to build or differentiate that sum).
    """
    __slots__ = ("_by_parent", "_expr", "name", "op", "parents", "terms")

    def __init__(self, name: str, expr: sp.Expr | None = None, parents: tuple[str, ...] = (),
                 op: str = "input", terms: tuple[tuple[str, ...], ...] | None = None):
        self.name = name
        self._expr = expr
        self.parents = parents
        self.op = op  # input, add, sub, mul, div, neg, inv, pow, exp, log, sigmoid, tanh, relu, abs, max, expr
        self.terms = terms
        self._by_parent = None

    def __repr__(self) -> str:
        return f"Node({self.name!r}, op={self.op!r})"

    @property
    def expr(self) -> sp.Expr | None:
        """The node's SymPy expression (None for an input); built from `terms` on first use."""
        if self._expr is None and self.terms is not None:
            self._expr = sp.Add(*[sp.Mul(*[symbol(f) for f in t]) for t in self.terms])
        return self._expr

    @property
    def symbol(self) -> sp.Symbol:
        return symbol(self.name)

    @property
    def is_input(self) -> bool:
        return self._expr is None and self.terms is None

    def term_index(self, factor: str) -> list[int]:
        """Positions in `terms` of the terms that hold `factor` (terms nodes only; indexed once)."""
        if self._by_parent is None:
            index: dict[str, list[int]] = {}
            for i, t in enumerate(self.terms):
                for f in set(t):
                    index.setdefault(f, []).append(i)
            self._by_parent = index
        return self._by_parent.get(factor, [])

    def terms_with(self, parent: str) -> list[tuple[str, ...]]:
        """d(terms)/d(parent) as products: the other factors, once per occurrence of `parent`."""
        out = []
        for i in self.term_index(parent):
            t = self.terms[i]
            out += [t[:k] + t[k + 1:] for k, f in enumerate(t) if f == parent]
        return out


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


def ancestors(graph: Graph, out: str) -> set[str]:
    """`out` and every node it depends on."""
    seen, stack = {out}, [out]
    while stack:
        for p in graph.node(stack.pop()).parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen
