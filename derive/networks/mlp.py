"""The per-unit graph of a multilayer perceptron, named in its notation.

One node per net input, activation and per-sample loss (never one nested loss expression);
activations and losses come from the rule table `engine.ops`.
"""
from __future__ import annotations

import sympy as sp

from ..engine.graph import Graph, Node
from ..engine.ops import ACTIVATIONS, LOSSES
from ..engine.parse import symbol
from .built import Built
from .names import Names


def build_mlp(p) -> Built:
    """The per-unit Graph of a NetworkProblem of kind \"network\", with its names and leaf values."""
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
    softmax, logits = {}, {}
    sample_losses = []
    rule = LOSSES[p.loss]
    for n in range(1, p.batch + 1):
        for l in range(1, D + 1):
            act = p.activations[l - 1]
            nets = []
            below = [nm.act(l - 1, k, n) for k in range(1, sizes[l - 1] + 1)]
            for j in range(1, sizes[l] + 1):
                terms = tuple(zip(param_nodes[f"W{l}"][j - 1], below))
                if p.bias:
                    terms += ((nm.bias(l, j),),)
                name = nm.net(l, j, n)
                steps.append(Node(name, parents=tuple(f for t in terms for f in t), op="affine", terms=terms))
                meta[name] = ("net", l, (j,), n)
                meta[nm.delta(l, j, n)] = ("delta", l, (j,), n)
                nets.append(name)
            if ACTIVATIONS[act] is None:  # softmax: every output depends on every net
                exps = [sp.exp(S(z)) for z in nets]
                total = sp.Add(*exps)
                softmax[n] = (total, {z: nm.act(l, j, n) for j, z in enumerate(nets, 1)})
                for j in range(1, len(nets) + 1):
                    name = nm.act(l, j, n)
                    steps.append(Node(name, exps[j - 1] / total, tuple(nets), "softmax"))
                    meta[name] = ("act", l, (j,), n)
            else:
                for j, z in enumerate(nets, 1):
                    name = nm.act(l, j, n)
                    steps.append(Node(name, ACTIVATIONS[act](S(z)), (z,), act))
                    meta[name] = ("act", l, (j,), n)
        outs = [nm.act(D, k, n) for k in range(1, sizes[-1] + 1)]
        ts = [nm.target(k, n) for k in range(1, sizes[-1] + 1)]
        name = nm.sample_loss(n)
        nets = [nm.net(D, k, n) for k in range(1, sizes[-1] + 1)]
        if rule.from_logits:  # the loss reads the output nets: stable, and δ = o − t directly
            expr = rule.logits([S(t) for t in ts], [S(z) for z in nets], p.activations[-1])
            parents = tuple(nets) + tuple(ts)
            logits[n] = dict(zip(nets, outs))
        else:
            expr = rule.expr([S(t) for t in ts], [S(o) for o in outs], [S(z) for z in nets])
            parents = tuple(ts) + tuple(outs)
        steps.append(Node(name, expr, parents, p.loss))
        meta[name] = ("loss", D, (), n)
        sample_losses.append(name)
    if p.batch > 1:
        steps.append(Node(nm.loss, parents=tuple(sample_losses), op="add",
                          terms=tuple((x,) for x in sample_losses)))
        meta[nm.loss] = ("loss", D, (), None)
    graph = Graph(tuple(leaves) + tuple(steps), nm.loss)
    sum_to_one = all(sum(row) == 1 for row in p.arrays["t"])
    return Built(graph, inputs, tuple(params), param_nodes, tuple(wanted), nm, meta, softmax, sum_to_one,
                 logits, p.activations[-1], getattr(p, "delta_sign", 1))
