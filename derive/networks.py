"""Networks: multilayer perceptrons in a textbook notation, derived per weight and in index form.

Problem files (kind "network"):

    title = "2-2-2 sigmoid network"
    [network]
    layers = [2, 2, 2]            # units per layer, input first; any depth
    activations = "sigmoid"       # one name, or one per non-input layer: ["tanh", "softmax"]
                                  #   sigmoid, tanh, relu, identity; softmax only on the output
    loss = "mse"                  # mse = ½Σ(t−o)², cross_entropy = −Σ t log o,
                                  #   softmax_cross_entropy (Softmax-with-Loss, output softmax),
                                  #   binary_cross_entropy = −Σ [t log o + (1−t) log(1−o)]
    notation = "mitchell"         # mitchell (x_i, net_j, h_j, net_k, o_k, t_k, w_ji, w_kj, δ_j, δ_k;
                                  #   at most one hidden layer) or nielsen (a^l_j, z^l_j, b^l_j,
                                  #   w^l_jk, δ^l_j, cost C, targets y_j)
    bias = true                   # optional; false drops every bias
    seed = 1                      # optional; seeds the random values when [values] is absent
    [values]                      # optional as a whole; when given, every array is required
    x = [0.05, 0.10]              # one sample, or a batch: [[...], [...]] (the loss sums over rows)
    t = [0.01, 0.99]              # targets, same number of rows as x
    W1 = [[0.15, 0.20], [0.25, 0.30]]   # row j: the weights into unit j of layer 1 (first hidden)
    b1 = [0.35, 0.35]
    W2 = [[0.40, 0.45], [0.50, 0.55]]
    b2 = [0.60, 0.60]

Matrix-layer problems (kind "layers") are documented in derive/matrix.py.

Graph node names (unique across layers, printable by SymPy's latex: "^" and "_" split into
super- and subscripts; indices are joined by commas when a layer has more than 9 units):

    mitchell  inputs x_i; hidden net^h_j, h_j; output net^o_k, o_k; targets t_k; loss L;
              weights w^h_ji, w^o_kj; biases b^h_j, b^o_k; deltas delta^h_j, delta^o_k
    nielsen   inputs a^1_k; layer l: z^l_j, a^l_j, w^l_jk, b^l_j; targets y_j; cost C;
              deltas delta^l_j
    batch     with several rows, each per-sample node carries the row: o^(2)_1, a^3,(2)_1,
              and the loss is L = L^(1) + L^(2) + ...

The derivation is a steps.Derivation over that per-unit Graph (reverse mode with named
intermediates; never one nested loss expression), plus a NetworkResult in Solution.extra.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .steps import Chain

NOTATIONS = ("mitchell", "nielsen")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")
LOSSES = ("mse", "cross_entropy", "softmax_cross_entropy", "binary_cross_entropy")


# ---------------------------------------------------------------- the contract

@dataclass(frozen=True)
class NetworkProblem:
    """A network ("network") or matrix-layer ("layers") problem, validated.

    title, source, description: as in ScalarProblem.
    kind: "network" (an MLP, per-unit graph) or "layers" (Affine / Softmax-with-Loss over a batch).
    notation: "mitchell" or "nielsen" (networks); "matrix" for layers.
    sizes: units per layer, input first (networks); () for layers.
    activations: one name per non-input layer (networks); () for layers.
    loss: one of LOSSES (networks); for layers "softmax_with_loss" or "upstream" (L = Σ dY ∘ Y).
    bias: whether the layers have biases.
    stack: for layers, the layer names in order, e.g. ("affine", "softmax_with_loss"); () for networks.
    arrays: array name -> nested tuples of Fractions, same shape as written in the file
        (networks: "x" and "t" as (rows, units) even for one sample, "W1", "b1", ...;
        layers: "X", "W", "B", "T", "A", "dY" as used by the stack).
    batch: number of sample rows.
    seeded: True when the values were drawn at random from `seed`.
    """
    title: str
    source: str
    kind: str
    notation: str
    sizes: tuple = ()
    activations: tuple = ()
    loss: str = "mse"
    bias: bool = True
    stack: tuple = ()
    arrays: dict = field(default_factory=dict, hash=False)
    batch: int = 1
    description: str = ""
    seed: int = 0
    seeded: bool = False

    def graph(self):
        """The per-unit Graph in the notation's names."""
        return build(self).graph

    @property
    def inputs(self) -> dict:
        """Graph input name -> Fraction, for every leaf (data, targets and parameters)."""
        return dict(build(self).inputs)

    @property
    def params(self) -> tuple[str, ...]:
        """The differentiated arrays, in order: ("W1", "b1", "W2", "b2") or ("X", "W", "B")."""
        return build(self).params


