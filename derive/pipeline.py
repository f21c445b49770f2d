"""The whole flow in one place: problem -> graph -> derivation -> numeric check -> Solution.

A scalar circuit goes straight through the engine; a network or matrix-layer problem through
`networks.solve`, which adds per-parameter chains, index rules and matrix forms (`extra`).
"""
from __future__ import annotations

from dataclasses import dataclass

from .engine.check import CheckReport, check
from .engine.reverse import backward
from .networks import solve as networks


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


def solve(problem) -> Solution:
    """Derive and prove every gradient of `problem`."""
    if problem.kind == "scalar":
        graph = problem.graph()
        derivation = backward(graph, problem.values)
        return Solution(problem, derivation, check(derivation, problem.values), None, dict(problem.values))
    b, derivation, report, result = networks.solve(problem)
    return Solution(problem, derivation, report, result, dict(b.inputs))
