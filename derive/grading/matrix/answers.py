"""Verify a matrix-form gradient of a [layers] problem (`X^T dY` for ∂L/∂W), and say what is wrong.

The answer is read by `matrix_reading.parse_matrix_answer` into a small matrix AST (never evaluated as
code) and computed with numpy at many random draws of the problem's matrices (X, W, B, dY or the
targets T, each of the problem's shape; T rows drawn as one-hot rows or distributions summing to 1).
The reference at each draw is the engine's own per-element gradient (the derivation's local
derivatives swept backward at those values, `sampling.Engine`), laid out as the matrix. "Correct"
needs agreement at every draw.

Diagnosis: shape errors name both shapes; otherwise the answer is compared with the reference
transposed, negated, scaled (2, ½, 1/N), with the gradients of the other matrices, and with small
edits of the answer itself (one factor transposed or not, two factors swapped, one matrix in place
of another, a column sum added, changed or removed); an edit that makes the answer equal to the
reference at every draw names the mistake. Every wrong verdict has a counterexample: the drawn
matrices, the expected matrix and the answer's matrix.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from ...errors import ParseError
from ...i18n import N_, _
from ..answers import Diagnosis, MatrixVerdict, VerifyError, cannot_read, code_of, diagnosis
from ..sampling import Engine
from ..targets import Layout, layout
from .mistakes import _paths, diagnose
from .reading import parse_matrix_answer, split_equation
from .tree import ONES, ONES_ALONE, ShapeError, evaluate, label, same, shape, shape_text, show, tex

DRAWS = 20
MAX_NODES = 60  # a matrix answer longer than this is refused (the edit search grows with its size)


class Draws:
    """The problem's own values, then random draws, each with every named matrix and every gradient."""

    def __init__(self, solution, lay: Layout, seed: int = 0, count: int = DRAWS):
        self.lay = lay
        self.engine = Engine(solution.derivation, solution.inputs, seed,
                             draw=self.draw_for(solution, lay))
        self.envs, self.refs, self.points = [], [], []
        for i in range(count):
            s = self.engine.sample(i)
            if s is None:
                break
            self.envs.append(self.matrices(s))
            self.refs.append(self.gradients(s))
            self.points.append(s)

    @staticmethod
    def draw_for(solution, lay: Layout):
        """(rng, i) -> a random point of the leaves: near the problem's values on even draws, in
        [−3, 3] on odd ones; each row of T one-hot (odd) or a distribution summing to 1 (even)."""
        base = solution.inputs
        t_nodes = {n for row in lay.nodes.get("T", []) for n in row}

        def draw(rng, i):
            point = {}
            for name, v in base.items():
                if name not in t_nodes:
                    r = rng.uniform(-3, 3) if i % 2 else float(v) + rng.uniform(-1, 1)
                    point[name] = Fraction(round(r, 3)).limit_denominator(1000)
            for row in lay.nodes.get("T", []):
                if i % 2:
                    hot = rng.randrange(len(row))
                    weights = [int(c == hot) for c in range(len(row))]
                else:
                    weights = [rng.randint(0, 4) for _cell in row]
                    if sum(weights) == 0:
                        weights[rng.randrange(len(row))] = 1
                for name, w in zip(row, weights):
                    point[name] = Fraction(w, sum(weights))
            return point
        return draw

    def matrices(self, s) -> dict:
        nodes = self.lay.nodes
        env = {k: np.array([[float(s.values[n]) for n in row] for row in rows]) for k, rows in nodes.items()}
        if self.lay.upstream == "dA":
            env["dA"] = np.array([[float(s.grads[n]) for n in row] for row in nodes["A"]])
        return env

    def gradients(self, s) -> dict:
        return {k: np.array([[float(s.grads[n]) for n in row] for row in self.lay.nodes[k]])
                for k in self.lay.grads}


def _matrix_list(a):
    if a is None or a is ONES:
        return None
    if np.ndim(a) == 0:
        return float(a)
    if np.ndim(a) == 1:
        return [float(x) for x in a]
    return [[float(x) for x in row] for row in np.asarray(a)]


