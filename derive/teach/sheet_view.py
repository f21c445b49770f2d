"""Worksheets and answer keys as .tex (and PDF): the exercise records arranged for the templates.

The view functions only arrange the records of `teach.exercises` for templates/worksheet.tex,
templates/answers.tex and their partials; every expression is printed by the render printer,
every text through the escaping filter. Nothing is derived here. `write_versions` writes every
version's worksheet-vK and answers-vK.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import sympy as sp

from ..engine.steps import partial
from ..render import pdf, printer, tikz
from ..render.tex import Safe, render
from .exercises import build_sheet

# Built-in problems that make good worksheet items (the scalar circuits; the gate-by-gate
# neuron is the same function as neuron_sigmoid with a 13-node figure, so it is left out;
# the 2-2-2 network gives the index-form ∂L/∂w_kj item).
WORKSHEET_BUILTINS = ("circuit", "fanout", "neuron_sigmoid", "staged", "mlp_222")


# ---------------------------------------------------------------- printing helpers

def _num(x) -> str:
    return printer.number(x)


def _pnum(x) -> str:
    text = printer.number(x)
    return f"\\left({text}\\right)" if text.startswith("-") else text


def at_values(expr, values: dict, extra: dict | None = None) -> Safe:
    """`expr` with its symbols printed as the numbers in `values` (name -> number).

    `extra` maps further symbols (gradient symbols) to numbers. Products get a visible dot.
    """
    names = {sp.Symbol(k, real=True): _pnum(v) for k, v in values.items()}
    names.update({s: _pnum(v) for s, v in (extra or {}).items()})
    return Safe(printer.latex(expr, symbol_names=names, mul_symbol="dot"))


def math(expr, **settings) -> Safe:
    """Products with a visible dot: `num invden` would read as one word."""
    return Safe(printer.latex(expr, **{"mul_symbol": "dot", **settings}))


def factor(expr) -> Safe:
    text = printer.latex(expr, mul_symbol="dot")
    return Safe(f"\\left({text}\\right)" if isinstance(expr, sp.Add) or text.startswith("-") else text)


# ---------------------------------------------------------------- views

def figure_view(variant, values: bool, gradients: bool) -> dict | None:
    """The report's figure layout of the variant's graph (render.tikz.layout), with the
    values (except the given inputs) and gradients hidden where the worksheet asks for them;
    the template draws a box for each hidden one. None for a graph too big to draw node by node."""
    fig = tikz.layout(variant.derivation, values=True, gradients=True)
    if fig.summary:
        return None
    reaches = {n.id for n in fig.nodes if n.gradient is not None}
    nodes = tuple(dataclasses.replace(
        n, value=n.value if (values or n.is_input) else None,
        gradient=n.gradient if gradients else None) for n in fig.nodes)
    return {"fig": dataclasses.replace(fig, nodes=nodes), "reaches": reaches}


def forward_lines(answer, values: dict) -> list[dict]:
    return [{"node": line.node, "expr": math(line.expr),
             "at": at_values(line.expr, dict(line.operands)), "value": line.value}
            for line in answer.lines]


def gradient_lines(answer, values: dict) -> list[dict]:
    """Per node: the sum of upstream × local, symbolic, then at the values, then its value."""
    out = []
    for g in answer.gradients:
        if not g.contributions:
            out.append({"node": g.node, "symbol": math(g.symbol), "terms": [], "value": g.value,
                        "fanout": False})
            continue
        terms = []
        for c in g.contributions:
            terms.append({
                "via": c.via,
                "upstream": math(c.upstream),
                "local_symbol": math(partial(c.via, c.target)),
                "local_expr": factor(c.local.expr),
                "local_at": at_values(c.local.expr, values),
                "upstream_value": c.upstream_value,
                "local_value": c.local.value,
                "value": c.value,
            })
        out.append({"node": g.node, "symbol": math(g.symbol), "terms": terms, "value": g.value,
                    "fanout": g.is_fanout})
    return out


def chain_view(answer, values: dict, grads: dict) -> dict:
    """The chain's factors (a fan-out factor is a sum of upstream × local, so `grads`
    gives the values of the gradient symbols it uses)."""
    factors = [{"symbol": math(partial(f.num, f.den)), "expr": factor(f.expr),
                "plain": math(f.expr), "value": f.value,
                "at": at_values(f.expr, values, grads)}
               for f in answer.chain.factors]
    return {
        "symbol": math(answer.symbol),
        "factors": factors,
        "closed": math(answer.closed) if answer.closed is not None else None,
        "value": answer.value,
    }


def rule_view(answer) -> dict:
    """A network's index-form rule: the chain in generic names, the formula, one instance."""
    rule = answer.rule
    _, node, concrete, value = answer.instance
    return {
        "lhs": math(rule.lhs),
        "factors": [{"symbol": math(partial(str(a), str(b))), "expr": factor(e)} for a, b, e in rule.factors],
        "expr": math(rule.expr),
        "node": node,
        "instance_symbol": math(partial(answer.output, node)),
        "instance": math(concrete),
        "value": value,
    }


