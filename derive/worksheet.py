"""Worksheets and answer keys as plain data: seeded variants of a problem and exercises on them.

A `Variant` is the problem with new input values, drawn by `random.Random(f"{seed}:{version}:{key}")`
(never the global RNG), so a seed always gives the same sheet. Values are nice (small integers or
one decimal) and a draw that lands on a degenerate point (a saturated sigmoid or tanh, a ReLU/abs
kink or a max tie, a tiny denominator, a log of a number near or below 0, a huge value) is redrawn;
the number of redraws is bounded and kept on the variant. Every variant is solved through
`pipeline.solve` and used only if its numeric check passes, so every answer is proven before it
is written.

Exercises are frozen records with a number, a kind and the engine's own step records as their
answer, from which the answer key typesets the full worked solution:

  forward   fill in the forward value of every gate on the drawn graph
  gates     fill in every gate's gradient (upstream × local, summed over consumers)
  symbolic  derive a named gradient as a chain of factors, then in the graph's names
  rule      (networks) derive a gradient in index form, e.g. ∂L/∂w_kj = δ_k h_j
  numeric   compute that gradient at the given values, factor by factor
  update    one gradient-descent step w' = w − η ∂f/∂w

The scaffolding level (full, hints, blanks) decides how much of the solution the worksheet shows;
the data is the same at every level. This module is math only: it never imports rendering.
"""
from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from . import numeric
from .backward import chain as chain_of
from .errors import DeriveError
from .ops import relu, sigmoid
from .pipeline import Solution, solve
from .steps import Chain, Gradient, partial

LEVELS = ("full", "hints", "blanks")
KINDS = ("forward", "gates", "symbolic", "rule", "numeric", "update")

MAX_REDRAWS = 400  # per variant; a problem that cannot be made clean in this many draws is an error
INT_RANGE = 5  # integers are drawn from ±1 .. ±INT_RANGE
DECIMAL_RANGE = 30  # one-decimal values from ±0.1 .. ±3.0, in tenths
SIGMOID_LIMIT = 4  # |pre-activation| above this: σ' < 0.018, saturated
TANH_LIMIT = 2.5  # tanh' < 0.027 beyond this
KINK_MARGIN = Fraction(1, 10)  # relu/abs arguments and max ties closer than this to the kink
DENOMINATOR_MIN = Fraction(1, 4)  # |denominator| below this: division by (nearly) zero (1/den² > 16)
LOG_MIN = Fraction(1, 10)  # log arguments below this
EXP_LIMIT = 4  # |exp argument| above this: big numbers, or a sigmoid built of gates saturates
VALUE_LIMIT = 100  # any forward value or gradient larger than this in magnitude
LEARNING_RATES = (Fraction(1, 10), Fraction(1, 5), Fraction(1, 2))
FIGURE_LIMIT = 14  # graphs with more nodes get no fill-in-the-figure items
PARAMETER_PREFIXES = ("w", "b", "θ", "theta")
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

    @property
    def derivation(self):
        return self.solution.derivation

    @property
    def values(self) -> dict:
        """Every input of the graph -> its exact value (a network's are its array elements)."""
        return dict(self.problem.inputs)

    @property
    def graph(self):
        return self.solution.derivation.graph


def problem_key(problem) -> str:
    """What names a problem in the RNG key: its title, stable across paths and machines."""
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


def degeneracies(graph, values: dict) -> tuple[str, ...]:
    """Why the point `values` is a bad place for an exercise (empty if it is a good one).

    Walks the graph forward in high precision; inside each gate it looks at every function
    application, innermost first, before evaluating the gate.
    """
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
            try:
                v = numeric.evaluate(node.expr, env)
            except (ZeroDivisionError, ValueError, TypeError):
                return (f"{node.name} cannot be evaluated",)
            if not isinstance(v, mpmath.mpf) or not mpmath.isfinite(v) or abs(v) > VALUE_LIMIT:
                return (f"{node.name} = {mpmath.nstr(v, 6)} is not a moderate real number",)
            env[node.symbol] = v
    return ()


