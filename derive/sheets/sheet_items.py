"""One exercise arranged for the templates: its prompt, hints, fill-in frame, answer space and
the answer key's worked solution, every equation as sheet_rows.Row lists (never `a = a`, long
sums broken after "+").

    item_view(exercise, level) -> dict   what templates/worksheet_item.tex and answers_item.tex print

Every expression is printed by the render printer; numbers by printer.number (6 significant
digits, the same rounding everywhere); boxes by the macros \\numbox (a number) and \\exprbox (an
expression) that templates/worksheet.tex defines. Nothing is derived here.
"""
from __future__ import annotations

import math

import sympy as sp

from ..engine.steps import partial
from ..render import printer
from ..render.tex import Safe
from .exercises import HINT_LEVELS
from .layer_view import key_rows
from .sheet_rows import Sum, rows, sum_terms

NUMBOX = r"\numbox"  # an empty box for a number
EXPRBOX = r"\exprbox"  # an empty box for an expression
SMALLBOX = r"\smallbox"  # a small box in a hint


# ---------------------------------------------------------------- printing helpers

def num(x) -> str:
    return printer.number(x)


def pnum(x) -> str:
    text = printer.number(x)
    return f"\\left({text}\\right)" if text.startswith("-") else text


def sym(expr, **settings) -> str:
    """Products with a visible dot: `num invden` would read as one word."""
    return printer.latex(expr, **{"mul_symbol": "dot", **settings})


def factor(expr) -> str:
    text = sym(expr)
    return f"\\left({text}\\right)" if isinstance(expr, sp.Add) or text.startswith("-") else text


def at_values(expr, values: dict, extra: dict | None = None) -> str:
    """`expr` with its symbols printed as the numbers in `values` (name -> number)."""
    names = {sp.Symbol(k, real=True): Safe(pnum(v)) for k, v in values.items()}
    names.update({s: Safe(pnum(v)) for s, v in (extra or {}).items()})
    return printer.latex(expr, symbol_names=names, mul_symbol="dot")


def name(n: str) -> str:
    return printer.name(n)


def slash(expr) -> str:
    """A gradient symbol as ∂f/∂x on one line: for running text and the labels under boxes."""
    return sym(expr, gradient="slash")


def labelled(box: str, label: str) -> str:
    return f"\\underbrace{{{box}}}_{{{label}}}"


def product(parts) -> Sum:
    """Factors joined by a dot, as pieces that sheet_rows.rows may break over rows."""
    parts = list(parts)
    return Sum([parts[0], *(f"\\cdot {p}" for p in parts[1:])])


def _safe_rows(r):
    return [{"left": Safe(x.left), "right": Safe(x.right)} for x in r]


# ---------------------------------------------------------------- the answer key

def _is_outer_sum(e, f) -> bool:
    """The outermost factor of a chain that is a fan-out node's whole gradient (a sum)."""
    d = e.variant.derivation
    return f.num == d.output and d.has(f.den) and d.gradient(f.den).is_fanout and f.den != d.output


def _contribution_sums(g, output, values):
    """A fan-out gradient as three sums: symbols, local rules, numbers."""
    symbols, rules, numbers = [], [], []
    for c in g.contributions:
        local = sym(partial(c.via, c.target))
        if c.via == output:  # ∂f/∂f = 1 upstream: the local gradient alone
            symbols.append(local)
            rules.append(factor(c.local.expr))
            numbers.append(pnum(c.local.value))
        else:
            symbols.append(f"{sym(c.upstream)} {local}")
            rules.append(f"{pnum(c.upstream_value)} \\cdot {factor(c.local.expr)}")
            numbers.append(f"{pnum(c.upstream_value)} \\cdot {pnum(c.local.value)}")
    joined = [Sum([t[0], *("+ " + x for x in t[1:])]) for t in (symbols, rules, numbers)]
    return joined


