"""Seeded variants of a problem for worksheets: new nice values, degenerate draws redrawn.

A `Variant` is the problem with new input values, drawn by `random.Random(f"{seed}:{version}:{key}")`
(never the global RNG), so a seed always gives the same sheet. Values are nice (small integers or
one decimal). A draw is redrawn when it would make a lesson invisible or a number unusable:
  forward (`degeneracies`): a saturated unit or a kink (of every function whose record in
    engine.ops `saturates` or has `kinks`: σ, tanh, ReLU, |x|, a max tie, ...), a tiny
    denominator, a log of a number near or below 0, a huge value, and equal values on two inputs
    of one gate (x = y into x + y, or w = x in a product w·x: which is which cannot show);
    and a gate whose value is 0 or ±1 (xpy = 1 hides the squaring, z = 0 into σ) unless the
    gate is one application of a kinked function (relu off is 0, max is one of its inputs);
  backward (`solution_problems`): a local gradient that is 0 or ±1 where the gate's rule is not
    a constant or piecewise constant (z = 1 in f = q·z hides the multiply gate's swap: ∂f/∂q =
    z = 1; relu′, ∂max/∂x and |x|′ = sign x are 0 or ±1 by their rule), a vanishing gradient of
    an input or parameter (|∂f/∂w| < GRADIENT_MIN; exactly 0 behind a switch is the lesson), a
    failed check or a kink; a network whose hidden units can switch off (relu′ = 0) is drawn
    with at least one hidden unit off and one on.
The number of redraws is bounded and kept on the variant with the reason for each. Every variant
is solved through `pipeline.solve` and used only if its numeric check passes, so every answer is
proven before it is written. Math only: never imports rendering.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from ..engine import numeric
from ..engine.ops import function_of
from ..engine.precision import mp as mpmath  # derive's own context, precision per thread
from ..errors import DeriveError
from ..pipeline import DomainError, Solution, graph_and_inputs, solve

MAX_REDRAWS = 1000  # per variant; a problem that cannot be made clean in this many draws is an error
INT_RANGE = 5  # integers are drawn from ±1 .. ±INT_RANGE
DECIMAL_RANGE = 30  # one-decimal values from ±0.1 .. ±3.0, in tenths
SATURATION_MIN = 0.0175  # a saturating function's derivative below this: saturated (σ beyond |z| ≈ 4, tanh ≈ 2.7)
KINK_MARGIN = Fraction(1, 10)  # arguments of a kinked function (relu, abs) and max ties closer than this to the kink
DENOMINATOR_MIN = Fraction(1, 4)  # |denominator| below this: division by (nearly) zero (1/den² > 16)
LOG_MIN = Fraction(1, 10)  # log arguments below this
EXP_LIMIT = 4  # |exp argument| above this: big numbers, or a sigmoid built of gates saturates
VALUE_LIMIT = 100  # any forward value or gradient larger than this in magnitude
GRADIENT_MIN = 1e-3  # |gradient| below this: vanishing (it prints as 0.000… and teaches nothing)
TRIVIAL = (0, 1, -1)  # a non-constant local gradient with one of these values hides its rule
TARGET_ARRAYS = ("t", "y", "T")  # network data the loss compares with: kept as the file gives them


# ---------------------------------------------------------------- variants

@dataclass(frozen=True)
class Variant:
    """One version of a problem: new values, its proven solution and how many draws it took."""
    key: str  # the RNG key, f"{seed}:{version}:{problem key}"
    problem: object  # a ScalarProblem with the drawn values
    solution: Solution
    redraws: int  # rejected draws before this one
    rejected: tuple[str, ...] = ()  # the reason for each rejected draw, in order
    original: object = None  # the problem as its file gives it (its text may quote its values)

    @property
    def derivation(self):
        return self.solution.derivation

    @property
    def values(self) -> dict:
        """Every input of the graph -> its exact value (a network's are its array elements)."""
        return dict(self.solution.inputs)

    @property
    def graph(self):
        return self.solution.derivation.graph


def problem_key(problem) -> str:
    """What names a problem in the RNG key: its title, stable across paths and machines (the title
    as written, not a translation: callers draw from the problem as loaded, see sheet_view.shown)."""
    return problem.title


def nice_value(original, rng: random.Random) -> Fraction:
    """A small nonzero integer where the problem had an integer, else a nonzero one-decimal number."""
    if Fraction(original).denominator == 1:
        k = rng.randint(1, INT_RANGE)
        return Fraction(k if rng.random() < 0.5 else -k)
    k = rng.randint(1, DECIMAL_RANGE)
    return Fraction(k if rng.random() < 0.5 else -k, 10)


def is_nice(value) -> bool:
    """A small integer or a number with one decimal."""
    v = Fraction(value)
    return v.denominator in (1, 2, 5, 10) and abs(v) <= max(INT_RANGE, DECIMAL_RANGE / 10)


def draw_values(problem, rng: random.Random) -> dict:
    return {name: nice_value(v, rng) for name, v in problem.values.items()}


def draw_arrays(problem, rng: random.Random) -> dict:
    """A network's arrays with new one-decimal values in ±0.1 .. ±1.0; targets are kept."""
    def draw(a):
        if isinstance(a, tuple):
            return tuple(draw(v) for v in a)
        k = rng.randint(1, 10)
        return Fraction(k if rng.random() < 0.5 else -k, 10)
    return {name: a if name in TARGET_ARRAYS else draw(a) for name, a in problem.arrays.items()}


def candidate_of(problem, rng: random.Random):
    """The problem with freshly drawn values (not yet checked)."""
    if problem.kind == "scalar":
        return dataclasses.replace(problem, values=draw_values(problem, rng))
    if problem.kind == "network":
        return dataclasses.replace(problem, arrays=draw_arrays(problem, rng), seeded=False)
    raise DeriveError(f"{problem.source}: worksheets draw variants of scalar circuits and networks, "
                      f"not of {problem.kind!r} problems")


DISTINCT_INPUTS = 3  # a graph with at most this many inputs gets pairwise different input values


def degeneracies(graph, values: dict) -> tuple[str, ...]:
    """Why the point `values` is a bad place for an exercise (empty if it is a good one).

    Walks the graph forward in high precision; inside each gate it looks at every function
    application, innermost first, before evaluating the gate. A small graph's inputs must all
    differ (x = z = 5 in f = (x + y)·z reads as if ∂f/∂x = z were about x).
    """
    inputs = graph.inputs
    if len(inputs) <= DISTINCT_INPUTS:
        for a, b in itertools.combinations(inputs, 2):
            if values[a] == values[b]:
                return (f"equal inputs {a} = {b} = {values[a]}",)
    env: dict = {}
    with mpmath.workdps(numeric.PRECISION):
        for node in graph.nodes:
            if node.is_input:
                env[node.symbol] = numeric.to_mp(values[node.name])
                continue
            for sub in sorted(_applications(node.expr), key=_size_then_text):
                try:
                    args = [numeric.evaluate(a, env) for a in sub.args]
                except (ZeroDivisionError, ValueError, TypeError):
                    return (f"{node.name}: {sub} cannot be evaluated",)
                reason = _bad_application(sub, args)
                if reason:
                    return (f"{node.name}: {reason}",)
            reason = _equal_inputs(graph, node, env)
            if reason:
                return (f"{node.name}: {reason}",)
            try:
                v = numeric.evaluate(node.expr, env)
            except (ZeroDivisionError, ValueError, TypeError):
                return (f"{node.name} cannot be evaluated",)
            if not isinstance(v, mpmath.mpf) or not mpmath.isfinite(v) or abs(v) > VALUE_LIMIT:
                return (f"{node.name} = {mpmath.nstr(v, 6)} is not a moderate real number",)
            if not _switch(node.expr) and any(abs(v - t) < 1e-12 for t in TRIVIAL):
                return (f"{node.name} = {mpmath.nstr(v, 6)} hides its gate (1² = 1, σ(0), a product with 0)",)
            env[node.symbol] = v
    return ()


SMALL_GATE = 3  # a gate with at most this many inputs must get pairwise different values


def _equal_inputs(graph, node, env) -> str | None:
    """Two inputs of one gate with the same value: a small gate's inputs pairwise, and the
    factors of each product inside a bigger one (w·x in a net input)."""
    groups = []
    if len(node.parents) <= SMALL_GATE:
        groups.append(tuple(dict.fromkeys(node.parents)))  # x·x uses one input twice: not two inputs
    terms = node.expr.args if isinstance(node.expr, sp.Add) else (node.expr,)
    for term in terms:
        if isinstance(term, sp.Mul):
            groups.append(tuple(dict.fromkeys(str(f) for f in term.args if isinstance(f, sp.Symbol))))
    for group in groups:
        seen = {}
        for name in group:
            v = env.get(graph.node(name).symbol) if name in graph else None
            if v is None:
                continue
            for other, w in seen.items():
                if v == w:
                    return f"equal inputs {other} = {name} = {mpmath.nstr(v, 6)}"
            seen[name] = v
    return None


def _applications(expr) -> set:
    """The applications a draw keeps clear of trouble: every function whose record has kinks or
    saturates, and every log, exp and power."""
    return {e for e in sp.preorder_traversal(expr) if isinstance(e, (sp.log, sp.exp, sp.Pow)) or _watched(e)}


def _switch(expr) -> bool:
    """A gate that is one application of a kinked function (relu, max, abs, step): its value may
    be 0 or one of its inputs by its rule (a unit switched off, the larger input chosen)."""
    record = function_of(expr.func)
    return record is not None and bool(record.kinks)


@functools.lru_cache(maxsize=4096)
def piecewise_constant(expr) -> bool:
    """A local gradient that is constant between kinks (relu' = 1[z > 0], ∂max/∂x, d|x|/dx =
    sign x): its value 0 or ±1 is its rule, not a coincidence of the draw."""
    if expr.is_number or not expr.free_symbols:
        return False
    return all(sp.diff(expr, s).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero) == 0
               for s in expr.free_symbols)


