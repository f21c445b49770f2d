"""A network or matrix-layer problem solved: build, forward, reverse mode, proof, then the
chains, index rules and matrix forms, each stage timed.
"""
from __future__ import annotations

import math
import time
import weakref

import sympy as sp

from ..engine.check import CheckReport
from ..engine.check import derive_and_prove as engine_derive_and_prove
from ..engine.numeric import DomainError
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..engine.steps import Derivation
from . import layers
from .built import Built, indexed, nested
from .chains import _delta_symbol, layer_chain, param_chain
from .index import index_rules
from .local import local_derivative
from .mlp import build_mlp
from .resolver import Resolver
from .results import Lazy, NetworkResult, ParamChain
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


def derive_and_prove(problem, local, progress=None):
    """build -> forward -> reverse mode -> proof, each stage timed. Shared by MLPs and matrix
    layers; `local(b, node, parent)` gives local derivatives in the problem's names.
    `progress(stage, done, total)` hears about long stages."""
    timings = {}
    t0 = time.perf_counter()
    b = build(problem)
    timings["build"] = time.perf_counter() - t0
    d, report = engine_derive_and_prove(b.graph, b.inputs, lambda node, parent: local(b, node, parent),
                                        b.wanted, progress, timings)
    big = next((n for n, v in d.values.items() if not math.isfinite(v)), None)
    if big is not None:  # exact, but no float (nor JSON, nor a report) can hold it
        raise DomainError(f"{big} = {mpmath.nstr(d.exact[big], 6)} is beyond double precision (about 1.8e308)")
    return b, d, report, timings


def _chains(b, d, chain_of, general) -> Lazy:
    """One ParamChain per parameter element, made when read; `general(param, leaf)` is the
    index-form formula it instantiates."""
    keys = [(name, idx, leaf) for name in b.params for idx, leaf in indexed(b.param_nodes[name])]
    return Lazy(keys, lambda k: ParamChain(k[0], k[1], k[2], chain_of(b, d, k[2]), general(k[0], k[2])))


def _result(problem, b, d, chains, rules, vrules, timings, resolver) -> NetworkResult:
    deltas = {net: _delta_symbol(b, net).name for net, m in b.meta.items() if m[0] == "net" and d.has(net)}
    return NetworkResult(
        problem.notation, d.values[d.output],
        {k: nested(v, str) for k, v in b.param_nodes.items()},
        {k: nested(v, d.gradient_value) for k, v in b.param_nodes.items()},
        chains, rules, vrules, deltas, d.output, {}, timings, resolver)


def solve(problem, progress=None) -> tuple[Built, Derivation, CheckReport, NetworkResult]:
    """problem -> per-unit graph -> reverse mode -> proof -> chains, index and vector rules."""
    if problem.kind == "layers":
        b, d, report, timings = derive_and_prove(problem, layers.local_derivative, progress)
        t0 = time.perf_counter()
        vrules = layers.matrix_rules(b, d)
        general = {v.lhs.name.rsplit("∂", 1)[-1]: v.element[1] for v in vrules if v.element}
        timings["rules"] = time.perf_counter() - t0
        chains = _chains(b, d, lambda b, d, leaf: layer_chain(d, leaf),
                         lambda param, leaf: general.get(param, sp.S.Zero))
        return b, d, report, _result(problem, b, d, chains, (), vrules, timings, None)
    b, d, report, timings = derive_and_prove(problem, local_derivative, progress)
    t0 = time.perf_counter()
    rules = index_rules(b, d)
    general = {node: r.expr for r in rules for node in r.instances.nodes}
    vrules = vector_rules(b, d, rules)
    timings["rules"] = time.perf_counter() - t0
    chains = _chains(b, d, param_chain, lambda param, leaf: general.get(leaf, sp.S.Zero))
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
