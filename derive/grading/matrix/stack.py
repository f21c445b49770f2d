"""Verify an answer to one layer's backward rule in a layer stack (`derive verify net.toml --wrt dW1`).

--wrt names a gradient as the report's rules do: `X` or `dX1` (the stack's input), `dX{k}` (the
input gradient of layer k, counted from 1 in stack order), `dScores` (= `dX{n+1}`, the loss layer's),
or a parameter by its file name (`W1`, `b1`, `gamma1`, `beta1`; `dW1`, `∂L/∂W1` alike). The answer is
written over that layer's own quantities (`layer_names`): X, Y, dY, the parameters by role (W, b,
gamma/γ, beta/β, mask) and by file name, N, p, alpha, and for BatchNorm xhat/x̂, sigma/σ (the batch
std with eps), mu/μ, var (σ²), eps; comparisons (X > 0) are 0/1 indicators, Σ (Σ_n) sums over the rows.
A 4-D input of an affine layer is read flattened, spatial BatchNorm channels-last (N·H·W rows).

The answer (a matrix AST from `reading.parse_matrix_answer`, never run as code) is evaluated with
numpy at the problem's own values of that layer and at random draws of its input, parameters and
dY (targets rows summing to 1 for a loss layer); the reference at each draw is the engine's backward
kernel of that layer (networks.stackops, whose rules networks.stack_rules derives and proves).
"Correct" needs every element of every draw (relative tolerance tree.REL). Diagnoses: `stack_mistakes`.
Convolution and pooling answers (index sums, corr/conv/flip/upsample) are read by `stack_conv`.
"""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from ...errors import ParseError
from ...i18n import N_, _
from ..answers import MatrixVerdict, VerifyError, cannot_read, diagnosis
from .reading import _SUM_SLICE, _sum_of_slices, parse_matrix_answer
from .stack_conv import CONV, conv_env, verify_conv
from .stack_mistakes import diagnose
from .tree import REL, ShapeError, show, tex

DRAWS = 8
READ = ("affine", "relu", "leaky_relu", "sigmoid", "tanh", "dropout", "batchnorm", "softmax_with_loss", "mse",
        *CONV)
_GREEK = [(r"\\gamma(?![A-Za-z])|γ", "gamma"), (r"\\beta(?![A-Za-z])|β", "beta"),
          (r"(?:\\sigma|σ)\s*(?:\^\s*\{?\s*2\s*\}?|²)", "var"), (r"\\sigma(?![A-Za-z])|σ", "sigma"),
          (r"\\mu(?![A-Za-z])|μ", "mu"), (r"\\alpha(?![A-Za-z])|α", "alpha"),
          (r"\\(?:var)?epsilon(?![A-Za-z])|ε|ϵ", "eps"),
          (r"\\(?:hat|widehat)\s*(?:\{\s*[xX]\s*\}|[xX])|[xX]\u0302|x̂", "xhat"),
          (r"\\mathbb\s*\{\s*1\s*\}|𝟙|\\mathbb\s*1", " ")]
_SIGMA = re.compile(r"(?:\\sum|Σ|∑)(?:\s*\\limits)?(?:\s*_\s*(?:\{[^{}]*\}|\w))?(?:\s*\^\s*(?:\{[^{}]*\}|\w))?\s*")


class Layer:
    """The layer --wrt points into: its pass, its record name, the array and role asked for."""

    def __init__(self, ps, role: str, key: str, loss: bool, mean: bool):
        self.ps, self.name, self.role, self.key, self.loss, self.mean = ps, ps.name, role, key, loss, mean


def targets(solution) -> dict:
    """--wrt spelling -> (position, role, the gradient's name as the report's rules write it)."""
    p, passes = solution.problem, solution.extra.passes
    out = {}
    for ps in passes:
        k = ps.position
        if k > len(p.layers):
            if p.loss != "upstream":
                out["dScores"] = out[f"dX{k}"] = (k, "X", "dScores")
            continue
        out[f"dX{k}"] = (k, "X", f"dX{k}")
        for role, name in ps.arrays.items():
            out[name] = out[f"d{name}"] = (k, role, f"d{name}")
    out[p.input_name] = out[f"d{p.input_name}"] = (1, "X", "dX1")
    return out


def _wrt_key(wrt: str) -> str:
    w = re.sub(r"\s|\$", "", wrt)
    w = re.sub(r"^(?:∂L/∂|dL/d|\\partialL/\\partial|\\frac\{\\partialL\}\{\\partial(.*)\}$)", r"\1", w)
    for pat, word in _GREEK[:2]:
        w = re.sub(pat, word, w)
    return w


