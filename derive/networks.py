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

import itertools
import time
import weakref
from fractions import Fraction

import mpmath
import numpy as np

from . import numeric
from .backward import _ancestors
from .check import Check, CheckReport, check, relative_error, verdict
from .errors import DeriveError, ProblemError
from .graph import Graph, Node
from .ops import relu, sigmoid
from .parse import symbol
from .problem import header, number, text_key
from .steps import Chain, Contribution, Derivation, Factor, Gradient, LocalGradient, partial

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
    resolver: object = field(default=None, compare=False, repr=False)  # used by concretize


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
    where: dict = field(default_factory=dict)  # function name -> its derived sp.Lambda (σ' ...)


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



def concretize(rule_or_solution, expr, bindings) -> sp.Expr:
    """Generic indexed symbols -> graph symbols, with the free indices bound by `bindings`.

    `rule_or_solution` is an IndexRule, a NetworkResult or a Solution whose extra is a
    NetworkResult; `bindings` maps index letters to 1-based ints ({"k": 1, "j": 2}, nielsen's
    {"l": 3, ...}). Sums over bound indices are expanded over their ranges; the textbook form of
    products and sums is kept (no evaluation).
    """
    obj = getattr(rule_or_solution, "extra", rule_or_solution)
    resolver = obj.resolver
    return _conc(expr, {str(k): int(v) for k, v in bindings.items()}, resolver)


# ---------------------------------------------------------------- loading and validation

