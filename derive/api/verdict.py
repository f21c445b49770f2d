"""`verify(problem_or_solution, wrt=..., answer=...) -> Verdict`: a hand derivation checked from Python.

The same check as `derive verify FILE --wrt NAME --answer TEXT` (grading.verify): the answer is read
as data (plain math or LaTeX), compared with the derivation at many random points, and a wrong one
is diagnosed with a counterexample. Errors are the CLI's (VerifyError for an unreadable answer or
an unknown NAME). A Verdict shows itself in Jupyter.
"""
from __future__ import annotations

import os
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
        from ..grading.explain import as_json
        return as_json(self.raw)

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


def verify(problem: Any, wrt: str, answer: str, *, seed: int = 0, delta: str | None = None,
           lang: str | None = None, delta_sign: int | None = None) -> Verdict:
    """Check a hand-derived gradient ∂output/∂wrt of `problem` (a Problem, a Solution, or a
    problem file or built-in name).

        derive.verify(p, wrt="w_kj", answer="-(t_k-o_k) o_k(1-o_k) h_j")

    `wrt` is what `derive verify --wrt` takes: an input or gate (x, sigy), a generic index form
    (w_kj, delta_j, w^l_jk), one element (W2[1,2]) or, for matrix layers, a whole matrix (W).
    `answer` is plain math or LaTeX. `delta` ("dL/dnet": δ = ∂L/∂net, "-dL/dnet": Mitchell's
    δ = −∂E/∂net) overrides the problem's [network] delta, as network(delta=...) and `--delta-sign`
    say it (the older delta_sign=1 / -1 still works, with a DeprecationWarning). `lang` ("en", "ko") is the language
    of the diagnoses and the display, like `--lang` (default: the language of an enclosing
    `derive.i18n.language(...)` block, else the problem file's). Raises VerifyError (a DeriveError)
    for an answer that cannot be read or a `wrt` the problem does not have, with the CLI's message.
    """
    from ..grading.verify import verify as _verify
    from .problem import Problem, load
    from .solution import Solution, check_lang
    if isinstance(problem, (str, os.PathLike)):
        problem = load(problem)
    for key, value in (("wrt", wrt), ("answer", answer)):
        if not isinstance(value, str):
            raise DeriveError(f"verify: {key}= must be a string, got {type(value).__name__}")
    if isinstance(problem, Problem):
        raw = _small_solution(problem, (wrt, answer))
    elif isinstance(problem, Solution):
        raw = problem.raw
    else:
        raise DeriveError(f"verify: problem= expected a Problem or a Solution (from derive.load, derive.circuit, "
                          f"...) or a problem file, got {type(problem).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DeriveError(f"verify: seed= expected a whole number, got {seed!r}")
    if delta is not None and delta_sign is not None:
        raise DeriveError("verify: give delta= or the older delta_sign=, not both")
    sign = delta_sign_of(delta if delta is not None else delta_sign, "verify")
    lang = check_lang(lang) or i18n.chosen() or raw.problem.lang
    with i18n.language(lang):
        return Verdict(_python_words(_verify, raw, wrt, answer, seed=seed, delta_sign=sign), answer, lang)


def _small_solution(problem: Any, texts: tuple) -> Any:
    """The pipeline solution an answer about `problem` is checked on: its own, or for a big network
    the solved smaller copy of the same form (grading.targets.reduced), without solving the big one."""
    from ..grading.targets import reduced
    copy = reduced(problem.data, texts)
    if copy is problem.data:
        return problem.solve().raw
    from ..pipeline import solve
    solved = problem._display.setdefault("verify copies", {})  # one solved copy per size, like solve()
    key = (copy.sizes, copy.batch)
    if key not in solved:
        try:
            solved[key] = solve(copy)
        except DeriveError as e:
            e.args = (f"{problem.source}: {e}",)
            raise
    return solved[key]


SIGNS = {"dL/dnet": 1, "-dL/dnet": -1}  # as [network] delta and `--delta-sign`


def delta_sign_of(value: Any, where: str) -> int | None:
    """What δ means, said one way everywhere: "dL/dnet" (δ = ∂L/∂net) or "-dL/dnet" (Mitchell's
    δ = −∂E/∂net), as [network] delta; the older 1 / -1 still work, with a DeprecationWarning."""
    if value is None or (isinstance(value, str) and value in SIGNS):
        return None if value is None else SIGNS[value]
    if value in (1, -1) and not isinstance(value, bool):
        import warnings
        said = "dL/dnet" if value == 1 else "-dL/dnet"
        warnings.warn(f"{where}: delta_sign={value} is deprecated; write delta=\"{said}\" as network(delta=...) "
                      "does", DeprecationWarning, stacklevel=3)
        return int(value)
    raise DeriveError(f"{where}: delta= expected \"dL/dnet\" (δ = ∂L/∂net) or \"-dL/dnet\" (δ = −∂L/∂net), "
                      f"got {value!r}")


def _python_words(call: Any, *args: Any, **kwargs: Any) -> Any:
    """`call`, with the command line's option names in its error messages said as Python's
    keywords (--wrt -> wrt=, --delta-sign -> delta=)."""
    try:
        return call(*args, **kwargs)
    except DeriveError as e:
        e.args = tuple(re.sub(r"--(wrt|answer|delta-sign)\b(?: (?=['\"]))?", lambda m: {"delta-sign": "delta"}.get(
            m.group(1), m.group(1)) + "=", a) if isinstance(a, str) else a for a in e.args)
        raise
