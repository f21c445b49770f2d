"""The whole flow in one place: problem -> graph -> derivation -> numeric check -> Solution.

A scalar circuit goes straight through the engine; a network or matrix-layer problem through
`networks.solve`, which adds per-parameter chains, index rules and matrix forms (`extra`); a layer
stack through `networks.stack` (derivation None; `extra` a StackResult).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import errors
from .engine import numeric
from .engine.check import CheckReport, derive_and_prove
from .engine.domain import undefined_at
from .engine.precision import mp as mpmath  # derive's own context, precision per thread (engine.precision)
from .networks import solve as networks

DomainError = errors.DomainError  # the problem is undefined (or not finite) at its own values: exit code 2


@dataclass(frozen=True)
class Solution:
    problem: object
    derivation: object  # engine.steps.Derivation
    report: CheckReport
    extra: object = None  # network kinds: networks.results.NetworkResult
    inputs: dict | None = None  # every leaf of the graph -> its exact value (a Fraction)


def graph_and_inputs(problem):
    """(Graph, leaf -> exact value) of any problem kind, without deriving anything."""
    if problem.kind == "scalar":
        return problem.graph(), dict(problem.values)
    b = networks.build(problem)
    return b.graph, dict(b.inputs)


def solve(problem, progress=None) -> Solution:
    """Derive and prove every gradient of `problem`; `progress(stage, done, total)` hears about
    long stages (a progress bar).

    Raises DomainError, naming the node and the values it saw, when the problem is undefined at
    its own point (division by zero, log of 0, overflow past double precision...).
    """
    if problem.kind == "scalar":
        graph = problem.graph()
        _defined(problem, graph, problem.values)
        derivation, report = derive_and_prove(graph, problem.values, progress=progress)
        _finite_gradients(derivation)
        return Solution(problem, derivation, report, None, dict(problem.values))
    if problem.notation == "stack":  # a layer stack: each layer's rule applied with numpy, every element proven
        from .networks.stack import solve as solve_stack
        result, report = solve_stack(problem, progress)
        return Solution(problem, None, report, result, None)
    try:
        b, derivation, report, result = networks.solve(problem, progress)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, numeric.DomainError):
        graph, inputs = graph_and_inputs(problem)
        _defined(problem, graph, inputs)
        raise
    _finite_values(derivation)
    _finite_gradients(derivation)
    return Solution(problem, derivation, report, result, dict(b.inputs))


def _finite_values(derivation) -> None:
    """A network's values are exact (50 digits); one beyond double precision cannot be printed."""
    for node, v in derivation.values.items():
        if not math.isfinite(v):
            raise DomainError(f"{node} = {mpmath.nstr(derivation.exact[node], 6)} is beyond double precision "
                              "(about 1.8e308): use smaller weights or inputs")


def _finite_gradients(derivation) -> None:
    """Every asked gradient (of an input) must be a double; an intermediate one beyond double
    precision (∂f/∂s = 1/σ(−1000) in log σ(−1000)) is printed from its 50-digit value."""
    asked = set(derivation.graph.inputs)
    for node in derivation.order:
        if node in asked and not math.isfinite(derivation.gradient_value(node)):
            at = ", ".join(f"{n} = {derivation.values[n]:.6g}" for n in derivation.graph.inputs)
            raise DomainError(f"∂{derivation.output}/∂{node} is beyond double precision (about 1.8e308) "
                              f"at {at}")


def _defined(problem, graph, inputs) -> None:
    why = undefined_at(graph, inputs)
    if why:
        raise DomainError(why)
