"""Numbers from SymPy expressions without code generation.

`evaluate(expr, env, lib)` walks an expression with a backend: `MP` (mpmath at the working
precision: derive's own values and the multiprecision proof), `NP` (numpy float64) or `CS`
(numpy complex128 for the complex-step proof: non-smooth functions branch on the real part).
A backend does the arithmetic; every function is its record's numeric form (`ops.function_of`).
`forward` evaluates every node in topological order; `Cone` re-evaluates only what one change
reaches, so a proof that perturbs 50,000 parameters one by one stays linear in their number.
A value that is not a finite real number raises `DomainError`, naming the node.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from .. import errors
from .heads import OutOfDomain
from .ops import function_of
from .precision import mp

PRECISION = 50  # decimal digits of derive's own values and of the first multiprecision proof


DomainError = errors.DomainError  # a value that is not a finite real number (one class for all of derive)


class MP:
    """mpmath backend (scalars, at the current mpmath precision): arithmetic; functions come
    from their records' `mp` forms."""
    kind = "mp"

    @staticmethod
    def const(x):
        if isinstance(x, sp.Rational):
            return mp.mpf(x.p) / x.q
        return mp.mpf(str(x))

    @staticmethod
    def pow(b, e):
        if b < 0 and e != int(e):
            raise DomainError(f"{mp.nstr(b, 6)} to the power {mp.nstr(e, 6)} is not a real number")
        if b == 0 and e < 0:
            raise DomainError(f"0 to the negative power {mp.nstr(e, 6)}")
        return mp.power(b, e)

    @staticmethod
    def inv(b):
        if b == 0:
            raise DomainError("division by 0")
        return 1 / b


class NP:
    """numpy backend (float64 arrays): arithmetic; functions from the records' `np` forms."""
    kind = "np"

    @staticmethod
    def const(x):
        return float(x)

    @staticmethod
    def pow(b, e):
        return np.power(b, e)

    @staticmethod
    def inv(b):
        return 1 / b


class CS(NP):
    """numpy complex128 for the complex-step derivative Im f(x + ih) / h: every function is its
    analytic extension (the records' `cs` forms); relu, abs, max, min, sign and step branch on the
    real part, which is exact away from their kinks (kinks are reported as such, not proven)."""
    kind = "cs"

    @staticmethod
    def const(x):
        return complex(float(x))


_DISPATCH: dict = {}  # (SymPy head, backend kind) -> (numeric form, how many arguments it takes or None)


def function(head, kind: str):
    """(numeric form, argument count) of a SymPy head for backend `kind` ("mp", "np", "cs"), read
    from its record; None for a head no record has. The count is the record's arity plus its
    parameters (leaky_relu(x, α): 2); None takes every argument (max, min). SymPy's
    Heaviside(x, 1/2) carries its value at 0 as an argument the record's step does not take."""
    key = (head, kind)
    found = _DISPATCH.get(key)
    if found is None:
        f = function_of(head)
        if f is None:
            return None
        found = _DISPATCH[key] = (f.backend(kind), None if f.arity is None else f.arity + len(f.params))
    return found


def apply(head, args, lib=None, kind: str | None = None):
    """A function of the records at argument values `args` (its parameters among them), with the
    record's `mp`, `np` or `cs` form (backend `lib`, or its `kind`)."""
    return _call(function(head, kind or lib.kind), args)


def _call(found, args):
    fn, n = found
    try:
        return fn(*(args if n is None else args[:n]))
    except OutOfDomain as e:  # the mp forms' domain errors (log of a negative number)
        raise DomainError(str(e)) from None


def evaluate(expr: sp.Expr, env, lib=MP):
    """The value of `expr` with symbols taken from `env` (Symbol -> number or array)."""
    cache: dict = {}
    kind = lib.kind

    def ev(e):
        if e in cache:
            return cache[e]
        if e.is_Symbol:
            try:
                v = env[e]
            except KeyError:
                raise KeyError(f"no value for {e}") from None
        elif e.is_Number:
            v = lib.const(e)
        elif e.is_Add:
            v = ev(e.args[0])
            for a in e.args[1:]:
                v = v + ev(a)
        elif e.is_Mul:
            v = ev(e.args[0])
            for a in e.args[1:]:
                v = v * ev(a)
        elif e.is_Pow:
            base, ex = e.args
            if ex.is_Integer:
                b = ev(base)
                n = int(ex)
                v = b**n if n >= 0 else lib.inv(b ** (-n))
            else:
                v = lib.pow(ev(base), ev(ex))
        elif e is sp.S.Pi or e is sp.E:
            v = lib.const(sp.N(e, PRECISION + 10))
        elif (found := function(e.func, kind)) is not None:
            v = _call(found, [ev(a) for a in e.args])
        else:
            raise TypeError(f"cannot evaluate {e.func.__name__} in {expr}")
        cache[e] = v
        return v

    return ev(expr if isinstance(expr, sp.Basic) else sp.Float(expr))