def listing(tg: dict) -> str:
    return ", ".join(v[2] for k, v in tg.items() if k == v[2])


def normalize(text: str) -> str:
    """Greek letters, x̂ and Σ as the reader's words: γ -> gamma, Σ_n dY ⊙ x̂ -> colsum(dY ⊙ x̂)."""
    for pat, word in _GREEK:
        text = re.sub(pat, word, text)
    text = _SUM_SLICE.sub(_sum_of_slices, text)
    out, i = [], 0
    while True:
        m = _SIGMA.search(text, i)
        if not m:
            return "".join(out) + text[i:]
        out.append(text[i:m.start()])
        j = end = m.end()
        if text[j:j + 1] in "([{":  # Σ(...): the group
            depth = 0
            while end < len(text):
                depth += (text[end] in "([{") - (text[end] in ")]}")
                end += 1
                if depth == 0:
                    break
        else:  # Σ dY ⊙ x̂: the rest of the product, up to a + or − or a closing parenthesis
            depth = 0
            while end < len(text) and not (depth == 0 and text[end] in "+-−)]},="):
                depth += (text[end] in "([{") - (text[end] in ")]}")
                end += 1
        out.append(f" colsum({text[j:end]}) ")
        i = end


def _rows(a):
    """A channels-last (rows, C) view of a 4-D array (spatial BatchNorm), a 2-D array as is."""
    return a if a.ndim == 2 else a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _draw_arrays(ps, problem, rng, i: int):
    """(x, params, dy or targets) of the layer: its own values at i = 0, random ones after."""
    params = {role: problem.arrays[name] for role, name in ps.arrays.items()}
    if i == 0:
        return ps.x, params, (problem.arrays[problem.target_name] if ps.position > len(problem.layers) else ps.dy)
    x = rng.uniform(-3, 3, ps.x.shape)
    new = {}
    for role, v in params.items():
        if role == "mask":
            new[role] = rng.integers(0, 2, v.shape).astype(float)
        elif role == "gamma":
            new[role] = rng.uniform(0.5, 2.5, v.shape) * rng.choice([-1, 1], v.shape)
        else:
            new[role] = rng.uniform(-2, 2, v.shape)
    if ps.position > len(problem.layers):  # targets: one-hot rows (odd draws) or distributions
        n, c = ps.x.shape[0], int(np.prod(ps.x.shape[1:]))
        t = np.eye(c)[rng.integers(0, c, n)] if i % 2 else rng.uniform(0, 1, (n, c))
        return x, new, t / t.sum(axis=1, keepdims=True)
    return x, new, rng.uniform(-2, 2, ps.dy.shape)


def layer_env(layer: Layer, problem, x, params, dy) -> tuple[dict, dict]:
    """(the names an answer may use, the reference gradients by role) at one draw."""
    from ...networks.stackops import NP, kernel
    ps, o = layer.ps, layer.ps.options
    if ps.name in CONV:
        return conv_env(ps, x, params, dy)
    env = {"N": float(x.shape[0])}
    if layer.loss:
        fwd, back = kernel(ps.name)
        _loss, cache = fwd(x, dy, {}, NP, layer.mean)
        x2 = x.reshape(x.shape[0], -1)
        y = cache[1] if ps.name == "softmax_with_loss" else x2
        env.update(X=x2, Y=y, T=dy, S=x2)
        return env, {"X": back(dy, cache, {}, NP, layer.mean).reshape(x2.shape)}
    fwd, back = kernel(ps.name)
    y, cache = fwd(x, params, o, NP)
    dx, local = back(dy, cache, params, o, NP)
    refs = {"X": dx, **local}
    env.update(X=x, Y=y, dY=dy)
    if ps.name == "affine":
        env.update(X=x.reshape(x.shape[0], -1), W=params["W"], b=params["b"][None, :])
        refs["X"] = dx.reshape(x.shape[0], -1)
    elif ps.name == "batchnorm":
        x2 = _rows(x)
        _shape, xhat, std = cache
        env.update(X=x2, Y=_rows(y), dY=_rows(dy), xhat=xhat, sigma=std[None, :], var=(std * std)[None, :],
                   mu=x2.mean(axis=0, keepdims=True), eps=float(o["eps"]), N=float(x2.shape[0]),
                   gamma=params["gamma"][None, :], beta=params["beta"][None, :], _rowwise=True)
        refs["X"] = _rows(dx)
    elif ps.name == "dropout":
        env.update(mask=params["mask"], p=float(o["p"]))
    elif ps.name == "leaky_relu":
        env["alpha"] = float(o["alpha"])
    for role, name in ps.arrays.items():
        env[name] = env.get(role, params[role])
    refs = {k: (v[None, :] if np.ndim(v) == 1 else v) for k, v in refs.items()}
    return env, refs