@dataclass(frozen=True)
class ParamChain:
    """The chain of factors for one parameter ELEMENT, e.g. W2[1,2] (1-based, as printed).

    param: the array name ("W2"); index: its 1-based position ((1, 2)); node: the graph input
    name of the element ("w^o_12"); chain: steps.Chain with factors outermost first, each a
    steps.Factor whose expr is in the notation's names (δ symbols where the seeds name δ);
    general: the index-form formula this element instantiates (generic indexed symbols).
    """
    param: str
    index: tuple[int, ...]
    node: str
    chain: Chain
    general: sp.Expr


@dataclass(frozen=True)
class IndexRule:
    """A general rule in index form, e.g. ∂L/∂w_kj = δ_k h_j.

    target: the generic target as a user types it: "w_kj", "w_ji", "b_k", "b_j", "delta_k",
        "delta_j" (mitchell); "w^l_jk", "b^l_j", "delta^l_j", "delta^L_j" (nielsen).
    lhs: the printable left side (a gradient symbol ∂L/∂w_kj, or the generic δ).
    factors: ((label_num, label_den, sp.Expr), ...) the chain in generic names, outermost first.
    expr: the general formula in generic indexed symbols (sympy.Indexed: o[k], h[j], w[k, j],
        delta[k] ...), with sympy.Sum over next-layer indices where needed.
    indices: the free index letters, e.g. ("k", "j"); ranges: letter -> (first, last), 1-based
        inclusive, for free and bound letters (nielsen's l too).
    instances: ((bindings {letter: int}, concrete node name, concrete sp.Expr, value), ...)
        every concrete element the rule covers, its formula in graph names and its value.
    checked: every instance's concrete formula evaluated at the forward values agrees with the
        per-unit reverse-mode result for that node (relative error ≤ 1e-9).
    """
    target: str
    lhs: sp.Expr
    factors: tuple
    expr: sp.Expr
    indices: tuple[str, ...]
    ranges: dict
    instances: tuple
    checked: bool = False
    names: dict = field(default_factory=dict, compare=False, repr=False)  # see concretize


@dataclass(frozen=True)
class VectorRule:
    """A rule in vector/matrix form: Nielsen's BP1–BP4, or an Affine/Softmax-with-Loss formula.

    lhs, rhs: SymPy matrix expressions (MatrixSymbol, Transpose, HadamardProduct, MatMul ...) of
    the concrete sizes; checked: rhs evaluated at the forward values equals the per-unit results.
    """
    name: str
    lhs: object
    rhs: object
    checked: bool
    description: str = ""


@dataclass(frozen=True)
class NetworkResult:
    """Solution.extra for the network kinds.

    notation: "mitchell", "nielsen" or "matrix"; loss: the loss value.
    params: array name -> nested lists of graph input names (same shape as the values).
    gradients: array name -> nested lists of floats (same shape).
    chains: one ParamChain per parameter element, in array order.
    rules: the index-form rules; vector_rules: BP1–BP4 or the matrix forms.
    deltas: net node name -> its δ symbol name ("net^o_1" -> "delta^o_1"), δ = ∂L/∂net.
    loss_name: the output node ("L" or "C"); sizes: DAG sizes {"forward": n, "gradient": n}.
    """
    notation: str
    loss: float
    params: dict
    gradients: dict
    chains: tuple
    rules: tuple
    vector_rules: tuple
    deltas: dict = field(default_factory=dict)
    loss_name: str = "L"
    sizes: dict = field(default_factory=dict)


def concretize(rule_or_solution, expr, bindings) -> sp.Expr:
    """Generic indexed symbols -> graph symbols, with the free indices bound by `bindings`.

    `rule_or_solution` is an IndexRule or a Solution whose extra is a NetworkResult; sums over
    bound indices are expanded over their ranges.
    """
    raise NotImplementedError("being written")


def load(data: dict, source: str, kind: str) -> NetworkProblem:
    raise NotImplementedError("being written")


def build(problem):
    raise NotImplementedError("being written")


def solve(problem):
    raise NotImplementedError("being written")


def show_text(solution) -> str:
    raise NotImplementedError("being written")


def check_json(solution) -> dict:
    raise NotImplementedError("being written")
