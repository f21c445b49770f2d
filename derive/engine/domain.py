"""Where a graph is undefined at a point: the first node, and inside it the first operation, that
has no real finite value (division by zero, log of 0 or of a negative number, a non-integer power
of a negative number, 0 to a negative power, a value beyond double precision).

`undefined_at(graph, inputs)` returns a one-line explanation naming the node and the values it
saw, or None when every node is a finite real number there.
"""
from __future__ import annotations

import sys

import sympy as sp

from . import numeric
from .precision import mp

FLOAT_MAX = mp.mpf(sys.float_info.max)


def _short(v) -> str:
    if isinstance(v, mp.mpf):
        return str(int(v)) if mp.isint(v) and abs(v) < 10**15 else mp.nstr(v, 6)
    return str(v)


def _why(e, args, value) -> str:
    """What went wrong in one operation `e` with argument values `args`, giving `value`."""
    if isinstance(e, sp.log):
        a = args[0]
        return "log of 0" if a == 0 else (f"log of the negative number {_short(a)}" if a < 0 else "")
    if isinstance(e, sp.Pow):
        base, ex = args
        if base == 0 and ex < 0:
            return "division by zero" if ex == -1 else f"0 to the negative power {_short(ex)}"
        if base < 0 and not mp.isint(ex):
            return f"the non-integer power {_short(ex)} of the negative number {_short(base)}"
    if value is None:
        return "it cannot be evaluated"
    if isinstance(value, mp.mpc):
        return "it is not a real number"
    if not mp.isfinite(value):
        return "it is infinite"
    if abs(value) > FLOAT_MAX:
        return f"its value {_short(value)} is beyond double precision (about 1.8e308)"
    return ""


def _evaluate(expr, env):
    try:
        return numeric.evaluate(expr, env)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, numeric.DomainError):
        return None


def _bad(value) -> bool:
    return (value is None or isinstance(value, mp.mpc) or not mp.isfinite(value)
            or abs(value) > FLOAT_MAX)


def undefined_at(graph, inputs: dict) -> str | None:
    """None if every node has a finite real value at `inputs`; else what is undefined, and where."""
    with mp.workdps(numeric.PRECISION):
        env: dict = {}
        for node in graph.nodes:
            if node.is_input:
                env[node.symbol] = numeric.to_mp(inputs[node.name])
                continue
            value = _evaluate(node.expr, env)
            if _bad(value):
                return _explain(node, env, value)
            env[node.symbol] = value
    return None


def _explain(node, env, value) -> str:
    at = ", ".join(f"{p} = {_short(env[sp.Symbol(p, real=True)])}" for p in node.parents)
    reason = ""
    for sub in sp.postorder_traversal(node.expr):  # innermost operation first
        if sub.is_Atom or not sub.args:
            continue
        sub_value = _evaluate(sub, env)
        if _bad(sub_value):
            args = [_evaluate(a, env) for a in sub.args]
            if all(a is not None and not isinstance(a, mp.mpc) for a in args):
                reason = _why(sub, args, sub_value)
                if reason:
                    break
    reason = reason or _why(node.expr, [], value)
    shown = sp.sstr(node.expr, order="none").replace("**", "^")
    return f"{node.name} = {shown} is undefined at {at}: {reason}"
