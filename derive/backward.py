"""Reverse mode over a Graph, producing a Derivation of plain step records.

For every node, in reverse topological order: each consumer's contribution (the consumer's
upstream gradient × the local derivative of the consumer with respect to this node), then
their sum. Local derivatives come from SymPy `diff` and are rewritten in the graph's own names:
the gate's own expression is replaced by its name, so σ' reads s(1 − s) and exp' reads e.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from . import numeric
from .ops import relu
from .steps import Chain, Contribution, Derivation, Factor, Gradient, LocalGradient, partial

CLOSED_FORM_LIMIT = 60  # nodes; above this `Gradient.closed` is left out (it grows fast)


def local_derivative(node, parent: str) -> sp.Expr:
    """∂node/∂parent in the graph's names (σ(u) -> the gate's own name, and so on)."""
    d = sp.diff(node.expr, sp.Symbol(parent, real=True))
    # Where the derivative uses the gate's own expression (σ, tanh, exp), name it instead.
    return d.xreplace({node.expr: node.symbol})


def kinks_at(graph, values: dict) -> tuple[str, ...]:
    """Nodes whose function is not differentiable at the given point (relu/abs at 0, max ties)."""
    env = _env(graph, values)
    tiny = numeric.mpmath.mpf(10) ** (-(numeric.PRECISION - 10))
    found = []
    for node in graph.steps:
        for f in node.expr.atoms(relu, sp.Abs, sp.Max, sp.Min):
            args = [numeric.evaluate(a, env) for a in f.args]
            if len(args) == 1:
                kink = abs(args[0]) < tiny
            else:
                best = max(args) if f.func is not sp.Min else min(args)
                kink = sum(1 for a in args if abs(a - best) < tiny) > 1
            if kink:
                found.append(node.name)
                break
    return tuple(found)


def _env(graph, values):
    return {graph.node(n).symbol: values[n] for n in values}


def backward(graph, inputs: dict) -> Derivation:
    """Forward values at `inputs` (name -> number), then every gradient, output first.

    Computed at the proof's precision, so a kink (0.3 − 0.1 − 0.2 under a relu) is exactly 0
    here as it is in `check`, not 15-digit round-off.
    """
    with mpmath.workdps(numeric.PRECISION):
        return _backward(graph, inputs)


def _backward(graph, inputs: dict) -> Derivation:
    mp_values = numeric.forward(graph, {k: numeric.to_mp(v) for k, v in inputs.items()})
    env = _env(graph, mp_values)
    out = graph.output
    steps: dict[str, Gradient] = {}
    grad_mp: dict[str, object] = {}
    small = len(graph.nodes) <= CLOSED_FORM_LIMIT
    relevant = _ancestors(graph, out)

    for node in reversed(graph.nodes):
        name = node.name
        if name not in relevant:
            continue
        sym = partial(out, name)
        if name == out:
            steps[name] = Gradient(name, sym, (), sp.Integer(1), sp.Integer(1) if small else None, 1.0)
            grad_mp[name] = numeric.MP.const(sp.Integer(1))
            continue
        contributions = []
        for consumer in graph.consumers(name):
            if consumer not in relevant:
                continue
            cnode = graph.node(consumer)
            local_expr = local_derivative(cnode, name)
            local_val = numeric.evaluate(local_expr, env)
            local = LocalGradient(consumer, name, local_expr, float(local_val))
            upstream = partial(out, consumer)
            value = grad_mp[consumer] * local_val
            contributions.append(Contribution(
                name, consumer, upstream, float(grad_mp[consumer]), local,
                sp.Mul(upstream, local_expr), float(value)))
            grad_mp[name] = grad_mp.get(name, 0) + value
        expr = sp.Add(*(c.expr for c in contributions))
        closed = None
        if small:
            closed = expr.xreplace({c.upstream: steps[c.via].closed for c in contributions})
        steps[name] = Gradient(name, sym, tuple(contributions), expr, closed, float(grad_mp[name]))

    ordered = tuple(steps[n.name] for n in reversed(graph.nodes) if n.name in steps)
    values = {k: float(v) for k, v in mp_values.items()}
    return Derivation(graph, values, ordered, kinks_at(graph, mp_values))


def _ancestors(graph, out: str) -> set[str]:
    seen, stack = {out}, [out]
    while stack:
        for p in graph.node(stack.pop()).parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


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