def _applications(expr) -> set:
    return {e for e in sp.preorder_traversal(expr)
            if isinstance(e, (sigmoid, relu, sp.tanh, sp.Abs, sp.log, sp.exp, sp.Max, sp.Min, sp.Pow))}


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
    if isinstance(e, sigmoid) and abs(a) > SIGMOID_LIMIT:
        return f"saturated sigmoid: argument {mpmath.nstr(a, 6)}"
    if isinstance(e, sp.tanh) and abs(a) > TANH_LIMIT:
        return f"saturated tanh: argument {mpmath.nstr(a, 6)}"
    if isinstance(e, (relu, sp.Abs)) and _below(abs(a), KINK_MARGIN):
        return f"at or near the kink of {e.func.__name__}: argument {mpmath.nstr(a, 6)}"
    if isinstance(e, (sp.Max, sp.Min)):
        ordered = sorted(args)
        if any(_below(hi - lo, KINK_MARGIN) for lo, hi in zip(ordered, ordered[1:])):
            return f"a near tie in {e.func.__name__.lower()}"
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


def solution_problems(solution) -> tuple[str, ...]:
    """Why a solved variant cannot be used: failed checks, kinks, huge gradients."""
    d = solution.derivation
    reasons = [f"check of ∂/∂{c.wrt} is {c.verdict}" for c in solution.report.failures()]
    reasons += [f"kink at {k}" for k in d.kinks]
    reasons += [f"|∂{d.output}/∂{g.node}| = {g.value:.3g} is too large"
                for g in d.steps if not math.isfinite(g.value) or abs(g.value) > VALUE_LIMIT]
    return tuple(reasons)


def draw_variant(problem, seed: int, version: int, max_redraws: int = MAX_REDRAWS) -> Variant:
    """The problem with nice, non-degenerate values for this seed and version, solved and proven."""
    key = f"{seed}:{version}:{problem_key(problem)}"
    rng = random.Random(key)
    rejected: list[str] = []
    for _ in range(max_redraws + 1):
        candidate = candidate_of(problem, rng)
        reasons = degeneracies(candidate.graph(), candidate.inputs)
        if not reasons:
            solution = solve(candidate)
            reasons = solution_problems(solution)
            if not reasons:
                return Variant(key, candidate, solution, len(rejected), tuple(rejected))
        rejected.append(reasons[0])
    raise DeriveError(f"{problem.source}: no clean variant for seed {seed}, version {version} in "
                      f"{max_redraws + 1} draws (last: {rejected[-1]})")


# ---------------------------------------------------------------- exercises

@dataclass(frozen=True)
class ForwardLine:
    """One gate of the forward pass: node = expr = expr at the parents' values = value."""
    node: str
    op: str
    expr: sp.Expr
    operands: tuple[tuple[str, float], ...]  # (parent, value) in the order of node.parents
    value: float


@dataclass(frozen=True)
class ForwardAnswer:
    lines: tuple[ForwardLine, ...]
    output: str
    value: float


@dataclass(frozen=True)
class GatesAnswer:
    """Every gradient of the graph, output first, as the engine's Gradient records."""
    output: str
    gradients: tuple[Gradient, ...]


@dataclass(frozen=True)
class ChainAnswer:
    """∂output/∂target as a chain of factors; `closed` is it in the graph's names.

    `gradient` is the target's Gradient record (its contributions when it fans out).
    For the numeric kind, `value` is the product of the factor values (already proven).
    """
    output: str
    target: str
    symbol: sp.Symbol
    chain: Chain
    gradient: Gradient
    closed: sp.Expr | None
    value: float


@dataclass(frozen=True)
class RuleAnswer:
    """A network's gradient in index form (networks.IndexRule) and one element it covers.

    `instance` is (bindings, node, concrete expr, value) for the element the sheet asks about.
    """
    output: str
    rule: object  # networks.IndexRule
    instance: tuple


@dataclass(frozen=True)
class UpdateAnswer:
    """w' = w − η ∂f/∂w, as a SymPy equation, and its numbers."""
    target: str
    rule: sp.Eq  # new symbol = target − η · ∂f/∂target
    new_symbol: sp.Symbol
    eta_symbol: sp.Symbol
    gradient_symbol: sp.Symbol
    weight: Fraction
    eta: Fraction
    gradient: float
    new_value: float


