"""Verify a student's expression for a gradient, and say exactly what is wrong.

    verify(solution, wrt, answer_text) -> Verdict(correct, diagnosis, counterexample, reference, ...)

Equivalence: the answer may use any named quantity of the problem (graph nodes such as sigy, o_k,
h_j, δ_k). Named quantities are functions of the independent inputs, so both sides are compared
as functions of the inputs:
  * numerically, at many random points of the inputs in 50-digit mpmath (the forward pass gives
    every named quantity, the derivation's own local derivatives give the reference gradient),
    skipping points where either side is undefined, huge, or at a kink of relu/abs/max;
    one point of disagreement decides "wrong";
  * symbolically, for small graphs, by `simplify(answer - reference) == 0` with everything
    substituted back to the inputs, under a time budget (inconclusive results are reported).
"correct" needs agreement at every point and no symbolic contradiction.

Diagnosis: the answer is compared with mutations of the reference computed the same way, each a
common mistake named in the problem's terms: a sign error, a factor 2 (a loss without ½), a
missing or repeated chain-rule factor ∂c/∂p of one edge of the graph, a missing path of a quantity
used several times (a missing sum over the next layer), a wrong quantity or index, the gradient of
another quantity. Every wrong verdict carries a counterexample with both values.

[layers] problems (Affine, Softmax-with-Loss): --wrt a whole matrix (X, W, B, A) is checked in
matrix form by derive.verify_matrix; an element (W[1,2] or w_12) goes through the same engine as
above, with random draws whose target rows sum to 1.
"""
from __future__ import annotations

import random
import re
import signal
import threading
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp

from . import numeric
from .backward import _ancestors
from .check import accumulate, local_values
from .errors import DeriveError, ParseError
from .latex_input import parse_answer, resolve_known
from .ops import FUNCTIONS, relu
from .parse import number, symbol
from .steps import partial

POINTS = 30  # random points for the numeric comparison
DIGITS = numeric.PRECISION
REL_TOL = mpmath.mpf("1e-20")
ABS_TOL = mpmath.mpf("1e-35")
HUGE = mpmath.mpf("1e12")  # values beyond this are treated as a singularity and resampled
KINK = mpmath.mpf("1e-6")  # relu/abs/max arguments closer to the kink than this are resampled
SYMBOLIC_SECONDS = 2.0
SYMBOLIC_NODES = 60  # graphs larger than this skip the symbolic comparison
MAX_ATTEMPTS = 400


class VerifyError(DeriveError):
    """An answer that cannot be read or a NAME the problem does not have (exit code 2)."""


@dataclass(frozen=True)
class Verdict:
    correct: bool
    diagnosis: list
    counterexample: dict | None
    reference: sp.Expr  # the expected gradient in the problem's named quantities
    wrt: str
    label: str  # "∂f/∂x"
    answer: sp.Expr
    method: str  # how equivalence was decided
    points: int  # random points compared

    def to_json(self) -> dict:
        return {"correct": self.correct, "diagnosis": list(self.diagnosis),
                "counterexample": self.counterexample, "wrt": self.wrt, "gradient": self.label,
                "reference": text(self.reference), "answer": text(self.answer),
                "method": self.method, "points": self.points}


@dataclass(frozen=True)
class MatrixVerdict(Verdict):
    """A verdict on a matrix-form answer; the answer as the student's matrices (not SymPy)."""
    answer_text: str = ""
    answer_tex: str = ""

    def to_json(self) -> dict:
        return {**super().to_json(), "answer": self.answer_text}


def text(expr) -> str:
    """Plain text of an expression for messages: a·b, x^2."""
    return sp.sstr(expr, order="none").replace("**", "^")


# ---------------------------------------------------------------- what is being verified

@dataclass
class Instance:
    """One concrete gradient the answer must equal: the graph node and how answer symbols map."""
    bindings: dict
    node: str
    to_graph: object  # callable: answer expr -> expr in graph symbols
    generic: dict = field(default_factory=dict)  # concrete node name -> name in the answer's terms


@dataclass
class Target:
    wrt: str
    label: str
    reference: sp.Expr
    names: dict  # name a student may type -> SymPy object in the answer
    instances: list
    half_loss: bool = False  # the loss has a ½ (a factor 2 is "a loss without ½")
    indices: tuple = ()
    ranges: dict = field(default_factory=dict)
    summable: object = None  # callable (index, body_expr) -> expr, for sum_k(...)
    rule: object = None  # networks.IndexRule for a generic index-form target
    extra_env: dict = field(default_factory=dict)  # δ symbol -> the net node whose gradient it is
    transposed: str | None = None  # for a matrix element W2[1,2]: "W2[2,1]"


def scalar_targets(solution) -> dict:
    d = solution.derivation
    out = d.graph.output
    names = {n.name: n.symbol for n in d.graph.nodes}
    targets = {}
    for g in d.steps:
        if g.node == out:
            continue
        ref = g.closed if g.closed is not None else g.expr
        targets[g.node] = Target(g.node, f"∂{out}/∂{g.node}", ref, names,
                                 [Instance({}, g.node, lambda e: e)])
    return targets