def load(data: dict, source: str, kind: str) -> NetworkProblem:
    """Validate a problem file's data (already parsed TOML) into a NetworkProblem."""
    if kind == "layers":
        from .matrix import load_layers
        return load_layers(data, source)
    title, description = header(data, source, "network")
    net = data["network"]
    if not isinstance(net, dict):
        raise ProblemError(source, "[network]", "expected a table with layers, activations, loss, notation")
    allowed = {"layers", "activations", "loss", "notation", "bias", "seed"}
    for key in net:
        if key not in allowed:
            raise ProblemError(source, f"[network] {key}", f"unknown key; expected one of {', '.join(sorted(allowed))}")
    sizes = net.get("layers")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_UNITS for s in sizes)):
        raise ProblemError(source, "[network] layers", "expected a list of at least two unit counts "
                           f"(integers 1..{MAX_UNITS}), input layer first, e.g. [2, 2, 2]; got {sizes!r}")
    if sum(a * b for a, b in zip(sizes, sizes[1:])) > MAX_WEIGHTS:
        raise ProblemError(source, "[network] layers", f"too many weights (at most {MAX_WEIGHTS})")
    depth = len(sizes) - 1
    acts = net.get("activations", "sigmoid")
    if isinstance(acts, str):
        acts = [acts] * depth
    if not isinstance(acts, list) or len(acts) != depth or not all(isinstance(a, str) for a in acts):
        raise ProblemError(source, "[network] activations", f"expected one name or a list of {depth} "
                           f"names (one per non-input layer); got {net.get('activations')!r}")
    for i, a in enumerate(acts):
        if a not in ACTIVATIONS:
            raise ProblemError(source, "[network] activations", f"unknown activation {a!r}; expected one "
                               f"of {', '.join(ACTIVATIONS)}")
        if a == "softmax" and i != depth - 1:
            raise ProblemError(source, "[network] activations", f"softmax is only allowed on the output "
                               f"layer, not in hidden layer {i + 1}")
    loss = text_key(net, "loss", source, "mse")
    if loss not in LOSSES:
        raise ProblemError(source, "[network] loss", f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    out_act = acts[-1]
    if loss == "softmax_cross_entropy" and out_act != "softmax":
        raise ProblemError(source, "[network] activations", "softmax_cross_entropy is Softmax-with-Loss: "
                           f"the output activation must be softmax, got {out_act!r}")
    if out_act == "softmax" and loss not in ("cross_entropy", "softmax_cross_entropy"):
        raise ProblemError(source, "[network] loss", "a softmax output needs loss cross_entropy or "
                           f"softmax_cross_entropy, got {loss!r}")
    if loss == "cross_entropy" and out_act not in ("softmax", "sigmoid"):
        raise ProblemError(source, "[network] activations", "cross_entropy takes log o: the output "
                           f"activation must be softmax or sigmoid, got {out_act!r}")
    if loss == "binary_cross_entropy" and out_act != "sigmoid":
        raise ProblemError(source, "[network] activations", "binary_cross_entropy needs a sigmoid output, "
                           f"got {out_act!r}")
    notation = text_key(net, "notation", source, "mitchell")
    if notation not in NOTATIONS:
        raise ProblemError(source, "[network] notation", f"unknown notation {notation!r}; expected one of "
                           f"{', '.join(NOTATIONS)}")
    if notation == "mitchell" and depth > 2:
        raise ProblemError(source, "[network] notation", "mitchell names one hidden layer (x_i, h_j, o_k); "
                           f'this network has {depth - 1}: use notation = "nielsen"')
    bias = net.get("bias", True)
    if not isinstance(bias, bool):
        raise ProblemError(source, "[network] bias", f"expected true or false, got {bias!r}")
    seed = net.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ProblemError(source, "[network] seed", f"expected a non-negative integer, got {seed!r}")

    names = [f"{p}{l}" for l in range(1, depth + 1) for p in (("W", "b") if bias else ("W",))]
    shapes = {f"W{l}": (sizes[l], sizes[l - 1]) for l in range(1, depth + 1)}
    shapes.update({f"b{l}": (sizes[l],) for l in range(1, depth + 1)})
    raw = data.get("values")
    if raw is None:
        arrays = _random_values(sizes, names, shapes, loss, out_act, seed)
        seeded = True
    else:
        if not isinstance(raw, dict):
            raise ProblemError(source, "[values]", "expected a table of arrays x, t, W1, b1, ...")
        expected = ["x", "t"] + names
        for key in raw:
            if key not in expected:
                hint = " (bias = false)" if key.startswith("b") and not bias else ""
                raise ProblemError(source, f"[values] {key}", f"unknown array{hint}; expected {', '.join(expected)}")
        arrays = {}
        for key in expected:
            if key not in raw:
                raise ProblemError(source, f"[values] {key}", "missing: expected " + _describe(key, shapes, sizes))
            arrays[key] = _array(raw[key], source, f"[values] {key}")
        arrays["x"] = _rows(arrays["x"], sizes[0], source, "[values] x", "input")
        arrays["t"] = _rows(arrays["t"], sizes[-1], source, "[values] t", "output")
        if len(arrays["x"]) != len(arrays["t"]):
            raise ProblemError(source, "[values] t", f"expected as many rows as x ({len(arrays['x'])}), "
                               f"got {len(arrays['t'])}")
        for key in names:
            if _shape(arrays[key]) != shapes[key]:
                raise ProblemError(source, f"[values] {key}", "expected " + _describe(key, shapes, sizes)
                                   + f"; got shape {_shape(arrays[key])}")
        seeded = False
    _check_targets(arrays["t"], loss, out_act, source)
    return NetworkProblem(title, source, "network", notation, tuple(sizes), tuple(acts), loss, bias,
                          (), arrays, len(arrays["x"]), description, seed, seeded)


MAX_UNITS = 512
MAX_WEIGHTS = 20_000


def _describe(key, shapes, sizes) -> str:
    if key == "x":
        return f"a list of {sizes[0]} inputs, or a list of such rows (a batch)"
    if key == "t":
        return f"a list of {sizes[-1]} targets, or a list of such rows (a batch)"
    shape = shapes[key]
    if len(shape) == 2:
        return f"a {shape[0]}×{shape[1]} list of rows (row j: the weights into unit j of layer {key[1:]})"
    return f"a list of {shape[0]} biases"


def _array(value, source, key):
    """Nested lists of finite numbers -> nested tuples of Fractions."""
    if isinstance(value, list):
        if not value:
            raise ProblemError(source, key, "expected a non-empty list of numbers")
        return tuple(_array(v, source, key) for v in value)
    return number(value, source, key)


def _shape(a) -> tuple:
    if isinstance(a, tuple):
        inner = {_shape(v) for v in a}
        if len(inner) != 1:
            return ("ragged",)
        return (len(a),) + inner.pop()
    return ()


def _rows(a, width, source, key, what):
    shape = _shape(a)
    if shape == (width,):
        return (a,)
    if len(shape) == 2 and shape[1] == width:
        return a
    raise ProblemError(source, key, f"expected {width} {what} values per row (the {what} layer has "
                       f"{width} units), as one list or a list of rows; got shape {shape}")


def _check_targets(t, loss, out_act, source):
    if loss in ("cross_entropy", "softmax_cross_entropy", "binary_cross_entropy"):
        for row in t:
            if any(v < 0 or v > 1 for v in row):
                raise ProblemError(source, "[values] t", f"{loss} expects targets between 0 and 1")
    if out_act == "softmax":
        for row in t:
            if sum(row) != 1:
                raise ProblemError(source, "[values] t", "a softmax output expects each target row to be a "
                                   f"probability distribution summing to 1 (one-hot); a row sums to {float(sum(row))}")


def _random_values(sizes, names, shapes, loss, out_act, seed) -> dict:
    """Seeded small numbers with two decimals (they print well and are exact as Fractions)."""
    rng = np.random.default_rng(seed)

    def draw(shape, low=-1.0, high=1.0):
        vals = np.round(rng.uniform(low, high, size=shape), 2)
        return _to_fractions(vals)

    arrays = {"x": draw((1, sizes[0]))}
    if out_act == "softmax":
        hot = np.zeros((1, sizes[-1]), dtype=int)
        hot[0, rng.integers(sizes[-1])] = 1
        arrays["t"] = _to_fractions(hot)
    else:
        arrays["t"] = draw((1, sizes[-1]), 0.0, 1.0)
    for name in names:
        arrays[name] = draw(shapes[name])
    return arrays


def _to_fractions(a):
    if np.ndim(a) == 0:
        return Fraction(repr(float(a))) if isinstance(a, float | np.floating) else Fraction(int(a))
    return tuple(_to_fractions(v) for v in a)


# ---------------------------------------------------------------- names in a notation

class Names:
    """Concrete node names for one network; layer l = 0 (input) .. D (output)."""

    def __init__(self, notation: str, sizes, batch: int):
        self.notation = notation
        self.nielsen = notation == "nielsen"
        self.sizes = tuple(sizes)
        self.D = len(sizes) - 1
        self.batch = batch
        self.sep = "," if max(sizes) > 9 else ""

    def _name(self, base, sups, subs, n=None):
        sups = [str(s) for s in sups] + ([f"({n})"] if self.batch > 1 and n is not None else [])
        name = base + ("^" + ",".join(sups) if sups else "")
        return name + ("_" + self.sep.join(str(s) for s in subs) if subs else "")

    def tag(self, l):
        return str(l + 1) if self.nielsen else ("o" if l == self.D else "h")

    def act(self, l, j, n=1):
        if self.nielsen:
            return self._name("a", [l + 1], [j], n)
        return self._name("x" if l == 0 else ("o" if l == self.D else "h"), [], [j], n)

    def net(self, l, j, n=1):
        return self._name("z" if self.nielsen else "net", [self.tag(l)], [j], n)

    def weight(self, l, j, k):
        return self._name("w", [self.tag(l)], [j, k])

    def bias(self, l, j):
        return self._name("b", [self.tag(l)], [j])

    def target(self, j, n=1):
        return self._name("y" if self.nielsen else "t", [], [j], n)

    def delta(self, l, j, n=1):
        return self._name("delta", [self.tag(l)], [j], n)

    @property
    def loss(self):
        return "C" if self.nielsen else "L"

    def sample_loss(self, n):
        return self._name(self.loss, [], [], n) if self.batch > 1 else self.loss


# ---------------------------------------------------------------- the per-unit graph

@dataclass
class Built:
    """A problem's graph and everything needed to name and evaluate it."""
    graph: Graph
    inputs: dict  # leaf -> Fraction
    params: tuple  # array names in order
    param_nodes: dict  # array name -> nested tuples of leaf names
    wanted: tuple  # leaves to differentiate
    names: object = None  # Names (networks)
    meta: dict = field(default_factory=dict)  # node -> (role, layer, index tuple, sample)
    softmax: dict = field(default_factory=dict)  # sample -> (S expr, {net name: o name})
    sum_to_one: bool = False  # the targets of each sample sum to 1 (used to simplify δ)


_BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def build(problem) -> Built:
    """The per-unit Graph of a problem (cached per problem)."""
    try:
        return _BUILT[problem]
    except KeyError:
        pass
    if problem.kind == "layers":
        from .matrix import build_layers
        b = build_layers(problem)
    else:
        b = _build_network(problem)
    _BUILT[problem] = b
    return b


def _activation(name, net_sym):
    return {"sigmoid": lambda z: sigmoid(z), "tanh": sp.tanh, "relu": lambda z: relu(z),
            "identity": lambda z: z}[name](net_sym)


def _build_network(p: NetworkProblem) -> Built:
    nm = Names(p.notation, p.sizes, p.batch)
    D, sizes = nm.D, p.sizes
    S = lambda name: symbol(name)  # noqa: E731
    leaves: list[Node] = []
    inputs: dict = {}
    meta: dict = {}
    for n in range(1, p.batch + 1):
        for i in range(1, sizes[0] + 1):
            name = nm.act(0, i, n)
            leaves.append(Node(name))
            inputs[name] = p.arrays["x"][n - 1][i - 1]
            meta[name] = ("act", 0, (i,), n)
        for k in range(1, sizes[-1] + 1):
            name = nm.target(k, n)
            leaves.append(Node(name))
            inputs[name] = p.arrays["t"][n - 1][k - 1]
            meta[name] = ("target", D, (k,), n)
    params, param_nodes, wanted = [], {}, []
    for l in range(1, D + 1):
        W = tuple(tuple(nm.weight(l, j, k) for k in range(1, sizes[l - 1] + 1)) for j in range(1, sizes[l] + 1))
        params.append(f"W{l}")
        param_nodes[f"W{l}"] = W
        for j, row in enumerate(W, 1):
            for k, name in enumerate(row, 1):
                leaves.append(Node(name))
                inputs[name] = p.arrays[f"W{l}"][j - 1][k - 1]
                meta[name] = ("w", l, (j, k), None)
                wanted.append(name)
        if p.bias:
            B = tuple(nm.bias(l, j) for j in range(1, sizes[l] + 1))
            params.append(f"b{l}")
            param_nodes[f"b{l}"] = B
            for j, name in enumerate(B, 1):
                leaves.append(Node(name))
                inputs[name] = p.arrays[f"b{l}"][j - 1]
                meta[name] = ("b", l, (j,), None)
                wanted.append(name)

    steps: list[Node] = []
    softmax = {}
    sample_losses = []
    for n in range(1, p.batch + 1):
        for l in range(1, D + 1):
            act = p.activations[l - 1]
            nets = []
            for j in range(1, sizes[l] + 1):
                terms, parents = [], []
                for k in range(1, sizes[l - 1] + 1):
                    w, a = nm.weight(l, j, k), nm.act(l - 1, k, n)
                    terms.append(sp.Mul(S(w), S(a)))
                    parents += [w, a]
                if p.bias:
                    terms.append(S(nm.bias(l, j)))
                    parents.append(nm.bias(l, j))
                name = nm.net(l, j, n)
                steps.append(Node(name, sp.Add(*terms), tuple(parents), "affine"))
                meta[name] = ("net", l, (j,), n)
                meta[nm.delta(l, j, n)] = ("delta", l, (j,), n)
                nets.append(name)
            if act == "softmax":
                exps = [sp.exp(S(z)) for z in nets]
                total = sp.Add(*exps)
                softmax[n] = (total, {z: nm.act(l, j, n) for j, z in enumerate(nets, 1)})
                for j, z in enumerate(nets, 1):
                    name = nm.act(l, j, n)
                    steps.append(Node(name, exps[j - 1] / total, tuple(nets), "softmax"))
                    meta[name] = ("act", l, (j,), n)
            else:
                for j, z in enumerate(nets, 1):
                    name = nm.act(l, j, n)
                    steps.append(Node(name, _activation(act, S(z)), (z,), act))
                    meta[name] = ("act", l, (j,), n)
        outs = [nm.act(D, k, n) for k in range(1, sizes[-1] + 1)]
        ts = [nm.target(k, n) for k in range(1, sizes[-1] + 1)]
        name = nm.sample_loss(n)
        if p.loss == "softmax_cross_entropy":
            total, _ = softmax[n]
            nets = [nm.net(D, k, n) for k in range(1, sizes[-1] + 1)]
            expr = -sp.Add(*[S(t) * sp.log(sp.exp(S(z)) / total) for t, z in zip(ts, nets)])
            parents = tuple(nets) + tuple(ts)
        elif p.loss == "mse":
            expr = sp.Rational(1, 2) * sp.Add(*[(S(t) - S(o)) ** 2 for t, o in zip(ts, outs)])
            parents = tuple(ts) + tuple(outs)
        elif p.loss == "cross_entropy":
            expr = -sp.Add(*[S(t) * sp.log(S(o)) for t, o in zip(ts, outs)])
            parents = tuple(ts) + tuple(outs)
        else:  # binary_cross_entropy
            expr = -sp.Add(*[S(t) * sp.log(S(o)) + (1 - S(t)) * sp.log(1 - S(o)) for t, o in zip(ts, outs)])
            parents = tuple(ts) + tuple(outs)
        steps.append(Node(name, expr, parents, p.loss))
        meta[name] = ("loss", D, (), n)
        sample_losses.append(name)
    if p.batch > 1:
        steps.append(Node(nm.loss, sp.Add(*[S(x) for x in sample_losses]), tuple(sample_losses), "add"))
        meta[nm.loss] = ("loss", D, (), None)
    graph = Graph(tuple(leaves) + tuple(steps), nm.loss)
    sum_to_one = all(sum(row) == 1 for row in p.arrays["t"])
    return Built(graph, inputs, tuple(params), param_nodes, tuple(wanted), nm, meta, softmax, sum_to_one)


# ---------------------------------------------------------------- local derivatives in names

def textbook(d: sp.Expr) -> sp.Expr:
    """o − t as −(t − o): a difference whose leading term is negative, shown as −(positive first)."""
    if d.is_Add and len(d.args) == 2:
        neg = [a for a in d.args if a.could_extract_minus_sign()]
        pos = [a for a in d.args if not a.could_extract_minus_sign()]
        if len(neg) == 1 and len(pos) == 1:
            shown = sp.Mul(-1, sp.Add(-neg[0], -pos[0], evaluate=False), evaluate=False)
            assert sp.expand(shown - d) == 0
            return shown
    return d


def local_derivative(built: Built, node: Node, parent: str) -> sp.Expr:
    """∂node/∂parent derived by SymPy and rewritten in the notation's names.

    An affine node is a sum: only the terms that hold the parent are differentiated (the same
    derivative, without SymPy walking every other term). σ(net) becomes the unit's own name,
    softmax's exp(net_j)/Σ becomes o_j, and −(t − o) keeps its textbook form.
    """
    p = symbol(parent)
    e = node.expr
    if node.op in ("affine", "add"):
        return sp.Add(*[_linear_derivative(a, p) for a in _terms_with(node, p)])
    d = sp.diff(e, p)
    if node.op in ("softmax", "softmax_cross_entropy"):
        n = built.meta[node.name][3]
        d = _softmax_names(d, *built.softmax[n])
        if node.op == "softmax_cross_entropy" and built.sum_to_one:
            d = _targets_sum_to_one(d, built, n)
        return d
    d = d.xreplace({e: node.symbol})
    if node.op == "mse":
        d = textbook(d)
    return d


_TERMS: dict = {}


def _terms_with(node: Node, p: sp.Symbol) -> list:
    """The terms of an affine sum that hold `p` (indexed once per node: O(terms), not O(terms²))."""
    key = (node.name, node.expr)
    if key not in _TERMS:
        if len(_TERMS) > 200_000:
            _TERMS.clear()
        index: dict = {}
        for a in (node.expr.args if node.expr.is_Add else (node.expr,)):
            for s in a.free_symbols:
                index.setdefault(s, []).append(a)
        _TERMS[key] = index
    return _TERMS[key].get(p, [])


def _linear_derivative(term, p):
    """d(term)/dp: for c·p (c free of p) SymPy's as_independent gives c; anything else, sp.diff."""
    coeff, rest = term.as_independent(p, as_Add=False)
    return coeff if rest == p else sp.diff(term, p)


def _softmax_names(d, total, outs: dict) -> sp.Expr:
    """exp(net_j) / Σ_k exp(net_k) -> o_j, then factor: o_k(1 − o_k), −o_j o_k, ..."""
    s = sp.Dummy("S", positive=True)
    d = d.xreplace({total: s})
    named = {symbol(z): symbol(o) for z, o in outs.items()}

    def as_output(e):  # exp(c·net_j) = (o_j · S)^c
        c, z = e.args[0].as_coeff_Mul()
        return (named[z] * s) ** c if z in named else e
    d = d.replace(lambda e: isinstance(e, sp.exp), as_output)
    d = sp.expand_log(sp.cancel(d), force=True)
    assert s not in d.free_symbols, d
    return sp.factor(d)


def _targets_sum_to_one(d, built: Built, n) -> sp.Expr:
    """Use Σ_k t_k = 1 (a probability distribution): −t_k + o_k Σ t = o_k − t_k."""
    nm = built.names
    ts = [symbol(nm.target(k, n)) for k in range(1, nm.sizes[-1] + 1)]
    outs = sorted({symbol(o) for o in built.softmax[n][1].values()} & d.free_symbols, key=str)
    d = sp.collect(sp.expand(d), outs)
    return d.xreplace({sp.Add(*ts): sp.Integer(1)})


# ---------------------------------------------------------------- forward and reverse mode

SMALL_GRAPH = 200  # nodes; up to this the forward pass and the proof run in mpmath


def forward_values(graph: Graph, inputs: dict) -> dict:
    """Node -> float: mpmath for small graphs, numpy float64 for big ones."""
    if len(graph.nodes) <= SMALL_GRAPH:
        with mpmath.workdps(numeric.PRECISION):
            mp = numeric.forward(graph, {k: numeric.to_mp(v) for k, v in inputs.items()})
            return {k: float(v) for k, v in mp.items()}
    vals = numeric.forward(graph, {k: float(v) for k, v in inputs.items()}, numeric.NP)
    return {k: float(v) for k, v in vals.items()}


def _value(expr, env) -> float:
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        return float(expr)
    return float(numeric.evaluate(expr, env, numeric.NP))


def reverse(graph: Graph, values: dict, wanted, local, closed_limit=60) -> Derivation:
    """Reverse mode over the nodes between `wanted` leaves and the output, output first.

    The same step records as backward.backward (Gradient / Contribution / LocalGradient), with
    local derivatives from `local(node, parent)`; leaves not in `wanted` (data, targets) get none.
    """
    out = graph.output
    anc = _ancestors(graph, out)
    dep = set(wanted)
    for node in graph.steps:
        if any(p in dep for p in node.parents):
            dep.add(node.name)
    need = anc & dep
    env = {symbol(k): v for k, v in values.items()}
    small = len(graph.nodes) <= closed_limit
    steps: dict[str, Gradient] = {}
    for node in reversed(graph.nodes):
        name = node.name
        if name not in need:
            continue
        sym = partial(out, name)
        if name == out:
            steps[name] = Gradient(name, sym, (), sp.Integer(1), sp.Integer(1) if small else None, 1.0)
            continue
        contributions = []
        total = 0.0
        for consumer in graph.consumers(name):
            if consumer not in need:
                continue
            cnode = graph.node(consumer)
            local_expr = local(cnode, name)
            local_val = _value(local_expr, env)
            up = steps[consumer]
            value = up.value * local_val
            total += value
            contributions.append(Contribution(
                name, consumer, up.symbol, up.value, LocalGradient(consumer, name, local_expr, local_val),
                sp.Mul(up.symbol, local_expr), value))
        expr = sp.Add(*(c.expr for c in contributions))
        closed = None
        if small:
            closed = sp.Add(*(c.local.expr * steps[c.via].closed for c in contributions))
        steps[name] = Gradient(name, sym, tuple(contributions), expr, closed, total)
    ordered = tuple(steps[n.name] for n in reversed(graph.nodes) if n.name in steps)
    return IndexedDerivation(graph, dict(values), ordered, _kinks(graph, values))


@dataclass(frozen=True)
class IndexedDerivation(Derivation):
    """A Derivation whose `gradient(name)` is a dictionary look-up (big networks ask it often)."""

    def __post_init__(self):
        object.__setattr__(self, "_by_node", {g.node: g for g in self.steps})

    def gradient(self, name: str) -> Gradient:
        return self._by_node[name]

    __hash__ = object.__hash__


def _kinks(graph, values) -> tuple:
    found = []
    for node in graph.steps:
        if node.expr.atoms(relu, sp.Abs, sp.Max, sp.Min):
            if node.op == "relu" and values[node.parents[0]] == 0:
                found.append(node.name)
            elif node.op != "relu":
                raise DeriveError(f"{node.name}: kink detection covers relu units only")
    return tuple(found)


# ---------------------------------------------------------------- numeric proof

def check_batched(derivation: Derivation, inputs: dict, wanted, chunk=1024, h="1e-5") -> CheckReport:
    """Central differences for every wanted leaf, in numpy long double, many leaves per pass.

    Each pass perturbs `chunk` leaves: leaf i carries an array that is +h in column i and −h in
    column chunk + i, so one vectorised forward pass gives all their differences.
    """
    graph = derivation.graph
    out = graph.output
    ld = np.longdouble
    point = {k: ld(v.numerator) / ld(v.denominator) if isinstance(v, Fraction) else ld(v) for k, v in inputs.items()}
    base = numeric.forward(graph, point, numeric.NP)[out]
    step = ld(h)
    floor = max(1.0, abs(float(base))) * 1e-9  # below this a float difference is noise: zero
    near_kink = set()
    for k in derivation.kinks:
        near_kink |= _ancestors(graph, k)
    checks = []
    wanted = list(wanted)
    for start in range(0, len(wanted), chunk):
        names = wanted[start:start + chunk]
        m = len(names)
        perturbed = dict(point)
        for i, name in enumerate(names):
            arr = np.full(2 * m, point[name], dtype=ld)
            arr[i] += step
            arr[m + i] -= step
            perturbed[name] = arr
        f = np.asarray(numeric.forward(graph, perturbed, numeric.NP)[out], dtype=ld)
        if f.ndim == 0:
            f = np.full(2 * m, f, dtype=ld)
        nums = (f[:m] - f[m:]) / (2 * step)
        for name, num in zip(names, nums):
            a = derivation.gradient(name).value
            rel = relative_error(a, float(num), floor)
            v = "kink" if name in near_kink else verdict(rel)
            checks.append(Check(name, "input", a, float(num), rel, v))
    return CheckReport(out, float(base), tuple(checks))


def prove(derivation: Derivation, inputs: dict, wanted) -> CheckReport:
    """The mpmath proof (every node) for small graphs, the batched numpy one for big ones."""
    if len(derivation.graph.nodes) <= SMALL_GRAPH:
        return check(derivation, inputs)
    return check_batched(derivation, inputs, wanted)


# ---------------------------------------------------------------- per-parameter chains

def _is_loss(op: str) -> bool:
    return op in LOSSES


def _delta_symbol(built: Built, net: str) -> sp.Symbol:
    _, l, idx, n = built.meta[net]
    return symbol(built.names.delta(l, idx[0], n))


def _named_upstream(built: Built, d: Derivation, c: Contribution) -> sp.Expr:
    """A contribution upstream × local with the upstream written as δ where it is ∂L/∂net."""
    via = built.graph.node(c.via)
    if via.op == "affine":
        return sp.Mul(_delta_symbol(built, c.via), c.local.expr, evaluate=False)
    if _is_loss(via.op):  # ∂L/∂L^(n) = 1
        return c.local.expr
    return sp.Mul(c.upstream, c.local.expr, evaluate=False)


def _act_factor(built: Built, d: Derivation, act: str) -> Factor:
    """∂L/∂(unit output): the loss derivative, or Σ_k δ_k w_kj for a hidden unit."""
    g = d.gradient(act)
    parts = [_named_upstream(built, d, c) for c in g.contributions]
    expr = parts[0] if len(parts) == 1 else sp.Add(*parts, evaluate=False)
    return Factor(d.output, act, expr, g.value)


def _delta_closed(built: Built, d: Derivation, net: str) -> sp.Expr:
    """∂L/∂net in unit names when the net feeds a softmax (or Softmax-with-Loss), simplified."""
    g = d.gradient(net)
    graph = built.graph
    parts = []
    for c in g.contributions:
        via = graph.node(c.via)
        if _is_loss(via.op):
            parts.append(c.local.expr)
        else:  # a softmax unit: its upstream is the loss derivative
            (up,) = [u for u in d.gradient(c.via).contributions]
            parts.append(up.local.expr * c.local.expr)
    expr = sp.factor(sp.cancel(sp.Add(*parts)))
    n = built.meta[net][3]
    if built.sum_to_one and n in built.softmax:
        expr = _targets_sum_to_one(expr, built, n)
    return expr


def delta_factors(built: Built, d: Derivation, net: str) -> list:
    """The factors of δ = ∂L/∂net, outermost first, in the notation's names."""
    graph = built.graph
    cons = [c for c in graph.consumers(net) if _has(d, c)]
    if len(cons) == 1 and graph.node(cons[0]).op in ("sigmoid", "tanh", "relu", "identity"):
        act = cons[0]
        c = d.gradient(net).contributions[0]
        return [_act_factor(built, d, act), Factor(act, net, c.local.expr, c.local.value)]
    return [Factor(d.output, net, _delta_closed(built, d, net), d.gradient(net).value)]


def _has(d: Derivation, name: str) -> bool:
    return any(g.node == name for g in d.steps)


def param_chain(built: Built, d: Derivation, leaf: str) -> Chain:
    """∂L/∂leaf as its chain of factors (one sample), or as Σ over the batch of δ · input."""
    g = d.gradient(leaf)
    if len(g.contributions) == 1:
        c = g.contributions[0]
        factors = delta_factors(built, d, c.via) + [Factor(c.via, leaf, c.local.expr, c.local.value)]
    else:
        parts = [_named_upstream(built, d, c) for c in g.contributions]
        factors = [Factor(d.output, leaf, sp.Add(*parts, evaluate=False), g.value)]
    expr = factors[0].expr if len(factors) == 1 else sp.Mul(*(f.expr for f in factors), evaluate=False)
    return Chain(d.output, leaf, tuple(factors), expr, g.value)


def _nested(shape_like, f):
    if isinstance(shape_like, tuple):
        return [_nested(v, f) for v in shape_like]
    return f(shape_like)


def _indexed(shape_like, prefix=()):
    """(1-based index, leaf) for every element of a nested tuple of names."""
    if isinstance(shape_like, tuple):
        for i, v in enumerate(shape_like, 1):
            yield from _indexed(v, prefix + (i,))
    else:
        yield prefix, shape_like


# ---------------------------------------------------------------- index form

_LETTER = {}
_SYMBOLS: dict = {}


def _sym(name: str) -> sp.Symbol:
    """parse.symbol, memoised (rules build many thousands of names)."""
    s = _SYMBOLS.get(name)
    if s is None:
        if len(_SYMBOLS) > 500_000:
            _SYMBOLS.clear()
        s = _SYMBOLS[name] = symbol(name)
    return s


def letter(s: str) -> sp.Symbol:
    if s not in _LETTER:
        _LETTER[s] = sp.Symbol(s, integer=True, positive=True)
    return _LETTER[s]


class Resolver:
    """Generic indexed names <-> the graph's names, for one network.

    Mitchell letters are fixed per layer (x_i, h_j, o_k); Nielsen's are relative to the rule's
    layer l: units of layer l are j, of layers l − 1 and l + 1 are k; bases carry the layer
    (a^l, a^l-1, w^l+1, delta^L ...). With a batch, per-sample quantities take n first.
    """
    PER_SAMPLE = ("act", "net", "delta", "target", "loss")

    def __init__(self, built: Built):
        self.built = built
        self.nm = built.names
        self.D = self.nm.D
        self.batch = self.nm.batch

    # generic side --------------------------------------------------------
    def _sup(self, m: int, r: int) -> str:
        if r == self.D:
            return {0: "L", -1: "L-1"}[m - r]
        return {0: "l", -1: "l-1", 1: "l+1"}[m - r]

    def _letter(self, m: int, r: int) -> str:
        if self.nm.nielsen:  # j: layer l, k: layer l − 1, i: layer l + 1 (summed over)
            return {0: "j", -1: "k", 1: "i"}[m - r]
        return ({0: "i", 1: "k"} if self.D == 1 else {0: "i", 1: "j", 2: "k"})[m]

    def base(self, role: str, m: int, r: int) -> str:
        if self.nm.nielsen:
            if role == "target":
                return "y"
            return {"act": "a", "net": "z", "w": "w", "b": "b", "delta": "delta"}[role] + "^" + self._sup(m, r)
        if role == "act":
            return "x" if m == 0 else ("o" if m == self.D else "h")
        return {"net": "net", "w": "w", "b": "b", "delta": "delta", "target": "t"}[role]

    def generic(self, name: str, r: int):
        role, m, idx, n = self.built.meta[name]
        if role == "loss":
            return symbol(self.nm.loss)
        letters = [self._letter(m, r)] + ([self._letter(m - 1, r)] if role == "w" else [])
        if self.batch > 1 and role in self.PER_SAMPLE:
            letters = ["n"] + letters
        return sp.IndexedBase(self.base(role, m, r))[tuple(letter(x) for x in letters)]

    def generalize(self, expr, r: int):
        meta = self.built.meta
        return _rebuild(expr, lambda s: self.generic(s.name, r) if s.is_Symbol and s.name in meta else s)

    def size_symbol(self, m: int, r: int):
        if self.nm.nielsen:
            return sp.Symbol("m^" + self._sup(m, r), integer=True, positive=True)
        return sp.Integer(self.nm.sizes[m])

    # concrete side -------------------------------------------------------
    def layer_of(self, base: str, letters, bind) -> tuple[str, int]:
        """(role, internal layer) of a generic base with its index letters."""
        if self.nm.nielsen:
            if base == "y":
                return "target", self.D
            head, sup = base.split("^")
            role = {"a": "act", "z": "net", "w": "w", "b": "b", "delta": "delta"}[head]
            if sup.startswith("L"):
                number = self.D + 1 + (int(sup[1:]) if len(sup) > 1 else 0)
            else:
                number = bind["l"] + (int(sup[1:]) if len(sup) > 1 else 0)
            return role, number - 1
        by_letter = {v: k for k, v in ({0: "i", 1: "k"} if self.D == 1 else {0: "i", 1: "j", 2: "k"}).items()}
        fixed = {"x": ("act", 0), "h": ("act", 1), "o": ("act", self.D), "t": ("target", self.D)}
        if base in fixed:
            return fixed[base]
        role = {"net": "net", "w": "w", "b": "b", "delta": "delta"}[base]
        unit_letters = [x for x in letters if x != "n"]
        return role, by_letter[unit_letters[0]]

    def concrete(self, base: str, indices, bind) -> sp.Symbol:
        letters = [i.name if i.is_Symbol else "" for i in indices]
        role, m = self.layer_of(base, letters, bind)
        vals = [int(i) if not i.is_Symbol else bind[i.name] for i in indices]
        n = None
        if self.batch > 1 and role in self.PER_SAMPLE:
            n, vals = vals[0], vals[1:]
        nm = self.nm
        name = {"act": lambda: nm.act(m, vals[0], n), "net": lambda: nm.net(m, vals[0], n),
                "w": lambda: nm.weight(m, vals[0], vals[1]), "b": lambda: nm.bias(m, vals[0]),
                "delta": lambda: nm.delta(m, vals[0], n), "target": lambda: nm.target(vals[0], n)}[role]()
        return _sym(name)

    def size(self, upper, bind) -> int:
        if upper.is_Integer:
            return int(upper)
        sup = upper.name.split("^")[1]
        number = (self.D + 1 if sup.startswith("L") else bind["l"]) + (int(sup[1:]) if len(sup) > 1 else 0)
        return self.nm.sizes[number - 1]

    def label(self, generic) -> str:
        """A generic quantity as a user types it: o_k, w_kj, a^l_j, w^l+1_kj, delta^l_j."""
        if isinstance(generic, sp.Indexed):
            return f"{generic.base.label}_{''.join(str(i) for i in generic.indices)}"
        return str(generic)


def _rebuild(e, leaf):
    """Rebuild an expression bottom-up without evaluating sums and products (textbook forms)."""
    if e.is_Atom:
        return leaf(e)
    if isinstance(e, sp.Indexed):
        return leaf(e)
    args = [_rebuild(a, leaf) for a in e.args]
    if e.is_Add or e.is_Mul:
        return e.func(*args, evaluate=False)
    if e.is_Pow:
        return sp.Pow(*args, evaluate=False)
    return e.func(*args)


def _conc(expr, bind: dict, resolver) -> sp.Expr:
    if isinstance(expr, sp.Sum):
        body = expr.function
        for var, lo, hi in reversed(expr.limits):
            lo_v = int(lo) if lo.is_Integer else resolver.size(lo, bind)
            hi_v = int(hi) if hi.is_Integer else resolver.size(hi, bind)
            terms = [_conc(body, {**bind, var.name: v}, resolver) for v in range(lo_v, hi_v + 1)]
            return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
    if isinstance(expr, sp.Indexed):
        return resolver.concrete(expr.base.label.name, expr.indices, bind)
    if expr.is_Atom:
        return expr
    args = [_conc(a, bind, resolver) for a in expr.args]
    if expr.is_Add or expr.is_Mul:
        return expr.func(*args, evaluate=False)
    if expr.is_Pow:
        return sp.Pow(*args, evaluate=False)
    return expr.func(*args)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12)


