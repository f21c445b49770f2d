"""Worksheet exercises as plain data: frozen records on a Variant, and the Sheet of a version.

Exercises are frozen records with a number, a kind and the engine's own step records as their
answer, from which the answer key typesets the full worked solution:

  forward   fill in the forward value of every gate on the drawn graph
  gates     fill in every gate's gradient (upstream × local, summed over consumers)
  symbolic  derive a named gradient as a chain of factors, then in the graph's names
  rule      (networks) derive a gradient in index form, e.g. ∂L/∂w_kj = δ_k h_j; a network with a
            hidden layer gets a second one for a hidden weight, ∂L/∂w_ji = δ_j x_i (written out
            for a unit a ReLU switched off when there is one: δ_j = 0)
  numeric   compute that gradient at the given values, factor by factor (a network: a hidden
            weight's, through δ_j)
  update    one gradient-descent step w' = w − η ∂L/∂w, only when the output is a loss (a
            network's, or a scalar graph's output named L, E, J, C, loss, cost or error)
  layer     a layer drill (sheets.layer_drills): dX and the layer's parameter gradients from dY

The scaffolding level decides how much of the solution the worksheet shows; the data is the
same at every level (LEVELS, least help first):

  exam             the questions, the figure, the given values and answer space; nothing else
  outline          + the chain-rule outline: the order of the gates, which factors to multiply,
                   and at a node used several times the sum of its paths with the local factors
                   left blank (∂f/∂num·[ ] + ∂f/∂xpy·[ ]); no local gradient is given
  local-gradients  + every local gradient the exercise needs (the rule of each gate)
  fill-in          the worked solution's frame with boxes to fill in (no box is labelled with
                   the quantity asked, and no box's answer is printed elsewhere)
  worked           the full worked solution under each exercise

The old names still work: full = worked, hints = local-gradients, blanks = fill-in
(LEVEL_ALIASES; `level_name` resolves them). This module is math only: it never imports rendering.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from ..engine.reverse import chain as chain_of
from ..engine.steps import Chain, Gradient, partial
from ..errors import DeriveError
from .layer_drills import draw_drill
from .variants import MAX_REDRAWS, Variant, draw_variant

LEVELS = ("exam", "outline", "local-gradients", "fill-in", "worked")
LEVEL_ALIASES = {"full": "worked", "hints": "local-gradients", "blanks": "fill-in"}
DEFAULT_LEVEL = "outline"
HINT_LEVELS = {  # which hint kinds each level prints
    "exam": (), "outline": ("order", "chain", "fanout", "update"),
    "local-gradients": ("order", "chain", "fanout", "update", "rule"), "fill-in": (), "worked": (),
}
KINDS = ("forward", "gates", "symbolic", "rule", "numeric", "update")  # (a layer drill's one item: "layer")
LEARNING_RATES = (Fraction(1, 10), Fraction(1, 5), Fraction(1, 2))
FIGURE_LIMIT = 14  # graphs with more nodes get no fill-in-the-figure items
PARAMETER_PREFIXES = ("w", "b", "θ", "theta")
LOSS_NAME = re.compile(r"(L|E|J|C|loss|cost|err|error)(?![A-Za-z0-9])", re.IGNORECASE)  # L, E_total, loss_1

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

    `instance` is (bindings, node, concrete expr, value) for the element the sheet asks about;
    `via_delta` the rule through its unit's delta (δ_j x_i for ∂L/∂w_ji), when one covers it.
    """
    output: str
    rule: object  # networks.IndexRule
    instance: tuple
    via_delta: sp.Expr | None = None


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
    chain: `factors` are the (num, den) pairs of the chain (two or more: a chain of one factor
    would restate the question). fanout: `node` is used by `nodes`; its gradient is the sum over
    them of ∂output/∂consumer · ∂consumer/∂node, the local factors left for the student.
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
        return ("rule", "rule", "numeric", "update") if len(problem.sizes) > 2 else ("rule", "numeric", "update")
    graph = problem.graph()
    kinds = []
    if len(graph.nodes) <= FIGURE_LIMIT:
        kinds += ["forward", "gates"]
    kinds += ["symbolic", "numeric"]
    if any(is_parameter(n) for n in graph.inputs) and is_loss(graph.output):
        kinds.append("update")  # gradient descent lowers a loss, not a neuron's output
    return tuple(kinds)


def is_loss(name: str) -> bool:
    return LOSS_NAME.match(name) is not None


def level_name(level: str) -> str:
    """The level's current name (an old name resolved); a DeriveError for an unknown one."""
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        raise DeriveError(f"unknown scaffolding level {level!r}; expected one of {', '.join(LEVELS)} "
                          f"(or the old names {', '.join(LEVEL_ALIASES)})")
    return level


def choose_target(variant: Variant, rng: random.Random, layer: int = -1) -> str:
    """An input that reaches the output and whose gradient takes the chain rule to find: a
    parameter when there is one, else an input used twice, else one at least two gates deep;
    never one whose gradient is 0 when another is not. For a network: a weight of the weight
    matrix `layer` (-1: the output layer, 0: the first)."""
    d = variant.derivation
    extra = variant.solution.extra
    if extra is not None and getattr(extra, "chains", None):
        matrix = [p for p in extra.params if p.upper().startswith("W")][layer]
        weights = [c.node for c in extra.chains if c.param == matrix]
        return rng.choice([w for w in weights if d.gradient(w).value != 0] or weights)
    reach = [n for n in d.graph.inputs if d.has(n)]
    reach = [n for n in reach if d.gradient(n).value != 0] or reach
    if not reach:
        raise DeriveError(f"{variant.problem.source}: no input reaches the output")
    fanouts = [n for n in reach if d.gradient(n).is_fanout]
    deep = [n for n in reach if n in fanouts or len(chain_of(d, n).factors) > 1]
    params = [n for n in deep if is_parameter(n)]
    return rng.choice(params or fanouts or deep or reach)


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
    """The index-form rule that covers `target` (∂L/∂w_kj for an output-layer weight), written
    out for `target`."""
    for rule in variant.solution.extra.rules:
        for inst in rule.instances:
            if inst[1] == target:
                if not rule.checked:
                    raise DeriveError(f"internal check failed: the rule for {rule.target} is unproven")
                _agree(float(inst[3]), variant.derivation.gradient(target).value, f"the rule {rule.target}")
                return RuleAnswer(variant.derivation.output, rule, inst,
                                  through_delta(variant.solution.extra.rules, rule))
    raise DeriveError(f"{variant.problem.source}: no index-form rule covers {target}")


