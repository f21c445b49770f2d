"""Matrix-form answers as an AST: printing (plain and LaTeX) and evaluating with numpy.

The AST comes from `matrix_reading.parse_matrix_answer` and is never run as code: `evaluate`
walks it with numpy arrays for the problem's matrices; a product of mismatched shapes raises
ShapeError naming both shapes. A row (a bias 1×c) added to a matrix is broadcast over its rows, as
numpy does (X·W + B over a batch).
"""
from __future__ import annotations

import numpy as np

from ...i18n import N_, _

REL = 1e-9  # relative tolerance of two matrices' agreement

def label(key: str) -> str:
    return f"∂L/∂{key}"


def shape_text(shape) -> str:
    return _("a number") if shape == () else f"{shape[0]}×{shape[1]}"


class ShapeError(Exception):
    pass


ONES_ALONE = N_("1ᵀ (a row of ones) only makes sense multiplied by a matrix on its right")


_PREC = {"cmp": 0, "add": 1, "sub": 1, "mul": 2, "had": 2, "div": 2, "neg": 3, "T": 4, "slice": 4}


def show(ast, outer: int = 0) -> str:
    """Plain text: Xᵀ·dY, colsum(dY), Y − T."""
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        return ast[1]
    if kind == "ones":
        return "1ᵀ"
    if kind == "call":
        return f"{ast[1]}({show(ast[2])})"
    p = _PREC[kind]
    if kind == "slice":
        s = show(ast[1], 5) + f"[{_at(ast[2])},{_at(ast[3])}]"
    elif kind == "T":
        inner = show(ast[1], 5)
        s = inner + "ᵀ"
    elif kind == "neg":
        s = "−" + show(ast[1], p)
    else:
        sym = {"add": " + ", "sub": " − ", "mul": "·", "had": " ⊙ ", "div": "/"}.get(kind) or f" {ast[1]} "
        if kind == "cmp":  # (X > 0)
            return f"({show(ast[2], 1)}{sym}{show(ast[3], 1)})"
        s = show(ast[1], p) + sym + show(ast[2], p + (kind in ("sub", "div")))
    return f"({s})" if p < outer or (kind == "T" and outer > 4) else s


def tex(ast, outer: int = 0) -> str:
    """LaTeX of the AST; every piece is a fixed string or a name/number the parser accepted."""
    kind = ast[0]
    if kind == "num":
        return ast[1]
    if kind == "name":
        n = ast[1]
        return rf"\frac{{\partial L}}{{\partial {n[1]}}}" if n.startswith("d") and len(n) == 2 else n
    if kind == "ones":
        return r"\mathbf{1}^{\top}"
    if kind == "call":
        return rf"\operatorname{{{ast[1]}}}\left({tex(ast[2])}\right)"
    p = _PREC[kind]
    if kind == "slice":
        s = "{" + tex(ast[1], 5) + "}_{" + f"{_at(ast[2])},{_at(ast[3])}" + "}"
    elif kind == "T":
        s = "{" + tex(ast[1], 5) + r"}^{\top}"
    elif kind == "neg":
        s = "-" + tex(ast[1], p)
    elif kind == "div":
        s = rf"\frac{{{tex(ast[1])}}}{{{tex(ast[2])}}}"
    else:
        sym = {"add": " + ", "sub": " - ", "mul": r" \, ", "had": r" \odot "}.get(kind)
        if kind == "cmp":  # (X > 0): the operator is one of four fixed strings
            op = {">": ">", "<": "<", ">=": r"\geq", "<=": r"\leq"}[ast[1]]
            return rf"\left[{tex(ast[2], 1)} {op} {tex(ast[3], 1)}\right]"
        s = tex(ast[1], p) + sym + tex(ast[2], p + (kind == "sub"))
    return rf"\left({s}\right)" if p < outer else s


def _at(i) -> str:
    """A slice's index as written back, 1-based (":" for the whole row or column)."""
    return ":" if i is None else str(i + 1)


# ---------------------------------------------------------------- evaluating the AST

class _Ones:
    pass


ONES = _Ones()


def shape(v):
    return () if np.ndim(v) == 0 else v.shape