def targets_of(solution) -> dict:
    if solution.problem.kind == "scalar":
        return scalar_targets(solution)
    if solution.problem.kind == "layers":  # the elements; whole matrices go through verify_matrix
        from .verify_matrix import layout
        return layer_element_targets(solution, layout(solution))
    return network_targets(solution)


# ---------------------------------------------------------------- reading the answer

def _check_numbers(ast):
    kind = ast[0]
    if kind == "num":
        m = re.fullmatch(r"(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?", ast[1])
        if len(m.group(1)) + len(m.group(2)) > 40 or (m.group(3) and abs(int(m.group(3))) > 100):
            raise ParseError(f"the number {ast[1][:20]} is too large or too long to be meant")
    elif kind == "call":
        for a in ast[2]:
            _check_numbers(a)
    elif kind == "sum":
        _check_numbers(ast[2])
    elif kind != "name":
        for child in ast[1:]:
            _check_numbers(child)


def _split_name(name: str, known) -> list[str] | None:
    """'xz' -> ['x', 'z'] when every part is a known name without subscripts (implicit product)."""
    plain = [k for k in known if "_" not in k and "^" not in k]
    best: dict[int, list[str]] = {0: []}
    for i in range(1, len(name) + 1):
        for k in plain:
            j = i - len(k)
            if j >= 0 and j in best and name[j:i] == k:
                best[i] = best[j] + [k]
                break
    return best.get(len(name))


def answer_expr(target: Target, answer_text: str) -> sp.Expr:
    try:
        ast = parse_answer(answer_text, target.names)
        _check_numbers(ast)
    except ParseError as e:
        raise VerifyError(f"cannot read the answer: {e}") from None
    return _to_expr(ast, target)


def _name(name: str, target: Target):
    known = resolve_known(name, target.names)
    if known is not None:
        return target.names[known]
    if name == "e":
        return sp.E
    if name in ("pi", "π"):
        return sp.pi
    parts = _split_name(name, target.names)
    if parts and len(parts) > 1:
        return sp.Mul(*(target.names[p] for p in parts))
    shown = ", ".join(sorted(target.names, key=lambda s: (len(s), s)))
    raise VerifyError(f"the answer uses {name!r}, which is not a quantity of this problem; "
                      f"it may use: {shown}")


def _to_expr(ast, target: Target):
    kind = ast[0]
    if kind == "num":
        return number(ast[1])
    if kind == "name":
        return _name(ast[1], target)
    if kind == "neg":
        return -_to_expr(ast[1], target)
    if kind == "call":
        constructor = next(f for f, _, op in FUNCTIONS.values() if op == ast[1])
        return constructor(*(_to_expr(a, target) for a in ast[2]))
    if kind == "sum":
        if target.summable is None:
            raise VerifyError(f"a sum over {ast[1]} only makes sense in a network problem with "
                              "indexed quantities")
        return target.summable(ast[1], _to_expr(ast[2], target))
    a, b = _to_expr(ast[1], target), _to_expr(ast[2], target)
    if kind == "pow":
        if b.is_Number and abs(b) > 1000:
            raise VerifyError(f"cannot read the answer: the exponent {b} is too large")
        if a.is_Number and b.is_Number and abs(a) > 1 and abs(b) > 64:
            raise VerifyError(f"cannot read the answer: the power {a}^{b} is too large")
    return {"add": sp.Add, "sub": lambda x, y: x - y, "mul": sp.Mul, "div": lambda x, y: x / y,
            "pow": sp.Pow}[kind](a, b)


# ---------------------------------------------------------------- numbers at random points

def _finite(v) -> bool:
    return isinstance(v, mpmath.mpf) and mpmath.isfinite(v) and abs(v) < HUGE


def close(a, b) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + ABS_TOL


def _kink_args(expr):
    for f in expr.atoms(relu, sp.Abs, sp.Heaviside, sp.sign):
        yield [f.args[0]]
    for f in expr.atoms(sp.Max, sp.Min):
        yield list(f.args)


def near_kink(expr, env) -> bool:
    for args in _kink_args(expr):
        vals = [numeric.evaluate(a, env, SafeMP) for a in args]
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
        self.env = {graph.node(n).symbol: v for n, v in self.values.items()}
        self.local = local_values(engine.steps, self.env)
        self.grads = self.sweep()
        for n, v in self.grads.items():
            self.env[partial(engine.out, n)] = v
        for sym, node in engine.extra_env.items():
            self.env[sym] = self.grads[node]

    def valid(self) -> bool:
        if not all(_finite(v) for v in self.values.values()):
            return False
        if not all(_finite(v) for v in self.local.values()) or not all(_finite(v) for v in self.grads.values()):
            return False
        return not any(near_kink(n.expr, self.env) for n in self.engine.graph.steps)

    def sweep(self, change: dict | None = None, stop: str | None = None) -> dict:
        """Reverse mode at this point; `change` maps an edge (node, consumer) to a new local value,
        or names a node whose gradient is forced ("seed", node) -> value."""
        return accumulate(self.engine.steps, self.local, change, stop)


