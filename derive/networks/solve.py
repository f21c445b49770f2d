"""A network or matrix-layer problem solved: build, forward, reverse mode, proof, then the
chains, index rules and matrix forms, each stage timed.
"""
from __future__ import annotations

import time
import weakref

import sympy as sp

from ..engine import check, numeric
from ..engine.check import CheckReport, prove
from ..engine.reverse import reverse
from ..engine.steps import Derivation
from . import layers
from .built import Built, indexed, nested
from .chains import _delta_symbol, layer_chain, param_chain
from .index import index_rules
from .local import local_derivative
from .mlp import build_mlp
from .resolver import Resolver
from .results import NetworkResult, ParamChain
from .vector import vector_rules

_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def build(problem) -> Built:
    """The per-unit Graph of a network or matrix-layer problem (cached per problem)."""
    try:
        return _BUILT[problem]
    except KeyError:
        pass
    b = layers.build_layers(problem) if problem.kind == "layers" else build_mlp(problem)
    _BUILT[problem] = b
    return b


def derive_and_prove(problem, local, chain_of):
    """build -> forward -> reverse mode -> per-element chains -> proof, each stage timed.

    Shared by MLPs and matrix layers; `local(b, node, parent)` gives local derivatives and
    `chain_of(b, d, leaf)` one parameter element's Chain.
    """
    timings = {}
    t0 = time.perf_counter()
    b = build(problem)
    values = numeric.forward_values(b.graph, b.inputs, check.SMALL_GRAPH)
    timings["build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = reverse(b.graph, values, lambda node, parent: local(b, node, parent), b.wanted)
    chains = tuple(ParamChain(name, idx, leaf, chain_of(b, d, leaf), sp.S.Zero)
                   for name in b.params for idx, leaf in indexed(b.param_nodes[name]))
    timings["backward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = prove(d, b.inputs, b.wanted)
    timings["check"] = time.perf_counter() - t0
    return b, d, chains, report, timings


def _result(problem, b, d, chains, rules, vrules, timings, resolver) -> NetworkResult:
    deltas = {g.node: _delta_symbol(b, g.node).name for g in d.steps
              if b.meta.get(g.node, ("",))[0] == "net"}
    return NetworkResult(
        problem.notation, d.values[d.output],
        {k: nested(v, str) for k, v in b.param_nodes.items()},
        {k: nested(v, lambda leaf: d.gradient(leaf).value) for k, v in b.param_nodes.items()},
        chains, rules, vrules, deltas, d.output, {}, timings, resolver)


def solve(problem) -> tuple[Built, Derivation, CheckReport, NetworkResult]:
    """problem -> per-unit graph -> reverse mode -> proof -> chains, index and vector rules."""
    if problem.kind == "layers":
        b, d, chains, report, timings = derive_and_prove(
            problem, layers.local_derivative, lambda b, d, leaf: layer_chain(d, leaf))
        t0 = time.perf_counter()
        vrules = layers.matrix_rules(b, d)
        general = {v.lhs.name.rsplit("∂", 1)[-1]: v.element[1] for v in vrules if v.element}
        chains = tuple(ParamChain(c.param, c.index, c.node, c.chain, general.get(c.param, sp.S.Zero))
                       for c in chains)
        timings["rules"] = time.perf_counter() - t0
        return b, d, report, _result(problem, b, d, chains, (), vrules, timings, None)
    b, d, chains, report, timings = derive_and_prove(problem, local_derivative, param_chain)
    t0 = time.perf_counter()
    rules = index_rules(b, d)
    general = {node: r.expr for r in rules for _, node, _, _ in r.instances}
    chains = tuple(ParamChain(c.param, c.index, c.node, c.chain, general.get(c.node, sp.S.Zero)) for c in chains)
    vrules = vector_rules(b, d, rules)
    timings["rules"] = time.perf_counter() - t0
    return b, d, report, _result(problem, b, d, chains, rules, vrules, timings, Resolver(b))


def dag_sizes(derivation: Derivation, wanted=None) -> dict:
    """Operation counts of the forward DAG and of the gradient DAG, each after cse(order='none').

    Forward: every step's expression; gradient: every Gradient's expression (in upstream gradient
    symbols and node names), i.e. what structured reverse mode really builds.
    """
    graph = derivation.graph
    forward = [n.expr for n in graph.steps]
    gradient = [g.expr for g in derivation.steps if g.contributions]
    return {"forward": _ops_after_cse(forward), "gradient": _ops_after_cse(gradient)}


def _ops_after_cse(exprs) -> int:
    replacements, reduced = sp.cse(exprs, order="none")
    seen = set()
    total = 0

    def walk(e):
        nonlocal total
        if e.is_Atom or e in seen:
            return
        seen.add(e)
        total += max(1, len(e.args) - 1)  # an n-ary sum or product is n − 1 binary operations
        for a in e.args:
            walk(a)
    for _, e in replacements:
        walk(e)
    for e in reduced:
        walk(e)
    return total
