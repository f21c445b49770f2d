"""A solved problem from Python: Solution (gradients, values, steps, checks, report) and the
Steps and Checks lists it hands out. They wrap the pipeline's records without copying them.

Gradients and values have the keys and shapes of `derive check --json`: floats for a scalar
circuit's inputs; for networks and matrix layers one numpy array per parameter, shaped like its
values (W1 as rows, b1 as a vector).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import i18n
from ..errors import DeriveError

DETAILS = ("concise", "full")  # as `derive report --detail`


class Checks(Sequence):
    """The numeric proof: one record per derived gradient (wrt, kind, analytic, numeric,
    rel_error, verdict "ok" / "kink" / "suspect" / "wrong", ok). `ok` is True when every check
    passed (and, for networks, every index-form and matrix-form rule was verified)."""

    def __init__(self, solution: Solution):
        self._solution = solution
        self._records = tuple(solution.raw.report.checks)

    def __getitem__(self, i: Any) -> Any:
        return self._records[i]

    def __len__(self) -> int:
        return len(self._records)

    @property
    def ok(self) -> bool:
        """True when every gradient agrees with its central difference (and every rule is checked)."""
        raw = self._solution.raw
        if not raw.report.ok:
            return False
        extra = raw.extra
        return extra is None or (all(r.checked for r in extra.rules)
                                 and all(v.checked for v in extra.vector_rules))

    @property
    def failures(self) -> tuple:
        """The checks that failed (suspect or wrong)."""
        return tuple(c for c in self._records if not c.ok)

    @property
    def max_rel_error(self) -> float:
        return max((c.rel_error for c in self._records), default=0.0)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        bad = len(self.failures)
        return (f"<derive.Checks {len(self)} checks, " + ("all ok" if self.ok else f"{bad} FAILED")
                + f", max rel. error {self.max_rel_error:.1e}>")

    def _repr_markdown_(self) -> str:
        from . import display
        return display.checks_markdown(self._solution)

    def _repr_html_(self) -> str:
        from . import display
        return display.to_html(display.checks_markdown(self._solution))


class Steps(Sequence):
    """The backward pass as the engine recorded it: one engine.steps.Gradient per node, output
    first (node, symbol, contributions upstream × local, value). For networks `chains` holds the
    per-parameter chains and `rules` the general rules in index form. Shows itself typeset."""

    def __init__(self, solution: Solution):
        self._solution = solution
        d = solution.raw.derivation  # None for a layer stack: its steps are its layers' rules
        self._records = d.steps if d is not None else tuple(solution.raw.extra.vector_rules)

    def __getitem__(self, i: Any) -> Any:
        return self._records[i]

    def __len__(self) -> int:
        return len(self._records)

    def of(self, node: str):
        """The Gradient record of `node` (KeyError naming the nodes that have one)."""
        d = self._solution.raw.derivation
        if not isinstance(node, str) or not d.has(node):
            raise UnknownGradient(f"steps.of: {node!r} has no gradient step; nodes with one: "
                                  + ", ".join(g.node for g in self._records[:40]))
        return d.gradient(node)

    @property
    def chains(self) -> tuple:
        """Networks: one ParamChain per parameter element (param, index, node, chain of factors)."""
        extra = self._solution.raw.extra
        return tuple(extra.chains) if extra is not None else ()

    @property
    def rules(self) -> tuple:
        """Networks: the general rules in index form (IndexRule: target, lhs, expr, checked)."""
        extra = self._solution.raw.extra
        return tuple(extra.rules) if extra is not None else ()

    def __repr__(self) -> str:
        return f"<derive.Steps {len(self)} backward steps of {self._solution.problem.title!r}>"

    def _repr_markdown_(self) -> str:
        from . import display
        return display.steps_markdown(self._solution)

    def _repr_html_(self) -> str:
        from . import display
        return display.to_html(display.steps_markdown(self._solution))

    def _repr_latex_(self) -> str | None:
        """A circuit's backward pass as one display-math block (nbconvert's LaTeX/PDF export
        takes this); None for networks, whose steps are several blocks of text and math."""
        if self._solution.raw.extra is not None:
            return None
        from . import display
        return display.steps_latex(self._solution)


def _array(values) -> np.ndarray:
    return np.array(values, dtype=float)


def _element(name: str) -> tuple[str, tuple[int, ...]] | None:
    """'W2[1, 2]' -> ('W2', (1, 2)); None for anything else."""
    import re
    m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*\[\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\]\s*", name)
    if not m:
        return None
    return m.group(1), tuple(int(g) for g in m.groups()[1:] if g is not None)


class UnknownGradient(DeriveError, KeyError):
    """A name a Solution has no gradient for (a DeriveError, and a KeyError as a dict's lookup is)."""

    __str__ = Exception.__str__


class Gradients(dict):
    """`Solution.gradients`: a dict whose unknown keys raise UnknownGradient with the nearest names."""

    def __init__(self, values: dict, solution: Any):
        super().__init__(values)
        self._solution = solution

    def __missing__(self, key: Any) -> Any:
        raise self.unknown(key)

    def unknown(self, key: Any) -> UnknownGradient:
        import difflib
        names = list(self)
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        if not isinstance(key, str):
            return UnknownGradient(f"gradients: expected a name (a str) such as {names[0]!r}, got "
                                   f"{type(key).__name__}")
        element = _element(key)
        if element and element[0] in self and np.ndim(self[element[0]]) >= 1:
            name, index = element
            shape = np.shape(self[name])
            first = f"{name}[{', '.join('1' for _ in shape)}]"
            if any(i < 1 for i in index):
                why = (f"indices start at 1 (as printed): the first element is {first}; or index the "
                       f"numpy array from 0, gradients[{name!r}][{', '.join('0' for _ in shape)}]")
            else:
                last = f"{name}[{', '.join(map(str, shape))}]"
                why = f"{name} is {'×'.join(map(str, shape))}, indices from 1 ({first} to {last})"
            return UnknownGradient(f"gradient: {key!r} is not an element of {name}: {why}")
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        arrays = [k for k in names if np.ndim(self[k]) >= 1]
        element = f", an element such as {arrays[-1]}[1,1] (1-based)" if arrays else ""
        return UnknownGradient(f"gradient: {key!r} has no gradient in this problem{hint}; names: {shown}"
                               f"{element}, or a node of the graph")

class Solution:
    """A derived and numerically proven problem.

    gradients  {input: float} for a circuit; {parameter: numpy array shaped like its values} for a
               network or matrix layers (the keys and shapes of `derive check --json`)
    values     the forward value of every node of the graph {name: float}
    output     the output's value (a network's loss); `output_name` its name
    steps      the backward pass (Steps); checks: the numeric proof (Checks, `.ok`)
    report(path)  writes what `derive report` writes; latex() and markdown() return the text
    In Jupyter it shows the report's section: definition, figure, backward pass, checks.
    """

    def __init__(self, problem: Any, raw: Any, detail: str = "concise"):
        if detail not in DETAILS:
            raise DeriveError(f"detail: expected one of {', '.join(DETAILS)}, got {detail!r}")
        self.problem = problem
        self.raw = raw  # the pipeline's Solution(problem, derivation, report, extra, inputs)
        self.detail = detail  # how much the display, latex(), markdown() and report() show
        self._display: dict = {}

    def with_detail(self, detail: str) -> Solution:
        """The same solution shown and reported at `detail`, as `derive report --detail`:
        "concise" (the default: each general rule with one worked instance, failed checks
        listed) or "full" (every backward step, per-weight chain, rule instance and check)."""
        return Solution(self.problem, self.raw, detail)

    @property
    def gradients(self) -> Gradients:
        """∂output/∂ each input (circuits, floats) or each parameter (networks, numpy arrays); an
        unknown key is a DeriveError (and a KeyError) naming the nearest ones."""
        extra = self.raw.extra
        if extra is None:
            d = self.raw.derivation
            return Gradients({n: d.gradient(n).value for n in d.graph.inputs if d.has(n)}, self)
        return Gradients({k: _array(v) for k, v in extra.gradients.items()}, self)

    @property
    def values(self) -> dict[str, float]:
        """The forward value of every node (inputs, gates, the output) by name; a layer stack:
        each layer's output Y1, Y2, ... as a numpy array."""
        if self.raw.derivation is None:
            return {f"Y{ps.position}": ps.y for ps in self.raw.extra.passes[:-1]}
        return dict(self.raw.derivation.values)

    @property
    def parameters(self) -> dict[str, Any]:
        """Networks and matrix layers: the given arrays (x, t, W1, b1, ... or X, W, B, ...) as numpy
        arrays (x and t as rows, one per sample); circuits: the input values."""
        p = self.raw.problem
        if self.raw.extra is None:
            return {k: float(v) for k, v in p.values.items()}
        return {k: _array(v) for k, v in p.arrays.items()}

    @property
    def output(self) -> float:
        """The output's value: f of a circuit, the loss of a network."""
        extra = self.raw.extra
        d = self.raw.derivation
        return float(extra.loss) if extra is not None else float(d.values[d.graph.output])

    @property
    def output_name(self) -> str:
        extra = self.raw.extra
        return extra.loss_name if extra is not None else self.raw.derivation.graph.output

    @property
    def steps(self) -> Steps:
        """The backward pass, step by step (shows itself typeset in Jupyter)."""
        return Steps(self)

    @property
    def checks(self) -> Checks:
        """The numeric proof of every gradient; `checks.ok` is True when all passed."""
        return Checks(self)

    def gradient(self, wrt: str) -> Any:
        """∂output/∂wrt by name: a key of `gradients` (x, or a whole parameter W2 as a numpy array),
        one element W2[1,2] (1-based, as printed), or any node of the graph (a gate, w^o_12, net^h_1).
        An unknown name is a DeriveError (and a KeyError) with the nearest names."""
        if not isinstance(wrt, str):
            raise DeriveError(f"gradient: wrt= expected a name (a str) such as {self._example()}, got "
                              f"{type(wrt).__name__}")
        grads = self.gradients
        if wrt in grads:
            return grads[wrt]
        element = _element(wrt)
        if element and element[0] in grads and np.ndim(grads[element[0]]) >= 1:
            name, index = element
            array = grads[name]
            if len(index) == array.ndim and all(1 <= i <= n for i, n in zip(index, array.shape)):
                return float(array[tuple(i - 1 for i in index)])
            raise grads.unknown(wrt)
        d = self.raw.derivation
        if d is None:  # a layer stack: its arrays and their elements only
            raise grads.unknown(wrt)
        if d.has(wrt):
            return d.gradient(wrt).value
        if wrt in d.values:
            return 0.0  # a node the output does not depend on
        raise grads.unknown(wrt)

    def _example(self) -> str:
        return repr(next(iter(self.gradients), "x"))

    def latex(self, document: bool = False) -> str:
        """The report's LaTeX for this problem: its section, or with `document=True` the complete
        .tex that `derive report FILE --format tex` writes."""
        from . import display
        return display.solution_latex(self, document)

    def markdown(self) -> str:
        """The Markdown report (`$...$` math) that `derive report FILE --format md` writes, without
        its figure (`report("x.md")` writes that as an SVG file next to the .md)."""
        from . import display
        return display.solution_markdown_document(self)

    def report(self, path: str | Path, format: str | None = None,
               echo: Callable[[str], None] | None = None, lang: str | None = None) -> bool:
        """Write the report to `path` exactly as `derive report FILE -o PATH` does: .pdf (with the
        .tex next to it), .tex or .md (with the figure as an SVG file next to it), chosen by
        `format` or the path's suffix, at this solution's detail (`with_detail("full")` for
        `--detail full`). `echo` gets the progress lines. Returns True when every numeric check
        passed and every figure was made (the report is written either way, failures flagged; a
        Markdown report whose SVG figures could not be made, without LaTeX, links none of them and
        says so in a DisplayWarning). An unknown suffix (x.html) is a DeriveError. `lang`: "en" or "ko" as
        `--lang` (default: the problem file's `lang`, else English). Raises DeriveError
        (LatexError when LaTeX fails; earlier outputs stay as they were)."""
        return write_report([self], path, format, echo, self.detail, lang)

    def __repr__(self) -> str:
        state = "all checks ok" if self.checks.ok else f"{len(self.checks.failures)} checks FAILED"
        return (f"<derive.Solution {self.problem.title!r}: {self.output_name} = {self.output:.6g}, "
                f"{len(self.gradients)} gradients, {state}>")

    def _repr_markdown_(self) -> str:
        from . import display
        return display.solution_markdown(self)

    def _repr_html_(self) -> str:
        from . import display
        return display.solution_html(self)


def check_lang(lang: str | None) -> str | None:
    """`lang` (None, or one of i18n.LANGUAGES) of an API call; anything else is a DeriveError."""
    if lang is not None and lang not in i18n.LANGUAGES:
        raise DeriveError(f"lang: expected one of {', '.join(i18n.LANGUAGES)}, got {lang!r}")
    return lang


def write_report(solutions: Sequence[Solution], path: str | Path, format: str | None = None,
                 echo: Callable[[str], None] | None = None, detail: str = "concise",
                 lang: str | None = None) -> bool:
    """Write the report of `solutions` to `path` through render.write.write_report, the function
    behind `derive report`; True when every check passed. `lang` as `--lang` (None: the problems'
    own language, else English)."""
    from .. import problems
    from ..render import write
    check_lang(lang)
    if format is not None and format not in write.FORMATS:
        raise DeriveError(f"format: expected one of {', '.join(write.FORMATS)}, got {format!r}")
    if detail not in DETAILS:
        raise DeriveError(f"detail: expected one of {', '.join(DETAILS)}, got {detail!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise DeriveError(f"report: path= expected a file name (str or os.PathLike), got {type(path).__name__}")
    if echo is not None and not callable(echo):
        raise DeriveError(f"report: echo= expected a function taking one line (or None), got {type(echo).__name__}")
    out = Path(path)
    suffix = out.suffix.lower().lstrip(".")
    if format is None and suffix and suffix not in write.FORMATS:
        raise DeriveError(f"report: cannot tell the format from the suffix .{suffix} of {str(out)!r}: expected "
                          f"{', '.join('.' + f for f in write.FORMATS)}, or format= one of {', '.join(write.FORMATS)}")
    missing: list[str] = []

    def heard(line: str) -> None:
        if "figure" in line and line.startswith("derive: warning:"):
            missing.append(line.removeprefix("derive: warning: "))
        if echo is not None:
            echo(line)
    raws = [s.raw for s in solutions]
    lang = problems.language([r.problem for r in raws], lang or i18n.chosen())
    raws = [dataclasses.replace(r, problem=problems.localized(r.problem, lang)) for r in raws]
    with i18n.language(lang):
        ok = write.write_report(raws, out, write.format_of(out, format), heard, detail)
    if missing:
        import warnings

        from .display import DisplayWarning
        warnings.warn("; ".join(missing), DisplayWarning, stacklevel=3)
    return ok and not missing
