"""The one reverse mode: a Graph at a point -> a Derivation of plain step records.

For every node, in reverse topological order: each consumer's contribution (the consumer's
upstream gradient × the local derivative of the consumer with respect to this node), then
their sum. Scalar graphs, networks and matrix layers all come through `reverse`; they differ
only in how a local derivative is written (`local`) and which leaves are wanted.

Numbers are mpmath at the working precision (50 digits by default), so saturated units keep
their tiny derivatives. A sum-of-products node (an affine unit, `Node.terms`) gives its local
derivatives from its terms (∂(w·a + b)/∂w = a) without SymPy; every other local derivative is
written by `local` in the graph's names and evaluated. The SymPy records are built when first
asked for (`steps.Records`): a 784-64-10 network has 50,890 of them and a check reads none.
"""
from __future__ import annotations

import sympy as sp

from . import numeric
from .graph import ancestors
from .ops import FUNCTION_TABLE, function_of, real_diff
from .parse import symbol
from .precision import as_float, mp
from .steps import Chain, Contribution, Derivation, Factor, Gradient, LocalGradient, Records, partial, tree_size

CLOSED_FORM_LIMIT = 60  # nodes; above this `Gradient.closed` is left out (it grows fast)
CLOSED_SIZE_LIMIT = 400  # tree nodes of one closed form; a bigger one is left out (None): what is
# printed and read is then the named form (upstream × local), which is what was checked


def linear_derivative(node, parent: str) -> sp.Expr:
    """∂node/∂parent of a terms node: the other factors of each term that holds the parent."""
    return sp.Add(*[sp.Mul(*[symbol(f) for f in others]) for others in node.terms_with(parent)])


def local_derivative(node, parent: str) -> sp.Expr:
    """∂node/∂parent in the graph's names (σ(u) -> the gate's own name, and so on)."""
    if node.terms is not None:
        return linear_derivative(node, parent)
    d = real_diff(node.expr, symbol(parent))
    # Where the derivative uses the gate's own expression (σ, tanh, exp), name it instead.
    return d.xreplace({node.expr: node.symbol})


def _terms_local(node, parent: str, values: dict):
    """The value of ∂node/∂parent for a terms node, from its factors' values."""
    terms = [node.terms[i] for i in node.term_index(parent)]
    if len(terms) == 1 and len(terms[0]) == 2 and terms[0][0] != terms[0][1]:  # w·a: the partner
        t = terms[0]
        return values[t[1]] if t[0] == parent else values[t[0]]
    total = mp.mpf(0)
    for others in node.terms_with(parent):
        p = mp.mpf(1)
        for f in others:
            p = p * values[f]
        total += p
    return total


_KINKED = tuple(f.sympy for f in FUNCTION_TABLE.values() if f.kinks and isinstance(f.sympy, type))


def kink_args(expr) -> list[tuple]:
    """Where `expr` may have a kink: (head, kinks, arguments) per call of a function whose record
    has kinks: numbers, the points its one argument must not be at (relu, abs, leaky_relu(x, α),
    elu: 0); ("tie",), the arguments none of which may tie with the function's value (max, min)."""
    found = []
    for call in expr.atoms(*_KINKED):
        kinks = function_of(call.func).kinks
        found.append((call.func, kinks, tuple(call.args) if "tie" in kinks else call.args[:1]))
    return found


def kinks_at(graph, values: dict, need=None, digits: int = numeric.PRECISION) -> tuple[str, ...]:
    """Nodes whose function is not differentiable at the given point (the records' kinks: relu,
    leaky_relu, elu and abs at 0, max ties).

    `values` are at `digits` digits: an argument within that resolution of the kink is at it.
    """
    tiny = mp.mpf(10) ** (-(digits - 10))
    found = []
    for node in graph.steps:
        if node.terms is not None or (need is not None and node.name not in need):
            continue
        for head, kinks, exprs in kink_args(node.expr):
            args = [numeric.evaluate(a, numeric.NameEnv(values)) for a in exprs]
            if "tie" not in kinks:
                scale = tiny * max(1, *(abs(values[p]) for p in node.parents))
                kink = any(abs(args[0] - k) <= scale for k in kinks)
            else:
                best = numeric.apply(head, args, numeric.MP)  # the max (min) ties with another argument
                kink = sum(1 for a in args if abs(a - best) <= tiny * max(1, abs(best))) > 1
            if kink:
                found.append(node.name)
                break
    return tuple(found)


def needed(graph, wanted=None) -> set:
    """The nodes between the `wanted` leaves (None: every input) and the output."""
    need = ancestors(graph, graph.output)
    if wanted is not None:
        dep = set(wanted)
        for node in graph.steps:
            if node.name in need and any(p in dep for p in node.parents):
                dep.add(node.name)
        need &= dep
    return need