class Engine:
    """The derivation's graph and records, evaluated at random points of its inputs."""

    def __init__(self, derivation, base: dict, seed: int = 0, extra_env=None, draw=None):
        self.derivation = derivation
        self.draw = draw  # optional (rng, i) -> point, for inputs with constraints (targets summing to 1)
        self.extra_env = extra_env or {}
        self.graph = derivation.graph
        self.out = self.graph.output
        self.steps = derivation.steps
        self.base = {k: Fraction(v) for k, v in base.items()}
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.attempts = 0

    def _random_point(self, i: int) -> dict:
        if self.draw is not None:
            return self.draw(self.rng, i)
        point = {}
        for name, v in self.base.items():
            if i % 2:
                r = self.rng.uniform(-4, 4)
            else:
                r = float(v) + self.rng.uniform(-1, 1) * max(1.0, abs(float(v))) / 2
            point[name] = Fraction(round(r, 4)).limit_denominator(10**6)
        return point

    def sample(self, i: int) -> Sample | None:
        """The i-th valid point (0 is the problem's own point when valid), or None."""
        with mpmath.workdps(DIGITS):
            while len(self.samples) <= i and self.attempts < MAX_ATTEMPTS:
                point = self.base if self.attempts == 0 else self._random_point(self.attempts)
                self.attempts += 1
                mp_point = {k: numeric.to_mp(v) for k, v in point.items()}
                try:
                    s = Sample(self, mp_point)
                    if s.valid():
                        s.fractions = point
                        self.samples.append(s)
                except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                    continue
        return self.samples[i] if i < len(self.samples) else None


class SafeMP(numeric.MP):
    """mpmath with a ceiling: exp of a huge argument (an answer like exp(exp(exp(exp(x)))) ) is
    infinite rather than a number with a billion-digit exponent, so evaluation stays fast."""

    @staticmethod
    def exp(x):
        return mpmath.exp(x) if abs(x) < 10_000 else mpmath.inf

    @staticmethod
    def pow(b, e):
        if b != 0 and abs(e * mpmath.log(abs(b))) > 10_000:
            return mpmath.inf
        return mpmath.power(b, e)


def _value(expr, sample):
    try:
        with mpmath.workdps(DIGITS):
            if near_kink(expr, sample.env):
                return "kink"
            v = numeric.evaluate(expr, sample.env, SafeMP)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    return v if _finite(v) else None


# ---------------------------------------------------------------- symbolic comparison

class _OutOfTime(BaseException):
    pass


