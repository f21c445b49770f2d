"""Scalar computational graphs: `[graph]` problem files (named steps, one expression staged
into gates), validated into a ScalarProblem whose graph the engine builds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import graph as graphs
from ..engine.parse import names as ast_names
from ..engine.parse import parse
from ..engine.stage import stage as stage_expression
from ..errors import DeriveError, ParseError, ProblemError
from .common import check_name, header, number, text_key


@dataclass(frozen=True)
class ScalarProblem:
    """A scalar computational graph with values for its inputs."""
    title: str
    source: str
    steps: tuple  # ((name, AST), ...) after staging
    output: str
    values: dict = field(hash=False)  # input name -> Fraction, in the graph's input order
    description: str = ""
    kind: str = "scalar"
    lang: str = "en"  # the language the problem is written in (problems.common.languages)
    translations: dict = field(default_factory=dict, hash=False)  # lang -> {"title": ..., "description": ...}

    def graph(self):
        return graphs.build_graph(list(self.steps), self.output, list(self.values))

    @property
    def inputs(self) -> dict:
        return dict(self.values)


def load_scalar(data: dict, source: str) -> ScalarProblem:
    title, description = header(data, source, "graph", ("output", "stage"))
    table = data["graph"]
    if not isinstance(table, dict) or not table:
        raise ProblemError(source, "[graph]", 'expected a table of steps such as q = "x + y"')
    steps = []
    for name, expr in table.items():
        key = f"[graph] {name}"
        check_name(name, source, key)
        if not isinstance(expr, str):
            raise ProblemError(source, key, f'expected an expression in quotes, got {expr!r}')
        try:
            steps.append((name, parse(expr)))
        except ParseError as e:
            raise ProblemError(source, key, str(e)) from None
    output = text_key(data, "output", source, steps[-1][0])
    stage = data.get("stage", len(steps) == 1)
    if not isinstance(stage, bool):
        raise ProblemError(source, "stage", f"expected true or false, got {stage!r}")
    input_order = [n for _, ast in steps for n in ast_names(ast) if n not in table]
    if stage:
        # every name the user wrote, anywhere: a generated gate name never captures one of them
        reserved = {n for n, _ in steps} | {n for _, ast in steps for n in ast_names(ast)}
        staged = []
        for name, ast in steps:
            staged.extend(stage_expression(ast, name, reserved | {n for n, _ in staged}))
        steps = staged
    try:
        g = graphs.build_graph(steps, output, input_order)
    except DeriveError as e:
        raise ProblemError(source, "output" if "output" in str(e) else "[graph]", str(e)) from None

    raw = data.get("values")
    if not isinstance(raw, dict):
        raise ProblemError(source, "[values]", f"expected a table giving a number for each input: "
                           f"{', '.join(g.inputs)}")
    values = {}
    for name in g.inputs:
        if name not in raw:
            raise ProblemError(source, f"[values] {name}", "missing: expected a number for this input")
        values[name] = number(raw[name], source, f"[values] {name}")
    for name in raw:
        if name not in values:
            steps_names = [n.name for n in g.steps]
            what = "is a step, not an input" if name in steps_names else "is not used by the graph"
            raise ProblemError(source, f"[values] {name}", f"{what}; expected only the inputs "
                               f"{', '.join(g.inputs)}")
    return ScalarProblem(title, source, tuple(steps), output, values, description)
