"""A layer drill (sheets.layer_drills) arranged for the worksheet templates and the Moodle quiz:
its statement (the layer's forward pass from its record, the options, the given arrays as
matrices), its prompt, hints, answer space, fill-in frame and worked solution (the record's rule,
the intermediate arrays, the proven result; a convolution's dW[1,1] as its sum).

A 4-D array (1×1×H×W) is printed as its H×W slice; every number by printer.number, every rule by
render.stackview.rule_tex. Nothing is derived here.
"""
from __future__ import annotations

import numpy as np

from ..engine.ops import LAYERS
from ..i18n import _
from ..render import printer
from ..render.stackview import rule_tex
from ..render.tex import Safe
from .layer_drills import rule_of
from .sheet_rows import Row, Sum, rows, width

NAMES = {"X": "X", "W": "W", "b": "b", "gamma": r"\gamma", "beta": r"\beta", "mask": r"\operatorname{mask}",
         "dY": r"\mathrm{d}Y"}
STEP_NAMES = {"xhat": r"\hat{x}", "sigma": r"\sigma"}
LOCAL_NAMES = {"relu": r"\mathbf{1}[X > 0]", "dropout": r"\operatorname{mask} / p",
               "max_pool": r"\mathbf{1}[X = \text{window max}]"}
BOX = r"\smallbox"


def grad_name(role: str) -> str:
    """dX, dW, dγ: the gradient of the loss with respect to array `role`, as the sheets print it."""
    return r"\mathrm{d}" + NAMES[role]


def _grid(a) -> list[list]:
    a = np.asarray(a, dtype=float) if not isinstance(a, np.ndarray) or a.dtype != object else a
    if a.ndim == 4:
        a = a[0, 0]
    elif a.ndim == 1:
        a = a[None, :]
    return [list(r) for r in a]


def matrix(a, box: bool = False) -> str:
    """A 2-D array (a 4-D one by its only slice, a vector as a row) as a pmatrix of numbers, or
    of boxes to fill in."""
    cells = [[BOX if box else printer.number(v) for v in r] for r in _grid(a)]
    return r"\begin{pmatrix}" + r" \\ ".join(" & ".join(r) for r in cells) + r"\end{pmatrix}"


def options_tex(answer) -> list[str]:
    o = answer.options
    out = []
    if "p" in o:
        out.append("p = " + printer.number(o["p"]))
    if "eps" in o:
        out.append(r"\varepsilon = " + printer.number(o["eps"]))
    if "stride" in o:
        out.append(r"\text{stride} = " + str(o["stride"]))
    if "size" in o:
        out.append(r"\text{window} = " + f"{o['size']} \\times {o['size']}")
    return out


def statement(variant) -> dict:
    """The drill's statement: forward pass, options and the given arrays (dY included)."""
    a = variant.answer
    given = [{"tex": Safe(f"{NAMES[r]} = {matrix(v)}"), "width": width(matrix(v)) + 4}
             for r, v in a.given.items()]
    shapes = {r: "\\times".join(str(n) for n in np.asarray(v).shape) for r, v in a.given.items()}
    rec = LAYERS[a.layer]
    forward = rf"Y = \operatorname{{{rec.function}}}(X)" if rec.function else rule_tex(rec.forward)
    return {"forward": Safe(forward), "options": [Safe(t) for t in options_tex(a)],
            "arrays": given, "shape": Safe(shapes["X"]), "four_d": np.asarray(a.given["X"]).ndim == 4}


def asked(variant) -> list[str]:
    return [grad_name(r) for r in variant.answer.gradients]


def key_rows(answer, box: bool = False) -> list[list[Row]]:
    """The worked solution (or with `box` its frame with boxes for the results): per gradient
    asked, the rule, the intermediate arrays it reads, and the result."""
    eqs = []
    steps = dict(answer.steps)
    for name, value in answer.steps:
        if name in STEP_NAMES and not box:
            eqs.append(rows(STEP_NAMES[name], [matrix(value)]))
    if answer.worked is not None:
        w, expr, values, total = answer.worked
        terms = expr.as_ordered_terms()
        parts = [_signed([printer.latex(t) for t in terms]), _signed([_product(t, values) for t in terms]),
                 BOX if box else printer.number(total)]
        eqs.append(rows(r"\frac{\partial L}{\partial " + printer.latex(w) + "}", parts))
    for role, g in answer.gradients.items():
        parts = [rule_tex(rule_of(answer, role))]
        if "local" in steps and role == "X" and answer.layer == "max_pool":  # where each dY goes
            eqs.append(rows(LOCAL_NAMES["max_pool"], [matrix(steps["local"])]))
        elif "local" in steps and role == "X":
            parts.append(f"{matrix(answer.given['dY'])} \\odot {matrix(steps['local'])}")
        parts.append(matrix(g, box))
        eqs.append(rows(grad_name(role), parts))
    return eqs


def _signed(texts) -> Sum:
    """Terms as a Sum prints them: the first as is, then "+ t" or "- t"."""
    return Sum([texts[0]] + [f"- {t[1:]}" if t.startswith("-") else f"+ {t}" for t in texts[1:]])


def _product(term, values) -> str:
    factors = [printer.number(float(f.xreplace(values))) for f in term.as_ordered_factors()]
    return r" \cdot ".join(f"({t})" if t.startswith("-") else t for t in factors)


def hints(variant, level: str) -> list[dict]:
    """outline: the layer's forward pass and the chain rule per element; local-gradients: also
    the layer's backward rule for every gradient asked."""
    a = variant.answer
    if level not in ("outline", "local-gradients"):
        return []
    out = [{"kind": "chain", "text": Safe(r"\frac{\partial L}{\partial X_{ij}} = \sum_{k,l} \mathrm{d}Y_{kl}\,"
                                          r"\frac{\partial Y_{kl}}{\partial X_{ij}}")}]
    if level == "local-gradients":
        out += [{"kind": "rule", "text": Safe(f"{grad_name(r)} = {rule_tex(rule_of(a, r))}")}
                for r in a.gradients]
        if a.layer in LOCAL_NAMES:
            out.append({"kind": "rule", "text": Safe(LOCAL_NAMES[a.layer])})
    return out


def item(e, level: str) -> dict:
    """What templates/worksheet_item.tex and answers_item.tex print for a layer drill."""
    a = e.answer
    safe = lambda eqs: [[{"left": Safe(r.left), "right": Safe(r.right)} for r in eq] for eq in eqs]  # noqa: E731
    return {"number": e.number, "kind": "layer", "output": "L", "given": [],
            "asked": Safe(", ".join(f"${t}$" for t in asked(e.variant))),
            "element": Safe(r"\partial L / \partial " + printer.latex(a.worked[0])) if a.worked else None,
            "hints": hints(e.variant, level), "key": safe(key_rows(a)),
            "fill_in": safe(key_rows(a, box=True)) if level == "fill-in" else [],
            "space": {"lines": 3 + 2 * len(a.gradients), "boxes": []}, "target": None, "symbol": None}


def answers(e) -> list[tuple[str, float]]:
    """(label, value) of every number a quiz asks for, in order: each element of each gradient."""
    out = []
    for role, g in e.answer.gradients.items():
        arr = np.asarray(g)
        for idx in np.ndindex(*arr.shape):
            shown = idx[2:] if arr.ndim == 4 else idx
            out.append((f"{grad_name(role)}_{{{','.join(str(i + 1) for i in shown)}}}", float(arr[idx])))
    return out


def title(variant) -> str:
    return variant.problem.title


def prompt_text() -> str:
    return _("The upstream gradient dY = ∂L/∂Y is given. Compute the gradients below, element by element.")
