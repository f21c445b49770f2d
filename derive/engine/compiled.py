"""Expressions compiled once into nested closures over mpmath, for the many evaluations a verdict
needs (every answer at every sample and instance, every candidate mistake).

Same arithmetic as `engine.numeric.evaluate` and the same functions (each record's mp form), with
ceilings: exp of a huge argument and a power with a huge result are infinite, not a billion-digit
number. A domain error raises heads.OutOfDomain (a ValueError); a function no record has, TypeError.
"""
from __future__ import annotations

import sympy as sp

from . import numeric
from .precision import mp

_CACHE: dict = {}
MAX_CACHED = 50_000


def _exp(x):
    return mp.exp(x) if abs(x) < 10_000 else mp.inf


def _pow(b, e):
    if b != 0 and abs(e * mp.log(abs(b))) > 10_000:
        return mp.inf
    return mp.power(b, e)


_CEILING = {sp.exp: _exp}  # heads whose mp form would compute a giant number: their capped form


def compiled(expr):
    """A function env -> value of `expr` (env maps SymPy symbols to mpmath numbers).

    Cached per working precision: its constants are numbers made at the precision in use."""
    key = (expr, mp.prec)
    f = _CACHE.get(key)
    if f is None:
        if len(_CACHE) > MAX_CACHED:
            _CACHE.clear()
        f = _CACHE[key] = _compile(expr)
    return f


def _compile(e):
    if e.is_Symbol:
        return lambda env: env[e]
    if e.is_Number or e is sp.S.Pi or e is sp.E:
        c = numeric.MP.const(e) if e.is_Number else numeric.MP.const(sp.N(e, numeric.PRECISION + 10))
        return lambda env: c
    if e.is_Add or e.is_Mul:
        parts = [compiled(a) for a in e.args]
        if e.is_Add:
            def add(env):
                v = parts[0](env)
                for p in parts[1:]:
                    v = v + p(env)
                return v
            return add

        def mul(env):
            v = parts[0](env)
            for p in parts[1:]:
                v = v * p(env)
            return v
        return mul
    if e.is_Pow:
        base, ex = compiled(e.args[0]), e.args[1]
        if ex.is_Integer:
            n = int(ex)
            if n >= 0:
                return lambda env: base(env) ** n
            return lambda env: 1 / (base(env) ** (-n))
        power = compiled(ex)
        return lambda env: _pow(base(env), power(env))
    found = numeric.function(e.func, "mp")
    if found is not None:  # the record's mp form (its domain errors are ValueErrors: heads.OutOfDomain)
        f, n = found
        f = _CEILING.get(e.func, f)
        parts = [compiled(a) for a in (e.args if n is None else e.args[:n])]
        if len(parts) == 1:
            (arg,) = parts
            return lambda env: f(arg(env))
        return lambda env: f(*(p(env) for p in parts))
    raise TypeError(f"cannot evaluate {e.func.__name__}")