def _watched(e) -> bool:
    record = function_of(e.func)
    return record is not None and bool(record.kinks or record.saturates)


def _size_then_text(e) -> tuple:
    """Innermost first, and a fixed order that does not depend on hashing."""
    return (sum(1 for _ in sp.preorder_traversal(e)), sp.srepr(e))


def _below(x, bound: Fraction) -> bool:
    """x < bound for a high-precision x and an exact bound (0.1 stays 0.1)."""
    return x * bound.denominator < bound.numerator


def _bad_application(e, args) -> str | None:
    if any(not isinstance(a, mpmath.mpf) for a in args):
        return f"{e} is not real here"
    a = args[0]
    record = function_of(e.func)
    if record is not None:
        reason = _near_kink(record, args) or _saturated(record, args)
        if reason:
            return reason
    if isinstance(e, sp.log) and _below(a, LOG_MIN):
        return f"log of {mpmath.nstr(a, 6)}"
    if isinstance(e, sp.exp) and abs(a) > EXP_LIMIT:  # large, or a saturated 1/(1 + e^(−s))
        return f"exp of {mpmath.nstr(a, 6)} is too {'large' if a > 0 else 'small'}"
    if isinstance(e, sp.Pow):
        base, exponent = args
        if exponent < 0 and _below(abs(base), DENOMINATOR_MIN):
            return f"division by {mpmath.nstr(base, 6)}"
        if not e.args[1].is_integer and _below(base, DENOMINATOR_MIN):
            return f"non-integer power of {mpmath.nstr(base, 6)}"
    return None


