"""The records a network or matrix-layer solution carries besides its Derivation.

ParamChain (one parameter element's chain of factors), IndexRule (a general rule in index form
with every instance it covers), VectorRule (BP1–BP4 or a matrix-layer formula), NetworkResult
(Solution.extra). Plain data: SymPy expressions and floats.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy as sp

from ..engine.steps import Chain


class Lazy(Sequence):
    """A sequence whose items are made when first read (`make(key)`), from a list of keys.

    A 784-64-10 network has 50,890 chains and as many rule instances; a report prints a dozen,
    `derive check` none. `keys` are cheap (names, bindings); items are cached once made.
    """

    def __init__(self, keys, make):
        self.keys = list(keys)
        self._make = make
        self._cache: dict = {}

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.keys)))]
        if i < 0:
            i += len(self.keys)
        if i not in self._cache:
            self._cache[i] = self._make(self.keys[i])
        return self._cache[i]

    def __iter__(self):
        return (self[i] for i in range(len(self.keys)))


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
        every concrete element the rule covers, its formula in graph names and its value (a
        `Lazy` sequence: the concrete formula is built when an instance is read).
    checked: every instance's formula evaluated at the forward values agrees with the per-unit
        reverse-mode result for that node: all instances at once in float64 (relative 1e-9), and
        any that float64 cannot resolve again in 50-digit arithmetic.
    """
    target: str
    lhs: sp.Expr
    factors: tuple
    expr: sp.Expr
    indices: tuple[str, ...]
    ranges: dict
    instances: Sequence
    checked: bool = False
    resolver: object = field(default=None, compare=False, repr=False)  # used by concretize
    sign: int = 1  # −1 for a δ rule under Mitchell's δ = −∂L/∂net: lhs = −(the chain of factors)


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
    element: tuple | None = None  # (lhs, rhs) one element in index form: ∂L/∂x_ij = Σ_k ∂L/∂y_ik w_jk
    display: object = None  # rhs as printed, in the section's notation (None: print rhs)
    layer: int | None = None  # a per-layer rule's layer, numbered as Nielsen's l (input layer 1)


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
    timings: seconds per stage {"build", "backward", "check", "rules"}.
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
    timings: dict = field(default_factory=dict)
    resolver: object = field(default=None, compare=False, repr=False)  # used by concretize