@dataclass(frozen=True)
class Hint:
    """One piece of scaffolding. kind: order, rule, chain, fanout, update.

    order: `nodes` is the order to compute in. rule: ∂node/∂wrt = expr (a gate's local rule).
    chain: `factors` are the (num, den) pairs of the chain. fanout: `node` is used by `nodes`.
    update: `expr` is the update rule.
    """
    kind: str
    node: str = ""
    wrt: str = ""
    nodes: tuple[str, ...] = ()
    factors: tuple[tuple[str, str], ...] = ()
    expr: sp.Expr | None = None


@dataclass(frozen=True)
class Exercise:
    number: int  # 1-based over the whole sheet; the answer key uses the same numbers
    kind: str
    variant: Variant
    target: str | None  # the input a symbolic/rule/numeric/update item asks about
    given: tuple[tuple[str, Fraction], ...]  # values stated in the prompt (inputs, η)
    answer: object  # ForwardAnswer | GatesAnswer | ChainAnswer | RuleAnswer | UpdateAnswer
    hints: tuple[Hint, ...]


@dataclass(frozen=True)
class Sheet:
    """One version of a worksheet and its answer key."""
    seed: int
    version: int
    level: str
    variants: tuple[Variant, ...]
    exercises: tuple[Exercise, ...]

    @property
    def redraws(self) -> int:
        return sum(v.redraws for v in self.variants)


def is_parameter(name: str) -> bool:
    return name.startswith(PARAMETER_PREFIXES)


def choose_kinds(problem) -> tuple[str, ...]:
    """The exercise kinds that suit a problem: figure items for small graphs, an update
    item when the graph has parameters (w…, b…, θ…); for a network, its index-form rule."""
    if problem.kind == "network":
        return ("rule", "numeric", "update")
    graph = problem.graph()
    kinds = []
    if len(graph.nodes) <= FIGURE_LIMIT:
        kinds += ["forward", "gates"]
    kinds += ["symbolic", "numeric"]
    if any(is_parameter(n) for n in graph.inputs):
        kinds.append("update")
    return tuple(kinds)


def choose_target(variant: Variant, rng: random.Random) -> str:
    """An input that reaches the output: a parameter when there is one, else one used twice.
    For a network: a weight of the output layer."""
    d = variant.derivation
    extra = variant.solution.extra
    if extra is not None and getattr(extra, "chains", None):
        last = [p for p in extra.params if p.upper().startswith("W")][-1]
        return rng.choice([c.node for c in extra.chains if c.param == last])
    reach = [n for n in d.graph.inputs if any(g.node == n for g in d.steps)]
    if not reach:
        raise DeriveError(f"{variant.problem.source}: no input reaches the output")
    params = [n for n in reach if is_parameter(n)]
    fanouts = [n for n in reach if d.gradient(n).is_fanout]
    return rng.choice(params or fanouts or reach)


def forward_answer(variant: Variant) -> ForwardAnswer:
    d = variant.derivation
    lines = tuple(
        ForwardLine(n.name, n.op, n.expr, tuple((p, d.values[p]) for p in n.parents), d.values[n.name])
        for n in d.graph.steps)
    return ForwardAnswer(lines, d.output, d.values[d.output])


def chain_answer(variant: Variant, target: str) -> ChainAnswer:
    d = variant.derivation
    extra = variant.solution.extra
    given = [pc.chain for pc in getattr(extra, "chains", ()) if pc.node == target]
    c = given[0] if given else chain_of(d, target)
    g = d.gradient(target)
    product = math.prod(f.value for f in c.factors)
    _agree(product, g.value, f"the factors of ∂{d.output}/∂{target}")
    return ChainAnswer(d.output, target, g.symbol, c, g, g.closed, product)


def rule_answer(variant: Variant, target: str) -> RuleAnswer:
    """The index-form rule that covers `target` (∂L/∂w_kj for an output-layer weight)."""
    for rule in variant.solution.extra.rules:
        for inst in rule.instances:
            if inst[1] == target:
                if not rule.checked:
                    raise DeriveError(f"internal check failed: the rule for {rule.target} is unproven")
                _agree(float(inst[3]), variant.derivation.gradient(target).value, f"the rule {rule.target}")
                return RuleAnswer(variant.derivation.output, rule, inst)
    raise DeriveError(f"{variant.problem.source}: no index-form rule covers {target}")


