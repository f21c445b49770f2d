"""The one reverse mode: a Graph at a point -> a Derivation of plain step records.

For every node, in reverse topological order: each consumer's contribution (the consumer's
upstream gradient × the local derivative of the consumer with respect to this node), then
their sum. Scalar graphs, networks and matrix layers all come through `reverse`; they differ
only in how a local derivative is written (`local`) and which leaves are wanted.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from . import numeric
from .graph import ancestors
from .ops import relu
from .steps import Chain, Contribution, Derivation, Factor, Gradient, LocalGradient, partial

CLOSED_FORM_LIMIT = 60  # nodes; above this `Gradient.closed` is left out (it grows fast)


def local_derivative(node, parent: str) -> sp.Expr:
    """∂node/∂parent in the graph's names (σ(u) -> the gate's own name, and so on)."""
    d = sp.diff(node.expr, sp.Symbol(parent, real=True))
    # Where the derivative uses the gate's own expression (σ, tanh, exp), name it instead.
    return d.xreplace({node.expr: node.symbol})


def _is_mp(values: dict) -> bool:
    return any(isinstance(v, mpmath.mpf) for v in values.values())


def kinks_at(graph, values: dict) -> tuple[str, ...]:
    """Nodes whose function is not differentiable at the given point (relu/abs at 0, max ties).

    With high-precision values a kink is an argument within the proof's resolution of the
    kink; with floats, an argument that is exactly at it.
    """
    mp = _is_mp(values)
    lib = numeric.MP if mp else numeric.NP
    tiny = mpmath.mpf(10) ** (-(numeric.PRECISION - 10)) if mp else 0.0
    env = {graph.node(n).symbol: v for n, v in values.items()}
    found = []
    for node in graph.steps:
        for f in node.expr.atoms(relu, sp.Abs, sp.Max, sp.Min):
            args = [numeric.evaluate(a, env, lib) for a in f.args]
            if len(args) == 1:
                kink = abs(args[0]) <= tiny
            else:
                best = max(args) if f.func is not sp.Min else min(args)
                kink = sum(1 for a in args if abs(a - best) <= tiny) > 1
            if kink:
                found.append(node.name)
                break
    return tuple(found)


def reverse(graph, values: dict, local=local_derivative, wanted=None,
            closed_limit: int = CLOSED_FORM_LIMIT) -> Derivation:
    """Every gradient ∂output/∂node at the point `values` (node -> number), output first.

    `values` are mpmath numbers (the proof's precision: gradients are accumulated at it) or
    floats (big networks). `local(node, parent)` writes a local derivative in the problem's
    names. `wanted` limits the sweep to the nodes between those leaves and the output (data and
    targets get no gradient); None means every node the output depends on.
    """
    if _is_mp(values):
        with mpmath.workdps(numeric.PRECISION):
            return _reverse(graph, values, local, wanted, closed_limit)
    return _reverse(graph, values, local, wanted, closed_limit)


def _reverse(graph, values, local, wanted, closed_limit) -> Derivation:
    out = graph.output
    need = ancestors(graph, out)
    if wanted is not None:
        dep = set(wanted)
        for node in graph.steps:
            if any(p in dep for p in node.parents):
                dep.add(node.name)
        need &= dep
    lib = numeric.MP if _is_mp(values) else numeric.NP
    env = {graph.node(k).symbol: v for k, v in values.items()}
    small = len(graph.nodes) <= closed_limit
    steps: dict[str, Gradient] = {}
    raw: dict = {}  # node -> its gradient at the values' own precision
    for node in reversed(graph.nodes):
        name = node.name
        if name not in need:
            continue
        sym = partial(out, name)
        if name == out:
            steps[name] = Gradient(name, sym, (), sp.Integer(1), sp.Integer(1) if small else None, 1.0)
            raw[name] = lib.const(sp.Integer(1))
            continue
        contributions = []
        total = None
        for consumer in graph.consumers(name):
            if consumer not in need:
                continue
            local_expr = local(graph.node(consumer), name)
            local_val = numeric.value_of(local_expr, env, lib)
            up = steps[consumer]
            value = raw[consumer] * local_val
            total = value if total is None else total + value
            contributions.append(Contribution(
                name, consumer, up.symbol, up.value,
                LocalGradient(consumer, name, local_expr, float(local_val)),
                sp.Mul(up.symbol, local_expr), float(value)))
        raw[name] = total
        expr = sp.Add(*(c.expr for c in contributions))
        closed = None
        if small:
            closed = sp.Add(*(c.local.expr * steps[c.via].closed for c in contributions))
        steps[name] = Gradient(name, sym, tuple(contributions), expr, closed, float(total))
    ordered = tuple(steps[n.name] for n in reversed(graph.nodes) if n.name in steps)
    floats = {k: float(v) for k, v in values.items()}
    return Derivation(graph, floats, ordered, kinks_at(graph, values))


def backward(graph, inputs: dict) -> Derivation:
    """Forward values at `inputs` (name -> number), then every gradient, output first.

    Computed at the proof's precision, so a kink (0.3 − 0.1 − 0.2 under a relu) is exactly 0
    here as it is in `check`, not 15-digit round-off.
    """
    return reverse(graph, numeric.forward_values(graph, inputs, small=len(graph.nodes)))


def chain(derivation: Derivation, wrt: str) -> Chain:
    """∂output/∂wrt as a product of factors along the single path from `wrt`.

    The path climbs while a node has exactly one consumer; where it reaches a node used
    several times (or the output), that node's whole gradient is the outermost factor.
    """
    graph = derivation.graph
    out = graph.output
    factors: list[Factor] = []
    cur = wrt
    while cur != out and len(graph.consumers(cur)) == 1:
        consumer = graph.consumers(cur)[0]
        c = derivation.gradient(cur).contributions[0]
        factors.insert(0, Factor(consumer, cur, c.local.expr, c.local.value))
        cur = consumer
    if cur != out:
        g = derivation.gradient(cur)
        factors.insert(0, Factor(out, cur, g.expr, g.value))
    expr = sp.Mul(*(f.expr for f in factors)) if factors else sp.Integer(1)
    return Chain(out, wrt, tuple(factors), expr, derivation.gradient(wrt).value)
