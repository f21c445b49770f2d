"""A solved problem from Python: Solution (gradients, values, steps, checks, report) and the
Steps and Checks lists it hands out. They wrap the pipeline's records without copying them.

Gradients and values have the keys and shapes of `derive check --json`: floats for a scalar
circuit's inputs; for networks and matrix layers one numpy array per parameter, shaped like its
values (W1 as rows, b1 as a vector).
"""
from __future__ import annotations

import dataclasses
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
        self._records = solution.raw.derivation.steps  # made when read (engine.steps.Records)

    def __getitem__(self, i: Any) -> Any:
        return self._records[i]

    def __len__(self) -> int:
        return len(self._records)

    def of(self, node: str):
        """The Gradient record of `node` (KeyError naming the nodes that have one)."""
        d = self._solution.raw.derivation
        if not d.has(node):
            raise KeyError(f"{node!r} has no gradient step; nodes with one: "
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
    def gradients(self) -> dict[str, Any]:
        """∂output/∂ each input (circuits, floats) or each parameter (networks, numpy arrays)."""
        extra = self.raw.extra
        if extra is None:
            d = self.raw.derivation
            return {n: d.gradient(n).value for n in d.graph.inputs if d.has(n)}
        return {k: _array(v) for k, v in extra.gradients.items()}

    @property
    def values(self) -> dict[str, float]:
        """The forward value of every node (inputs, gates, the output) by name."""
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

    def gradient(self, wrt: str) -> float:
        """∂output/∂wrt for any node of the graph by name (an input, a gate, w^o_12, net^h_1)."""
        d = self.raw.derivation
        if not d.has(wrt):
            if wrt in d.values:
                return 0.0  # a node the output does not depend on
            raise KeyError(f"{wrt!r} is not a node of the graph; nodes: "
                           + ", ".join(list(d.values)[:40]))
        return d.gradient(wrt).value

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
        passed (the report is written either way, failures flagged). `lang`: "en" or "ko" as
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
    out = Path(path)
    raws = [s.raw for s in solutions]
    lang = problems.language([r.problem for r in raws], lang or i18n.chosen())
    raws = [dataclasses.replace(r, problem=problems.localized(r.problem, lang)) for r in raws]
    with i18n.language(lang):
        return write.write_report(raws, out, write.format_of(out, format), echo or (lambda line: None), detail)
