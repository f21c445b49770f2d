"""The per-unit graph of a network or matrix-layer problem and what names and evaluates it.

`Built` is plain data made by `mlp.build_mlp` or `layers.build_layers`; `nested`/`indexed` walk
the nested tuples of leaf names that stand for a parameter array.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.graph import Graph


@dataclass(eq=False)
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
    logits: dict = field(default_factory=dict)  # sample -> {output net: output} when the loss reads the nets
    output_activation: str = ""
    delta_sign: int = 1  # δ = delta_sign · ∂L/∂net ([network] delta)


def nested(shape_like, f):
    """`f` applied to every element of nested tuples, as nested lists (JSON-shaped)."""
    if isinstance(shape_like, tuple):
        return [nested(v, f) for v in shape_like]
    return f(shape_like)


def indexed(shape_like, prefix=()):
    """(1-based index, leaf) for every element of a nested tuple of names."""
    if isinstance(shape_like, tuple):
        for i, v in enumerate(shape_like, 1):
            yield from indexed(v, prefix + (i,))
    else:
        yield prefix, shape_like