def index_rules(built: Built, d: Derivation) -> tuple[IndexRule, ...]:
    """δ, weight and bias rules per layer (Nielsen: per run of layers with one activation)."""
    res = Resolver(built)
    nm, D = built.names, built.names.D
    p = built
    env = {symbol(k): v for k, v in d.values.items()}
    for g in d.steps:
        if g.node in p.meta and p.meta[g.node][0] == "net":
            env[_delta_symbol(p, g.node)] = g.value
    acts = [built.graph.node(nm.act(l, 1, 1)).op for l in range(1, D + 1)]
    groups = [[D]]
    for l in range(D - 1, 0, -1):
        if nm.nielsen and groups[-1][0] != D and acts[l - 1] == acts[groups[-1][0] - 1]:
            groups[-1].append(l)
        else:
            groups.append([l])
    rules = []
    sample = ["n"] if nm.batch > 1 else []
    for group in groups:
        r = group[0]  # the representative layer (highest in the group)
        net = nm.net(r, 1, 1)
        gen = lambda e: res.generalize(e, r)  # noqa: E731
        gnet = gen(symbol(net))
        factors = []
        for f in delta_factors(built, d, net):
            if f.num == d.output and f.den == nm.act(r, 1, 1) and r < D:
                # Σ over the next layer: one generic term, summed over its letter
                c = d.gradient(f.den).contributions[0]
                term = gen(_named_upstream(built, d, c))
                factors.append((res.label(gen(symbol(d.output))), res.label(gen(symbol(f.den))),
                                sp.Sum(term, (letter(res._letter(r + 1, r)), 1, res.size_symbol(r + 1, r)))))
            else:
                factors.append((res.label(gen(symbol(f.num))) if f.num != d.output else d.output,
                                res.label(gen(symbol(f.den))), gen(f.expr)))
        delta_expr = _product([f[2] for f in factors])
        free = sample + [res._letter(r, r)]
        ranges = {res._letter(r, r): (1, nm.sizes[r])}
        if r < D:
            ranges[res._letter(r + 1, r)] = (1, nm.sizes[r + 1])
        if nm.batch > 1:
            ranges["n"] = (1, nm.batch)
        layer_range = {}
        if nm.nielsen and r < D:
            layer_range = {"l": (min(group) + 1, max(group) + 1)}
        gdelta = res.generic(nm.delta(r, 1, 1), r)
        rules.append(_rule(res, res.label(gdelta), gdelta, tuple(factors), delta_expr, free,
                           {**ranges, **layer_range}, group, env, d, "delta"))
        for kind, leaf in (("w", nm.weight(r, 1, 1)), ("b", nm.bias(r, 1))):
            if leaf not in built.graph:
                continue
            c = d.gradient(leaf).contributions[0]
            local = (res.label(gnet), res.label(gen(symbol(leaf))), gen(c.local.expr))
            fs = tuple(factors) + (local,)
            expr = _product([f[2] for f in fs])
            if nm.batch > 1:
                expr = sp.Sum(expr, (letter("n"), 1, nm.batch))
            rng = dict(ranges)
            lf = [res._letter(r, r)]
            if kind == "w":
                lf.append(res._letter(r - 1, r))
                rng[res._letter(r - 1, r)] = (1, nm.sizes[r - 1])
            glhs = res.label(gen(symbol(leaf)))
            rules.append(_rule(res, glhs, partial(d.output, glhs), fs, expr, lf, {**rng, **layer_range},
                               group, env, d, kind))
    return tuple(rules)