def evaluate(ast, env: dict):
    """The AST with numpy; raises ShapeError naming the operation and both shapes."""
    kind = ast[0]
    if kind == "num":
        return float(ast[1])
    if kind == "name":
        return env[ast[1]]
    if kind == "ones":
        return ONES
    if kind == "cmp":  # (X > 0): 1.0 where it holds, else 0.0
        a, b = evaluate(ast[2], env), evaluate(ast[3], env)
        if a is ONES or b is ONES:
            raise ShapeError(_(ONES_ALONE))
        return np.asarray({">": np.greater, "<": np.less, ">=": np.greater_equal,
                           "<=": np.less_equal}[ast[1]](a, b), dtype=float)
    a = evaluate(ast[1] if kind != "call" else ast[2], env)
    if a is ONES and kind != "mul":
        raise ShapeError(_(ONES_ALONE))
    if kind == "T":
        return a if np.ndim(a) == 0 else a.T
    if kind == "slice":  # dY[1,:] (one row) or dY[:,2] (one column)
        r, c = ast[2], ast[3]
        if np.ndim(a) != 2 or (r is not None and r >= a.shape[0]) or (c is not None and c >= a.shape[1]):
            raise ShapeError(_("{expression} is not defined: {matrix} is {shape}").format(
                expression=show(ast), matrix=show(ast[1]), shape=shape_text(shape(a))))
        return a[r:r + 1, :] if r is not None else a[:, c:c + 1]
    if kind == "neg":
        return -a
    if kind == "call":
        f = ast[1]
        if np.ndim(a) == 0:
            raise ShapeError(_("{call} needs a matrix, and {argument} is a number").format(
                call=f"{f}({show(ast[2])})", argument=show(ast[2])))
        if f == "colsum":
            return a.sum(axis=0, keepdims=True)
        if f == "rowsum":
            return a.sum(axis=1, keepdims=True)
        if f == "sum":
            return float(a.sum())
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    b = evaluate(ast[2], env)
    sa, sb = shape(a), shape(b)
    what = _("{expression} is not defined: ").format(expression=show(ast))
    if kind in ("add", "sub"):
        if b is ONES:
            raise ShapeError(_(ONES_ALONE))
        if sa != sb and () not in (sa, sb) and not _broadcasts(sa, sb):  # 1 − Y: elementwise, as NumPy
            raise ShapeError(what + (_("{left} plus {right}") if kind == "add" else _("{left} minus {right}")).format(
                left=shape_text(sa), right=shape_text(sb)))
        return a + b if kind == "add" else a - b
    if kind == "had":  # the elementwise (Hadamard) product
        if b is ONES or (sa != sb and not (sa == () or sb == () or _broadcasts(sa, sb))):
            raise ShapeError(what + _("an elementwise product of {left} and {right}").format(
                left=shape_text(sa), right=shape_text(sb)))
        return a * b
    if kind == "div":
        if b is ONES or sb != ():
            raise ShapeError(what + _("dividing by a matrix"))
        if b == 0:
            raise ShapeError(what + _("division by zero"))
        return a / b
    # a product
    if b is ONES:
        raise ShapeError(_(ONES_ALONE))
    if a is ONES:
        if sb == ():
            raise ShapeError(_(ONES_ALONE))
        return b.sum(axis=0, keepdims=True)
    if sa == () or sb == ():
        return a * b
    if sa[1] != sb[0]:
        message = _("{left} is {left_shape} and {right} is {right_shape} (a {left_shape} times a {right_shape} "
                    "matrix: the inner sizes {inner_left} and {inner_right} differ)")
        raise ShapeError(what + message.format(
            left=show(ast[1]), left_shape=shape_text(sa), right=show(ast[2]), right_shape=shape_text(sb),
            inner_left=sa[1], inner_right=sb[0]))
    return a @ b


def _broadcasts(sa, sb) -> bool:
    """A bias row (1×c) or column (r×1) added to a matrix, as numpy broadcasts it over the batch."""
    if len(sa) != 2 or len(sb) != 2:
        return False
    try:
        full = np.broadcast_shapes(sa, sb)
    except ValueError:
        return False
    return full in (sa, sb)


def same(a, b) -> bool:
    if a is None or b is None or a is ONES or shape(a) != shape(b):
        return False
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.max(np.abs(b), initial=0)), float(np.max(np.abs(a), initial=0)), 1e-12)
    return bool(np.all(np.abs(a - b) <= REL * scale))


def safe_eval(ast, env):
    try:
        return evaluate(ast, env)
    except (ShapeError, FloatingPointError, ZeroDivisionError):
        return None
