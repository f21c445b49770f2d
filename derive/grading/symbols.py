"""The SymPy objects an answer's special parts become (no other grading module is imported here).

`Grad(x)` is ∂L/∂x of a quantity, `Local(a, b)` the local derivative ∂a/∂b of one step,
`ActPrime(net)` f′ at a net input, `FULL` the upper bound of a sum written without one (the whole
layer); `letter` makes an index letter, `local_symbol` the symbol a Local becomes in a graph.
"""
from __future__ import annotations

from functools import cache

import sympy as sp


@cache
def letter(s: str) -> sp.Symbol:
    return sp.Symbol(s, integer=True, positive=True)


class Grad(sp.Function):
    """∂L/∂x of a quantity x (∂E/∂o_k in an answer)."""
    nargs = 1


class Local(sp.Function):
    """∂a/∂b of one step of the graph (∂o_k/∂net_k in an answer)."""
    nargs = 2


class ActPrime(sp.Function):
    """f′(net): the derivative of the activation that the net input `net` feeds."""
    nargs = 1


FULL = sp.Symbol("#full")  # the upper bound of a sum written without one: the whole layer


def local_symbol(a: str, b: str) -> sp.Symbol:
    """The symbol standing for the local derivative ∂a/∂b (b a parent of a)."""
    return sp.Symbol(f"∂{a}|∂{b}", real=True)


def split_local(sym) -> tuple[str, str] | None:
    name = getattr(sym, "name", "")
    if name.startswith("∂") and "|∂" in name:
        a, b = name[1:].split("|∂", 1)
        return a, b
    return None