def reverse(graph, values: dict, local=local_derivative, wanted=None,
            closed_limit: int = CLOSED_FORM_LIMIT, digits: int = numeric.PRECISION,
            progress=None) -> Derivation:
    """Every gradient ∂output/∂node at the point `values` (node -> number), output first.

    `values` come from `numeric.forward_values` at `digits` digits. `local(node, parent)` writes
    a local derivative in the problem's names. `wanted` limits the sweep to the nodes between
    those leaves and the output (data and targets get no gradient); None means every node the
    output depends on. `progress(done, total)` is called now and then.
    """
    with mp.workdps(digits):
        values = {k: v if isinstance(v, mp.mpf) else numeric.to_mp(v) for k, v in values.items()}
        need = needed(graph, wanted)
        out = graph.output
        grads: dict = {}
        local_vals: dict = {}  # (node, consumer) -> value
        local_exprs: dict = {}  # (node, consumer) -> expression, where one was written to get the value
        env = numeric.NameEnv(values)
        order = [n for n in reversed(graph.nodes) if n.name in need]
        for done, node in enumerate(order):
            name = node.name
            if name == out:
                grads[name] = mp.mpf(1)
                continue
            total = []
            for c in graph.consumers(name):
                if c not in need:
                    continue
                cnode = graph.node(c)
                if cnode.terms is not None:
                    lv = _terms_local(cnode, name, values)
                else:
                    expr = local_exprs[(name, c)] = local(cnode, name)
                    try:
                        lv = numeric.value_of(expr, env, numeric.MP)
                    except ZeroDivisionError:
                        raise numeric.DomainError(f"∂{c}/∂{name} = {expr} divides by 0 at this point") from None
                local_vals[(name, c)] = lv
                total.append(grads[c] * lv)
            grads[name] = total[0] if len(total) == 1 else mp.fsum(total)
            if progress is not None and done % 2000 == 0:
                progress(done, len(order))
        kinks = kinks_at(graph, values, need, digits)
    small = len(graph.nodes) <= closed_limit
    builder = _Builder(graph, need, local, grads, local_vals, local_exprs, small)
    records = builder.records = Records(tuple(n.name for n in order), builder)
    floats = {k: as_float(v) for k, v in values.items()}  # (a Wide beyond double)
    return Derivation(graph, floats, records, kinks, values, grads, digits,
                      {k: as_float(v) for k, v in grads.items()})


class _Builder:
    """Makes one node's Gradient record from the sweep's numbers (on demand)."""

    def __init__(self, graph, need, local, grads, local_vals, local_exprs, small):
        self.graph, self.need, self.local = graph, need, local
        self.grads, self.local_vals, self.local_exprs, self.small = grads, local_vals, local_exprs, small
        self.records = None

    def __call__(self, name: str) -> Gradient:
        graph, out = self.graph, self.graph.output
        sym = partial(out, name)
        if name == out:
            one = sp.Integer(1)
            return Gradient(name, sym, (), one, one if self.small else None, 1.0)
        contributions = []
        for c in graph.consumers(name):
            if c not in self.need:
                continue
            expr = self.local_exprs.get((name, c))
            if expr is None:
                expr = self.local(graph.node(c), name)
            lv, up = self.local_vals[(name, c)], self.grads[c]
            upstream = partial(out, c)
            contributions.append(Contribution(
                name, c, upstream, as_float(up), LocalGradient(c, name, expr, as_float(lv)),
                sp.Mul(upstream, expr), as_float(up * lv)))
        closed = None
        upstream_forms = [self.records.get(c.via).closed for c in contributions] if self.small else [None]
        if all(f is not None for f in upstream_forms) and all(
                tree_size(f, CLOSED_SIZE_LIMIT) <= CLOSED_SIZE_LIMIT for f in upstream_forms):
            closed = sp.Add(*(c.local.expr * f for c, f in zip(contributions, upstream_forms)))
            if tree_size(closed, CLOSED_SIZE_LIMIT) > CLOSED_SIZE_LIMIT:
                closed = None
        return Gradient(name, sym, tuple(contributions), sp.Add(*(c.expr for c in contributions)),
                        closed, as_float(self.grads[name]))


def backward(graph, inputs: dict, digits: int = numeric.PRECISION) -> Derivation:
    """Forward values at `inputs` (name -> number), then every gradient, output first.

    Computed at the proof's precision, so a kink (0.3 − 0.1 − 0.2 under a relu) is exactly 0
    here as it is in `check`, not 15-digit round-off.
    """
    return reverse(graph, numeric.forward_values(graph, inputs, digits), digits=digits)


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