def _near_kink(record, args) -> str | None:
    """Its first argument near one of the record's kinks, or two arguments near a tie (max, min)."""
    for kink in record.kinks:
        if kink == "tie":
            if any(_below(hi - lo, KINK_MARGIN) for lo, hi in itertools.pairwise(sorted(args))):
                return f"a near tie in {record.name}"
        elif _below(abs(args[0] - kink), KINK_MARGIN):
            return f"at or near the kink of {record.name}: argument {mpmath.nstr(args[0], 6)}"
    return None


def _saturated(record, args) -> str | None:
    """A saturating function whose derivative at its argument is below SATURATION_MIN."""
    if not record.saturates:
        return None
    slope = mpmath.diff(lambda x: record.mp(x, *args[1:]), args[0])
    if abs(slope) < SATURATION_MIN:
        return f"saturated {record.name}: argument {mpmath.nstr(args[0], 6)}"
    return None


def solution_problems(solution) -> tuple[str, ...]:
    """Why a solved variant cannot be used: failed checks, kinks, huge or vanishing gradients,
    and local gradients whose value (0, ±1) hides the gate's rule."""
    d = solution.derivation
    reasons = [f"check of ∂/∂{c.wrt} is {c.verdict}" for c in solution.report.failures()]
    reasons += [f"kink at {k}" for k in d.kinks]
    reasons += [f"|∂{d.output}/∂{g.node}| = {g.value:.3g} is too large"
                for g in d.steps if not math.isfinite(g.value) or abs(g.value) > VALUE_LIMIT]
    leaves = set(d.graph.inputs)  # what the exercises ask about
    switched = any(piecewise_constant(c.local.expr) and c.local.value == 0 for g in d.steps for c in g.contributions)
    # a gradient that is exactly 0 behind a switch (a ReLU unit off, the input max did not choose) is
    # the lesson; one that is merely small teaches nothing
    reasons += [f"|∂{d.output}/∂{g.node}| = {g.value:.3g} vanishes" for g in d.steps
                if g.node in leaves and abs(g.value) < GRADIENT_MIN and not (switched and g.value == 0)]
    if leaves and all(g.value == 0 for g in d.steps if g.node in leaves):
        reasons.append("every gradient is 0")
    reasons += _hidden_switches(solution)
    off = {d.graph.node(n).symbol for n in d.values if n in d.graph and not d.graph.node(n).is_input
           and d.values[n] == 0 and _switch(d.graph.node(n).expr)}  # units a ReLU switched off
    for g in d.steps:
        for c in g.contributions:
            if c.local.value == 0 and c.local.expr.free_symbols & off:
                continue  # ∂net/∂w = h_j = 0 behind an off unit: the lesson, not a hidden rule
            if trivial_local(c.local):
                reasons.append(f"∂{c.via}/∂{c.target} = {c.local.expr} is {c.local.value:g}: the rule of {c.via} "
                               f"does not show")
    return tuple(reasons)


