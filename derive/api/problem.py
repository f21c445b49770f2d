"""Problems from Python: `circuit`, `graph`, `network`, `layers`, `load`, `loads` -> Problem.

Every constructor builds the same data a problem file holds (the dict `tomllib` would give) and
hands it to the loaders in derive.problems, so validation and error messages are the ones a file
gets (a ProblemError naming the key and what was expected). Nothing is evaluated: expressions are
strings read by derive's own parser, numbers are numbers (numpy arrays and scalars are accepted
and turned into plain lists and floats first).
"""
from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import problems as _problems
from ..errors import ProblemError

if TYPE_CHECKING:
    from .solution import Solution

__all__ = ["Problem", "builtins", "circuit", "graph", "layers", "load", "loads", "network"]


MAX_DEPTH = 8  # lists and tables nested deeper than this are no problem's data (a problem needs 3)


def _plain(value: Any, arg: str = "values", _open: tuple = ()) -> Any:
    """numpy arrays/scalars -> lists/floats, tuples -> lists, Mappings -> dicts; the rest as is
    (the loader says what it expected when the rest is wrong). A list or dict that holds itself,
    or nesting deeper than MAX_DEPTH, is a ProblemError naming the argument `arg`."""
    if hasattr(value, "tolist") and callable(value.tolist) and not isinstance(value, (str, bytes)):
        return _plain(value.tolist(), arg, _open)
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        return float(value)  # Fraction, Decimal, numpy floating
    if isinstance(value, (Mapping, list, tuple)):
        if id(value) in _open:
            raise ProblemError("derive (Python)", arg, "holds itself (a list or dict that contains itself); "
                               "expected plain numbers, lists and tables")
        if len(_open) >= MAX_DEPTH:
            raise ProblemError("derive (Python)", arg, f"lists or tables nested more than {MAX_DEPTH} levels deep; "
                               "a problem needs 2 or 3")
        inner = (*_open, id(value))
        if isinstance(value, Mapping):
            return {str(k): _plain(v, arg, inner) for k, v in value.items()}
        return [_plain(v, arg, inner) for v in value]
    return value


def _header(data: dict, title: str | None, description: str | None) -> dict:
    if title is not None:
        data["title"] = title
    if description is not None:
        data["description"] = description
    return data


class Problem:
    """A validated problem: a scalar circuit, a network or matrix layers. `solve()` derives it.

    Attributes: `kind` ("scalar", "network" or "layers"), `title`, `description`, `source` (the
    name used in error messages), `data` (the validated record of derive.problems). In Jupyter a
    problem shows its definition and a figure (the computational graph with its forward values,
    or for a network the layered diagram with its weights).
    """

    def __init__(self, data: Any):
        self.data = data
        self._solution: Solution | None = None
        self._display: dict = {}

    @property
    def kind(self) -> str:
        """"scalar", "network" or "layers"."""
        return self.data.kind

    @property
    def title(self) -> str:
        return self.data.title

    @property
    def description(self) -> str:
        return self.data.description

    @property
    def source(self) -> str:
        """Where the problem came from: a file, a built-in name, or the constructor that built it."""
        return self.data.source

    def solve(self) -> Solution:
        """Derive every gradient and prove it numerically (cached: the problem is immutable).

        Raises DeriveError (with the problem's source) when the problem cannot be derived.
        """
        if self._solution is None:
            from ..errors import DeriveError
            from ..pipeline import solve as _solve
            from .solution import Solution
            try:
                solved = _solve(self.data)
            except DeriveError as e:  # the CLI's message: the problem's source, then what failed
                e.args = (f"{self.source}: {e}",)
                raise
            self._solution = Solution(self, solved)
        return self._solution

    def __repr__(self) -> str:
        return f"<derive.Problem {self.kind} {self.title!r} from {self.source}>"

    def _repr_markdown_(self) -> str:
        from . import display
        return display.problem_markdown(self)

    def _repr_html_(self) -> str:
        from . import display
        return display.problem_html(self)


def _validated(data: dict, source: str) -> Problem:
    return Problem(_problems.from_data(data, source))


def circuit(text: str, /, *, values: Mapping[str, Any] | None = None, output: str | None = None,
            stage: bool | None = None, title: str | None = None, description: str | None = None,
            **inputs: Any) -> Problem:
    """A scalar computational graph from `name = expression` steps, with values for its inputs.

        derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4)
        derive.circuit("q = x + y; f = q * z", values={"x": -2, "y": 5, "z": -4})

    `text` holds one step per line (or steps separated by `;`); a lone expression is the step
    `f = ...`. As in a problem file's [graph] table, the last step is the output unless `output`
    names another, and a one-expression graph is staged into named gates (`stage=False` keeps
    it as one node, `stage=True` stages every step). Input values come as keywords or in
    `values` (for inputs whose names are also parameter names, such as `title`).
    """
    if not isinstance(text, str):
        raise ProblemError("derive.circuit()", "text", f'expected a string such as "f = x * y", got '
                           f"{type(text).__name__}")
    steps: dict[str, str] = {}
    parts = [p.strip() for line in text.splitlines() for p in line.split(";")]
    parts = [p for p in parts if p]
    if not parts:
        raise ProblemError("derive.circuit()", "text", 'expected steps such as "f = (x + y) * z"')
    for part in parts:
        name, eq, expr = part.partition("=")
        if not eq:
            if len(parts) > 1:
                raise ProblemError("derive.circuit()", part, 'expected "name = expression" on each line')
            name, expr = "f", part
        name = name.strip()
        if name in steps:
            raise ProblemError("derive.circuit()", name, "defined twice; each step needs its own name")
        steps[name] = expr.strip()
    if values is not None and not isinstance(values, Mapping):
        raise ProblemError("derive.circuit()", "values", f"expected a dict of input values such as "
                           f"{{'x': 2}}, got {type(values).__name__}")
    return graph(steps, values={**(values or {}), **inputs}, output=output, stage=stage,
                 title=title if title is not None else "; ".join(parts), description=description,
                 source="derive.circuit()")