def update_answer(variant: Variant, target: str, eta: Fraction) -> UpdateAnswer:
    d = variant.derivation
    g = d.gradient(target)
    w = variant.values[target]
    new = sp.Symbol(f"{target}'", real=True)
    eta_symbol = sp.Symbol("η", real=True)
    rule = sp.Eq(new, sp.Symbol(target, real=True) - eta_symbol * g.symbol, evaluate=False)
    new_value = float(w) - float(eta) * g.value
    return UpdateAnswer(target, rule, new, eta_symbol, g.symbol, w, eta, g.value, new_value)


def _agree(a: float, b: float, what: str) -> None:
    if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        raise DeriveError(f"internal check failed: {what} give {a!r}, the derivation {b!r}")


def hints_for(kind: str, variant: Variant, answer) -> tuple[Hint, ...]:
    d = variant.derivation
    graph = d.graph
    if kind == "forward":
        return (Hint("order", nodes=tuple(n.name for n in graph.steps)),)
    if kind == "gates":
        rules = tuple(Hint("rule", node=c.via, wrt=g.node, expr=c.local.expr)
                      for g in answer.gradients for c in g.contributions)
        fanouts = tuple(Hint("fanout", node=g.node, nodes=tuple(c.via for c in g.contributions))
                        for g in answer.gradients if g.is_fanout)
        return rules + fanouts
    if kind == "rule":
        return (Hint("chain", node=answer.output, wrt=answer.rule.target,
                     factors=tuple((str(a), str(b)) for a, b, _ in answer.rule.factors)),)
    if kind in ("symbolic", "numeric"):
        hints = [Hint("chain", node=answer.output, wrt=answer.target,
                      factors=tuple((f.num, f.den) for f in answer.chain.factors))]
        top = answer.chain.factors[0].den if answer.chain.factors else answer.target
        g = d.gradient(top)
        if g.is_fanout:
            hints.append(Hint("fanout", node=top, nodes=tuple(c.via for c in g.contributions)))
        return tuple(hints)
    if kind == "update":
        return (Hint("update", node=answer.target, expr=answer.rule),)
    raise ValueError(kind)


def exercises_for(variant: Variant, kinds, first_number: int, rng: random.Random) -> list[Exercise]:
    """The items on one variant, numbered from `first_number`."""
    given = tuple(variant.values.items())
    target = choose_target(variant, rng)
    eta = rng.choice(LEARNING_RATES)
    items = []
    for kind in kinds:
        item_target = None
        item_given = given
        if kind == "forward":
            answer = forward_answer(variant)
        elif kind == "gates":
            d = variant.derivation
            answer = GatesAnswer(d.output, d.steps)
        elif kind in ("symbolic", "numeric"):
            item_target = target
            answer = chain_answer(variant, target)
            if kind == "symbolic":
                item_given = ()
        elif kind == "rule":
            item_target = target
            answer = rule_answer(variant, target)
            item_given = ()
        elif kind == "update":
            item_target = target
            answer = update_answer(variant, target, eta)
            item_given = given + (("η", eta),)
        else:
            raise DeriveError(f"unknown exercise kind {kind!r}; expected one of {', '.join(KINDS)}")
        items.append(Exercise(first_number + len(items), kind, variant, item_target, item_given,
                              answer, hints_for(kind, variant, answer)))
    return items


def build_sheet(problems, seed: int, version: int, level: str = "hints", kinds=None,
                max_redraws: int = MAX_REDRAWS) -> Sheet:
    """One worksheet version: a variant of each problem and its exercises, numbered 1, 2, …

    `kinds` (a tuple of KINDS) overrides the per-problem choice of `choose_kinds`.
    """
    if level not in LEVELS:
        raise DeriveError(f"unknown scaffolding level {level!r}; expected one of {', '.join(LEVELS)}")
    variants, exercises = [], []
    for problem in problems:
        variant = draw_variant(problem, seed, version, max_redraws)
        rng = random.Random(f"{variant.key}:items")
        chosen = kinds if kinds is not None else choose_kinds(problem)
        exercises += exercises_for(variant, chosen, len(exercises) + 1, rng)
        variants.append(variant)
    return Sheet(seed, version, level, tuple(variants), tuple(exercises))


def gradient_symbol(output: str, wrt: str) -> sp.Symbol:
    """∂output/∂wrt, as the steps name it (for prompts that ask for a gradient)."""
    return partial(output, wrt)