def _find(solution, wrt: str) -> Layer:
    tg = targets(solution)
    key = _wrt_key(wrt)
    if key not in tg:
        raise VerifyError(_("--wrt {wrt} is not a gradient of this layer stack; it may ask for: {names}").format(
            wrt=wrt, names=listing(tg)))
    position, role, name = tg[key]
    problem = solution.problem
    ps = solution.extra.passes[position - 1]
    if ps.name not in READ:
        raise VerifyError(_("verify does not read answers for the {layer} layer (layer {position}) yet; it reads "
                            "the affine, activation, dropout, BatchNorm and loss layers").format(
            layer=ps.name, position=position))
    return Layer(ps, role, name, position > len(problem.layers), problem.reduction == "mean")


def _sides(text: str):
    """(left side or None, right side) of `∂L/∂W1 = X^T dY`; more than one '=' cannot be read."""
    depth, at = 0, []
    for i, ch in enumerate(text):
        depth += (ch in "({[") - (ch in ")}]")
        if ch == "=" and depth == 0 and text[i - 1:i] not in ("<", ">"):
            at.append(i)
    if not at:
        return None, text
    if len(at) > 1 or not text[at[0] + 1:].strip():
        raise VerifyError(cannot_read(_("a matrix answer is one expression, or ∂L/∂W = one expression")))
    return text[:at[0]], text[at[0] + 1:]


def _reference_rule(solution, layer: Layer):
    for r in solution.extra.vector_rules:
        if r.position == layer.ps.position and r.lhs == layer.key:
            return sp.Symbol(r.rhs)
    return sp.Symbol(layer.key)


def _list(a):
    return None if a is None else np.asarray(a, float).round(12).tolist()


