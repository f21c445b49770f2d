"""What the practice page asks of derive, run inside a worker process (serve.pool): plain data in and out.

    exercises()                          every exercise: id, title, kind, the quantities it may ask (wrt)
    page(eid, student, lang, wrt)        the statement of one student's variant: LaTeX pieces, hints, SVG
    verify(eid, wrt, answer, lang, student)   exactly what `derive verify FILE --wrt --answer --json` prints
    read(eid, wrt, answer, lang, student)     the read-as preview (plain and TeX), or why it cannot be read

A student's variant is the worksheet engine's (sheets.variants.draw_variant) with the seed made from
the name or id they typed, so the same name always gets the same numbers; no name: the problem as its
file gives it. Matrix-layer problems have no variants (the worksheet engine has none): their values
are the file's. Everything is cached per process, so a class's answers share one solved variant.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import random
import sys
from pathlib import Path

from .. import i18n
from .. import problems as problem_files
from ..api.problem import Problem, builtins, load
from ..api.solution import Solution
from ..errors import DeriveError

_LEFT_OUT: set[str] = set()  # exercises that could not be set up (said once)
_SOURCES: list[str] = []  # set by setup() in each worker: problem files or built-in names


def setup(sources: list[str]) -> None:
    """Called once in each new worker: which problems the page serves."""
    _SOURCES[:] = list(sources) or builtins()


def _ids() -> dict[str, str]:
    """exercise id -> its source (a built-in name, or a file's stem made unique)."""
    out: dict[str, str] = {}
    for src in _SOURCES:
        base = Path(src).stem if src.endswith(".toml") else src
        eid, n = base, 2
        while eid in out:
            eid, n = f"{base}-{n}", n + 1
        out[eid] = src
    return out


@functools.lru_cache(maxsize=64)
def _problem(eid: str, lang: str) -> Problem:
    src = _ids().get(eid)
    if src is None:
        raise DeriveError(f"no exercise {eid!r}")
    p = load(src)
    return Problem(problem_files.localized(p.data, lang))


def seed_of(student: str) -> int | None:
    """The variant's seed: the same name, the same numbers (None: the file's own values)."""
    student = " ".join(student.split()).casefold()
    return int(hashlib.sha256(student.encode()).hexdigest()[:8], 16) if student else None


@functools.lru_cache(maxsize=256)
def _variant(eid: str, lang: str, student: str):
    """(api Problem, api Solution, worksheet Variant or None) for this student."""
    from ..sheets.variants import draw_variant
    problem = _problem(eid, lang)
    seed = seed_of(student)
    if seed is None or problem.kind == "layers":
        return problem, problem.solve(), None
    v = draw_variant(problem.data, seed, 1)
    drawn = Problem(v.problem)
    solution = Solution(drawn, v.solution)
    drawn._solution = solution
    return drawn, solution, v


def _wrts(problem: Problem, solution: Solution) -> list[str]:
    """The quantities an exercise may ask about: the index-form rules of a network, the gradient
    matrices of matrix layers, the inputs of a circuit that reach its output."""
    raw = solution.raw
    if problem.kind == "layers":
        from ..grading.targets import layout
        return list(layout(raw).grads)
    extra = getattr(raw, "extra", None)
    if extra is not None and getattr(extra, "rules", None):
        return [r.target for r in extra.rules]
    d = raw.derivation
    return [n for n in d.graph.inputs if d.has(n)]


def _exercise(eid: str, lang: str, student: str):
    """The worksheet engine's exercise for this variant (symbolic or rule kind) or None (layers)."""
    from ..sheets.exercises import exercises_for
    _, _, v = _variant(eid, lang, student)
    if v is None:
        return None
    kind = "rule" if v.problem.kind == "network" else "symbolic"
    return exercises_for(v, [kind], 1, random.Random(f"{v.key}:items"))[0]


def exercises(lang: str = "en") -> list[dict]:
    """Every exercise the page can ask; a problem that cannot be solved or asked is left out (its error
    goes to the server's stderr, once per worker); layer stacks are left out quietly."""
    out = []
    for eid in _ids():
        try:
            problem, solution, _ = _variant(eid, lang, "")
            if solution.raw.derivation is None:  # a layer stack: `derive verify` reads its answers, the page
                continue  # does not ask it yet (no worksheet exercise to draw it from)
            out.append({"id": eid, "title": problem.title, "kind": problem.kind, "wrt": _wrts(problem, solution)})
        except Exception as e:  # one bad file or an unsupported kind must not take the page down
            if eid not in _LEFT_OUT:
                _LEFT_OUT.add(eid)
                print(f"derive serve: {eid} is left out: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
    return out


def _bmatrix(rows, number) -> str:
    rows = rows if rows and isinstance(rows[0], (list, tuple)) else [rows]
    body = r" \\ ".join(" & ".join(number(float(v), 6) for v in row) for row in rows)
    return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


def _default_wrt(eid: str, lang: str, student: str) -> str:
    e = _exercise(eid, lang, student)
    if e is not None:
        return e.answer.rule.target if e.kind == "rule" else e.target
    problem, solution, _ = _variant(eid, lang, student)
    return _wrts(problem, solution)[0]


def page(eid: str, student: str, lang: str, wrt: str | None) -> dict:
    """Everything the student page shows, as plain data (LaTeX strings for math)."""
    from ..api.display import _problem_figure, data_uri
    from ..render.printer import name, number
    from ..sheets.exercises import gradient_symbol
    from ..sheets.sheet_items import hint_view, slash
    from ..sheets.sheet_view import statement_description  # the worksheet's: no clause quoting the file's numbers
    with i18n.language(lang):
        problem, solution, v = _variant(eid, lang, student)
        wrts = _wrts(problem, solution)
        wrt = wrt if wrt in wrts else _default_wrt(eid, lang, student)
        e = _exercise(eid, lang, student)
        output = solution.raw.derivation.output
        if problem.kind == "layers":  # the matrices, as bmatrix
            given = [(name(k), _bmatrix(a, number)) for k, a in dict(solution.raw.problem.arrays).items()]
        else:
            given = [(name(k), number(float(x), 6)) for k, x in dict(solution.raw.inputs).items()]
        question = slash(gradient_symbol(output, wrt))
        hints = []
        if e is not None and wrt == _default_wrt(eid, lang, student):
            hints = [{"kind": h.kind, "tex": str(hint_view(h, e).get("text", ""))} for h in e.hints]
        try:
            svg, _alt = _problem_figure(problem)
        except DeriveError:
            svg = None
        prepare(eid, lang, student, wrt)
        description = statement_description(v) if v is not None else problem.description
        return {"id": eid, "title": problem.title, "description": description, "kind": problem.kind,
                "wrt": wrt, "wrts": wrts, "question_tex": question, "given": given, "hints": hints,
                "figure": data_uri(svg) if svg else None, "varied": v is not None}


def prepare(eid: str, lang: str, student: str, wrt: str) -> None:
    """Draw and solve the student's variant and sample its points for `wrt` (a check then costs no more)."""
    from ..grading.verify import verify as grade
    with i18n.language(lang):
        _, solution, _ = _variant(eid, lang, student)
        with contextlib.suppress(DeriveError):
            grade(solution.raw, wrt, "0")


@functools.lru_cache(maxsize=4096)
def verify(eid: str, wrt: str, answer: str, lang: str, student: str) -> dict:
    """The verdict as `derive verify --json` prints it; a DeriveError as the CLI's error object
    {"ok": false, "error": ..., "correct": null} (cli.common.json_error; tests/serve compare the two)."""
    from ..grading.explain import as_json
    from ..grading.verify import verify as grade
    with i18n.language(lang):
        try:
            _, solution, _ = _variant(eid, lang, student)
            return as_json(grade(solution.raw, wrt, answer))
        except DeriveError as e:
            return {"ok": False, "error": str(e), "correct": None}


def read(eid: str, wrt: str, answer: str, lang: str, student: str) -> dict:
    """How the answer reads (what `derive verify` prints as "read as"), without grading it: grading's
    own reader on the names of the quantity asked. Matrix answers, and a `wrt` the problem does not
    have, go through the verdict itself (its reading, or its error message)."""
    from ..errors import ParseError
    from ..grading.answers import cannot_read, unknown_name
    from ..grading.reading import UnknownName, read_answer
    from ..grading.showing import show_plain, show_tex
    from ..grading.targets import find_target, targets_of
    with i18n.language(lang):
        try:
            problem, solution, _ = _variant(eid, lang, student)
            key = None
            if problem.kind != "layers":
                targets = targets_of(solution.raw)
                key = find_target(wrt, targets)
            if key is None:
                v = verify(eid, wrt, answer, lang, student)
                if v.get("error"):
                    return {"error": v["error"]}
                return {"read_as": v.get("read_as", ""), "read_as_tex": v.get("read_as_latex", "")}
            try:
                reading = read_answer(answer, targets[key].names)
            except UnknownName as e:
                raise unknown_name(e.name, targets[key]) from None
            except ParseError as e:
                return {"error": cannot_read(e)}
            asts = ((reading.lhs,) if reading.lhs else ()) + tuple(reading.parts)
            return {"read_as": " = ".join(show_plain(a) for a in asts),
                    "read_as_tex": " = ".join(show_tex(a) for a in asts)}
        except DeriveError as e:
            return {"error": str(e)}


def warm() -> int:
    """Solve every exercise once (a new worker answers its first request as fast as the rest)."""
    return len(exercises())
