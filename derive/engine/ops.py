"""The rule tables: one record per function, activation, loss and layer.

The only place that knows which function names exist and everything about each: its SymPy form
(the derivative comes from SymPy), its numeric backends, its derivative in its own terms
(σ′ = s(1 − s), tanh′ = 1 − t²), how it is printed and drawn, how a problem or a student may spell
it and its derivative, the catalog messages that name it, where it has kinks, and which other
derivatives a student may confuse with its own. Every other module reads these records; a new
activation is one `Function` row in FUNCTION_TABLE (plus its catalog messages), a new loss one
`Loss` row, a new layer one `Layer` row. Plain strings and callables only: the engine imports
nothing from rendering or teaching.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..i18n import N_
from .heads import (  # noqa: F401  (the heads are part of the table's interface)
    OutOfDomain,
    RealAbs,
    _cs_pick,
    _cs_softplus,
    _cs_step,
    _mp_log,
    _mp_sigmoid,
    _mp_softplus,
    _mp_sqrt,
    _mp_step,
    _np_sigmoid,
    _re,
    _reduce,
    elu,
    leaky_relu,
    real_diff,
    relu,
    sigmoid,
    softplus,
    swish,
)
from .precision import mp as mpmath  # derive's own context, precision per thread (engine.precision)


def constant(value) -> sp.Number:
    """A record's parameter default (an int or a float of the table) as a SymPy number."""
    return value if isinstance(value, sp.Basic) else (sp.Integer(value) if isinstance(value, int) else sp.Float(value))


# ---------------------------------------------------------------- the function record


@dataclass(frozen=True)
class Function:
    """One function of derive's expressions, with everything every stage needs to know about it.

    name: as a problem file writes it (also the graph node's op); sympy: its SymPy head (a callable
        taking `arity` arguments, then `params` values); mp, np, cs: numeric forms for mpmath
        scalars, numpy float64 arrays and numpy complex128 (complex step; None: `np` is analytic);
    prime: its derivative in its own terms, (out, z) -> expression in the unit's output `out` and
        its input `z` (σ′ = s(1 − s), tanh′ = 1 − t², relu′ = step(z)); None where there is no
        such form (the derivative then comes from SymPy alone);
    latex, plain: its head in LaTeX and in plain text ("read as"); glyph: LaTeX drawn in a graph
        node; short: prefix of composed gate names (sig + y = sigy); word: a gate's name when its
        operand has no short name (sig_1);
    spellings: other names a problem file or an answer may use for it (σ, sigma, logistic);
        answer_only: spellings only answers accept (ReLU); prime_spellings: heads a student may
        write for its derivative besides name′ and spelling′ (dsigmoid);
    activation: usable as a network activation; label, unit: catalog messages naming it and a unit
        with it; kinks: arguments where it is not differentiable; saturates: its derivative
        vanishes for large |z| (draws avoid that); params: its constant parameters and defaults
        (leaky_relu's slope α); confused: functions whose derivative a student may write for this
        one (verify tries each); in_problems: problem files may use it (else only answers).
    """
    name: str
    sympy: Callable
    mp: Callable
    np: Callable
    cs: Callable | None = None
    arity: int | None = 1
    prime: Callable | None = None
    latex: str = ""
    plain: str = ""
    glyph: str = ""
    short: str = ""
    word: str = ""
    spellings: tuple[str, ...] = ()
    answer_only: tuple[str, ...] = ()
    prime_spellings: tuple[str, ...] = ()
    activation: bool = False
    label: str = ""
    unit: str = ""
    kinks: tuple = ()
    saturates: bool = False
    params: tuple[tuple[str, float], ...] = ()
    confused: tuple[str, ...] = ()
    in_problems: bool = True

    def make(self, *args):
        """The SymPy expression of this function at `args` (parameters filled with their defaults)."""
        extra = [constant(v) for _, v in self.params[len(args) - 1:]] if self.params else []
        return self.sympy(*args, *extra)

    def backend(self, kind: str) -> Callable:
        """The numeric form for "mp", "np" or "cs"."""
        if kind == "cs":
            return self.cs or self.np
        return self.mp if kind == "mp" else self.np

    def own_derivative(self, out, z, *params):
        """The derivative in the unit's own terms (`params`: its constant parameters, defaults when
        left out), else SymPy's derivative at z."""
        values = list(params) + [constant(v) for _, v in self.params[len(params):]]
        if self.prime is not None:
            return self.prime(out, z, *values)
        return sp.diff(self.make(z, *values), z)

    @property
    def prime_plain(self) -> str:
        return self.plain + "′"

    @property
    def prime_latex(self) -> str:
        return self.latex + "'"