def _product(exprs):
    return exprs[0] if len(exprs) == 1 else sp.Mul(*exprs, evaluate=False)


def _rule(res, target, lhs, factors, expr, free, ranges, group, env, d, kind) -> IndexRule:
    nm = res.nm
    instances = []
    ok = True
    free = list(free)
    for r in sorted(group):
        for bind in _bindings(free, ranges, r, res):
            if nm.nielsen:
                bind["l"] = r + 1
            conc = _conc(expr, bind, res)
            idx = [bind[x] for x in free if x != "n"]
            n = bind.get("n", 1)
            node = {"delta": lambda: nm.net(r, idx[0], n), "w": lambda: nm.weight(r, idx[0], idx[1]),
                    "b": lambda: nm.bias(r, idx[0])}[kind]()
            value = _value(conc, env)
            ok = ok and _close(value, d.gradient(node).value)
            instances.append((dict(bind), node, conc, value))
    return IndexRule(target, lhs, factors, expr, tuple(free), dict(ranges), tuple(instances), ok, res)


def _bindings(free, ranges, r, res):
    """Every assignment of the free letters for layer r (letter sizes depend on the layer)."""
    nm = res.nm
    sizes = []
    for x in free:
        if x == "n":
            sizes.append(nm.batch)
        elif nm.nielsen:
            sizes.append(nm.sizes[r] if x == "j" else nm.sizes[r - 1])
        else:
            sizes.append(ranges[x][1])
    for combo in itertools.product(*[range(1, s + 1) for s in sizes]):
        yield dict(zip(free, combo))