def symbolic_zero(expr: sp.Expr, seconds: float = SYMBOLIC_SECONDS):
    """True if simplify proves expr == 0, False if it proves a nonzero constant, None otherwise
    (inconclusive or out of time). Time-limited with SIGALRM in the main thread only."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return None

    def alarm(signum, frame):
        raise _OutOfTime

    old = signal.signal(signal.SIGALRM, alarm)
    # The alarm repeats every 50 ms: one raised where Python swallows exceptions (a gc
    # callback, say) is raised again until it lands in simplify.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        e = expr.rewrite(sp.exp)
        if e == 0:
            return True
        s = sp.simplify(e)
        if s == 0:
            return True
        if s.is_number and s.is_zero is False:
            return False
        return None
    except _OutOfTime:
        return None
    except Exception:  # SymPy gave up on something exotic: inconclusive, numbers decide
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _in_inputs(graph):
    full = {}
    for node in graph.nodes:
        if not node.is_input:
            full[node.symbol] = node.expr.xreplace(full)
    return full


# ---------------------------------------------------------------- mutations (common mistakes)

def _edges_toward(engine, node: str):
    """Edges (p, c) on some path from `node` to the output."""
    desc, stack = {node}, [node]
    while stack:
        for c in engine.graph.consumers(stack.pop()):
            if c not in desc:
                desc.add(c)
                stack.append(c)
    relevant = _ancestors(engine.graph, engine.out)
    return [(g.node, c) for g in engine.steps if g.node in desc
            for c in g.contributions if c.via in relevant], desc


def _mutations(engine, target: Target, inst: Instance) -> dict:
    """label -> function(sample) -> the mutated gradient at that sample (None when undefined)."""
    out, wrt = engine.out, inst.node
    gname = inst.generic.get
    show = _show_factory(inst)
    edges, desc = _edges_toward(engine, wrt)
    muts: dict = {}
    consumers = {}
    for p, c in edges:
        consumers.setdefault(p, []).append(c)

    for p, c in edges:
        local = c.local.expr
        lab = f"∂{gname(c.via, c.via)}/∂{gname(p, p)} = {show(local)}"
        e = (p, c.via)
        if local != 1:
            muts[f"missing factor {lab}"] = sweep_one(e)
            muts[f"the factor {lab} appears twice"] = sweep_square(e)
            muts[f"sign error in the factor {lab}"] = sweep_neg(e)
        if len(consumers[p]) > 1:
            muts[f"{gname(p, p)} is used {len(consumers[p])} times: missing the contribution through "
                 f"{gname(c.via, c.via)} (∂{out}/∂{gname(c.via, c.via)} · {show(local)})"] = sweep_drop(e)
        if len(consumers[p]) > 2:
            others = [(p, o.via) for o in consumers[p] if o is not c]
            muts[f"{gname(p, p)} is used {len(consumers[p])} times: only the contribution through "
                 f"{gname(c.via, c.via)} was counted; the contributions of every use must be added"] = \
                sweep_only(others)
    # the chain went past the quantity: an extra local derivative ∂wrt/∂p below it
    with_gradient = {g.node for g in engine.steps}
    for p in engine.graph.node(wrt).parents:
        if p not in with_gradient:
            continue
        local = engine.derivation.gradient(p).contributions
        c = next((c for c in local if c.via == wrt), None)
        if c is not None and c.local.expr != 1:
            muts[f"an extra factor ∂{gname(wrt, wrt)}/∂{gname(p, p)} = {show(c.local.expr)}: the chain "
                 f"went past {gname(wrt, wrt)}"] = ("times", (p, wrt), None)
    # the chain stopped early: only the local derivatives below some node, upstream gradient missing
    for n in desc:
        if n not in (wrt, out) and n in _ancestors(engine.graph, out):
            muts[f"missing the upstream gradient ∂{out}/∂{gname(n, n)}: the chain stops at "
                 f"{gname(n, n)}"] = sweep_seed(n)
    return muts


def _show_factory(inst):
    def show(expr):
        if inst.generic:
            expr = expr.xreplace({symbol(k): symbol(v) for k, v in inst.generic.items()})
        return text(expr)
    return show


def sweep_one(e):
    return ("set", e, lambda v: mpmath.mpf(1))


def sweep_square(e):
    return ("set", e, lambda v: v * v)


def sweep_neg(e):
    return ("set", e, lambda v: -v)


def sweep_drop(e):
    return ("set", e, lambda v: mpmath.mpf(0))


def sweep_only(edges):
    return ("many", tuple(edges), lambda v: mpmath.mpf(0))


def sweep_seed(n):
    return ("seed", n, None)


def _apply(spec, sample, wrt):
    kind, what, fn = spec
    if kind == "set":
        change = {what: fn(sample.local[what])}
    elif kind == "many":
        change = {e: fn(sample.local[e]) for e in what}
    elif kind == "times":
        return sample.grads[wrt] * sample.local[what]
    else:
        change = {("seed", what): mpmath.mpf(1)}
    return sample.sweep(change, stop=wrt)[wrt]


# ---------------------------------------------------------------- the verdict

def verify(solution, wrt: str, answer_text: str, seed: int = 0, points: int = POINTS) -> Verdict:
    """Decide whether `answer_text` is ∂output/∂wrt of the solved problem, and diagnose it."""
    draw = None
    if getattr(solution.problem, "kind", "") == "layers":
        from .verify_matrix import Draws, layout, verify_matrix
        lay = layout(solution)
        if re.sub(r"\s", "", wrt) in lay.grads:
            return verify_matrix(solution, re.sub(r"\s", "", wrt), answer_text, seed)
        targets = layer_element_targets(solution, lay)
        draw = Draws.draw_for(solution, lay)
        matrices = ", ".join(lay.grads)
    else:
        targets = targets_of(solution)
        matrices = ""
    key = resolve_known(wrt, targets) or _concrete_key(wrt, targets)
    if key is None:
        listed = ", ".join(targets) if not matrices else \
            f"a matrix ({matrices}) or one element ({', '.join(list(targets)[:4])}, ...)"
        raise VerifyError(f"--wrt {wrt!r} is not a quantity with a gradient in this problem; "
                          f"expected {'one of: ' if not matrices else ''}{listed}")
    target = targets[key]
    answer = answer_expr(target, answer_text)
    engine = Engine(solution.derivation, solution.problem.inputs, seed, target.extra_env, draw)
    with mpmath.workdps(DIGITS):
        if target.rule is not None:
            unbound = _index_letters(answer) - set(target.indices) - {"l"}
            if unbound:
                return _unbound(engine, target, answer, sorted(unbound), points)
        missing = _missing_quantities(engine, target, answer)
        if missing:
            return missing
        return _decide(engine, target, answer, points)


def layer_element_targets(solution, lay) -> dict:
    """Each element of a [layers] problem's matrices, as W[1,2] and as its leaf name w_12."""
    d = solution.derivation
    names = {n.name: n.symbol for n in d.graph.nodes}
    for rows in lay.nodes.get("dY", []):  # the upstream leaves g_nm, also written dY_nm
        for g in rows:
            names["dY_" + g.split("_", 1)[1]] = symbol(g)
    targets = {}
    for key in lay.grads:
        rows = lay.nodes[key]
        for r, row in enumerate(rows, 1):
            for c, leaf in enumerate(row, 1):
                element = f"{key}[{c}]" if key == "B" else f"{key}[{r},{c}]"
                g = d.gradient(leaf)
                swapped = rows[c - 1][r - 1] if key != "B" and r != c and c <= len(rows) \
                    and r <= len(row) else None
                t = Target(element, f"∂{d.graph.output}/∂{element}",
                           g.closed if g.closed is not None else g.expr, names,
                           [Instance({}, leaf, lambda e: e)], transposed=swapped)
                targets[element] = t
                targets[leaf] = t
    return targets