def _latex_op(name: str) -> str:
    return rf"\operatorname{{{name}}}"


_FUNCTION_ROWS = (
    Function("exp", sp.exp, mpmath.exp, np.exp, prime=lambda out, z: out, latex=r"\exp", plain="exp",
             glyph=r"\exp", short="exp", word="ex", label=N_("exponential")),
    Function("log", sp.log, _mp_log, np.log, prime=lambda out, z: 1 / z, latex=r"\log", plain="log", glyph=r"\log",
             short="log", word="ln", spellings=("ln",), label=N_("logarithm")),
    Function("sigmoid", sigmoid, _mp_sigmoid, _np_sigmoid, prime=lambda out, z: out * (1 - out), latex=r"\sigma",
             plain="σ", glyph=r"\sigma", short="sig", word="sig", spellings=("σ", "sigma"),
             answer_only=("Sigmoid", "logistic"), activation=True, label=N_("sigmoid"), unit=N_("sigmoid unit"),
             saturates=True, confused=("tanh", "relu", "identity")),
    Function("tanh", sp.tanh, mpmath.tanh, np.tanh, prime=lambda out, z: 1 - out**2, latex=r"\tanh", plain="tanh",
             glyph=r"\tanh", short="tanh", word="th", answer_only=("Tanh",), activation=True, label=N_("tanh"),
             unit=N_("tanh unit"), saturates=True, confused=("sigmoid", "relu", "identity")),
    Function("relu", relu, lambda x: x if x > 0 else mpmath.mpf(0), lambda x: np.maximum(x, 0.0),
             cs=lambda x: np.where(_re(x) > 0, x, 0j), prime=lambda out, z: sp.Heaviside(z),
             latex=_latex_op("relu"), plain="relu", glyph=_latex_op("relu"), short="relu", word="rl",
             answer_only=("ReLU", "Relu"), activation=True, label=N_("relu"), unit=N_("relu unit"), kinks=(0,),
             confused=("sigmoid", "tanh", "identity", "leaky_relu")),
    Function("softplus", softplus, _mp_softplus, lambda x: np.logaddexp(0.0, x), cs=_cs_softplus,
             prime=lambda out, z: sigmoid(z), latex=_latex_op("softplus"), plain="softplus",
             glyph=_latex_op("softplus"), short="sp", word="spl", answer_only=("SoftPlus", "Softplus"),
             activation=True, label=N_("softplus"), unit=N_("softplus unit"),
             confused=("sigmoid", "relu", "identity")),
    Function("leaky_relu", leaky_relu,
             lambda x, a: x if x > 0 else a * x, lambda x, a: np.where(x > 0, x, a * x),
             cs=lambda x, a: np.where(_re(x) > 0, x, a * x),
             prime=lambda out, z, a: sp.Heaviside(z) + a * sp.Heaviside(-z),
             latex=_latex_op("lrelu"), plain="leaky_relu", glyph=_latex_op("lrelu"), short="lrelu", word="lrl",
             spellings=("lrelu",), answer_only=("LeakyReLU", "leakyrelu", "LReLU"), activation=True,
             label=N_("leaky ReLU"), unit=N_("leaky ReLU unit"), kinks=(0,), params=(("alpha", 0.01),),
             confused=("relu", "identity", "sigmoid")),
    Function("elu", elu,
             lambda x, a: x if x > 0 else a * mpmath.expm1(x),
             lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
             cs=lambda x, a: np.where(_re(x) > 0, x, a * (np.exp(x) - 1)),
             prime=lambda out, z, a: sp.Heaviside(z) + sp.Heaviside(-z) * (out + a),
             latex=_latex_op("elu"), plain="elu", glyph=_latex_op("elu"), short="elu", word="el",
             answer_only=("ELU", "Elu"), activation=True, label=N_("ELU"), unit=N_("ELU unit"), kinks=(0,),
             params=(("alpha", 1),), confused=("relu", "identity", "sigmoid")),
    Function("swish", swish, lambda x: x * _mp_sigmoid(x), lambda x: x * _np_sigmoid(x),
             prime=lambda out, z: sigmoid(z) + out * (1 - sigmoid(z)), latex=_latex_op("swish"), plain="swish",
             glyph=_latex_op("swish"), short="sw", word="sw", spellings=("silu",),
             answer_only=("SiLU", "Swish", "SILU"), activation=True, label=N_("swish"), unit=N_("swish unit"),
             confused=("sigmoid", "relu", "identity")),
    Function("identity", lambda z: z, lambda x: x, lambda x: x, prime=lambda out, z: sp.Integer(1),
             latex=_latex_op("id"), plain="id", glyph=_latex_op("id"), short="id", word="id", activation=True,
             label=N_("identity"), unit=N_("identity unit"), confused=("sigmoid", "tanh", "relu"),
             in_problems=False),
    Function("abs", sp.Abs, abs, np.abs, cs=lambda x: np.where(_re(x) < 0, -x, x),
             prime=lambda out, z: sp.sign(z), latex=_latex_op("abs"), plain="abs", glyph=r"|x|", short="abs",
             word="abs", label=N_("absolute value"), kinks=(0,)),
    Function("max", sp.Max, lambda *xs: max(xs), _reduce(np.maximum), cs=_cs_pick(True), arity=None,
             latex=r"\max", plain="max", glyph=r"\max", short="max", word="max", label=N_("maximum"), kinks=("tie",)),
    Function("min", sp.Min, lambda *xs: min(xs), _reduce(np.minimum), cs=_cs_pick(False), arity=None,
             latex=r"\min", plain="min", glyph=r"\min", short="min", word="min", label=N_("minimum"), kinks=("tie",),
             in_problems=False),
    # derivatives' own functions and the extra functions an answer may use
    Function("step", sp.Heaviside, _mp_step, lambda x: np.heaviside(x, 0.5), cs=_cs_step,
             prime=lambda out, z: sp.Integer(0), latex=r"\mathbf{1}", plain="step", glyph="H", short="step",
             word="step", spellings=("H", "Heaviside", "heaviside", "Θ"), label=N_("step"), kinks=(0,),
             in_problems=False),
    Function("sign", sp.sign, mpmath.sign, np.sign, cs=lambda x: np.sign(_re(x)) + 0j,
             prime=lambda out, z: sp.Integer(0), latex=_latex_op("sgn"), plain="sgn", glyph="sgn", short="sgn",
             word="sgn", spellings=("sgn",), label=N_("sign"), kinks=(0,), in_problems=False),
    Function("cosh", sp.cosh, mpmath.cosh, np.cosh, latex=r"\cosh", plain="cosh", glyph=r"\cosh", short="cosh",
             word="ch", label=N_("cosh"), in_problems=False),
    Function("sinh", sp.sinh, mpmath.sinh, np.sinh, latex=r"\sinh", plain="sinh", glyph=r"\sinh", short="sinh",
             word="sh", label=N_("sinh"), in_problems=False),
    Function("sech", sp.sech, mpmath.sech, lambda x: 1 / np.cosh(x), latex=_latex_op("sech"), plain="sech",
             glyph=_latex_op("sech"), short="sech", word="sech", label=N_("sech"), in_problems=False),
    Function("sqrt", sp.sqrt, _mp_sqrt, np.sqrt, latex=r"\sqrt", plain="sqrt", glyph=r"\sqrt{x}", short="sqrt",
             word="sqrt", spellings=("√",), label=N_("square root"), in_problems=False),
)