# ---------------------------------------------------------------- vector form (BP1–BP4)

SIGMA_PRIME = sp.Function("sigma'")


def _matrix_values(built: Built, d: Derivation) -> dict:
    """name -> numpy array (units × samples) of the forward values, δ's and weights."""
    nm = built.names
    N = nm.batch
    env = {}
    for m in range(0, nm.D + 1):
        units = range(1, nm.sizes[m] + 1)
        env[f"a^{m + 1}"] = np.array([[d.values[nm.act(m, j, n)] for n in range(1, N + 1)] for j in units])
        if m == 0:
            continue
        env[f"z^{m + 1}"] = np.array([[d.values[nm.net(m, j, n)] for n in range(1, N + 1)] for j in units])
        env[f"delta^{m + 1}"] = np.array([[d.gradient(nm.net(m, j, n)).value for n in range(1, N + 1)] for j in units])
        env[f"w^{m + 1}"] = np.array([[d.values[nm.weight(m, j, k)] for k in range(1, nm.sizes[m - 1] + 1)] for j in units])
        env[f"∂{d.output}/∂w^{m + 1}"] = np.array(
            [[d.gradient(nm.weight(m, j, k)).value for k in range(1, nm.sizes[m - 1] + 1)] for j in units])
        if nm.bias(m, 1) in built.graph:
            env[f"∂{d.output}/∂b^{m + 1}"] = np.array([[d.gradient(nm.bias(m, j)).value] for j in units])
    env["y"] = np.array([[d.values[nm.target(j, n)] for n in range(1, N + 1)] for j in range(1, nm.sizes[-1] + 1)])
    return env