def _hidden_switches(solution) -> list[str]:
    """A network: every weight matrix has a weight with a nonzero gradient (something to compute),
    and when its units can switch off (ReLU: relu′ = 0 for z < 0) at least one unit is off, so the
    sheet shows δ_j = 0 as well as a live δ_j."""
    params = getattr(solution.extra, "params", None)
    if not params:
        return []
    d = solution.derivation
    reasons = []
    for key, names in params.items():
        flat = [n for n in _flat(names) if d.has(n)]
        if key.upper().startswith("W") and flat and all(d.gradient(n).value == 0 for n in flat):
            reasons.append(f"every gradient of {key} is 0")
    units = [n for n in d.graph.steps if _switch(n.expr) and _switches_off(function_of(n.expr.func))]
    if units and not any(d.values[n.name] == 0 for n in units):
        reasons.append("no unit is switched off")
    return reasons


def _flat(names):
    for n in names:
        if isinstance(n, str):
            yield n
        else:
            yield from _flat(n)


def _switches_off(record) -> bool:
    """An activation whose derivative is 0 on one side of its kink (relu; not leaky ReLU or ELU)."""
    if not (record.activation and len(record.kinks) == 1):
        return False
    params = [v for _, v in record.params]  # leaky ReLU's slope α at its default

    def slope(x):
        return mpmath.diff(lambda z: record.mp(z, *params), x)
    return slope(record.kinks[0] - 1) == 0 and slope(record.kinks[0] + 1) != 0


def trivial_local(local) -> bool:
    """A local gradient that is not a constant (its rule depends on the values) but is 0 or ±1 here.
    A step or a sign (relu' = 1[z > 0], |x|' = sign x) is 0 or ±1 by its rule, so it never hides it."""
    if local.expr.is_number or piecewise_constant(local.expr):
        return False
    return any(math.isclose(local.value, t, rel_tol=1e-12, abs_tol=1e-12) for t in TRIVIAL)


def draw_variant(problem, seed: int, version: int, max_redraws: int = MAX_REDRAWS) -> Variant:
    """The problem with nice, non-degenerate values for this seed and version, solved and proven."""
    key = f"{seed}:{version}:{problem_key(problem)}"
    rng = random.Random(key)
    rejected: list[str] = []
    for _ in range(max_redraws + 1):
        candidate = candidate_of(problem, rng)
        reasons = degeneracies(*graph_and_inputs(candidate))
        if not reasons:
            try:
                solution = solve(candidate)
            except DomainError as e:  # undefined at this point: another draw
                rejected.append(str(e))
                continue
            reasons = solution_problems(solution)
            if not reasons:
                return Variant(key, candidate, solution, len(rejected), tuple(rejected), problem)
        rejected.append(reasons[0])
    raise DeriveError(f"{problem.source}: no clean variant for seed {seed}, version {version} in "
                      f"{max_redraws + 1} draws (last: {rejected[-1]}; most often: {_most_often(rejected)}); "
                      f"values that make a lesson invisible are redrawn: try other starting values")


def _most_often(reasons) -> str:
    """The commonest kinds of rejection, numbers left out: '120× num: exp of # is too large'."""
    kinds = collections.Counter(re.sub(r"(?<![\w^])-?\d+(?:\.\d+)?(?:e-?\d+)?", "#", r) for r in reasons)
    return ", ".join(f"{n}× {k}" for k, n in kinds.most_common(3))