def verify_stack(solution, wrt: str, answer_text: str, seed: int = 0, draws: int = DRAWS):
    """The verdict on `answer_text` for gradient `wrt` of a solved layer stack."""
    layer = _find(solution, wrt)
    problem = solution.problem
    rng = np.random.default_rng(seed)
    points = [layer_env(layer, problem, *_draw_arrays(layer.ps, problem, rng, i)) for i in range(draws)]
    label = f"∂L/∂{layer.key[1:]}"

    def check_left(left):
        tg, key = targets(solution), _wrt_key(left)
        local = {"dX": "X", "dW": "W", "db": "b", "dgamma": "gamma", "dbeta": "beta"}.get(key)
        if tg.get(key, (0, ""))[:2] != (layer.ps.position, layer.role) and local != layer.role:
            raise VerifyError(_("the left side {side} is not {label}: the question asks for {label}").format(
                side=left.strip(), label=label))

    if layer.name in CONV:
        from ...networks.stackops import ties
        if layer.name == "max_pool" and ties(layer.ps.x, layer.ps.options):
            points = points[1:]  # a shared maximum at the layer's own values is a kink: random draws decide
        return verify_conv(layer, answer_text, points, check_left, _reference_rule(solution, layer), label)
    names = tuple(sorted((n for n in points[0][0] if not n.startswith("_")), key=len, reverse=True))
    left, right = _sides(answer_text)
    if left is not None:
        check_left(left)
    try:
        ast = parse_matrix_answer(normalize(right), names)
    except ParseError as e:
        raise VerifyError(cannot_read(e)) from None
    method = _("numeric ({draws} draws of layer {position}'s input, parameters and upstream gradient; numpy)").format(
        draws=len(points), position=layer.ps.position)

    def verdict(correct, diag, j=None, got=None):
        cx = None
        if not correct:
            env, refs = points[j]
            used = sorted({n for n in env if re.search(rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z0-9])", show(ast))})
            cx = {"point": {k: _list(env[k]) for k in used}, "expected": _list(refs[layer.role]),
                  "got": _list(got), "own_point": j == 0}
        return MatrixVerdict(correct, diag, cx, _reference_rule(solution, layer), layer.key, label,
                             sp.Symbol(show(ast)), method, len(points), answer_text=show(ast), answer_tex=tex(ast))

    for j, (env, refs) in enumerate(points):
        try:
            got = evaluate(ast, env)
        except ShapeError as e:
            return verdict(False, [diagnosis("shape", N_("{problem}"), problem=str(e))]
                           + diagnose(ast, layer, points, evaluate, same), j, None)
        if not same(got, refs[layer.role], layer.role != "X"):
            return verdict(False, diagnose(ast, layer, points, evaluate, same) or
                           [diagnosis("generic", N_("no single common mistake explains it"))], j, got)
    return verdict(True, [])


# ---------------------------------------------------------------- numpy on the answer's AST

def dims(a) -> str:
    return _("a number") if np.ndim(a) == 0 else "×".join(str(n) for n in np.shape(a))


def _elementwise(kind, a, b, ast):
    sa, sb = np.shape(a), np.shape(b)
    if sa and sb and sa != sb:
        try:
            full = np.broadcast_shapes(sa, sb)
        except ValueError:
            full = None
        if full not in (sa, sb):
            raise ShapeError(_("{expression} is not defined: {left} and {right} elementwise").format(
                expression=show(ast), left=dims(a), right=dims(b)))
    with np.errstate(all="ignore"):
        out = {"add": np.add, "sub": np.subtract, "had": np.multiply, "div": np.divide}[kind](a, b)
    if not np.all(np.isfinite(out)):
        raise ShapeError(_("{expression} is not defined: division by zero").format(expression=show(ast)))
    return out


def evaluate(ast, env):
    """The AST with numpy over one layer's quantities: elementwise operations broadcast a row over
    the batch (γ / σ, x̂ ⊙ Σ(dY ⊙ x̂)); a product of two matrices is a matrix product."""
    kind = ast[0]
    if kind == "num":
        return float(ast[1])
    if kind == "name":
        return env[ast[1]]
    if kind == "mul" and ast[1] == ("ones",):  # 1ᵀ dY: the column sums
        b = evaluate(ast[2], env)
        if np.ndim(b) != 2:
            raise ShapeError(_("{expression}: 1ᵀ needs a matrix on its right").format(expression=show(ast)))
        return b.sum(axis=0, keepdims=True)
    if kind in ("ones", "slice"):
        raise ShapeError(_("{expression}: write a sum over the rows as Σ_n (…) or colsum(…) here").format(
            expression=show(ast)))
    if kind == "cmp":
        a, b = evaluate(ast[2], env), evaluate(ast[3], env)
        _elementwise("sub", a, b, ast)
        return np.asarray({">": np.greater, "<": np.less, ">=": np.greater_equal,
                           "<=": np.less_equal}[ast[1]](a, b), dtype=float)
    a = evaluate(ast[2] if kind == "call" else ast[1], env)
    if kind == "T":
        if np.ndim(a) > 2:
            raise ShapeError(_("{expression}: a transpose needs a matrix, not a {shape} array").format(
                expression=show(ast), shape=dims(a)))
        return a if np.ndim(a) == 0 else a.T
    if kind == "neg":
        return -a
    if kind == "call":
        if np.ndim(a) == 0:
            raise ShapeError(_("{call} needs a matrix, and {argument} is a number").format(
                call=f"{ast[1]}({show(ast[2])})", argument=show(ast[2])))
        if ast[1] == "colsum":
            return a.sum(axis=0, keepdims=True)
        if ast[1] == "rowsum":
            return a.sum(axis=1, keepdims=True)
        if ast[1] == "sum":
            return float(a.sum())
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    b = evaluate(ast[2], env)
    if kind in ("add", "sub", "had", "div"):
        return _elementwise(kind, a, b, ast)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if env.get("_rowwise") and np.ndim(a) == np.ndim(b) == 2 and a.shape[1] == b.shape[1] and 1 in (a.shape[0],
                                                                                                  b.shape[0]):
        return a * b  # BatchNorm: γ dY scales each feature (a row of per-feature values), as γ ⊙ dY
    if np.ndim(a) != 2 or np.ndim(b) != 2 or a.shape[1] != b.shape[0]:
        raise ShapeError(_("{expression} is not defined: {left} is {left_shape} and {right} is {right_shape}").format(
            expression=show(ast), left=show(ast[1]), left_shape=dims(a), right=show(ast[2]), right_shape=dims(b)))
    return a @ b


def same(a, b, vector: bool = False) -> bool:
    """Every element within REL; a parameter vector (`vector`: b, γ, β) may be a row or a column."""
    if a is None or np.ndim(a) == 0:
        return False
    a = np.asarray(a, float)
    if a.shape != b.shape:
        if not vector or a.size != b.size or b.shape[0] != 1 or a.ndim != 2 or a.shape[1] != 1:
            return False
        a = a.reshape(b.shape)
    scale = max(float(np.max(np.abs(b), initial=0)), float(np.max(np.abs(a), initial=0)), 1e-12)
    return bool(np.all(np.abs(a - b) <= REL * scale))