def mat_eval(e, env, funcs):
    """A SymPy matrix expression evaluated with numpy arrays for its MatrixSymbols."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    if isinstance(e, sp.MatrixSymbol):
        return env[e.name]
    if isinstance(e, sp.OneMatrix):
        return np.ones(e.shape)
    if isinstance(e, sp.Transpose):
        return mat_eval(e.arg, env, funcs).T
    if isinstance(e, sp.MatMul):
        out = None
        for a in e.args:
            v = float(a) if a.is_Number else mat_eval(a, env, funcs)
            out = v if out is None else (out * v if np.ndim(v) == 0 or np.ndim(out) == 0 else out @ v)
        return out
    if isinstance(e, sp.HadamardProduct):
        out = mat_eval(e.args[0], env, funcs)
        for a in e.args[1:]:
            out = out * mat_eval(a, env, funcs)
        return out
    if isinstance(e, sp.MatAdd):
        return sum(mat_eval(a, env, funcs) for a in e.args)
    if isinstance(e, ElementwiseApplyFunction):
        lam = funcs["sigma'"]  # the one elementwise function of the BP rules
        (x,) = lam.variables
        return numeric.evaluate(lam.expr, {x: mat_eval(e.expr, env, funcs)}, numeric.NP)
    raise TypeError(f"cannot evaluate {type(e).__name__}")


def vector_rules(built: Built, d: Derivation, rules_=()) -> tuple[VectorRule, ...]:
    """Nielsen's BP1–BP4 per layer, each evaluated and compared with the per-unit results."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    nm = built.names
    D, N, C = nm.D, nm.batch, d.output
    env = _matrix_values(built, d)
    M = lambda name, rows, cols=N: sp.MatrixSymbol(name, rows, cols)  # noqa: E731
    z = sp.Symbol("z", real=True)
    rules = []

    def add(name, lhs, rhs, description, lam=None):
        where = {"sigma'": lam} if lam is not None else {}
        got = mat_eval(rhs, env, where)
        want = env[lhs.name]
        ok = got.shape == want.shape and all(_close(float(a), float(b)) for a, b in zip(got.ravel(), want.ravel()))
        rules.append(VectorRule(name, lhs, rhs, ok, description, where))

    for m in range(D, 0, -1):
        L = m + 1
        n_m = nm.sizes[m]
        act = built.graph.node(nm.act(m, 1, 1)).op
        lam = None
        if act != "softmax":
            lam = sp.Lambda(z, sp.diff(_activation(act, z), z))
        if m == D:
            if act == "softmax":
                res = Resolver(built)
                f = rules_[0]  # the output layer's δ rule comes first
                rhs = _to_matrix(f.expr, res, n_m, N)
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L for a softmax output, from the index form")
            else:
                env["nabla_aC"] = np.array([[d.gradient(nm.act(m, j, n)).value for n in range(1, N + 1)]
                                            for j in range(1, n_m + 1)])
                rhs = sp.HadamardProduct(M("nabla_aC", n_m), ElementwiseApplyFunction(SIGMA_PRIME, M(f"z^{L}", n_m)))
                add("BP1", M(f"delta^{L}", n_m), rhs, "δ^L = ∇_a C ⊙ σ'(z^L)", lam)
        else:
            nxt = nm.sizes[m + 1]
            rhs = sp.HadamardProduct(sp.MatMul(sp.Transpose(M(f"w^{L + 1}", nxt, n_m)), M(f"delta^{L + 1}", nxt)),
                                     ElementwiseApplyFunction(SIGMA_PRIME, M(f"z^{L}", n_m)))
            add(f"BP2 (l = {L})", M(f"delta^{L}", n_m), rhs, "δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)", lam)
    for m in range(D, 0, -1):
        L = m + 1
        n_m, prev = nm.sizes[m], nm.sizes[m - 1]
        if nm.bias(m, 1) in built.graph:
            rhs = M(f"delta^{L}", n_m) if N == 1 else sp.MatMul(M(f"delta^{L}", n_m), sp.OneMatrix(N, 1))
            add(f"BP3 (l = {L})", M(f"∂{C}/∂b^{L}", n_m, 1), rhs, "∂C/∂b^l = δ^l (summed over the batch)")
        rhs = sp.MatMul(M(f"delta^{L}", n_m), sp.Transpose(M(f"a^{L - 1}", prev)))
        add(f"BP4 (l = {L})", M(f"∂{C}/∂w^{L}", n_m, prev), rhs, "∂C/∂w^l = δ^l (a^{l−1})ᵀ")
    return tuple(rules)


