"""`derive worksheet`: worksheets and answer keys (.tex and .pdf) from the worksheet records.

    derive worksheet FILE... --versions N --seed S -o DIR [--level full|hints|blanks] [--builtin]

writes, per version K, DIR/worksheet-vK.tex/.pdf and DIR/answers-vK.tex/.pdf, numbered alike.

The view functions here only arrange the records of `derive.worksheet` for the templates
(templates/worksheet.tex, templates/answers.tex and their partials); every expression is
printed by the render printer, every text through the escaping filter. Nothing is derived here.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click
import sympy as sp

from . import problem as problems
from . import worksheet as ws
from .errors import DeriveError
from .render import printer, tikz
from .render.tex import Safe, render
from .steps import partial

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
    from .render.pdf import document
    view = sheet_view(sheet)
    return (document(render("worksheet.tex", s=view)), document(render("answers.tex", s=view)))


# ---------------------------------------------------------------- command

def write_versions(problem_list, versions: int, seed: int, out: Path, level: str,
                   compile_pdf: bool = True, echo=None) -> list[ws.Sheet]:
    """Build, render and (optionally) compile every version; returns the sheets."""
    from .render.pdf import compile_pdf as compile_one
    out.mkdir(parents=True, exist_ok=True)
    sheets = []
    for k in range(1, versions + 1):
        sheet = ws.build_sheet(problem_list, seed, k, level)
        worksheet_tex, answers_tex = render_sheet(sheet)
        for stem, tex in ((f"worksheet-v{k}", worksheet_tex), (f"answers-v{k}", answers_tex)):
            if compile_pdf:
                compile_one(tex, out / f"{stem}.pdf", out / f"{stem}.tex")
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


def register(main):
    @main.command("worksheet")
    @click.argument("files", nargs=-1)
    @click.option("--versions", "-n", default=1, show_default=True, type=click.IntRange(1, 50),
                  help="How many versions (each with new values).")
    @click.option("--seed", "-s", default=1, show_default=True, type=int,
                  help="Seed: the same seed gives the same sheets.")
    @click.option("--output", "-o", "out", default="outputs/worksheets", show_default=True,
                  type=click.Path(file_okay=False), help="Output directory.")
    @click.option("--level", type=click.Choice(ws.LEVELS), default="hints", show_default=True,
                  help="Scaffolding: the full solution, hints only, or blanks for the local gradients.")
    @click.option("--builtin", is_flag=True, help="Add the built-in problems that suit worksheets.")
    @click.option("--tex-only", is_flag=True, help="Write the .tex files only (no LaTeX run).")
    def worksheet(files, versions, seed, out, level, builtin, tex_only):
        """Worksheets and answer keys, randomized per version, numbered alike.

        Writes DIR/worksheet-vK.pdf and DIR/answers-vK.pdf (and .tex) for K = 1..N.
        """
        from .cli import fail, load_or_fail
        chosen = [load_or_fail(f) for f in files]
        if builtin:
            chosen += [problems.load(n) for n in WORKSHEET_BUILTINS]
        if not chosen:
            fail("no problems: give FILE arguments or --builtin")
        try:
            write_versions(chosen, versions, seed, Path(out), level, not tex_only,
                           echo=lambda m: click.echo(m, err=True))
        except DeriveError as e:
            fail(str(e))
        click.echo(f"wrote {versions} worksheet(s) and answer key(s) to {out}", err=True)


def _main():  # pragma: no cover - python -m derive.worksheet_cli
    from .cli import main
    main(sys.argv[1:])
