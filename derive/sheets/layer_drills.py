"""Layer-backward drills for worksheets and quizzes (issue 22): one textbook layer with drawn
values and a given upstream gradient dY; the student computes dX and the layer's parameter
gradients.

    relu        X (2×3) with both signs          dX = dY ⊙ [X > 0]
    batchnorm   X (3×2), N = 3, γ, β             dX, dγ, dβ
    conv        X 1×1×4×4, a 2×2 filter W, b     dW (one element as its sum), db, dX
    max_pool    X 1×1×4×4, 2×2 windows           dX (dY routed to each window's maximum)
    dropout     X (2×3), a 0/1 mask, keep p      dX = dY ⊙ mask / p

Every number comes from the stack engine (networks.stack.solve on the one layer with
L = Σ dY ⊙ Y): every element is proven and the layer's rule derived from its per-element graph;
a draw whose proof or rule is not clean, or that would hide the lesson (a ReLU input at 0 or of
one sign only, a max-pool tie or every maximum in the same corner, a mask of one value, equal
values in a BatchNorm column, a Σ(dY ⊙ x̂) or Σ dY near 0), is redrawn. Math only.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from ..engine.ops import LAYERS
from ..errors import DeriveError
from ..i18n import N_, _
from ..networks.stack import solve as solve_stack
from ..networks.stackops import NP, SYM, kernel
from ..problems.stack import StackLayer, StackProblem

MAX_DRAWS = 200
KEEP_PROBABILITIES = (Fraction(1, 2), Fraction(4, 5))
SPREAD_MIN = Fraction(3, 10)  # values of one BatchNorm column at least this far apart
TERM_MIN = 0.1  # |Σ dY| and |Σ dY ⊙ x̂| of a BatchNorm column at least this: both terms of dX show

# layer -> (title, roles of the given arrays in order, the gradients asked, options)
DRILLS = {
    "relu": (N_("ReLU layer, backward"), ("X", "dY"), ("X",), {}),
    "batchnorm": (N_("Batch Normalization on N = 3, backward"), ("X", "gamma", "beta", "dY"),
                  ("X", "gamma", "beta"), {"eps": 1e-5}),
    "conv": (N_("Convolution of a 1×1×4×4 input with a 2×2 filter, backward"), ("X", "W", "b", "dY"),
             ("W", "b", "X"), {"stride": 1, "pad": 0}),
    "max_pool": (N_("2×2 max pooling, backward"), ("X", "dY"), ("X",), {"size": 2, "stride": 2}),
    "dropout": (N_("Dropout, backward"), ("X", "mask", "dY"), ("X",), {}),
}
DRILL_NAMES = tuple(DRILLS)


@dataclass(frozen=True)
class LayerDrill:
    """A drill as a worksheet problem: which layer. Its title is shown in the current language."""
    layer: str
    kind: str = "layer_drill"
    lang: str = "en"
    description: str = ""
    translations: dict = field(default_factory=dict, hash=False)

    @property
    def title(self) -> str:
        return _(DRILLS[self.layer][0])

    @property
    def source(self) -> str:
        return f"{self.layer} drill (built-in)"


def drills() -> list:
    """Every drill, in the order of DRILLS (the built-in worksheet set adds them)."""
    return [LayerDrill(name) for name in DRILL_NAMES]


@dataclass(frozen=True)
class LayerAnswer:
    """The drawn arrays (role -> exact Fractions as a numpy object array, dY included), the
    options, the proven gradients asked (role -> float array), the layer's rule per role (its
    record's text, derived and checked by the engine) and, for a convolution, dW[1,1] as its sum."""
    layer: str
    given: dict
    options: dict
    gradients: dict
    rules: dict
    worked: tuple | None = None  # (symbol, symbolic sum, the sum at the values, value)
    steps: tuple = ()  # (id, array): the layer's intermediate arrays (see `intermediates`)


@dataclass(frozen=True)
class LayerVariant:
    """One drawn drill: the same roles as sheets.variants.Variant where the sheets read them."""
    key: str
    problem: LayerDrill
    answer: LayerAnswer
    redraws: int
    rejected: tuple = ()
    solution: object = None
    original: object = None

    @property
    def values(self) -> dict:
        return {}