def _to_matrix(expr, res: Resolver, rows: int, cols: int):
    """An elementwise generic formula (o_k − t_k) as a matrix expression (a^L − y)."""
    def conv(e):
        if isinstance(e, sp.Indexed):
            role, m = res.layer_of(str(e.base.label), [str(i) for i in e.indices], {})
            return sp.MatrixSymbol("y" if role == "target" else
                                   {"act": "a", "net": "z", "delta": "delta"}[role] + f"^{m + 1}", rows, cols)
        if e.is_Add:
            return sp.MatAdd(*[conv(a) for a in e.args])
        if e.is_Mul:
            nums = [a for a in e.args if a.is_Number]
            mats = [conv(a) for a in e.args if not a.is_Number]
            body = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats)
            return sp.MatMul(*nums, body) if nums else body
        raise TypeError(f"not elementwise: {e}")
    return conv(expr)


# ---------------------------------------------------------------- the whole flow

def derive_and_prove(problem, local, chain_of):
    """build -> forward -> reverse mode -> per-element chains -> proof, each stage timed.

    Shared by MLPs and matrix layers; `local(b, node, parent)` gives local derivatives and
    `chain_of(b, d, leaf)` one parameter element's Chain.
    """
    timings = {}
    t0 = time.perf_counter()
    b = build(problem)
    values = forward_values(b.graph, b.inputs)
    timings["build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = reverse(b.graph, values, b.wanted, lambda node, parent: local(b, node, parent))
    chains = tuple(ParamChain(name, idx, leaf, chain_of(b, d, leaf), sp.S.Zero)
                   for name in b.params for idx, leaf in _indexed(b.param_nodes[name]))
    timings["backward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = prove(d, b.inputs, b.wanted)
    timings["check"] = time.perf_counter() - t0
    return b, d, chains, report, timings


def solve(problem):
    """problem -> per-unit graph -> reverse mode -> proof -> chains, index and vector rules."""
    from .pipeline import Solution
    if problem.kind == "layers":
        from .matrix import solve_layers
        return solve_layers(problem)
    b, d, chains, report, timings = derive_and_prove(
        problem, local_derivative, lambda b, d, leaf: param_chain(b, d, leaf))
    t0 = time.perf_counter()
    rules = index_rules(b, d)
    general = {}
    for r in rules:
        for _, node, _, _ in r.instances:
            general[node] = r.expr
    chains = tuple(ParamChain(c.param, c.index, c.node, c.chain, general.get(c.node, sp.S.Zero)) for c in chains)
    vrules = vector_rules(b, d, rules)
    timings["rules"] = time.perf_counter() - t0
    deltas = {}
    for g in d.steps:
        if b.meta.get(g.node, ("",))[0] == "net":
            deltas[g.node] = _delta_symbol(b, g.node).name
    result = NetworkResult(
        problem.notation, d.values[d.output],
        {k: _nested(v, str) for k, v in b.param_nodes.items()},
        {k: _nested(v, lambda leaf: d.gradient(leaf).value) for k, v in b.param_nodes.items()},
        chains, rules, vrules, deltas, d.output, {}, timings, Resolver(b))
    return Solution(problem, d, report, result)


def dag_sizes(derivation: Derivation, wanted=None) -> dict:
    """Operation counts of the forward DAG and of the gradient DAG, each after cse(order='none').

    Forward: every step's expression; gradient: every Gradient's expression (in upstream gradient
    symbols and node names), i.e. what structured reverse mode really builds.
    """
    graph = derivation.graph
    forward = [n.expr for n in graph.steps]
    gradient = [g.expr for g in derivation.steps if g.contributions]
    return {"forward": _ops_after_cse(forward), "gradient": _ops_after_cse(gradient)}


def _ops_after_cse(exprs) -> int:
    replacements, reduced = sp.cse(exprs, order="none")
    seen = set()
    total = 0

    def walk(e):
        nonlocal total
        if e.is_Atom or e in seen:
            return
        seen.add(e)
        total += max(1, len(e.args) - 1)  # an n-ary sum or product is n − 1 binary operations
        for a in e.args:
            walk(a)
    for _, e in replacements:
        walk(e)
    for e in reduced:
        walk(e)
    return total


# ---------------------------------------------------------------- text and JSON

def _fmt(x: float) -> str:
    return f"{x:.9g}"


def _text(e) -> str:
    return sp.sstr(e, order="none")


SHOW_LIMIT = 120  # chains printed in full; bigger networks list their gradients only


def show_text(solution) -> str:
    """What `derive show` prints for a network or matrix-layer problem."""
    p, d, res = solution.problem, solution.derivation, solution.extra
    g = d.graph
    lines = [p.title, ""]
    if p.kind == "network":
        lines.append(f"{'-'.join(map(str, p.sizes))} network, activations {', '.join(p.activations)}, "
                     f"loss {p.loss}, notation {p.notation}, batch {p.batch}"
                     + (f" (random values, seed {p.seed})" if p.seeded else ""))
    lines += ["", "Forward pass"]
    for node in g.steps:
        lines.append(f"  {node.name:>14s} = {_fmt(d.values[node.name])}")
    lines += ["", f"Per parameter (∂{d.output}/∂·, chain of factors outermost first)"]
    for c in res.chains[:SHOW_LIMIT]:
        names = " · ".join(f"∂{f.num}/∂{f.den}" for f in c.chain.factors)
        forms = " · ".join(f"({_text(f.expr)})" for f in c.chain.factors)
        vals = " · ".join(_fmt(f.value) for f in c.chain.factors)
        lines.append(f"  {c.param}{list(c.index)} ∂{d.output}/∂{c.node} = {names}")
        lines.append(f"      = {forms}")
        lines.append(f"      = {vals} = {_fmt(c.chain.value)}")
    if len(res.chains) > SHOW_LIMIT:
        lines.append(f"  ... {len(res.chains) - SHOW_LIMIT} more (see `derive check --json`)")
    if res.rules:
        lines += ["", "Index form (checked against every element above)"]
        for r in res.rules:
            rng = ", ".join(f"{k} = {a}..{b}" for k, (a, b) in r.ranges.items())
            lines.append(f"  {_text(r.lhs)} = {_text(r.expr)}    [{rng}]  "
                         + ("checked" if r.checked else "MISMATCH"))
    if res.vector_rules:
        lines += ["", "Matrix form"]
        for v in res.vector_rules:
            lines.append(f"  {v.name}: {_text(v.lhs)} = {_text(v.rhs)}  " + ("checked" if v.checked else "MISMATCH"))
            for fname, lam in v.where.items():
                lines.append(f"      where {fname}({_text(lam.variables[0])}) = {_text(lam.expr)}")
    lines += ["", f"{d.output} = {_fmt(res.loss)}", "", "Numeric check (central differences)"]
    bad = [c for c in solution.report.checks if not c.ok]
    for c in (solution.report.checks if len(solution.report.checks) <= SHOW_LIMIT else bad):
        lines.append(f"  ∂/∂{c.wrt:12s} analytic {c.analytic: .10g}  numeric {c.numeric: .10g}  "
                     f"rel.err {c.rel_error:.1e}  {c.verdict}")
    n_ok = sum(1 for c in solution.report.checks if c.ok)
    lines.append(f"  {n_ok} of {len(solution.report.checks)} checks passed")
    return "\n".join(lines)


def check_json(solution) -> dict:
    """What `derive check --json` prints: loss and gradients shaped like the values, and the checks."""
    res = solution.extra
    return {
        "title": solution.problem.title,
        "kind": solution.problem.kind,
        "notation": res.notation,
        "loss": res.loss,
        "loss_name": res.loss_name,
        "params": res.params,
        "gradients": res.gradients,
        "rules_checked": all(r.checked for r in res.rules) and all(v.checked for v in res.vector_rules),
        "kinks": list(solution.derivation.kinks),
        "checks": [
            {"wrt": c.wrt, "kind": c.kind, "analytic": c.analytic, "numeric": c.numeric,
             "rel_error": c.rel_error, "verdict": c.verdict, "ok": c.ok}
            for c in solution.report.checks
        ],
        "ok": solution.report.ok and all(r.checked for r in res.rules)
        and all(v.checked for v in res.vector_rules),
    }