def update_view(answer) -> dict:
    new_name = Safe("{" + printer.name(answer.target) + "}'")
    rule = math(answer.rule, symbol_names={answer.new_symbol: new_name})
    return {
        "rule": rule,
        "new": new_name,
        "weight": answer.weight, "eta": answer.eta, "gradient": answer.gradient,
        "gradient_symbol": math(answer.gradient_symbol),
        "at": at_values(answer.rule.rhs, {answer.target: answer.weight},
                        {answer.eta_symbol: answer.eta, answer.gradient_symbol: answer.gradient}),
        "new_value": answer.new_value,
    }


def hint_view(h, output: str) -> dict:
    v = {"kind": h.kind, "node": h.node, "wrt": h.wrt, "nodes": h.nodes}
    if h.kind == "rule":
        v["lhs"] = math(partial(h.node, h.wrt))
        v["expr"] = math(h.expr)
    elif h.kind == "chain":
        v["lhs"] = math(partial(h.node, h.wrt))
        v["factors"] = [math(partial(a, b)) for a, b in h.factors]
    elif h.kind == "update":
        v["expr"] = math(h.expr, symbol_names={h.expr.lhs: Safe("{" + printer.name(h.node) + "}'")})
    elif h.kind == "fanout":
        v["terms"] = [Safe(printer.latex(partial(output, c)) + " " + printer.latex(partial(c, h.node)))
                      for c in h.nodes]
    return v


def item_view(e) -> dict:
    values = dict(e.variant.derivation.values)
    out = e.variant.derivation.output
    v = {"number": e.number, "kind": e.kind, "target": e.target, "output": out,
         "given": [(n, x) for n, x in e.given],
         "hints": [hint_view(h, out) for h in e.hints]}
    if e.target:
        v["symbol"] = math(partial(out, e.target))
    if e.kind == "forward":
        v["lines"] = forward_lines(e.answer, values)
        v["value"] = e.answer.value
    elif e.kind == "gates":
        v["lines"] = gradient_lines(e.answer, values)
    elif e.kind in ("symbolic", "numeric"):
        grads = {g.symbol: g.value for g in e.variant.derivation.steps}
        v["chain"] = chain_view(e.answer, values, grads)
    elif e.kind == "rule":
        v["rule"] = rule_view(e.answer)
    elif e.kind == "update":
        v["step"] = update_view(e.answer)
        v["eta"] = e.answer.eta
    return v


def variant_view(variant, exercises, level: str) -> dict:
    p = variant.problem
    kinds = {e.kind for e in exercises}
    figure_items = [e for e in exercises if e.kind in ("forward", "gates")]
    worksheet_figure = None
    if figure_items:
        show_values = "forward" not in kinds or level == "full"
        show_grads = level == "full"
        worksheet_figure = figure_view(variant, show_values, show_grads)
    return {
        "title": p.title,
        "description": p.description,
        "steps": [{"name": n.name, "expr": math(n.expr)} for n in variant.graph.steps],
        "given": list(variant.values.items()),
        "output": variant.graph.output,
        "figure": worksheet_figure,
        "answer_figure": figure_view(variant, True, True) if figure_items else None,
        "figure_items": [e.number for e in figure_items],
        "exercises": [item_view(e) for e in exercises],
        "redraws": variant.redraws,
    }


def sheet_view(sheet) -> dict:
    groups = []
    for variant in sheet.variants:
        exercises = [e for e in sheet.exercises if e.variant is variant]
        groups.append(variant_view(variant, exercises, sheet.level))
    return {"seed": sheet.seed, "version": sheet.version, "level": sheet.level,
            "problems": groups, "count": len(sheet.exercises), "redraws": sheet.redraws}


def render_sheet(sheet) -> tuple[str, str]:
    """(worksheet .tex, answer key .tex): pure functions of the sheet, no files written."""
    view = sheet_view(sheet)
    return (pdf.document(render("worksheet.tex", s=view)), pdf.document(render("answers.tex", s=view)))


def write_versions(problem_list, versions: int, seed: int, out: Path, level: str,
                   compile_pdf: bool = True, echo=None) -> list:
    """Build, render and (optionally) compile every version; returns the sheets."""
    out.mkdir(parents=True, exist_ok=True)
    sheets = []
    for k in range(1, versions + 1):
        sheet = build_sheet(problem_list, seed, k, level)
        worksheet_tex, answers_tex = render_sheet(sheet)
        for stem, tex in ((f"worksheet-v{k}", worksheet_tex), (f"answers-v{k}", answers_tex)):
            if compile_pdf:
                pdf.compile_pdf(tex, out / f"{stem}.pdf", out / f"{stem}.tex")
            else:
                (out / f"{stem}.tex").write_text(tex, encoding="utf-8")
        if echo:
            per = ", ".join(f"{_short(v.problem.source)} {v.redraws}" for v in sheet.variants)
            echo(f"version {k}: {len(sheet.exercises)} items, {sheet.redraws} redraws ({per})")
        sheets.append(sheet)
    return sheets


def _short(source: str) -> str:
    """circuit (built-in) -> circuit; path/to/net.toml -> net."""
    return Path(source.split(" ")[0]).stem
