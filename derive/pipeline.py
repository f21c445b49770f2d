"""The whole flow in one short function: problem -> graph -> derivation -> numeric check."""
from __future__ import annotations

from dataclasses import dataclass

from .backward import backward
from .check import CheckReport, check


@dataclass(frozen=True)
class Solution:
    problem: object
    derivation: object  # steps.Derivation
    report: CheckReport
    extra: object = None  # network kinds: their per-parameter chains and index/vector forms


def solve(problem) -> Solution:
    if problem.kind != "scalar":
        from . import networks
        return networks.solve(problem)
    graph = problem.graph()
    derivation = backward(graph, problem.inputs)
    return Solution(problem, derivation, check(derivation, problem.inputs))
