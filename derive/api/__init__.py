"""The Python API: problems from Python or files, solutions, verdicts, worksheets and reports,
each showing itself in Jupyter. `import derive` re-exports these names lazily.

    p = derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4)     # or graph, network, layers, load, loads
    s = p.solve()                                             # gradients, values, steps, checks
    s.report("out.pdf")                                       # what `derive report` writes
    derive.verify(p, wrt="x", answer="z")                     # Verdict(correct, diagnosis, ...)
    derive.worksheets([p], versions=3, seed=7, out="sheets/")
"""
from __future__ import annotations

from ..errors import (
    CheckFailed,
    DeriveError,
    DomainError,
    LatexError,
    LatexMissing,
    ParseError,
    ProblemError,
    VerifyError,
)
from .display import DisplayWarning
from .problem import Problem, builtins, circuit, graph, layers, load, loads, network
from .reports import report
from .sheets import worksheets
from .solution import Checks, Solution, Steps
from .verdict import Verdict, verify

__all__ = ["CheckFailed", "Checks", "DeriveError", "DisplayWarning", "DomainError", "LatexError", "LatexMissing",
           "ParseError", "Problem", "ProblemError", "Solution", "Steps", "Verdict", "VerifyError", "builtins",
           "circuit", "graph", "layers", "load", "loads", "network", "report", "verify", "worksheets"]
