"""`derive verify`: check one answer, or a TOML file of answers into a feedback report.

    derive verify FILE --wrt NAME --answer TEXT [--json]
        exit 0 correct, 1 wrong, 2 unreadable answer / unknown NAME / bad FILE
    derive verify FILE --answers ANSWERS.toml -o DIR
        ANSWERS.toml holds [[answer]] tables with keys student, wrt, answer; writes
        DIR/feedback.md (Markdown, $...$ math) and DIR/feedback.pdf. Exit 0 when written.
"""
from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import click

from .errors import DeriveError
from .verify import Verdict, VerifyError, targets_of, text, verify

MAX_ANSWERS_BYTES = 1_000_000
MAX_ANSWERS = 2000


def _fail(message: str, code: int = 2):
    from .cli import fail  # imported late: cli imports this module when it registers commands
    fail(message, code)


def _solve_cli(file):
    from .cli import _solve
    return _solve(file)


def _number(x) -> str:
    if isinstance(x, list):  # a matrix (rows) or a vector of a matrix-layer counterexample
        return "[" + ", ".join(_number(v) for v in x) + "]"
    return "undefined" if x is None else f"{x:.10g}"


def _answer_tex(v) -> str:
    """The answer in LaTeX: a matrix verdict carries its own (printed from the parsed matrices)."""
    from .render.printer import latex
    return getattr(v, "answer_tex", "") or latex(v.answer)


def describe(verdict: Verdict, answer_text: str) -> str:
    """The verdict as plain text for the terminal."""
    if verdict.correct:
        return f"correct: {answer_text} = {verdict.label}\n  ({verdict.method})"
    lines = [f"wrong: {answer_text} is not {verdict.label}"]
    lines += [f"  - {d}" for d in verdict.diagnosis]
    cx = verdict.counterexample
    if cx:
        where = ", ".join(f"{k} = {_number(v)}" for k, v in cx["point"].items())
        inst = ""
        if cx.get("instance"):
            inst = " for " + ", ".join(f"{k} = {v}" for k, v in cx["instance"].items())
        own = " (the problem's own values)" if cx.get("own_point") else ""
        lines.append(f"  counterexample{inst} at {where}{own}:")
        lines.append(f"    expected {verdict.label} = {_number(cx['expected'])}, "
                     f"your answer gives {_number(cx['got'])}")
        if cx.get("quantities") and cx.get("shapes"):
            lines.append("    where " + ", ".join(f"{k} = {_number(v)}" for k, v in cx["quantities"].items()))
    lines.append(f"  ({verdict.method})")
    return "\n".join(lines)