def reference_expr(solution, key):
    for rule in getattr(solution.extra, "vector_rules", ()):
        if str(rule.lhs) == label(key):
            return rule.rhs
    rows = len(solution.extra.params[key])
    cols = len(solution.extra.params[key][0]) if isinstance(solution.extra.params[key][0], list) else rows
    return sp.MatrixSymbol(label(key), rows, cols)


def verify_matrix(solution, key: str, answer_text: str, seed: int = 0, points: int = DRAWS):
    lay = layout(solution)
    try:
        named, right = split_equation(answer_text)
        ast = parse_matrix_answer(right, lay.names)
    except ParseError as e:
        raise VerifyError(cannot_read(e)) from None
    if named is not None and named != key.rstrip("0123456789"):
        raise VerifyError(_("the left side {side} is not {label}: the question asks for {label}").format(
            side=f"∂L/∂{named}", label=f"∂L/∂{key}"))
    size = sum(1 for _node in _paths(ast))
    if size > MAX_NODES:
        raise VerifyError(cannot_read(_("it has {size} parts; a matrix answer has at most {most} (names, numbers, "
                                        "operations)").format(size=size, most=MAX_NODES)))
    if any(node == ("name", f"d{key}") for _path, node in _paths(ast)):
        raise VerifyError(_("the answer uses {name} = {label}, the gradient it should express; write it with "
                            "{names}").format(name=f"d{key}", label=label(key),
                                              names=", ".join(n for n in lay.names if n != f"d{key}")))
    draws = Draws(solution, lay, seed, points)
    if len(draws.envs) < min(points, 5):
        raise VerifyError(_("could not find enough points where the problem is defined to compare"))
    ref_expr = reference_expr(solution, key)
    used = sorted({node[1] for _path, node in _paths(ast) if node[0] == "name"})
    method = _("numeric ({draws} random draws of {matrices}; numpy)").format(draws=len(draws.envs),
                                                                             matrices=", ".join(lay.inputs))
    expected_shape = draws.refs[0][key].shape

    def verdict(correct, diagnosis, j=None, got=None):
        cx = None
        if not correct:
            s = draws.points[j]
            cx = {"point": {k: _matrix_list(_input(draws.envs[j], k, solution)) for k in lay.inputs},
                  "expected": _matrix_list(draws.refs[j][key]), "got": _matrix_list(got),
                  "quantities": {k: _matrix_list(draws.envs[j][k]) for k in used if k not in lay.inputs},
                  "shapes": {"expected": shape_text(expected_shape),
                             "answer": None if got is None or got is ONES else shape_text(shape(got))},
                  "own_point": j == 0 and s.fractions == draws.engine.base}
        return MatrixVerdict(correct, diagnosis, cx, ref_expr, key, label(key), sp.Symbol(show(ast)),
                             method, len(draws.envs), answer_text=show(ast), answer_tex=tex(ast))

    try:
        got0 = evaluate(ast, draws.envs[0])
    except ShapeError as e:
        diag = [Diagnosis(str(e), "shape")] + diagnose(ast, key, lay, draws, None)
        return verdict(False, _dedupe(diag), 0, None)
    if got0 is ONES:
        return verdict(False, [diagnosis("shape", ONES_ALONE)], 0)
    if shape(got0) != expected_shape:
        diag = [diagnosis("shape", N_("the answer is {shape}, {label} is {expected} (the shape of {key})"),
                          shape=shape_text(shape(got0)), label=label(key), expected=shape_text(expected_shape),
                          key=key)]
        return verdict(False, _dedupe(diag + diagnose(ast, key, lay, draws, got0)), 0, got0)
    for j, env in enumerate(draws.envs):
        got = evaluate(ast, env)
        if not same(got, draws.refs[j][key]):
            return verdict(False, diagnose(ast, key, lay, draws, got0), j, got)
    return verdict(True, [], None)


def _dedupe(items):
    out = []
    for i in items:
        if i not in out and code_of(i) != "generic":
            out.append(i)
    return out or items


def _input(env, key, solution):
    """A drawn input as written in the file: B as one list."""
    v = env[key]
    return v[0] if key == "B" else v