def graph(steps: Mapping[str, str], /, *, values: Mapping[str, Any], output: str | None = None,
          stage: bool | None = None, title: str | None = None, description: str | None = None,
          source: str = "derive.graph()") -> Problem:
    """A scalar computational graph from a mapping of step name -> expression (a [graph] table).

        derive.graph({"q": "x + y", "f": "q * z"}, values={"x": -2, "y": 5, "z": -4})
    """
    data: dict[str, Any] = {"graph": _plain(steps, "steps"), "values": _plain(values)}
    if output is not None:
        data["output"] = output
    if stage is not None:
        data["stage"] = stage
    return _validated(_header(data, title if title is not None else "Computational graph", description),
                      source)


def network(layers: Sequence[int], /, *, activations: str | Sequence[str] = "sigmoid", loss: str = "mse",
            notation: str = "mitchell", bias: bool = True, delta: str | None = None,
            values: Mapping[str, Any] | None = None, seed: int | None = None,
            title: str | None = None, description: str | None = None) -> Problem:
    """A multilayer perceptron (a [network] table): units per layer, input first.

        derive.network([2, 2, 2], activations="sigmoid", loss="mse", notation="mitchell",
                       values={"x": [0.05, 0.10], "t": [0.01, 0.99], "W1": ..., "b1": ...})

    `values` holds x, t (one sample, or a batch of rows), W1, b1, W2, b2, ... (row j of W1: the
    weights into unit j); numpy arrays are fine. Without values, seeded random values are drawn
    (`seed`). `delta="-dL/dnet"` makes δ Mitchell's −∂E/∂net (the default is ∂L/∂net).
    """
    net: dict[str, Any] = {"layers": _plain(layers, "layers"), "activations": _plain(activations, "activations"),
                           "loss": loss,
                           "notation": notation, "bias": bias}
    if delta is not None:
        net["delta"] = delta
    if seed is not None:
        net["seed"] = _plain(seed)
    data: dict[str, Any] = {"network": net}
    if values is not None:
        data["values"] = _plain(values)
    sizes = "-".join(str(s) for s in net["layers"]) if isinstance(net["layers"], list) else "?"
    return _validated(_header(data, title if title is not None else f"A {sizes} network", description),
                      "derive.network()")


def layers(stack: Sequence[str], /, *, values: Mapping[str, Any], bias: bool = True,
           title: str | None = None, description: str | None = None) -> Problem:
    """Matrix layers over a batch (a [layers] table): Affine Y = X·W + B and/or Softmax-with-Loss.

        derive.layers(["affine"], values={"X": X, "W": W, "B": B, "dY": dY})
        derive.layers(["affine", "softmax_with_loss"], values={"X": X, "W": W, "B": B, "T": T})
    """
    if not isinstance(values, Mapping):
        raise ProblemError("derive.layers()", "values", f"expected a dict of matrices such as {{'X': ..., 'W': ...}}, "
                           f"got {type(values).__name__}")
    data = {"layers": {"stack": _plain(stack, "stack"), "bias": bias}, "values": _plain(values)}
    return _validated(_header(data, title if title is not None else " -> ".join(map(str, stack)),
                              description), "derive.layers()")


def load(path_or_name: str | os.PathLike[str]) -> Problem:
    """A problem from a TOML file (a str or os.PathLike), or a built-in problem by name (see `builtins()`).

    A value of its [values] table may be `file = "weights.npz"`: NumPy arrays by the same names,
    read relative to the problem file (the TOML's own values win)."""
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise ProblemError("derive.load()", "path_or_name", "expected a file path (str or os.PathLike) or a "
                           f"built-in name, got {type(path_or_name).__name__}")
    return Problem(_problems.load(os.fspath(path_or_name)))


def loads(text: str, source: str = "<string>") -> Problem:
    """A problem from TOML text; `source` names it in error messages."""
    if not isinstance(source, str):
        raise ProblemError("derive.loads()", "source", "expected a name for messages (a str), got "
                           f"{type(source).__name__}")
    if not isinstance(text, str):
        raise ProblemError(source, "", f"expected TOML text (a str), got {type(text).__name__}")
    return Problem(_problems.loads(text, source))


def builtins() -> list[str]:
    """The names of the built-in problems (every worked example of the seed texts)."""
    return _problems.builtin_names()