def run_one(sol, wrt, answer, as_json):
    try:
        v = verify(sol, wrt, answer)
    except DeriveError as e:
        if as_json:
            click.echo(json.dumps({"correct": None, "error": str(e)}, ensure_ascii=False))
        _fail(str(e))
    if as_json:
        click.echo(json.dumps(v.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(describe(v, answer))
    sys.exit(0 if v.correct else 1)


# ---------------------------------------------------------------- batch mode

def read_answers(path: str) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise DeriveError(f"{path}: no such file")
    if p.stat().st_size > MAX_ANSWERS_BYTES:
        raise DeriveError(f"{path}: file is larger than {MAX_ANSWERS_BYTES} bytes")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DeriveError(f"{path}: malformed TOML: {e}") from None
    entries = data.get("answer")
    if not isinstance(entries, list) or not entries:
        raise DeriveError(f'{path}: expected [[answer]] tables with keys student, wrt and answer')
    if len(entries) > MAX_ANSWERS:
        raise DeriveError(f"{path}: at most {MAX_ANSWERS} answers per file")
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise DeriveError(f"{path}: [[answer]] #{i}: expected a table")
        for key in ("wrt", "answer"):
            if not isinstance(e.get(key), str):
                raise DeriveError(f"{path}: [[answer]] #{i}: {key}: expected a string")
        student = e.get("student", f"#{i}")
        if not isinstance(student, (str, int)):
            raise DeriveError(f"{path}: [[answer]] #{i}: student: expected a string")
        unknown = set(e) - {"student", "wrt", "answer"}
        if unknown:
            raise DeriveError(f"{path}: [[answer]] #{i}: unknown key {sorted(unknown)[0]!r}; "
                              "expected student, wrt, answer")
        out.append({"student": str(student), "wrt": e["wrt"], "answer": e["answer"]})
    return out


def batch(sol, entries) -> list[dict]:
    """Each entry with its verdict (or the reason it could not be read)."""
    results = []
    for e in entries:
        try:
            results.append({**e, "verdict": verify(sol, e["wrt"], e["answer"]), "error": None})
        except DeriveError as err:
            results.append({**e, "verdict": None, "error": str(err)})
    return results


def _instance(cx) -> str:
    inst = cx.get("instance")
    return (" (for " + ", ".join(f"{k} = {v}" for k, v in inst.items()) + ")") if inst else ""


def _md_math(v) -> str:
    return f"${_answer_tex(v)}$"


def feedback_markdown(sol, results) -> str:
    from .render.escape import md_text
    title = sol.problem.title
    lines = [f"# Feedback: {md_text(title)}", ""]
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    lines += [f"{n_ok} of {len(results)} answers correct.", ""]
    for r in results:
        v = r["verdict"]
        lines.append(f"## {md_text(r['student'])}: ∂/∂{md_text(r['wrt'])}")
        lines.append("")
        lines.append(f"Answer: `{r['answer'].replace('`', '')}`")
        lines.append("")
        if v is None:
            lines += [f"**Could not check:** {md_text(r['error'])}", ""]
            continue
        if v.correct:
            lines += [f"**Correct.** {_md_math(v)} equals {md_text(v.label)}. "
                      f"({md_text(v.method)})", ""]
            continue
        lines += [f"**Wrong.** {_md_math(v)} is not {md_text(v.label)}.", ""]
        lines += [f"- {md_text(d)}" for d in v.diagnosis]
        cx = v.counterexample
        if cx:
            where = ", ".join(f"{md_text(k)} = {_number(x)}" for k, x in cx["point"].items())
            where += _instance(cx)
            lines.append(f"- Counterexample at {where}: expected {_number(cx['expected'])}, "
                         f"the answer gives {_number(cx['got'])}.")
        lines.append("")
    return "\n".join(lines) + "\n"


def feedback_tex(sol, results) -> str:
    from .render.escape import tex_text
    parts = [rf"\section*{{Feedback: {tex_text(sol.problem.title)}}}"]
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    parts.append(rf"{n_ok} of {len(results)} answers correct.")
    for r in results:
        v = r["verdict"]
        parts.append(rf"\subsection*{{{tex_text(r['student'])}: {tex_text('∂/∂' + r['wrt'])}}}")
        parts.append(rf"Answer as written: \texttt{{{tex_text(r['answer'])}}}\par")
        if v is None:
            parts.append(rf"\textbf{{Could not check:}} {tex_text(r['error'])}")
            continue
        if v.correct:
            parts.append(rf"\textbf{{Correct.}} $\displaystyle {_answer_tex(v)}$ equals "
                         rf"{tex_text(v.label)}. {{\small ({tex_text(v.method)})}}")
            continue
        parts.append(rf"\textbf{{\color{{bad}}Wrong.}} $\displaystyle {_answer_tex(v)}$ "
                     rf"is not {tex_text(v.label)}.")
        items = [tex_text(d) for d in v.diagnosis]
        cx = v.counterexample
        if cx:
            where = ", ".join(f"{k} = {_number(x)}" for k, x in cx["point"].items()) + _instance(cx)
            items.append(tex_text(f"Counterexample at {where}: expected {_number(cx['expected'])}, "
                                  f"the answer gives {_number(cx['got'])}."))
        parts.append("\\begin{itemize}\n" + "\n".join(rf"\item {i}" for i in items) + "\n\\end{itemize}")
    return "\n\n".join(parts) + "\n"


def write_feedback(sol, results, out_dir: Path) -> list[Path]:
    from .render.pdf import compile_pdf, document
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "feedback.md"
    md.write_text(feedback_markdown(sol, results), encoding="utf-8")
    pdf = compile_pdf(document(feedback_tex(sol, results)), out_dir / "feedback.pdf")
    return [md, pdf]


def register(main):
    @main.command("verify")
    @click.argument("file")
    @click.option("--wrt", help="The quantity differentiated: a leaf or node (x, sigy), a generic "
                  "index form (w_kj, delta_j, w^l_jk), an element (W2[1,2]) or, for [layers] problems, a "
                  "whole matrix (W) answered in matrix form (X^T dY).")
    @click.option("--answer", help="The student's expression: plain math or LaTeX.")
    @click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
    @click.option("--answers", "answers_file", help="Batch mode: a TOML file of [[answer]] tables.")
    @click.option("-o", "--output", "out_dir", help="Batch mode: the folder for feedback.md/.pdf.")
    def verify_cmd(file, wrt, answer, as_json, answers_file, out_dir):
        """Check a hand-derived gradient; exit 0 correct, 1 wrong, 2 unreadable input."""
        if answers_file:
            if wrt or answer:
                _fail("use either --wrt/--answer or --answers, not both")
            if not out_dir:
                _fail("--answers needs -o DIR for the feedback report")
            sol = _solve_cli(file)
            try:
                entries = read_answers(answers_file)
            except DeriveError as e:
                _fail(str(e))
            results = batch(sol, entries)
            try:
                paths = write_feedback(sol, results, Path(out_dir))
            except DeriveError as e:
                _fail(str(e))
            n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
            click.echo(f"{n_ok} of {len(results)} answers correct; wrote "
                       + ", ".join(str(p) for p in paths))
            return
        if wrt is None or answer is None:
            _fail("expected --wrt NAME and --answer TEXT (or --answers FILE -o DIR)")
        sol = _solve_cli(file)
        run_one(sol, wrt, answer, as_json)

    return verify_cmd


__all__ = ["register", "describe", "feedback_markdown", "feedback_tex", "read_answers", "batch",
           "targets_of", "text", "VerifyError"]