def key_equations(e) -> list[list]:
    """The worked solution: a list of equations, each a list of sheet_rows.Row."""
    if e.kind == "layer":
        return key_rows(e.answer)
    d = e.variant.derivation
    values = dict(d.values)
    grads = {g.symbol: g.value for g in d.steps}
    a = e.answer
    eqs = []
    if e.kind == "forward":
        for line in a.lines:
            eqs.append(rows(name(line.node), [sym(line.expr), at_values(line.expr, dict(line.operands)),
                                              num(line.value)]))
    elif e.kind == "gates":
        for g in a.gradients:
            if not g.contributions:
                eqs.append(rows(sym(g.symbol), [num(g.value)]))
                continue
            eqs.append(rows(sym(g.symbol), [*_contribution_sums(g, d.output, values), num(g.value)]))
    elif e.kind == "symbolic":
        factors = a.chain.factors
        parts = []
        if len(factors) > 1:
            parts.append(product(sym(partial(f.num, f.den)) for f in factors))
            parts.append(product(factor(f.expr) for f in factors))
        elif d.gradient(a.target).is_fanout:
            g = d.gradient(a.target)
            parts.append(_contribution_sums(g, d.output, values)[0])
            parts.append(sum_terms(g.expr, mul_symbol="dot"))
        elif factors:
            parts.append(sym(factors[0].expr))
        if a.closed is not None:
            parts.append(sum_terms(a.closed, mul_symbol="dot"))
        eqs.append(rows(sym(a.symbol), parts))
    elif e.kind == "numeric":
        factors = a.chain.factors
        for f in factors:
            lhs = sym(partial(f.num, f.den))
            if _is_outer_sum(e, f):
                g = d.gradient(f.den)
                eqs.append(rows(lhs, [*_contribution_sums(g, d.output, values), num(f.value)]))
            else:
                eqs.append(rows(lhs, [sym(f.expr), at_values(f.expr, values, grads), num(f.value)]))
        if len(factors) > 1:
            eqs.append(rows(sym(a.symbol), [product(pnum(f.value) for f in factors), num(a.value)]))
    elif e.kind == "rule":
        rule = a.rule
        _, node, concrete, value = a.instance
        parts = []
        if len(rule.factors) > 1:
            parts.append(product(sym(partial(str(x), str(y))) for x, y, _ in rule.factors))
            parts.append(product(factor(ex) for _, _, ex in rule.factors))
        parts.append(sym(rule.expr))
        if a.via_delta is not None:  # through the unit's delta: δ_j x_i
            parts.append(sym(a.via_delta))
        eqs.append(rows(sym(rule.lhs), parts))
        eqs.append(rows(sym(partial(a.output, node)), [sym(concrete), num(value)]))
    elif e.kind == "update":
        new = "{" + name(a.target) + "}'"
        rhs = a.rule.rhs
        at = at_values(rhs, {a.target: a.weight}, {a.eta_symbol: a.eta, a.gradient_symbol: a.gradient})
        eqs.append(rows(new, [sym(rhs), at, num(a.new_value)]))
    return eqs


# ---------------------------------------------------------------- the fill-in frame

def fill_in_equations(e) -> list[list]:
    """The key's frame with boxes: no box is labelled with its own row's quantity, and no
    value a box asks for is printed elsewhere (upstream gradients are named, not given)."""
    d = e.variant.derivation
    a = e.answer
    eqs = []
    if e.kind == "forward":
        for line in a.lines:
            eqs.append(rows(name(line.node), [sym(line.expr), NUMBOX]))
    elif e.kind == "gates":
        for g in a.gradients:
            if not g.contributions:
                eqs.append(rows(sym(g.symbol), [num(g.value)]))
                continue
            eqs.append(rows(sym(g.symbol), [_box_sum(g, d.output, NUMBOX), NUMBOX]
                            if g.is_fanout or g.contributions[0].via != d.output else [NUMBOX]))
    elif e.kind in ("symbolic", "numeric"):
        box = EXPRBOX if e.kind == "symbolic" else NUMBOX
        factors = a.chain.factors
        target_g = d.gradient(a.target)
        if len(factors) > 1:
            parts = [product(labelled(box, slash(partial(f.num, f.den))) for f in factors), box]
        elif target_g.is_fanout:
            parts = [_box_sum(target_g, d.output, box), box]
        else:
            parts = [box]
        eqs.append(rows(sym(a.symbol), parts))
    elif e.kind == "rule":
        rule = a.rule
        _, node, _, _ = a.instance
        parts = [product(labelled(EXPRBOX, slash(partial(str(x), str(y)))) for x, y, _ in rule.factors)]
        if len(rule.factors) > 1:
            parts.append(EXPRBOX)
        eqs.append(rows(sym(rule.lhs), parts))
        eqs.append(rows(sym(partial(a.output, node)), [EXPRBOX, NUMBOX]))
    elif e.kind == "update":
        new = "{" + name(a.target) + "}'"
        eqs.append(rows(new, [f"{pnum(a.weight)} - {num(a.eta)} \\cdot {labelled(NUMBOX, slash(a.gradient_symbol))}",
                              NUMBOX]))
    return eqs