FUNCTION_TABLE: dict[str, Function] = {f.name: f for f in _FUNCTION_ROWS}


def function_of(head) -> Function | None:
    """The record of a SymPy head (sigmoid, sp.tanh, sp.Heaviside), or None."""
    return _BY_HEAD.get(head)


_BY_HEAD = {f.sympy: f for f in _FUNCTION_ROWS if isinstance(f.sympy, type)}


def spelled(name: str, answers: bool = False) -> Function | None:
    """The record a problem file (or, with answers=True, an answer) means by `name`."""
    f = _SPELLED.get(name)
    if f is None and answers:
        f = _ANSWER_SPELLED.get(name)
    if f is not None and not answers and not f.in_problems:
        return None
    return f


_SPELLED = {s: f for f in _FUNCTION_ROWS for s in (f.name, *f.spellings)}
_ANSWER_SPELLED = {s: f for f in _FUNCTION_ROWS for s in f.answer_only}


def function_names() -> str:
    """The names a problem file may call, for error messages."""
    return ", ".join(sorted(s for s, f in _SPELLED.items() if f.in_problems and s.isascii()))


# ---------------------------------------------------------------- network activations

# name -> the unit's output as a function of its net input (None: softmax, built per layer as
# exp(z_j) / Σ_k exp(z_k); allowed on the output layer only)
ACTIVATIONS: dict[str, Callable | None] = {f.name: f.make for f in _FUNCTION_ROWS if f.activation}
ACTIVATIONS["softmax"] = None
SOFTMAX_LABEL = N_("softmax")
DEFAULT_ACTIVATION = "sigmoid"  # a network's activation when its problem file names none