def number_of(expr) -> mp.mpf:
    """A SymPy expression without symbols as a number at derive's working precision, by this
    evaluator: SymPy's own evalf computes tanh, sinh, σ... at the process-wide mpmath precision,
    which another thread (or the caller) may change meanwhile. SymPy's N for a head no record has."""
    try:
        return evaluate(expr, {}, MP)
    except (TypeError, DomainError):
        return mp.mpf(sp.N(expr, mp.dps))


def value_of(expr, env, lib=NP):
    """`evaluate`, with the common cases (a bare symbol, a number) answered directly."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        return lib.const(expr)
    return evaluate(expr, env, lib)


class NameEnv(dict):
    """A Symbol-keyed environment read from node values keyed by name (no Symbol per node):
    `changed` (name -> value) first, then `base`."""

    def __init__(self, base: dict, changed: dict | None = None):
        super().__init__()
        self.base, self.changed = base, changed or {}

    def __missing__(self, sym):
        name = getattr(sym, "name", None)
        if name in self.changed:
            return self.changed[name]
        if name in self.base:
            return self.base[name]
        raise KeyError(sym)


def to_mp(value) -> mp.mpf:
    """An input value (int, float, Fraction, str) as an mpmath number at the current precision."""
    if isinstance(value, Fraction):
        return mp.mpf(value.numerator) / value.denominator
    return mp.mpf(str(value))


def terms_value(node, values, lib=MP):
    """Σ Π of a terms node (an affine unit) from its factors' values."""
    if lib is MP:
        pairs = [(values[t[0]], values[t[1]]) for t in node.terms if len(t) == 2]
        rest = [_product(values, t) for t in node.terms if len(t) != 2]
        return mp.fdot(pairs) + mp.fsum(rest) if rest else mp.fdot(pairs)
    total = lib.const(0)
    for t in node.terms:
        total = total + _product(values, t)
    return total


def _product(values, term):
    v = values[term[0]]
    for f in term[1:]:
        v = v * values[f]
    return v


def node_value(node, values: dict, lib=MP):
    """One step's value from the values of its parents (name -> number), or DomainError."""
    try:
        v = terms_value(node, values, lib) if node.terms is not None else evaluate(node.expr, NameEnv(values), lib)
    except ZeroDivisionError:
        raise DomainError(f"{_at(node, values)}: division by 0") from None
    except DomainError as e:
        raise DomainError(f"{_at(node, values)}: {e}") from None
    if lib is MP and not (isinstance(v, mp.mpf) and mp.isfinite(v)):
        raise DomainError(f"{_at(node, values)} is {mp.nstr(v, 6)}, not a finite real number")
    return v


def _at(node, values) -> str:
    """`node = expr at p = v, ...`: where a value went wrong."""
    shown = list(dict.fromkeys(node.parents))[:4]
    at = ", ".join(f"{p} = {mp.nstr(values[p], 6) if isinstance(values[p], mp.mpf) else values[p]}"
                   for p in shown)
    return f"{node.name} = {node.expr} at {at}" + (", ..." if len(set(node.parents)) > 4 else "")


def forward(graph, inputs: dict, lib=MP, overrides: dict | None = None) -> dict:
    """Values of every node: `inputs` by name; `overrides` pins nodes to given values."""
    overrides = overrides or {}
    values: dict[str, object] = {}
    for node in graph.nodes:
        if node.name in overrides:
            values[node.name] = overrides[node.name]
        elif node.is_input:
            values[node.name] = inputs[node.name]
        else:
            values[node.name] = node_value(node, values, lib)
    return values


def forward_values(graph, inputs: dict, digits: int = PRECISION) -> dict:
    """Node -> mpmath number: every node's value at `digits` decimal digits (inputs exact)."""
    with mp.workdps(digits):
        seen: dict = {}  # seeded weights repeat a few hundred distinct values
        point = {}
        for k, v in inputs.items():
            x = seen.get(v)
            if x is None:
                x = seen[v] = to_mp(v)
            point[k] = x
        return forward(graph, point)


