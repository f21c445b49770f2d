"""Problem files (TOML) and built-in problems: loading and validation.

Every error names the file, the key and what was expected. Network and matrix-layer problems
are loaded by `networks.py`; this module dispatches on the file's top-level table.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path

from . import graph as graphs
from .errors import DeriveError, ParseError, ProblemError
from .ops import FUNCTIONS
from .parse import names as ast_names
from .parse import parse

NAME = re.compile(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9\u0370-\u03ff]*(?:_[A-Za-z0-9\u0370-\u03ff]+)*")
MAX_FILE_BYTES = 1_000_000


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

    def graph(self):
        return graphs.build_graph(list(self.steps), self.output, list(self.values))

    @property
    def inputs(self) -> dict:
        return dict(self.values)


def builtin_names() -> list[str]:
    folder = resources.files("derive.examples")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve(path_or_name: str) -> tuple[str, str]:
    """(display name, TOML text) for a file path or a built-in problem's name."""
    path = Path(path_or_name)
    if path.is_file():
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProblemError(str(path), "", f"file is larger than {MAX_FILE_BYTES} bytes")
        try:
            return str(path), path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ProblemError(str(path), "", "expected a UTF-8 text file") from None
    stem = path_or_name[:-5] if path_or_name.endswith(".toml") else path_or_name
    if "/" not in stem and stem in builtin_names():
        text = resources.files("derive.examples").joinpath(stem + ".toml").read_text(encoding="utf-8")
        return f"{stem} (built-in)", text
    raise ProblemError(path_or_name, "", "no such file, and not a built-in problem "
                       f"(built-ins: {', '.join(builtin_names())})")


def load(path_or_name: str):
    source, text = resolve(path_or_name)
    return loads(text, source)


def load_builtins() -> list:
    return [load(n) for n in builtin_names()]


def loads(text: str, source: str = "<string>"):
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProblemError(source, "", f"malformed TOML: {e}") from None
    kinds = [k for k in ("graph", "network", "layers") if k in data]
    if len(kinds) != 1:
        raise ProblemError(source, "", "expected exactly one of the tables [graph] (a scalar circuit), "
                           "[network] (a multilayer perceptron) or [layers] (matrix layers)")
    if kinds[0] == "graph":
        return load_scalar(data, source)
    from . import networks  # the network kinds live with their builders
    return networks.load(data, source, kinds[0])


def text_key(data: dict, key: str, source: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ProblemError(source, key, f"expected a string, got {type(value).__name__}")
    return value


def header(data: dict, source: str, table: str, extra=()) -> tuple[str, str]:
    """Refuse unknown top-level keys; return (title, description). Shared by every problem kind."""
    known = {"title", "description", table, "values", *extra}
    for key in data:
        if key not in known:
            raise ProblemError(source, key, f"unknown key; expected one of {', '.join(sorted(known))}")
    title = text_key(data, "title", source, Path(source.split(" ")[0]).stem)
    return title, text_key(data, "description", source)


def number(value, source: str, key: str) -> Fraction:
    """A finite TOML number as an exact Fraction (0.1 -> 1/10)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProblemError(source, key, f"expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ProblemError(source, key, f"expected a finite number, got {value!r}")
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def check_name(name: str, source: str, key: str) -> None:
    if not NAME.fullmatch(name) or name in FUNCTIONS:
        raise ProblemError(source, key, "expected a name made of letters, digits and _subscripts, "
                           f"starting with a letter and not a function name; got {name!r}")


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
        reserved = {n for n, _ in steps}
        staged = []
        for name, ast in steps:
            staged.extend(graphs.stage(ast, name, reserved | {n for n, _ in staged}))
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