def _with_bindings(target, extra: dict) -> Target:
    """The same target with more index letters bound (to evaluate an answer with a stray index)."""
    from dataclasses import replace
    from .networks import concretize
    insts = [Instance({**inst.bindings, **extra}, inst.node,
                      lambda e, b={**inst.bindings, **extra}: concretize(target.rule, e, b).doit(),
                      inst.generic) for inst in target.instances]
    return replace(target, instances=insts)


def _missing_quantities(engine, target, answer):
    """A wrong verdict if the answer names a unit that does not exist for some binding."""
    known = set(engine.graph._index) | {s.name for s in engine.extra_env}
    for inst in target.instances:
        try:
            names = {s.name for s in inst.to_graph(answer).free_symbols}
        except (KeyError, IndexError):
            names = {"?"}
        absent = sorted(names - known)
        if absent:
            where = ", ".join(f"{k} = {v}" for k, v in inst.bindings.items())
            diag = [f"the answer refers to {absent[0]}, which does not exist"
                    + (f" (for {where})" if where else "") + ": an index is out of its range"]
            cx = {"point": {k: float(v) for k, v in engine.base.items()}, "expected":
                  _num(engine.sample(0).grads[inst.node]) if engine.sample(0) else None,
                  "got": None, "quantities": {}, "own_point": True}
            if inst.bindings:
                cx["instance"] = dict(inst.bindings)
                cx["element"] = inst.node
            return Verdict(False, diag, cx, target.reference, target.wrt, target.label, answer,
                           "structural", 0)
    return None


def _unbound(engine, target, answer, letters, points):
    """An answer with an index that is neither an index of the target nor summed over."""
    from .networks import letter
    u = letters[0]
    shown = ", ".join(target.indices)
    diag = []
    try:
        summed = target.summable(u, answer)
        if not _missing_quantities(engine, target, summed) and _decide(engine, target, summed, points).correct:
            diag.append(f"a missing sum over {u}: the answer is one term of Σ_{u}; {target.wrt} depends "
                        f"on every unit {u} of the next layer")
    except VerifyError:
        pass
    if not diag:
        for b in target.indices:
            renamed = answer.xreplace({letter(u): letter(b)})
            if _index_letters(renamed) - set(target.indices) - {"l"} or _missing_quantities(engine, target, renamed):
                continue
            v = _decide(engine, target, renamed, points)
            specific = [d for d in v.diagnosis if not d.startswith("the answer is not")]
            if specific:
                diag += [d.replace(f"_{b}", f"_{u}") if d.startswith("the wrong") else d for d in specific]
                break
    diag.insert(0, f"the index {u} is not bound: {target.wrt} has the indices {shown}, and {u} is not "
                   "summed over")
    fixed = _with_bindings(target, {x: 1 for x in letters})
    v = _missing_quantities(engine, fixed, answer) or _decide(engine, fixed, answer, points)
    cx = v.counterexample
    if cx is not None:
        cx = {**cx, "note": f"evaluated with {', '.join(f'{x} = 1' for x in letters)}"}
    return Verdict(False, diag, cx, target.reference, target.wrt, target.label, answer, v.method,
                   v.points)


def _concrete_key(wrt, targets):
    compact = re.sub(r"\s", "", wrt)
    return compact if compact in targets else None


def _decide(engine, target: Target, answer: sp.Expr, points: int) -> Verdict:
    insts = target.instances
    graph_answers = [inst.to_graph(answer) for inst in insts]
    expected, got, used = [], [], []  # per used sample: per-instance values
    undefined = 0
    i = 0
    while len(used) < points:
        s = engine.sample(i)
        i += 1
        if s is None:
            break
        e_vals = [s.grads[inst.node] for inst in insts]
        g_vals = [_value(ga, s) for ga in graph_answers]
        if any(v == "kink" for v in g_vals):
            continue
        if any(v is None for v in g_vals):
            undefined += 1
            continue
        expected.append(e_vals)
        got.append(g_vals)
        used.append(s)
    if len(used) < min(points, 5):
        if undefined:
            return _wrong(target, answer, engine, used, expected, got,
                          ["the answer is undefined (division by zero, not a real number, or overflowing) at points "
                           "where the gradient exists"], "numeric", undefined_sample=engine.sample(0))
        raise VerifyError("could not find enough points where the problem is defined to compare")
    mismatch = [(j, k) for j in range(len(used)) for k in range(len(insts))
                if not close(expected[j][k], got[j][k])]
    numeric_ok = not mismatch and undefined <= len(used) // 2
    method = f"numeric ({len(used)} random points, {DIGITS} digits)"
    if numeric_ok:
        proved = _symbolic(engine, target, insts, graph_answers)
        if proved is False:
            return _wrong(target, answer, engine, used, expected, got,
                          ["symbolic simplification shows the difference is a nonzero constant"],
                          "symbolic")
        method += "; symbolic: " + {True: "simplify(answer − reference) = 0",
                                    None: "inconclusive within the time budget",
                                    "skipped": f"skipped (more than {SYMBOLIC_NODES} nodes)"}[proved]
        return Verdict(True, [], None, target.reference, target.wrt, target.label, answer, method,
                       len(used))
    if not mismatch:
        return _wrong(target, answer, engine, used, expected, got,
                      ["the answer is undefined (not a real number) at most points where the gradient "
                       "exists"], method)
    diagnosis = diagnose(engine, target, answer, graph_answers, used, expected, got)
    return _wrong(target, answer, engine, used, expected, got, diagnosis, method, mismatch=mismatch)