def _box_sum(g, output, box) -> Sum:
    """∂f/∂c · [∂c/∂node] + …; a term through the output itself is a bare box."""
    terms = []
    for c in g.contributions:
        if c.via == output:
            terms.append(box)
        else:
            terms.append(f"{sym(c.upstream)} \\cdot {labelled(box, slash(partial(c.via, c.target)))}")
    return Sum([terms[0], *("+ " + t for t in terms[1:])])


# ---------------------------------------------------------------- hints

def hint_view(h, e) -> dict:
    """A hint as one line of inline math (gradients written ∂f/∂x, so they stay legible)."""
    out = e.variant.derivation.output
    v = {"kind": h.kind, "node": Safe(name(h.node)) if h.node else "", "count": len(h.nodes)}
    if h.kind == "order":
        v["text"] = Safe(", ".join(name(n) for n in h.nodes))
    elif h.kind == "rule":
        v["text"] = Safe(f"{slash(partial(h.node, h.wrt))} = {sym(h.expr, gradient='slash')}")
    elif h.kind == "chain":
        chain = product(slash(partial(a, b)) for a, b in h.factors).text()
        v["text"] = Safe(f"{slash(partial(h.node, h.wrt))} = {chain}")
    elif h.kind == "update":
        v["text"] = Safe(sym(h.expr, gradient="slash",
                             symbol_names={h.expr.lhs: Safe("{" + name(h.node) + "}'")}))
    elif h.kind == "fanout":
        terms = [SMALLBOX if c == out else f"{slash(partial(out, c))} \\cdot {SMALLBOX}" for c in h.nodes]
        v["text"] = Safe(f"{slash(partial(out, h.node))} = " + " + ".join(terms))
        v["via"] = Safe(", ".join(f"${name(c)}$" for c in h.nodes))
    return v


# ---------------------------------------------------------------- answer space

def answer_space(e, figure: bool) -> dict:
    """Room to answer, sized to the answer: ruled lines for a derivation or working, labelled
    boxes for numbers (forward values and gradients go in the figure's boxes when it has them)."""
    d = e.variant.derivation
    a = e.answer
    boxes, lines = [], 0
    if e.kind in ("forward", "gates"):
        nodes = [line.node for line in a.lines] if e.kind == "forward" else [g.node for g in a.gradients]
        if figure:
            lines = math.ceil(len(nodes) / 3)
        else:
            labels = [name(n) for n in nodes] if e.kind == "forward" else \
                [sym(partial(d.output, n)) for n in nodes]
            boxes = [Safe(x) for x in labels]
    elif e.kind in ("symbolic", "numeric"):
        factors = a.chain.factors
        fan = d.gradient(a.target).is_fanout or any(_is_outer_sum(e, f) for f in factors)
        spread = len(d.gradient(factors[0].den).contributions) if fan and factors else 0
        lines = len(factors) + spread + (2 if e.kind == "symbolic" else 1)
        if e.kind == "numeric":
            boxes = [Safe(sym(a.symbol))]
    elif e.kind == "rule":
        lines = len(a.rule.factors) + 3
    elif e.kind == "update":
        lines = 1
        boxes = [Safe("{" + name(a.target) + "}'")]
    return {"lines": lines, "boxes": boxes}


# ---------------------------------------------------------------- the item

def item_view(e, level: str, figure: bool = False) -> dict:
    """Everything the templates print for exercise `e` at `level`; `figure`: its answers go in
    the boxes of a figure on the sheet."""
    out = e.variant.derivation.output
    v = {"number": e.number, "kind": e.kind, "output": out,
         "given": [(Safe(name(n)), x) for n, x in e.given],
         "hints": [hint_view(h, e) for h in e.hints if h.kind in HINT_LEVELS[level]],
         "key": [_safe_rows(eq) for eq in key_equations(e)],
         "fill_in": [_safe_rows(eq) for eq in fill_in_equations(e)] if level == "fill-in" else [],
         "space": answer_space(e, figure),
         "target": Safe(name(e.target)) if e.target else None,
         "symbol": Safe(slash(partial(out, e.target))) if e.target else None}
    if e.kind == "rule":
        v["rule_lhs"] = Safe(slash(e.answer.rule.lhs))
        v["rule_node"] = Safe(name(e.answer.instance[1]))
    if e.kind == "update":
        v["eta"] = e.answer.eta
        v["gradient_symbol"] = Safe(slash(e.answer.gradient_symbol))
    return v