def through_delta(rules, rule) -> sp.Expr | None:
    """∂L/∂w_ji as δ_j · x_i: the delta rule (lhs δ[j]) whose expression times one symbol (or 1)
    is this rule's expression, as the product δ[j] · that symbol."""
    for d in rules:
        if d is rule or not isinstance(d.lhs, sp.Indexed) or isinstance(rule.lhs, sp.Indexed):
            continue
        ratio = sp.simplify(rule.expr / d.expr)
        if ratio == 1:
            return d.lhs
        if isinstance(ratio, (sp.Indexed, sp.Symbol)):
            return sp.Mul(d.lhs, ratio, evaluate=False)
    return None


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
        fanouts = tuple(Hint("fanout", node=g.node, nodes=tuple(c.via for c in g.contributions))
                        for g in answer.gradients if g.is_fanout)
        rules = tuple(Hint("rule", node=c.via, wrt=g.node, expr=c.local.expr)
                      for g in answer.gradients for c in g.contributions)
        return fanouts + rules
    if kind == "rule":
        factors = tuple((str(a), str(b)) for a, b, _ in answer.rule.factors)
        chain = (Hint("chain", node=answer.output, wrt=answer.rule.target, factors=factors),) \
            if len(factors) > 1 else ()
        return chain
    if kind in ("symbolic", "numeric"):
        factors = answer.chain.factors
        hints = []
        if len(factors) > 1:
            hints.append(Hint("chain", node=answer.output, wrt=answer.target,
                              factors=tuple((f.num, f.den) for f in factors)))
        top = factors[0].den if factors else answer.target
        g = d.gradient(top)
        if g.is_fanout:
            hints.append(Hint("fanout", node=top, nodes=tuple(c.via for c in g.contributions)))
            hints += [Hint("rule", node=c.via, wrt=top, expr=c.local.expr) for c in g.contributions]
        hints += [Hint("rule", node=f.num, wrt=f.den, expr=f.expr) for f in factors
                  if (not d.gradient(f.den).is_fanout or f.num != answer.output)
                  and (f.num, f.den) != (answer.output, answer.target)]  # a hint never states the answer
        return tuple(hints)
    if kind == "update":
        return (Hint("update", node=answer.target, expr=answer.rule),)
    raise ValueError(kind)


def exercises_for(variant: Variant, kinds, first_number: int, rng: random.Random) -> list[Exercise]:
    """The items on one variant, numbered from `first_number`."""
    given = tuple(variant.values.items())
    target = choose_target(variant, rng)
    eta = rng.choice(LEARNING_RATES)
    hidden = _hidden_targets(variant, kinds, rng)
    items = []
    rules = 0
    for kind in kinds:
        if hidden and (kind != "rule" or rules):  # a network: the first rule on w^o, the rest on w^h
            target = hidden[1] if kind == "rule" else hidden[0]
        rules += kind == "rule"
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


def _hidden_targets(variant: Variant, kinds, rng: random.Random) -> tuple[str, str] | None:
    """A network with a hidden layer and two rule items: (a first-layer weight with a nonzero
    gradient for the numbers, the weight to write the hidden rule out for: one into a unit a
    ReLU switched off when there is one, so δ_j = 0 shows)."""
    extra = variant.solution.extra
    if list(kinds).count("rule") < 2 or not getattr(extra, "chains", None):
        return None
    live = choose_target(variant, rng, layer=0)
    d = variant.derivation
    first = next(p for p in extra.params if p.upper().startswith("W"))
    off = [c.node for c in extra.chains if c.param == first and d.gradient(c.node).value == 0]
    return live, (rng.choice(off) if off else live)


def build_sheet(problems, seed: int, version: int, level: str = DEFAULT_LEVEL, kinds=None,
                max_redraws: int = MAX_REDRAWS) -> Sheet:
    """One worksheet version: a variant of each problem and its exercises, numbered 1, 2, …

    `level` may be an old name (resolved by `level_name`). `kinds` (a tuple of KINDS) overrides
    the per-problem choice of `choose_kinds`.
    """
    level = level_name(level)
    variants, exercises = [], []
    for problem in problems:
        if problem.kind == "layer_drill":  # a layer's backward pass (sheets.layer_drills): one item
            variant = draw_drill(problem, seed, version)
            exercises.append(Exercise(len(exercises) + 1, "layer", variant, None, (), variant.answer, ()))
            variants.append(variant)
            continue
        variant = draw_variant(problem, seed, version, max_redraws)
        rng = random.Random(f"{variant.key}:items")
        chosen = kinds if kinds is not None else choose_kinds(problem)
        exercises += exercises_for(variant, chosen, len(exercises) + 1, rng)
        variants.append(variant)
    return Sheet(seed, version, level, tuple(variants), tuple(exercises))


def gradient_symbol(output: str, wrt: str) -> sp.Symbol:
    """∂output/∂wrt, as the steps name it (for prompts that ask for a gradient)."""
    return partial(output, wrt)