def _symbolic(engine, target, insts, graph_answers):
    if len(engine.graph.nodes) > SYMBOLIC_NODES:
        return "skipped"
    full = _in_inputs(engine.graph)
    deltas = {}
    for sym, node in engine.extra_env.items():
        closed = engine.derivation.gradient(node).closed
        if closed is None:
            return "skipped"
        deltas[sym] = closed
    verdicts = []
    budget = SYMBOLIC_SECONDS / max(1, len(insts))
    for inst, ga in zip(insts, graph_answers):
        g = engine.derivation.gradient(inst.node)
        if g.closed is None:
            return "skipped"
        verdicts.append(symbolic_zero((ga.xreplace(deltas) - g.closed).xreplace(full), budget))
        if verdicts[-1] is not True:
            return verdicts[-1]
    return True


def _wrong(target, answer, engine, used, expected, got, diagnosis, method, mismatch=None,
           undefined_sample=None):
    cx = None
    if mismatch:
        # prefer the problem's own point when the answer is already wrong there
        j, k = mismatch[0]
        cx = _counterexample(target, answer, used[j], target.instances[k], expected[j][k], got[j][k])
    elif undefined_sample is not None:
        inst = target.instances[0]
        cx = _counterexample(target, answer, undefined_sample, inst,
                             undefined_sample.grads[inst.node], None)
    elif used:
        inst = target.instances[0]
        cx = _counterexample(target, answer, used[0], inst, expected[0][0], got[0][0])
    return Verdict(False, diagnosis, cx, target.reference, target.wrt, target.label, answer, method,
                   len(used))


def _num(v):
    if v is None:
        return None
    return float(v)


def _counterexample(target, answer, sample, inst, expected, got) -> dict:
    point = {k: _num(numeric.to_mp(v)) for k, v in sample.fractions.items()}
    names = sorted({str(s) for s in inst.to_graph(answer).free_symbols} | {inst.node})
    quantities = {inst.generic.get(n, n): _num(sample.values[n]) for n in names if n in sample.values}
    cx = {"point": point, "expected": _num(expected), "got": _num(got), "quantities": quantities,
          "own_point": sample is sample.engine.samples[0] and sample.fractions == sample.engine.base}
    if inst.bindings:
        cx["instance"] = dict(inst.bindings)
        cx["element"] = inst.node
    return cx


def diagnose(engine, target, answer, graph_answers, used, expected, got) -> list[str]:
    """The common mistakes that reproduce the answer at every compared point (single ones first)."""
    insts = target.instances
    quick = list(range(min(4, len(used))))

    def matches(fn, rows=None) -> bool:
        for j in (quick if rows is None else rows):
            for k, inst in enumerate(insts):
                v = fn(used[j], k, inst)
                if v is None or not close(v, got[j][k]):
                    return False
        return True

    def confirmed(fn) -> bool:
        return matches(fn) and matches(fn, range(len(used)))

    out = engine.out
    scale = [("sign error: the answer is the negative of the gradient", -1)]
    if target.half_loss:
        scale += [("a factor of 2: the loss L = ½Σ(t − o)² has a ½ that cancels the 2 from the square", 2),
                  ("a factor ½ too many (the ½ of the loss is already cancelled by the square)",
                   Fraction(1, 2))]
    else:
        scale += [("off by a factor of 2", 2), ("off by a factor of ½", Fraction(1, 2))]

    def ref(c):
        return lambda s, k, inst: s.grads[inst.node] * numeric.to_mp(c)

    muts_per_inst = [_mutations(engine, target, inst) for inst in insts]
    common = [lab for lab in muts_per_inst[0] if all(lab in m for m in muts_per_inst[1:])]

    def mut(lab, c=1):
        def fn(s, k, inst):
            try:
                with mpmath.workdps(DIGITS):
                    return _apply(muts_per_inst[k][lab], s, inst.node) * numeric.to_mp(c)
            except (ZeroDivisionError, ValueError):
                return None
        return fn

    def same_as_reference(fn) -> bool:
        return all(fn(used[j], k, inst) is not None and close(fn(used[j], k, inst), used[j].grads[inst.node])
                   for j in quick for k, inst in enumerate(insts))

    common = [lab for lab in common if not same_as_reference(mut(lab))]
    singles = [(label, ref(c)) for label, c in scale]
    singles += [(lab, mut(lab)) for lab in common]
    for other in _other_gradients(engine, target, insts):
        name = _generic_of(other, insts)
        note = " (the transposed matrix: row and column swapped)" if name == target.transposed else ""
        singles.append((f"this is ∂{out}/∂{name}, not {target.label}{note}",
                        lambda s, k, inst, o=other: s.grads[o[k]]))
    singles += list(_substitutions(engine, target, insts))
    found = []
    for label, fn in singles:
        if label not in found and confirmed(fn):
            found.append(label)
    if scale[0][0] in found:  # one global sign error explains any sign error of a single factor
        found = [f for f in found if not f.startswith("sign error in the factor")]
    if found:
        return found[:4]
    for slabel, c in scale:
        for lab in common:
            if confirmed(mut(lab, c)):
                return [slabel, lab]
    ratio = _constant_ratio(used, expected, got)
    if ratio is not None:
        return [f"off by a constant factor: the answer is {ratio} times the gradient"]
    for n in engine.graph.nodes:
        label = insts[0].generic.get(n.name, n.name) if len(insts) == 1 else None
        if label is None:
            break
        if confirmed(lambda s, k, inst, n=n.name: s.grads[inst.node] * s.values[n]):
            return [f"an extra factor {label}: the answer is {label} × {target.label}"]
        if confirmed(lambda s, k, inst, n=n.name: s.grads[inst.node] / s.values[n]
                     if s.values[n] != 0 else None):
            return [f"a missing factor {label}: the answer is {target.label} / {label}"]
    return [f"the answer is not {target.label}, and no single common mistake (sign, factor 2, a missing "
            "or repeated chain-rule factor, a missing path, a wrong quantity) explains the difference"]