class Cone:
    """Re-evaluation of what a change reaches: the descendants of some nodes, in order.

    `Cone(graph, sources, keep, position)` orders the nodes reachable from `sources` (through
    consumers in `keep`, the nodes between the changed ones and the output). `value(base, changed,
    lib)` gives the output when the sources take the values in `changed`, everything else keeping
    `base`; `bumps(base, steps, lib)` perturbs source i in column i alone (an array per node, one
    column per source), for a vectorised proof. A sum of products is updated by its changed terms
    only, and a bumped factor changes one column of it.
    """

    def __init__(self, graph, sources, keep, position: dict):
        seen, stack = set(), list(sources)
        while stack:
            for c in graph.consumers(stack.pop()):
                if c in keep and c not in seen:
                    seen.add(c)
                    stack.append(c)
        self.graph = graph
        self.sources = tuple(sources)
        self.members = seen
        self.nodes = [graph.node(n) for n in sorted(seen, key=position.__getitem__)]

    def value(self, base: dict, changed: dict, lib=MP):
        return self._run(base, dict(changed), {}, lib, None)

    def bumps(self, base: dict, step, lib=None):
        """The output with source i moved by `step` in column i (an array with a column per source).

        A source that another source reaches is computed in the other columns like any node
        and moved in its own column only."""
        width = len(self.sources)
        columns = {name: i for i, name in enumerate(self.sources)}
        pure = {name: i for name, i in columns.items() if name not in self.members}
        return self._run(base, {}, pure, lib or CS, (width, step), columns)

    def _run(self, base, values, bumps, lib, shape, columns=None):
        view = _Changed(base, values, bumps, shape)
        dirty: dict = {}  # cone node -> its parents that changed (a sum of products reads only those)
        for name in list(values) + list(bumps):
            self._notify(name, dirty)
        for node in self.nodes:
            if node.terms is not None:
                v = base[node.name] + self._terms_delta(node, base, view, dirty.get(node.name, ()))
            else:
                try:
                    v = evaluate(node.expr, NameEnv(base, view), lib)
                except ZeroDivisionError:
                    raise DomainError(f"{node.name} = {node.expr} divides by 0 near this point") from None
            if columns is not None and node.name in columns:  # a source reached from another one
                width, step = shape
                v = np.array(np.broadcast_to(v, (width,)), dtype=complex)
                v[columns[node.name]] += step
            values[node.name] = v
            self._notify(node.name, dirty)
        return values[self.graph.output]

    def _notify(self, name, dirty):
        for c in self.graph.consumers(name):
            if c in self.members:
                dirty.setdefault(c, []).append(name)

    @staticmethod
    def _terms_delta(node, base, view, changed):
        """The change of a sum of products: a bumped factor moves one column (sparse), a term with
        one changed factor moves by coefficient × change, any other term is recomputed."""
        hit = sorted({i for f in changed for i in node.term_index(f)})
        delta = 0
        cols, moves = [], []  # bumped factors: column, coefficient
        coefs, arrays, olds = [], [], []  # one changed factor: coefficient, new value, old value
        for i in hit:
            t = node.terms[i]
            moved = [f for f in t if f in view]
            if len(moved) == 1 and t.count(moved[0]) == 1:
                rest = 1
                for f in t:
                    if f != moved[0]:
                        rest = rest * base[f]
                if moved[0] in view.bumps:
                    cols.append(view.bumps[moved[0]])
                    moves.append(rest)
                else:
                    coefs.append(rest)
                    arrays.append(view[moved[0]])
                    olds.append(base[moved[0]])
                continue
            new = view[t[0]] if t[0] in view else base[t[0]]
            old = base[t[0]]
            for f in t[1:]:
                new = new * (view[f] if f in view else base[f])
                old = old * base[f]
            delta = delta + (new - old)
        for c, a, o in zip(coefs, arrays, olds):  # (no BLAS call: its threads cost more than they save here)
            delta = delta + c * (a - o)
        if cols:
            width, step = view.shape
            sparse = np.zeros(width, dtype=complex)
            np.add.at(sparse, np.array(cols), np.array(moves, dtype=complex) * step)
            delta = delta + sparse
        return delta


class _Changed:
    """The changed values of a cone evaluation: computed nodes, plus bumped sources made into
    full columns only when something other than a sum of products reads them."""

    def __init__(self, base, values, bumps, shape):
        self.base, self.values, self.bumps, self.shape = base, values, bumps, shape

    def __contains__(self, name) -> bool:
        return name in self.values or name in self.bumps

    def __getitem__(self, name):
        if name not in self.values:
            width, step = self.shape
            col = np.full(width, complex(self.base[name]))
            col[self.bumps[name]] += step
            self.values[name] = col
        return self.values[name]