def activation_label(name: str) -> str:
    """The catalog message naming activation `name` (untranslated), or the name itself."""
    if name == "softmax":
        return SOFTMAX_LABEL
    f = FUNCTION_TABLE.get(name)
    return f.label if f is not None else name


# ---------------------------------------------------------------- losses


@dataclass(frozen=True)
class Loss:
    """One sample's loss, from its targets `t`, outputs `o` and output nets `z` (symbol lists).

    expr: the textbook form in the outputs o; logits: the same loss written from the output nets
        z for the given output activation (`act`), the form derive computes, differentiates and
        proves when present (stable where the outputs saturate: log σ(z) = −softplus(−z); and
        softmax with cross-entropy differentiates to o − t, never through the softmax Jacobian).
    outputs: the output activations it accepts; unit_targets: targets must lie in [0, 1];
    half: the ½ of ½Σ(t − o)² (so a factor 2 in an answer is "a loss without ½").
    """
    expr: Callable[[list, list, list], sp.Expr]
    outputs: tuple[str, ...]
    unit_targets: bool = False
    half: bool = False
    logits: Callable[[list, list, str], sp.Expr] | None = None
    description: str = ""

    @property
    def from_logits(self) -> bool:
        return self.logits is not None


def _log_softmax_loss(t, z):
    """−Σ t_j log(e^(z_j) / Σ_k e^(z_k)): Softmax-with-Loss."""
    total = sp.Add(*[sp.exp(zk) for zk in z])
    return -sp.Add(*[ti * sp.log(sp.exp(zi) / total) for ti, zi in zip(t, z)])


def _cross_entropy_logits(t, z, act):
    if act == "softmax":
        return _log_softmax_loss(t, z)
    return sp.Add(*[ti * softplus(-zi) for ti, zi in zip(t, z)])  # −t log σ(z)


LOSSES: dict[str, Loss] = {
    "mse": Loss(lambda t, o, z: sp.Rational(1, 2) * sp.Add(*[(ti - oi) ** 2 for ti, oi in zip(t, o)]),
                tuple(f.name for f in _FUNCTION_ROWS if f.activation), half=True, description="½Σ(t − o)²"),
    "cross_entropy": Loss(lambda t, o, z: -sp.Add(*[ti * sp.log(oi) for ti, oi in zip(t, o)]),
                          ("softmax", "sigmoid"), unit_targets=True, logits=_cross_entropy_logits,
                          description="−Σ t log o"),
    "softmax_cross_entropy": Loss(
        lambda t, o, z: _log_softmax_loss(t, z), ("softmax",), unit_targets=True,
        logits=lambda t, z, act: _log_softmax_loss(t, z),
        description="Softmax-with-Loss, −Σ t log softmax(z)"),
    "binary_cross_entropy": Loss(
        lambda t, o, z: -sp.Add(*[ti * sp.log(oi) + (1 - ti) * sp.log(1 - oi) for ti, oi in zip(t, o)]),
        ("sigmoid",), unit_targets=True,
        logits=lambda t, z, act: sp.Add(*[ti * softplus(-zi) + (1 - ti) * softplus(zi) for ti, zi in zip(t, z)]),
        description="−Σ [t log o + (1 − t) log(1 − o)]"),
}


# ---------------------------------------------------------------- matrix layers


