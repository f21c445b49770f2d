"""An independent oracle for verify's answer table: networks and graphs as plain mpmath forward
passes, gradients by central differences at 60 digits. Nothing here imports derive.

A network is read from its TOML text with tomllib (sizes, activations, loss, δ convention and the
values); `Net.grad(node)` perturbs that one quantity (a weight, a net input z, an activation a) and
reruns the forward pass from there. A scalar graph is a list of (name, function of earlier names).
`Tree` answers (below) print themselves as students write them (`render`) and evaluate themselves
against these numbers (`value`), so the oracle never reads the text that verify reads.
"""
from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from fractions import Fraction

import mpmath

DPS = 60
H = mpmath.mpf(10) ** -22


def _mp(v):
    v = Fraction(str(v)) if not isinstance(v, Fraction) else v
    return mpmath.mpf(v.numerator) / v.denominator


def _rows(a):
    return [a] if not isinstance(a[0], list) else a


ACT = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "tanh": mpmath.tanh,
    "relu": lambda z: z if z > 0 else mpmath.mpf(0),
    "identity": lambda z: z,
}


class Net:
    """A multilayer perceptron from its problem file: forward pass, loss, central differences."""

    def __init__(self, text: str):
        data = tomllib.loads(text)
        net, vals = data["network"], data["values"]
        self.sizes = net["layers"]
        self.D = len(self.sizes) - 1
        acts = net.get("activations", "sigmoid")
        self.acts = [acts] * self.D if isinstance(acts, str) else acts
        self.loss = net.get("loss", "mse")
        self.notation = net.get("notation", "mitchell")
        self.sign = -1 if net.get("delta") == "-dL/dnet" else 1
        self.bias = net.get("bias", True)
        self.x = [[_mp(v) for v in row] for row in _rows(vals["x"])]
        self.t = [[_mp(v) for v in row] for row in _rows(vals["t"])]
        self.batch = len(self.x)
        self.base = {}
        for l in range(1, self.D + 1):
            for j, row in enumerate(vals[f"W{l}"], 1):
                for k, v in enumerate(row, 1):
                    self.base[("w", l, j, k)] = _mp(v)
            if self.bias:
                for j, v in enumerate(vals[f"b{l}"], 1):
                    self.base[("b", l, j)] = _mp(v)
        self.points = [self.base] + [self._random(s) for s in (1, 2)]
        self.cache: dict = {}

    def _random(self, seed):
        rng = random.Random(seed)
        return {k: mpmath.mpf(round(rng.uniform(-1.5, 1.5), 3)) for k in self.base}

    def forward(self, p, n, cut=None):
        """Values of sample n: {("a", l, j): .., ("z", l, j): ..}, and its loss; `cut` pins a node."""
        vals = {}
        a = list(self.x[n - 1])
        for j, v in enumerate(a, 1):
            vals[("a", 0, j)] = v
            if cut and cut[0] == ("a", 0, j):
                a[j - 1] = vals[("a", 0, j)] = cut[1]
        for l in range(1, self.D + 1):
            z = []
            for j in range(1, self.sizes[l] + 1):
                s = mpmath.fsum(p[("w", l, j, k)] * a[k - 1] for k in range(1, self.sizes[l - 1] + 1))
                s += p[("b", l, j)] if self.bias else 0
                if cut and cut[0] == ("z", l, j):
                    s = cut[1]
                z.append(s)
                vals[("z", l, j)] = s
            if self.acts[l - 1] == "softmax":
                m = max(z)
                e = [mpmath.exp(v - m) for v in z]
                a = [v / mpmath.fsum(e) for v in e]
            else:
                a = [ACT[self.acts[l - 1]](v) for v in z]
            for j in range(1, self.sizes[l] + 1):
                if cut and cut[0] == ("a", l, j):
                    a[j - 1] = cut[1]
                vals[("a", l, j)] = a[j - 1]
        t, o = self.t[n - 1], a
        if self.loss == "mse":
            L = mpmath.fsum((ti - oi) ** 2 for ti, oi in zip(t, o)) / 2
        elif self.loss in ("cross_entropy", "softmax_cross_entropy"):
            L = -mpmath.fsum(ti * mpmath.log(oi) for ti, oi in zip(t, o) if ti)
        else:
            L = -mpmath.fsum(ti * mpmath.log(oi) + (1 - ti) * mpmath.log(1 - oi) for ti, oi in zip(t, o))
        return vals, L

    def total(self, p, cut=None, sample=None):
        with mpmath.workdps(DPS):
            return mpmath.fsum(self.forward(p, n, cut if (sample in (None, n)) else None)[1]
                               for n in range(1, self.batch + 1))

    def value(self, pi: int, key, n=1):
        """("a"|"z", l, j) of sample n, ("t", j), ("x", j), ("w", l, j, k), ("b", l, j) at point pi."""
        p = self.points[pi]
        if key[0] in ("w", "b"):
            return p[key]
        if key[0] == "t":
            return self.t[n - 1][key[1] - 1]
        ck = ("fw", pi, n)
        if ck not in self.cache:
            with mpmath.workdps(DPS):
                self.cache[ck] = self.forward(p, n)[0]
        return self.cache[ck][key]

    def grad(self, pi: int, key, n=1):
        """∂L/∂(that quantity) by a central difference at 60 digits."""
        ck = ("g", pi, key, n)
        if ck in self.cache:
            return self.cache[ck]
        p = self.points[pi]
        with mpmath.workdps(DPS):
            if key[0] in ("w", "b"):
                up, down = dict(p), dict(p)
                up[key] += H
                down[key] -= H
                g = (self.total(up) - self.total(down)) / (2 * H)
            else:
                v = self.value(pi, key, n)
                g = (self.total(p, (key, v + H), n) - self.total(p, (key, v - H), n)) / (2 * H)
        self.cache[ck] = g
        return g


class Graph:
    """A scalar graph: steps (name, function of the values so far), inputs with their values."""

    def __init__(self, inputs: dict, steps: list):
        self.inputs = {k: _mp(v) for k, v in inputs.items()}
        self.steps = steps
        self.points = [self.inputs] + [self._random(s) for s in (1, 2)]
        self.cache: dict = {}

    def _random(self, seed):
        rng = random.Random(seed)
        return {k: v + mpmath.mpf(round(rng.uniform(-1, 1), 3)) for k, v in self.inputs.items()}

    def forward(self, p, cut=None):
        env = dict(p)
        if cut and cut[0] in env:
            env[cut[0]] = cut[1]
        for name, f in self.steps:
            env[name] = cut[1] if cut and cut[0] == name else f(env)
        return env

    def value(self, pi, name):
        ck = ("v", pi)
        if ck not in self.cache:
            with mpmath.workdps(DPS):
                self.cache[ck] = self.forward(self.points[pi])
        return self.cache[ck][name]

    def grad(self, pi, name):
        ck = ("g", pi, name)
        if ck not in self.cache:
            out = self.steps[-1][0]
            with mpmath.workdps(DPS):
                v = self.value(pi, name)
                up = self.forward(self.points[pi], (name, v + H))[out]
                down = self.forward(self.points[pi], (name, v - H))[out]
                self.cache[ck] = (up - down) / (2 * H)
        return self.cache[ck]


@dataclass(frozen=True)
class Q:
    """A quantity: role act/net/w/b/target/delta (networks) or node (graphs); layer an int (0 =
    inputs) or ("r", d) relative to the rule's layer; idx unit letters or numbers; n the sample."""
    role: str
    layer: object = None
    idx: tuple = ()
    n: object = None
    name: str = ""