def _generic_of(other, insts):
    return insts[0].generic.get(other[0], other[0])


def _other_gradients(engine, target, insts):
    """Per instance, the same-position node of other quantities (scalar: every other node)."""
    if len(insts) == 1:
        for g in engine.steps:
            if g.node not in (insts[0].node, engine.out):
                yield (g.node,)
    else:
        yield from _network_other_gradients(engine, target)


def _substitutions(engine, target, insts):
    """The reference with one quantity replaced by another: the wrong input or the wrong index."""
    if target.rule is not None:
        yield from _network_substitutions(engine, target)
        return
    inst = insts[0]
    ref = engine.derivation.gradient(inst.node).closed
    if ref is None:
        return
    names = [n.name for n in engine.graph.nodes if n.name != engine.out]
    for s in sorted(ref.free_symbols, key=str):
        for m in names:
            if m == s.name:
                continue
            expr = ref.xreplace({s: symbol(m)})
            yield (f"the wrong quantity: {m} where {s.name} belongs",
                   lambda smp, k, i, e=expr: _value_or_none(e, smp))


def _value_or_none(expr, sample):
    v = _value(expr, sample)
    return None if isinstance(v, str) else v


def _constant_ratio(used, expected, got):
    ratios = []
    for e_row, g_row in zip(expected, got):
        for e, g in zip(e_row, g_row):
            if abs(e) > ABS_TOL * 1e10:
                ratios.append(g / e)
    if len(ratios) < 3 or not all(close(r, ratios[0]) for r in ratios):
        return None
    r = Fraction(str(mpmath.nstr(ratios[0], 15))).limit_denominator(1000)
    if abs(float(r) - float(ratios[0])) < 1e-12:
        return str(r)
    return mpmath.nstr(ratios[0], 8)


# ---------------------------------------------------------------- networks

def _letters(res, r):
    out = {"n"} if res.batch > 1 else set()
    for m in range(res.D + 1):
        try:
            out.add(res._letter(m, r))
        except KeyError:
            continue
    return sorted(out)


def _generic_names(res, r) -> dict:
    """Every generic quantity of rule layer r as a user types it (o_k, w_kj, a^l-1_k ...)."""
    from .networks import letter
    out = {}
    roles = {"act": range(0, res.D + 1), "net": range(1, res.D + 1), "w": range(1, res.D + 1),
             "b": range(1, res.D + 1), "delta": range(1, res.D + 1), "target": [res.D]}
    for role, layers in roles.items():
        for m in layers:
            try:
                base = res.base(role, m, r)
                letters = [res._letter(m, r)] + ([res._letter(m - 1, r)] if role == "w" else [])
            except KeyError:
                continue
            if res.batch > 1 and role in res.PER_SAMPLE:
                letters = ["n"] + letters
            g = sp.IndexedBase(base)[tuple(letter(x) for x in letters)]
            out[res.label(g)] = g
    return out


class _GenericNames(dict):
    """Known generic names, and any other index letters on a known base (w_jk, x_j: wrong-index
    answers still mean something and get a diagnosis)."""

    def __init__(self, table, letters):
        super().__init__(table)
        self.bases = {str(g.base.label): len(g.indices) for g in table.values() if isinstance(g, sp.Indexed)}
        self.index_letters = set(letters)

    def __contains__(self, name):
        return dict.__contains__(self, name) or self._parse(name) is not None

    def __getitem__(self, name):
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        g = self._parse(name)
        if g is None:
            raise KeyError(name)
        return g

    def _parse(self, name):
        from .networks import letter
        if not isinstance(name, str) or "_" not in name:
            return None
        base, idx = name.rsplit("_", 1)
        if base not in self.bases or len(idx) != self.bases[base]:
            return None
        if not all(ch in self.index_letters or ch.isdigit() for ch in idx):
            return None
        return sp.IndexedBase(base)[tuple(sp.Integer(int(ch)) if ch.isdigit() else letter(ch) for ch in idx)]


