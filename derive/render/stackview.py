"""What a report section of a layer stack needs (networks.stack.StackResult), as plain data.

One row per layer in stack order: its label, forward rule, the shapes in and out, its backward rules
(each as the layer record writes it, with whether it was shown equal to the per-element derivatives
and one worked element), and its arrays and gradients as matrices, large ones abbreviated (a 4-D
tensor by its first channel of its first sample). The loss, the proof and the checks as for any
problem (render.view adds its check rows), so `_checks.tex` and `_checks.md` print them unchanged.
"""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from ..engine.steps import partial
from ..i18n import _

SHOWN = 6  # rows and columns of a matrix printed; a bigger one is cut with a note

# the rule texts of the layer records (engine.ops.LAYERS) in LaTeX: one symbol at a time
_TEX = (("[X > 0]", r"\mathbf{1}[X > 0]"), ("[X ≤ 0]", r"\mathbf{1}[X \le 0]"), ("⋆full", r"\star_{\mathrm{full}} "),
        ("rot180", r"\operatorname{rot}_{180}"), ("⊙", r"\odot "),
        ("·", r"\cdot "), ("ᵀ", r"^{\top}"), ("Σ_{n,h,w}", r"\sum_{n,h,w} "), ("Σ_n", r"\sum_n "),
        ("Σ", r"\sum "), ("x̂", r"\hat{x}"), ("σ²", r"\sigma^2"), ("σ", r"\sigma "), ("γ", r"\gamma "),
        ("β", r"\beta "), ("μ", r"\mu "), ("ε", r"\varepsilon "), ("α", r"\alpha "), ("√", r"\sqrt"),
        ("⋆", r"\star "), ("−", "-"), ("²", "^2"), ("≤", r"\le "), ("÷", r"\div "), ("½", r"\tfrac12 "))
_WORDS = re.compile(r"[A-Za-z']{4,}")


def rule_tex(text: str) -> str:
    """A layer record's rule text as LaTeX math; a rule said in words becomes \\text{...}."""
    if _WORDS.search(text.replace("rot180", "").replace("full", "").replace("mask", "")):
        words = re.sub(r"[^A-Za-z0-9' ²/]", " ", text).replace("²", " squared")
        return r"\text{" + " ".join(words.split()) + "}"
    out = text
    for a, b in _TEX:
        out = out.replace(a, b)
    out = re.sub(r"\b(mask|softmax|relu|tanh|max)\b", r"\\operatorname{\1}", out)
    return out


def matrix_of(a) -> tuple:
    """(sympy Matrix of at most SHOWN × SHOWN numbers, what was cut as text): a 1-D array as a row,
    a 4-D tensor by its [1, 1] slice."""
    a = np.asarray(a, dtype=float)
    note = ""
    if a.ndim == 4:
        note = _("its [1, 1] slice of {shape}").format(shape="×".join(map(str, a.shape)))
        a = a[0, 0]
    elif a.ndim == 1:
        a = a[None, :]
    elif a.ndim == 0:
        a = a.reshape(1, 1)
    if a.shape[0] > SHOWN or a.shape[1] > SHOWN:
        note = (note + "; " if note else "") + _("the first {n} rows and columns of {shape}").format(
            n=SHOWN, shape="×".join(map(str, a.shape)))
        a = a[:SHOWN, :SHOWN]
    return sp.Matrix([[sp.Float(float(v), 15) for v in row] for row in a]), note


def stack_view(solution, detail: str = "concise") -> dict:
    """Everything `_stack.tex` and `_stack.md` print for one layer stack."""
    p, res, r = solution.problem, solution.extra, solution.report
    full = detail == "full"
    layers = []
    for ps in res.passes:
        rules = [{"lhs": rule.lhs, "rhs": rule_tex(rule.rhs), "checked": rule.checked,
                  "element": (partial("L", str(rule.element[0])), rule.element[1]) if rule.element else None}
                 for rule in res.vector_rules if rule.position == ps.position]
        arrays = [(name, *matrix_of(p.arrays[name])) for name in ps.arrays.values()]
        grads = [(partial("L", name), *matrix_of(g)) for name, g in ps.grads.items()]
        layers.append({"position": ps.position, "label": _(ps.label) if ps.label else ps.name,
                       "name": ps.name, "options": sorted(ps.options.items()),
                       "shape_in": tuple(int(n) for n in ps.x.shape), "shape_out": tuple(int(n) for n in ps.y.shape),
                       "rules": rules, "arrays": arrays, "grads": grads,
                       "upstream": matrix_of(ps.dy) if ps.dy.ndim else None,
                       "dx": matrix_of(ps.dx)})
    return {
        "kind": "stack", "title": p.title, "description": p.description, "source": p.source,
        "ok": r.ok and all(rule.checked for rule in res.vector_rules), "failures": r.failures(),
        "output": "L", "output_value": res.loss, "reduction": p.reduction, "weight_decay": p.weight_decay,
        "input": (p.input_name, *matrix_of(p.arrays[p.input_name])),
        "targets": (p.target_name, *matrix_of(p.arrays[p.target_name])),
        "input_gradient": (partial("L", p.input_name), *matrix_of(res.gradients[p.input_name])),
        "layers": layers, "kinks": res.kinks, "full": full,
        "max_rel_error": max((c.rel_error for c in r.checks), default=0.0),
        "figure": None, "layer_figure": None, "network": None, "forward": (), "backward": (),
        "definition": None, "backward_note": "", "closed_forms": False, "inputs": (), "results": (),
    }