@dataclass(frozen=True)
class Layer:
    """One layer of a `[layers]` stack (the textbook's layers: cs231n, Saito ch. 5-7).

    name: as a stack entry names it; params: the arrays it reads, its input X (a loss layer also
    the targets T) and its own parameters (the k-th counted layer's W{k}, b{k}; gamma{k}, beta{k};
    mask{k}; see `own`), with their shapes in letters (N batch, D inputs, M outputs; F filters,
    C channels, H × W an image, HH × WW a filter; "in": the shape of its input);
    forward: its forward pass in matrix form (text for the layer box); backward: its backward
    rules in the textbook's matrix form, gradient name -> right side as text (what the report
    prints; the rule itself is derived and checked by networks.stack); label: the catalog message
    drawn in its box; options: its options and their defaults; loss: a loss layer (last in a
    stack, reads the targets T); counted: W{k}, b{k} count this layer (affine, conv); function:
    an activation layer's `Function` record (its forward and derivative come from that record).
    """
    name: str
    params: tuple[tuple[str, tuple[str, ...]], ...]
    forward: str
    backward: tuple[tuple[str, str], ...]
    label: str
    options: tuple[tuple[str, object], ...] = field(default=())
    loss: bool = False
    counted: bool = False
    function: str = ""

    @property
    def own(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Its own parameter arrays (W, b, gamma, beta, mask): `params` without its input and targets."""
        return tuple((n, shape) for n, shape in self.params if n not in ("X", "T"))


_ANY = (("X", ("in",)),)  # an elementwise layer reads an input of any shape
_IMAGES = (("X", ("N", "C", "H", "W")),)
_SCORES = (("X", ("N", "M")), ("T", ("N", "M")))


def _activation_layer(name: str, backward: str, label: str) -> Layer:
    f = FUNCTION_TABLE[name]
    return Layer(name, _ANY, f"Y = {f.plain}(X)", (("X", backward),), label, options=f.params, function=name)


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (
    Layer("affine", (("X", ("N", "D")), ("W", ("D", "M")), ("b", ("M",))), "Y = X·W + b",
          (("X", "dY·Wᵀ"), ("W", "Xᵀ·dY"), ("b", "Σ_n dY")), N_("Affine"), counted=True),
    _activation_layer("relu", "dY ⊙ [X > 0]", N_("ReLU")),
    _activation_layer("sigmoid", "dY ⊙ Y ⊙ (1 − Y)", N_("Sigmoid")),
    _activation_layer("tanh", "dY ⊙ (1 − Y ⊙ Y)", N_("Tanh")),
    _activation_layer("leaky_relu", "dY ⊙ ([X > 0] + α [X ≤ 0])", N_("Leaky ReLU")),
    Layer("batchnorm", (("X", ("N", "D")), ("gamma", ("D",)), ("beta", ("D",))),
          "Y = γ ⊙ x̂ + β,  x̂ = (X − μ) / √(σ² + ε)",
          (("X", "(γ / (N σ)) ⊙ (N dY − Σ_n dY − x̂ ⊙ Σ_n (dY ⊙ x̂))"), ("gamma", "Σ_n dY ⊙ x̂"),
           ("beta", "Σ_n dY")), N_("Batch Normalization"), options=(("eps", 1e-5),)),
    Layer("dropout", (("X", ("in",)), ("mask", ("in",))), "Y = X ⊙ mask / p", (("X", "dY ⊙ mask / p"),), N_("Dropout"),
          options=(("p", 0.5),)),
    Layer("conv", (*_IMAGES, ("W", ("F", "C", "HH", "WW")), ("b", ("F",))), "Y = X ⋆ W + b",
          (("X", "dY ⋆full rot180(W)"), ("W", "Σ_n X ⋆ dY"), ("b", "Σ_{n,h,w} dY")), N_("Convolution"),
          options=(("stride", 1), ("pad", 0)), counted=True),
    Layer("max_pool", _IMAGES, "Y = max over each window of X", (("X", "dY routed to each window's maximum"),),
          N_("Max Pooling"), options=(("size", 2), ("stride", 2))),
    Layer("avg_pool", _IMAGES, "Y = mean over each window of X", (("X", "dY / size² spread over each window"),),
          N_("Average Pooling"), options=(("size", 2), ("stride", 2))),
    Layer("softmax_with_loss", _SCORES, "L = −Σ T ⊙ log softmax(X)", (("X", "Y − T"),), N_("Softmax-with-Loss"),
          loss=True),
    Layer("mse", _SCORES, "L = ½ Σ (X − T)²", (("X", "X − T"),), N_("Mean Squared Error"), loss=True),
)}
