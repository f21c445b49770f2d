"""Both sides of a verdict as numbers: the problem's graph at random points of its inputs.

`Engine` draws points (the problem's own first), `Sample` holds one point's forward values,
local derivatives and gradients in 50-digit mpmath (δ symbols as delta_sign · ∂L/∂net), and can
re-sweep reverse mode with a changed edge (how mistakes are simulated).
"""
from __future__ import annotations

import random
import threading
from fractions import Fraction

from ..engine import numeric
from ..engine.check import accumulate, local_values
from ..engine.compiled import compiled
from ..engine.graph import ancestors
from ..engine.ops import FUNCTION_TABLE
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..engine.steps import partial

POINTS = 30  # random points for the numeric comparison
DIGITS = numeric.PRECISION
REL_TOL = mpmath.mpf("1e-20")
ABS_TOL = mpmath.mpf("1e-35")
HUGE = mpmath.mpf("1e12")  # values beyond this are treated as a singularity and resampled
KINK = mpmath.mpf("1e-6")  # relu/abs/max arguments closer to the kink than this are resampled
MAX_ATTEMPTS = 400


def _finite(v) -> bool:
    return isinstance(v, mpmath.mpf) and mpmath.isfinite(v) and abs(v) < HUGE


def close(a, b) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + ABS_TOL


_KINKS: dict = {}
_KINKED = {f.sympy: f for f in FUNCTION_TABLE.values() if f.kinks}  # heads with a kink (relu at 0, a max tie)


def _kink_args(expr) -> list:
    """The arguments of each function in `expr` with a kink (its record's `kinks`): relu, abs, step, sign
    (one each), max, min (several) (cached)."""
    found = _KINKS.get(expr)
    if found is None:
        found = [[f.args[0]] if _KINKED[f.func].arity == 1 else list(f.args) for f in expr.atoms(*_KINKED)]
        if len(_KINKS) > 20_000:
            _KINKS.clear()
        _KINKS[expr] = found
    return found


def near_kink(expr, env) -> bool:
    for args in _kink_args(expr):
        vals = [compiled(a)(env) for a in args]
        if len(vals) == 1 and abs(vals[0]) < KINK:
            return True
        if len(vals) > 1 and any(abs(a - b) < KINK for i, a in enumerate(vals) for b in vals[i + 1:]):
            return True
    return False


class Sample:
    """One point of the inputs: every node value, every local derivative and every gradient."""

    def __init__(self, engine, point: dict):
        self.engine, self.point = engine, point
        graph = engine.graph
        self.values = numeric.forward(graph, point)
        self.env = {engine.symbol(n): v for n, v in self.values.items()}
        self.local = local_values(engine.steps, self.env)
        self.grads = self.sweep()
        for n, v in self.grads.items():
            self.env[engine.partial(n)] = v
        for sym, node in engine.deltas.items():
            self.env[sym] = engine.delta_sign * self.grads[node]

    def provide(self, expr) -> None:
        """Values for the local-derivative symbols ∂a|∂b an answer uses (∂o_k/∂net_k)."""
        for s, edge in self.engine.locals_of(expr):
            if s not in self.env and edge in self.local:
                self.env[s] = self.local[edge]

    def valid(self) -> bool:
        if not all(_finite(v) for v in self.values.values()):
            return False
        if not all(_finite(v) for v in self.local.values()) or not all(_finite(v) for v in self.grads.values()):
            return False
        return not any(near_kink(e, self.env) for e in self.engine.kinked)

    def sweep(self, change: dict | None = None, stop: str | None = None) -> dict:
        """Reverse mode at this point; `change` maps an edge (node, consumer) to a new local value,
        or names a node whose gradient is forced ("seed", node) -> value."""
        return accumulate(self.engine.steps, self.local, change, stop)


class Engine:
    """The derivation's graph and records, evaluated at random points of its inputs."""

    def __init__(self, derivation, base: dict, seed: int = 0, deltas=None, delta_sign: int = 1, draw=None):
        self.derivation = derivation
        self.draw = draw  # optional (rng, i) -> point, for inputs with constraints (targets summing to 1)
        self.deltas = deltas or {}  # δ symbol -> the net node whose gradient it stands for
        self.delta_sign = delta_sign
        self.graph = derivation.graph
        self.out = self.graph.output
        self.steps = derivation.steps
        self.base = {k: Fraction(v) for k, v in base.items()}
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.attempts = 0
        self._relevant = None
        self._partials: dict = {}
        self._symbols: dict = {}
        self._locals: dict = {}
        self.kinked = [n.expr for n in self.graph.steps if _kink_args(n.expr)]  # steps with a kink
        self._drawing = threading.Lock()  # threads sharing this engine draw its points in one order

    def locals_of(self, expr) -> list:
        """The local-derivative symbols of an expression with their edges (cached per expression)."""
        found = self._locals.get(expr)
        if found is None:
            from .symbols import split_local
            found = []
            for s in expr.free_symbols:
                pair = split_local(s)
                if pair:
                    found.append((s, (pair[1], pair[0])))
            if len(self._locals) > 20_000:
                self._locals.clear()
            self._locals[expr] = found
        return found

    def symbol(self, node: str):
        """A node's own symbol (made once per engine)."""
        sym = self._symbols.get(node)
        if sym is None:
            sym = self._symbols[node] = self.graph.node(node).symbol
        return sym

    def partial(self, node: str):
        """The symbol ∂out/∂node (made once per engine)."""
        sym = self._partials.get(node)
        if sym is None:
            sym = self._partials[node] = partial(self.out, node)
        return sym

    @property
    def relevant(self) -> set:
        """The output and every node it depends on."""
        if self._relevant is None:
            self._relevant = ancestors(self.graph, self.out)
        return self._relevant

    def _random_point(self, i: int) -> dict:
        """A random point: every other one anywhere in [−4, 4] while such draws land in the problem's
        domain, else near the problem's own values, closer the more draws were rejected (log(s) of an
        s that is negative at most points: the points are drawn where s > 0, by rejection)."""
        if self.draw is not None:
            return self.draw(self.rng, i)
        rejected = i - len(self.samples)
        wide = i % 2 and rejected < 8 + i // 4
        near = 0.5 ** min(10, rejected // 20) / 2
        point = {}
        for name, v in self.base.items():
            r = self.rng.uniform(-4, 4) if wide else float(v) + self.rng.uniform(-1, 1) * max(1.0, abs(float(v))) * near
            point[name] = Fraction(round(r * 10_000), 10_000)
        return point

    def sample(self, i: int) -> Sample | None:
        """The i-th valid point (0 is the problem's own point when valid), or None."""
        with self._drawing, mpmath.workdps(DIGITS):
            while len(self.samples) <= i and self.attempts < MAX_ATTEMPTS:
                point = self.base if self.attempts == 0 else self._random_point(self.attempts)
                self.attempts += 1
                mp_point = {k: numeric.to_mp(v) for k, v in point.items()}
                try:
                    s = Sample(self, mp_point)
                    if s.valid():
                        s.fractions = point
                        self.samples.append(s)
                except (ArithmeticError, ValueError, TypeError, numeric.DomainError):
                    continue  # outside the problem's domain (log of a negative number): another draw
        return self.samples[i] if i < len(self.samples) else None


def _value(expr, sample, env=None):
    """The value of an expression at a sample (None: undefined there; "kink": at a kink)."""
    env = sample.env if env is None else env
    try:
        with mpmath.workdps(DIGITS):
            if near_kink(expr, env):
                return "kink"
            v = compiled(expr)(env)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, KeyError):
        return None
    return v if _finite(v) else None
