"""Worksheets and answer keys as .tex (and PDF): the sheet's records arranged for the templates.

The views only arrange the records of `teach.exercises` for templates/worksheet.tex,
templates/answers.tex and their partials (one exercise: `sheet_items.item_view`); every
expression is printed by the render printer, every text through the escaping filter. Nothing is
derived here. A network's statement is its Mazur-style figure (render.netfig), its units'
equations and its given values as labelled matrices and vectors; a scalar graph's is its gates
and, when an exercise asks for values or gradients, its figure with answer boxes.
`write_versions` writes every version's worksheet-vK and answers-vK.

Titles and descriptions are shown in the language the text is made in (`shown`: a problem's
[translations.<lang>]), while the values are drawn from the problem as written: the same seed
gives the same numbers in every language.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import files, i18n, problems
from ..networks.names import Names
from ..pipeline import graph_and_inputs, solve
from ..render import netfig, pdf, printer, tikz
from ..render.tex import Safe, render
from . import layer_drills, layer_view
from .exercises import DEFAULT_LEVEL, build_sheet, level_name
from .sheet_items import item_view, name, sym
from .sheet_rows import BUDGET, rows, sum_terms, width
from .statement import description_for

# Built-in problems that make good worksheet items (the scalar circuits; the gate-by-gate
# neuron is the same function as neuron_sigmoid with a 13-node figure, so it is left out;
# the 2-2-2 network gives the index-form items ∂L/∂w_kj and ∂L/∂w_ji through δ_j; the ReLU
# network a draw with a hidden unit switched off in one sample, δ_j = 0).
WORKSHEET_BUILTINS = ("circuit", "fanout", "neuron_sigmoid", "staged", "mlp_222", "mlp_relu_batch")
# ... and one drill per layer of issue 22 (made in code, not read from a file: sheets.layer_drills)
WORKSHEET_DRILLS = layer_drills.drills
PACKAGES = (("needspace", None),)
MATRIX_LIMIT = 8  # rows or columns above which a given array is listed by its values only


# ---------------------------------------------------------------- figures

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


# ---------------------------------------------------------------- a network's statement

def _pmatrix(cells) -> str:
    return "\\begin{pmatrix}" + " \\\\ ".join(" & ".join(row) for row in cells) + "\\end{pmatrix}"


def _array_width(cells) -> float:
    cols = list(zip(*cells))
    return sum(max(width(c) for c in col) + 2.0 for col in cols) + 2.0


def given_arrays(problem) -> list[dict]:
    """Each given array (x, W, b per layer, t) as `name = (element names) = (values)`."""
    nm = Names(problem.notation, problem.sizes, problem.batch)
    depth = len(problem.sizes) - 1
    batch = problem.batch > 1

    def sample(n):
        return n if batch else None

    arrays = [("x", problem.arrays["x"], lambda n, i: nm.act(0, i, sample(n)), nm.act(0, 1, None).split("_")[0])]
    for l in range(1, depth + 1):
        arrays.append((f"W{l}", problem.arrays[f"W{l}"], lambda j, k, l=l: nm.weight(l, j, k), f"W^{nm.tag(l)}"))
        if problem.bias:
            arrays.append((f"b{l}", problem.arrays[f"b{l}"], lambda j, l=l: nm.bias(l, j), f"b^{nm.tag(l)}"))
    arrays.append(("t", problem.arrays["t"], lambda n, k: nm.target(k, sample(n)), nm.target(1, None).split("_")[0]))
    out = []
    for key, values, element, label in arrays:
        if key in ("x", "t") and not batch:
            grid = [[v] for v in values[0]]  # one sample: a column vector
            names = [[element(1, i)] for i in range(1, len(values[0]) + 1)]
        elif isinstance(values[0], tuple):
            grid = [list(row) for row in values]
            names = [[element(j, k) for k in range(1, len(row) + 1)] for j, row in enumerate(values, 1)]
        else:
            grid = [[v] for v in values]
            names = [[element(j)] for j in range(1, len(values) + 1)]
        value_cells = [[printer.number(v) for v in row] for row in grid]
        name_cells = [[name(n) for n in row] for row in names]
        parts = [name(label)]
        if len(grid) <= MATRIX_LIMIT and len(grid[0]) <= MATRIX_LIMIT:
            parts.append(_pmatrix(name_cells))
        parts.append(_pmatrix(value_cells))
        w = width(parts[0]) + sum(_array_width(c) for c in (name_cells, value_cells)) + 6
        out.append({"tex": Safe(" = ".join(parts)), "width": w})
    return out


def packed(items, budget: float = BUDGET + 6) -> list[list]:
    """Items (with a width) packed into lines of at most `budget`, in order."""
    lines, cur, used = [], [], 0.0
    for it in items:
        if cur and used + it["width"] + 4 > budget:
            lines.append(cur)
            cur, used = [], 0.0
        cur.append(it)
        used += it["width"] + 4
    if cur:
        lines.append(cur)
    return lines


def unit_equations(graph) -> list[list]:
    """The network's graph as equations, a unit's net input and activation side by side."""
    pairs, done = [], set()
    for node in graph.steps:
        if node.name in done:
            continue
        consumers = [graph.node(c) for c in graph.consumers(node.name)]
        act = next((c for c in consumers if c.parents == (node.name,)), None)
        first = rows(name(node.name), [sum_terms(node.expr, mul_symbol="dot")])
        if act is not None:
            second = rows(name(act.name), [sym(act.expr)])
            done.add(act.name)
            if len(first) == 1 and len(second) == 1 and \
                    width(first[0].left + first[0].right + second[0].left + second[0].right) + 8 < BUDGET:
                pairs.append([(first[0], second[0])])
                continue
            pairs.append([(r, None) for r in first] + [(r, None) for r in second])
        else:
            pairs.append([(r, None) for r in first])
        done.add(node.name)
    return [[{"left": Safe(a.left), "right": Safe(a.right),
              "left2": Safe(b.left) if b else None, "right2": Safe(b.right) if b else None}
             for a, b in eq] for eq in pairs]


def network_statement(variant) -> dict:
    p = variant.problem
    values = dict(graph_and_inputs(p)[1])
    fig = netfig.network_figure(p, values)
    return {"figure": fig, "equations": unit_equations(variant.graph),
            "arrays": packed(given_arrays(p)), "values_on_figure": fig.parameter_values}


# ---------------------------------------------------------------- problems and sheets

def _original_numbers(problem) -> list:
    s = solve(problem)
    d = s.derivation
    return [*s.inputs.values(), *d.values.values(), *(g.value for g in d.steps if g.node != d.output)]


def shown(problem):
    """`problem` with its title and description in the current language (problems.localized)."""
    return problems.localized(problem, i18n.current())


def statement_description(variant) -> str:
    """The description, without what it says about the original values when they changed."""
    p, original = shown(variant.problem), variant.original or variant.problem
    if not p.description or dict(graph_and_inputs(original)[1]) == variant.values:
        return p.description
    return description_for(p.description, _original_numbers(original), False)


def variant_view(variant, exercises, level: str) -> dict:
    p = variant.problem
    if p.kind == "layer_drill":
        return {"title": p.title, "description": "", "steps": [], "network": None, "given": [], "output": "L",
                "figure": None, "answer_figure": None, "figure_boxes": False, "redraws": variant.redraws,
                "drill": layer_view.statement(variant), "exercises": [layer_view.item(e, level) for e in exercises]}
    kinds = {e.kind for e in exercises}
    figure_items = [e for e in exercises if e.kind in ("forward", "gates")]
    worksheet_figure = None
    if figure_items:
        show_values = "forward" not in kinds or level == "worked"
        show_grads = level == "worked"
        worksheet_figure = figure_view(variant, show_values, show_grads)
    network = network_statement(variant) if p.kind == "network" else None
    steps = [] if network else [
        [{"left": Safe(r.left), "right": Safe(r.right)} for r in rows(name(n.name), [sum_terms(n.expr)])]
        for n in variant.graph.steps]
    return {
        "figure_boxes": level != "fill-in",  # the fill-in frame has the boxes
        "title": shown(p).title,
        "description": statement_description(variant),
        "steps": steps,
        "network": network,
        "given": [(Safe(name(n)), x) for n, x in variant.values.items()],
        "output": variant.graph.output,
        "figure": worksheet_figure,
        "answer_figure": figure_view(variant, True, True) if figure_items else None,
        "exercises": [item_view(e, level, figure=worksheet_figure is not None) for e in exercises],
        "redraws": variant.redraws,
        "drill": None,
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
    return (pdf.document(render("worksheet.tex", s=view), PACKAGES),
            pdf.document(render("answers.tex", s=view), PACKAGES))


def build_versions(problem_list, versions: int, seed: int, level: str = DEFAULT_LEVEL) -> list:
    """Every version's Sheet (version K = 1..versions), the same for PDFs and quizzes."""
    level = level_name(level)
    return [build_sheet(problem_list, seed, k, level) for k in range(1, versions + 1)]


def write_versions(problem_list, versions: int, seed: int, out: Path, level: str = DEFAULT_LEVEL,
                   compile_pdf: bool = True, echo=None, sheets=None) -> list:
    """Build, render and (optionally) compile every version; returns the sheets."""
    files.ensure_dir(out)
    sheets = sheets or build_versions(problem_list, versions, seed, level)
    for sheet in sheets:
        k = sheet.version
        worksheet_tex, answers_tex = render_sheet(sheet)
        for stem, tex in ((f"worksheet-v{k}", worksheet_tex), (f"answers-v{k}", answers_tex)):
            if compile_pdf:
                pdf.compile_pdf(tex, out / f"{stem}.pdf", out / f"{stem}.tex")
            else:
                files.write_atomic(out / f"{stem}.tex", tex)
        if echo:
            echo(progress_line(sheet))
    return sheets


def progress_line(sheet) -> str:
    per = ", ".join(f"{_short(v.problem.source)} {v.redraws}" for v in sheet.variants)
    return f"version {sheet.version}: {len(sheet.exercises)} items, {sheet.redraws} redraws ({per})"


def _short(source: str) -> str:
    """circuit (built-in) -> circuit; path/to/net.toml -> net."""
    return Path(source.split(" ")[0]).stem