def network_targets(solution) -> dict:
    from .networks import concretize, letter
    result = solution.extra
    res = getattr(result, "resolver", None)
    if res is None or getattr(solution.problem, "kind", "") != "network":
        raise VerifyError("expected a [network] problem (scalar circuits and [layers] problems have "
                          "their own targets)")
    loss = result.loss_name
    half = getattr(solution.problem, "loss", "") == "mse"
    delta_env = {symbol(dname): net for net, dname in result.deltas.items()}
    concrete_names = {n.name: n.symbol for n in solution.derivation.graph.nodes}
    concrete_names.update({name: s for name, s in ((k.name, k) for k in delta_env)})
    targets = {}
    for rule in result.rules:
        if res.nm.nielsen:
            r = rule.ranges["l"][1] - 1 if "l" in rule.ranges else res.D
        else:
            r = res.D
        table = _GenericNames(_generic_names(res, r), _letters(res, r))

        def summable(index, body, r=r):
            if res.nm.nielsen:
                upper = res.size_symbol(r + 1, r) if r < res.D else None
            else:
                by = {res._letter(m, r): m for m in range(res.D + 1)}
                upper = sp.Integer(res.nm.sizes[by[index]]) if index in by else None
            if upper is None:
                raise VerifyError(f"cannot sum over {index}: it is not the index of a layer here")
            return sp.Sum(body, (letter(index), 1, upper))

        instances = []
        for bind, node, _conc, _value in rule.instances:
            generic = {}
            for lab, g in dict.items(table):
                try:
                    c = concretize(rule, g, bind)
                except (KeyError, IndexError):
                    continue
                if c.is_Symbol:
                    generic.setdefault(c.name, lab)
            instances.append(Instance(dict(bind), node,
                                      lambda e, b=dict(bind), rule=rule: concretize(rule, e, b).doit(),
                                      generic))
        is_delta = rule.target.startswith("delta")
        label = rule.target if is_delta else f"∂{loss}/∂{rule.target}"
        targets[rule.target] = Target(rule.target, label, rule.expr, table, instances, half,
                                      tuple(rule.indices), dict(rule.ranges), summable, rule, delta_env)
    elements = {c.node: f"{c.param}[{','.join(str(i) for i in c.index)}]" for c in result.chains}
    for chain in result.chains:
        key = f"{chain.param}[{','.join(str(i) for i in chain.index)}]"
        rule, bind = next(((rl, inst[0]) for rl in result.rules for inst in rl.instances
                           if inst[1] == chain.node), (None, None))
        names = dict(concrete_names)
        to_graph = (lambda e: e)
        if rule is not None:
            names.update(targets[rule.target].names)
            to_graph = (lambda e, b=bind, rule=rule: concretize(rule, e, b).doit())
        transposed = None
        if len(chain.index) == 2 and chain.index[0] != chain.index[1]:
            transposed = f"{chain.param}[{chain.index[1]},{chain.index[0]}]"
        targets[key] = Target(key, f"∂{loss}/∂{key}", chain.chain.expr, names,
                              [Instance({}, chain.node, to_graph, elements)], half,
                              summable=targets[rule.target].summable if rule else None,
                              extra_env=delta_env, transposed=transposed)
    return targets


def _index_letters(expr) -> set:
    """Index letters used outside any sum that binds them."""
    if isinstance(expr, sp.Sum):
        inner = _index_letters(expr.function)
        return inner - {str(v) for v, *_ in expr.limits}
    if isinstance(expr, sp.Indexed):
        return {str(i) for i in expr.indices if i.is_Symbol}
    out = set()
    for a in expr.args:
        out |= _index_letters(a)
    return out


def _network_other_gradients(engine, target):
    """For each instance, the same binding's element of every other rule with the same letters,
    and the element with the letters swapped (the transposed matrix)."""
    return []


def _network_substitutions(engine, target):
    """The generic reference with one quantity replaced by another written with the target's
    letters: x_j or h_k for h_j (the wrong input or index), w_jk for w_kj (indices swapped)."""
    from itertools import permutations, product
    from .networks import concretize, letter
    ref = target.rule.expr
    bases = {}
    for g in dict.values(target.names):
        if isinstance(g, sp.Indexed):
            bases.setdefault(g.base, len(g.indices))
    letters = [letter(x) for x in target.indices]
    for g in sorted(ref.atoms(sp.Indexed), key=str):
        options = [g.base[p] for p in permutations(g.indices)]  # w_jk for w_kj, also inside a sum
        if all(i.is_Symbol and str(i) in target.indices for i in g.indices):
            options += [base[idx] for base, n in bases.items() if n == len(g.indices)
                        for idx in product(letters, repeat=n)]
        for new in dict.fromkeys(options):
            if new == g:
                continue
            expr = ref.xreplace({g: new})
            kind = "index" if new.base == g.base else "quantity"
            fn = (lambda s, k, inst, e=expr: _value_or_none(
                _safe_conc(target.rule, e, inst.bindings, concretize), s))
            yield (f"the wrong {kind}: {_label(new)} where {_label(g)} belongs", fn)


def _label(g) -> str:
    return f"{g.base.label}_{''.join(str(i) for i in g.indices)}"


def _safe_conc(rule, expr, bind, concretize):
    try:
        return concretize(rule, expr, bind).doit()
    except (KeyError, IndexError):
        return sp.nan
