"""`verify(problem_or_solution, wrt=..., answer=...) -> Verdict`: a hand derivation checked from Python.

The same check as `derive verify FILE --wrt NAME --answer TEXT` (grading.verify): the answer is read
as data (plain math or LaTeX), compared with the derivation at many random points, and a wrong one
is diagnosed with a counterexample. Errors are the CLI's (VerifyError for an unreadable answer or
an unknown NAME). A Verdict shows itself in Jupyter.
"""
from __future__ import annotations

import re
from typing import Any

import sympy as sp

from .. import i18n
from ..errors import DeriveError


def _tex_number(x: Any) -> str:
    from ..render.printer import number
    if x is None:
        from ..i18n import _
        return r"\text{" + _("undefined") + "}"
    if isinstance(x, (list, tuple)):  # a matrix (rows) or a vector of a matrix-layer counterexample
        rows = x if x and isinstance(x[0], (list, tuple)) else [x]
        body = r" \\ ".join(" & ".join(number(v, 6) for v in row) for row in rows)
        return r"\begin{bmatrix}" + body + r"\end{bmatrix}"
    return number(x, 10)


def _code_span(text: str) -> str:
    """`text` as a Markdown code span shown literally: a fence longer than any backtick run in it."""
    flat = " ".join(str(text).split())
    runs = [len(r) for r in re.findall(r"`+", flat)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""  # CommonMark strips one each side
    return f"{fence}{pad}{flat}{pad}{fence}"


class Verdict:
    """Whether an answer is the gradient asked for, and if not, what is wrong with it.

    correct         True or False
    diagnosis       the mistakes named in the problem's terms (a sign, a missing factor, ...)
    counterexample  a dict: the point ("point"), the expected value and what the answer gives
                    ("expected", "got"), the index binding for index forms; None when correct
    read_as         how the answer was read (plain text), to spot a misread answer
    label, wrt, method, raw (grading's record) and to_json() (what `derive verify --json` prints)
    """

    def __init__(self, raw: Any, answer: str, lang: str = "en"):
        self.raw = raw
        self.answer = answer
        self.lang = lang  # the language its texts were made in; its display speaks it too

    correct = property(lambda self: bool(self.raw.correct), doc="True when the answer is right.")
    diagnosis = property(lambda self: list(self.raw.diagnosis), doc="What is wrong, one text per mistake.")
    counterexample = property(lambda self: self.raw.counterexample, doc="A point where the answer fails.")
    label = property(lambda self: self.raw.label, doc="The gradient asked for, e.g. ∂L/∂w_kj.")
    wrt = property(lambda self: self.raw.wrt)
    method = property(lambda self: self.raw.method, doc="How equivalence was decided.")

    @property
    def read_as(self) -> str:
        """The answer as derive read it, in plain text."""
        from ..grading.answers import text
        raw = self.raw
        return (getattr(raw, "read_as", "") or getattr(raw, "answer_text", "")
                or text(raw.answer))

    def to_json(self) -> dict:
        """What `derive verify ... --json` prints."""
        return self.raw.to_json()

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        verdict = "correct" if self.correct else "wrong"
        return f"<derive.Verdict {verdict}: {self.answer!r} for {self.label}>"

    def view(self) -> dict:
        """What templates/verdict.md prints (LaTeX pieces already typeset by the printer)."""
        from ..i18n import _
        from ..render.printer import latex, name
        from ..render.tex import Safe
        raw, cx = self.raw, self.raw.counterexample
        answer_tex = getattr(raw, "read_as_tex", "") or getattr(raw, "answer_tex", "") or latex(raw.answer)
        instance = ""
        if cx and cx.get("instance"):
            bindings = ", ".join(f"{k} = {v}" for k, v in cx["instance"].items())
            instance = " " + _("(for {bindings})").format(bindings=bindings)
        point = None
        if cx and cx.get("point") is not None:
            point = [(k, Safe(_tex_number(v))) for k, v in cx["point"].items()]
        where = Safe(", ".join(f"${name(str(k))} = {value}$" for k, value in point or ()))
        return {
            "correct": raw.correct, "label": sp.Symbol(raw.label, real=True),
            "answer_code": Safe(_code_span(self.answer)), "read_tex": Safe(answer_tex),
            "diagnosis": list(raw.diagnosis), "point": point, "where": where, "instance": instance,
            "own_point": bool(cx and cx.get("own_point")),
            "expected": Safe(_tex_number(cx.get("expected"))) if cx else Safe(""),
            "got": Safe(_tex_number(cx.get("got"))) if cx else Safe(""),
            "method": raw.method,
        }

    def _repr_markdown_(self) -> str:
        from ..i18n import language
        from ..render.tex import render
        with language(self.lang):
            return render("verdict.md", kind="md", v=self.view())

    def _repr_html_(self) -> str:
        from .display import to_html
        return to_html(self._repr_markdown_())


def verify(problem: Any, wrt: str, answer: str, *, seed: int = 0, delta_sign: int | None = None,
           lang: str | None = None) -> Verdict:
    """Check a hand-derived gradient ∂output/∂wrt of `problem` (a Problem, a Solution, or a
    problem file or built-in name).

        derive.verify(p, wrt="w_kj", answer="-(t_k-o_k) o_k(1-o_k) h_j")

    `wrt` is what `derive verify --wrt` takes: an input or gate (x, sigy), a generic index form
    (w_kj, delta_j, w^l_jk), one element (W2[1,2]) or, for matrix layers, a whole matrix (W).
    `answer` is plain math or LaTeX. `delta_sign` (+1: δ = ∂L/∂net, −1: Mitchell's δ = −∂E/∂net)
    overrides the problem's [network] delta, like `--delta-sign`. `lang` ("en", "ko") is the language
    of the diagnoses and the display, like `--lang` (default: the language of an enclosing
    `derive.i18n.language(...)` block, else the problem file's). Raises VerifyError (a DeriveError)
    for an answer that cannot be read or a `wrt` the problem does not have, with the CLI's message.
    """
    from ..grading.verify import verify as _verify
    from .problem import Problem, load
    from .solution import Solution, check_lang
    if isinstance(problem, str):
        problem = load(problem)
    if isinstance(problem, Problem):
        solution = problem.solve()
    elif isinstance(problem, Solution):
        solution = problem
    else:
        raise DeriveError(f"verify expects a Problem or a Solution (from derive.load, derive.circuit, "
                          f"...) or a problem file, got {type(problem).__name__}")
    for key, value in (("wrt", wrt), ("answer", answer)):
        if not isinstance(value, str):
            raise DeriveError(f"verify: {key} must be a string, got {type(value).__name__}")
    if delta_sign not in (None, 1, -1):
        raise DeriveError(f"verify: delta_sign must be 1 or -1, got {delta_sign!r}")
    lang = check_lang(lang) or i18n.chosen() or solution.raw.problem.lang
    with i18n.language(lang):
        return Verdict(_verify(solution.raw, wrt, answer, seed=seed, delta_sign=delta_sign), answer, lang)