def _tenths(rng, low=1, high=30) -> Fraction:
    k = rng.randint(low, high)
    return Fraction(k if rng.random() < 0.5 else -k, 10)


def _ints(rng, shape, top=3) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        k = rng.randint(1, top)
        out[idx] = Fraction(k if rng.random() < 0.5 else -k)
    return out


def _decimals(rng, shape, high=30) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = _tenths(rng, 1, high)
    return out


def draw_arrays(layer: str, rng: random.Random) -> tuple[dict, dict]:
    """(role -> exact array, options) of one candidate drill."""
    opts = dict(DRILLS[layer][3])
    if layer == "relu":
        return {"X": _decimals(rng, (2, 3)), "dY": _decimals(rng, (2, 3), 20)}, opts
    if layer == "dropout":
        mask = np.array([[Fraction(rng.randint(0, 1)) for _ in range(3)] for _ in range(2)], dtype=object)
        opts["p"] = rng.choice(KEEP_PROBABILITIES)
        return {"X": _decimals(rng, (2, 3)), "mask": mask, "dY": _decimals(rng, (2, 3), 20)}, opts
    if layer == "batchnorm":
        return {"X": _decimals(rng, (3, 2)), "gamma": _decimals(rng, (2,), 20), "beta": _decimals(rng, (2,), 10),
                "dY": _decimals(rng, (3, 2), 20)}, opts
    if layer == "conv":
        return {"X": _ints(rng, (1, 1, 4, 4)), "W": _ints(rng, (1, 1, 2, 2)), "b": _ints(rng, (1,)),
                "dY": _ints(rng, (1, 1, 3, 3))}, opts
    if layer == "max_pool":
        values = rng.sample(range(-30, 31), 16)
        X = np.array([Fraction(v, 10) for v in values], dtype=object).reshape(1, 1, 4, 4)
        return {"X": X, "dY": _decimals(rng, (1, 1, 2, 2), 20)}, opts
    raise DeriveError(f"unknown layer drill {layer!r}; expected one of {', '.join(DRILL_NAMES)}")


def degenerate(layer: str, given: dict, opts: dict) -> str | None:
    """Why a draw hides the lesson (None if it shows it)."""
    X = np.asarray(given["X"], dtype=float)
    if layer == "relu" and ((X > 0).sum() < 2 or (X < 0).sum() < 2):
        return "ReLU inputs of one sign"
    if layer == "dropout":
        mask = np.asarray(given["mask"], dtype=float)
        if mask.sum() < 2 or (1 - mask).sum() < 2:
            return "a mask of one value"
    if layer == "max_pool":
        w = X[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
        if len(set(np.argmax(w, axis=1))) < 2:
            return "every maximum in the same corner"
    if layer == "batchnorm":
        for col in np.asarray(given["X"]).T:
            if min(abs(a - b) for i, a in enumerate(col) for b in col[i + 1:]) < SPREAD_MIN:
                return "close values in a BatchNorm column"
        dY = np.asarray(given["dY"], dtype=float)
        xhat = (X - X.mean(0)) / np.sqrt(X.var(0) + opts["eps"])
        if (np.abs(dY.sum(0)) < TERM_MIN).any() or (np.abs((dY * xhat).sum(0)) < TERM_MIN).any():
            return "a term of the BatchNorm rule near 0"
    if layer == "conv" and (np.asarray(given["X"], dtype=float).std() == 0):
        return "a constant input"
    return None


def _problem(layer: str, given: dict, opts: dict) -> StackProblem:
    roles = [r for r in DRILLS[layer][1] if r not in ("X", "dY")]
    arrays = {"X": np.asarray(given["X"], dtype=float), "T": np.asarray(given["dY"], dtype=float)}
    names = {role: f"{role}1" for role in roles}
    for role in roles:
        arrays[names[role]] = np.asarray(given[role], dtype=float)
    floats = {k: float(v) for k, v in opts.items()}
    floats.update({k: int(v) for k, v in opts.items() if k in ("stride", "pad", "size")})
    return StackProblem(DRILLS[layer][0], f"{layer} drill", (StackLayer(layer, floats, names, 1),), "upstream",
                        arrays=arrays, batch=arrays["X"].shape[0])


def solve_drill(layer: str, given: dict, opts: dict) -> LayerAnswer | str:
    """The drill's proven answer, or why the engine could not make it clean."""
    p = _problem(layer, given, opts)
    result, report = solve_stack(p)
    bad = [c for c in report.checks if c.verdict != "ok"]
    if bad:
        return f"{bad[0].wrt} is {bad[0].verdict}"
    rules = {}
    for rule in result.vector_rules:
        if not rule.checked:
            return f"the rule {rule.lhs} is unproven"
        role = rule.name.split("∂L/∂")[-1]
        rules[role] = rule.rhs
    grads = {}
    for role in DRILLS[layer][2]:
        key = p.input_name if role == "X" else p.layers[0].arrays[role]
        grads[role] = np.asarray(result.gradients[key], dtype=float) + 0.0  # no −0
    worked = conv_element(given, opts) if layer == "conv" else None
    return LayerAnswer(layer, given, opts, grads, rules, worked, intermediates(p))


def intermediates(p: StackProblem) -> tuple:
    """What the worked solution shows between the rule and the result, from the layer's own
    kernels: x̂ and σ of a BatchNorm (its forward cache); for ReLU, dropout and max pooling the
    local factor, dX at dY = 1 (the mask [X > 0], mask / p, the indicator of each window's maximum)."""
    layer = p.layers[0]
    forward, backward = kernel(layer.name)
    params = {role: p.arrays[name] for role, name in layer.arrays.items()}
    y, cache = forward(p.arrays["X"], params, layer.options, NP)
    if layer.name == "batchnorm":
        return (("xhat", np.asarray(cache[1], dtype=float)), ("sigma", np.asarray(cache[2], dtype=float)))
    if layer.name in ("relu", "dropout", "max_pool"):
        return (("local", np.asarray(backward(np.ones_like(y), cache, params, layer.options, NP)[0]) + 0.0),)
    return ()


def conv_element(given: dict, opts: dict) -> tuple:
    """dW[1,1] as its sum: the convolution's forward (the engine's kernel on symbols) with
    L = Σ g ⊙ Y differentiated by SymPy; then the same sum at the drawn values."""
    shapes = {role: np.asarray(given[role]).shape for role in ("X", "W", "dY")}
    sym = {role: np.empty(s, dtype=object) for role, s in shapes.items()}
    for role, arr in sym.items():
        base = {"X": "x", "W": "w", "dY": "g"}[role]
        for idx in np.ndindex(*arr.shape):
            arr[idx] = sp.Symbol(f"{base}_{''.join(str(i + 1) for i in idx[2:])}", real=True)
    y, _cache = kernel("conv")[0](sym["X"], {"W": sym["W"], "b": np.array([sp.Integer(0)], dtype=object)},
                                  opts, SYM)
    L = sum((sym["dY"] * y).ravel())
    w = sym["W"][0, 0, 0, 0]
    expr = sp.expand(sp.diff(L, w))
    values = {sym[r][idx]: sp.Rational(given[r][idx].numerator, given[r][idx].denominator)
              for r in sym for idx in np.ndindex(*shapes[r])}
    return w, expr, values, float(expr.xreplace(values))


def draw_drill(problem: LayerDrill, seed: int, version: int, max_draws: int = MAX_DRAWS) -> LayerVariant:
    """A clean, proven drill for (seed, version): the same numbers in every language."""
    key = f"{seed}:{version}:drill:{problem.layer}"
    rng = random.Random(key)
    rejected = []
    for _n in range(max_draws):
        given, opts = draw_arrays(problem.layer, rng)
        why = degenerate(problem.layer, given, opts)
        answer = solve_drill(problem.layer, given, opts) if why is None else why
        if isinstance(answer, LayerAnswer) and any(not np.abs(g).max() > 0 for g in answer.gradients.values()):
            answer = "a gradient that is 0 everywhere"
        if isinstance(answer, LayerAnswer):
            return LayerVariant(key, problem, answer, len(rejected), tuple(rejected))
        rejected.append(answer)
    raise DeriveError(f"{problem.source}: no clean draw in {max_draws} tries ({rejected[-1]})")


def rule_of(answer: LayerAnswer, role: str) -> str:
    """The layer record's rule text for gradient `role` (what the engine derived and checked)."""
    return answer.rules.get(role) or dict(LAYERS[answer.layer].backward)[role]
