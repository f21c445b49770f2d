"""Verdicts as feedback: plain text for the terminal, and a class's batch of answers as
feedback.md (Markdown, $...$ math) and feedback.pdf.

An answers file holds [[answer]] tables with keys student, wrt, answer (`read_answers`);
`batch` verifies each, a failure to read or check one answer staying in that answer's entry (the
class's feedback is still written). Each verdict shows how the answer was read.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import DeriveError
from ..i18n import _
from ..render.escape import md_rich, md_text, tex_rich, tex_text
from .explain import number_text
from .verify import verify

MAX_ANSWERS_BYTES = 1_000_000
MAX_ANSWERS = 2000


def _answer_tex(v) -> str:
    """The answer in LaTeX as it was read (a matrix verdict carries its own)."""
    if getattr(v, "answer_tex", ""):
        return v.answer_tex
    if v.read_as_tex:
        return v.read_as_tex
    from ..render.printer import latex
    return latex(v.answer)


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


def batch(sol, entries, delta_sign=None, progress=None) -> list[dict]:
    """Each entry with its verdict (or the reason it could not be read or checked)."""
    results = []
    for i, e in enumerate(entries, 1):
        try:
            results.append({**e, "verdict": verify(sol, e["wrt"], e["answer"], delta_sign=delta_sign),
                            "error": None})
        except DeriveError as err:
            results.append({**e, "verdict": None, "error": str(err)})
        except Exception as err:  # a defect stays in this student's entry; the class still gets feedback
            results.append({**e, "verdict": None,
                            "error": _("internal error while checking this answer: {error}").format(
                                error=f"{type(err).__name__}: {err}")})
        if progress:
            progress(i)
    return results


def _one_line(text: str) -> str:
    """An answer as typed, its line breaks shown as spaces (a blank line would end a paragraph)."""
    return " ".join(str(text).split())


def _asked(r) -> str:
    """What the answer is for: the verdict's label (∂L/∂w_kj, δ_k), else ∂/∂wrt."""
    v = r.get("verdict")
    return v.label if v is not None else f"∂/∂{r['wrt']}"


def _tex(text: str) -> str:
    """User-facing text for LaTeX, with -- kept as two hyphens (--delta-sign), not an en dash."""
    return tex_text(text).replace("--", "-{}-")


def _md_math(v) -> str:
    return f"${_answer_tex(v)}$"


def _counterexample(cx, escape) -> str:
    where = ", ".join(f"{escape(k)} = {number_text(x)}" for k, x in cx["point"].items())
    inst = cx.get("instance")
    bindings = ", ".join(f"{k} = {v}" for k, v in inst.items()) if inst else ""
    if inst:
        gives = _("Counterexample at {point} (for {bindings}): expected {expected}, the answer gives {got}.") \
            if cx["got"] is not None else \
            _("Counterexample at {point} (for {bindings}): expected {expected}, the answer gives undefined.")
    else:
        gives = _("Counterexample at {point}: expected {expected}, the answer gives {got}.") if cx["got"] is not None \
            else _("Counterexample at {point}: expected {expected}, the answer gives undefined.")
    return gives.format(bindings=bindings,
        point=where, expected=number_text(cx["expected"]), got=number_text(cx["got"]))


def _score(results) -> str:
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    return _("{correct} of {total} answers correct.").format(correct=n_ok, total=len(results))


def feedback_markdown(sol, results) -> str:
    title = sol.problem.title
    lines = ["# " + _("Feedback: {title}").format(title=md_rich(title)), ""]
    lines += [_score(results), ""]
    for r in results:
        v = r["verdict"]
        lines.append(f"## {md_text(r['student'])}: {md_text(_asked(r))}")
        lines.append("")
        lines.append(_("Answer:") + f" `{_one_line(r['answer']).replace('`', '')}`")
        lines.append("")
        if v is None:
            lines += ["**" + _("Could not check:") + f"** {md_text(r['error'])}", ""]
            continue
        notes = [f"*{md_text(n)}*" for n in v.notes]
        if v.correct:
            lines += ["**" + _("Correct.") + "** "
                      + _("Read as {answer}, which equals {label}.").format(answer=_md_math(v), label=md_text(v.label))
                      + f" ({md_text(v.method)})", ""] + ([" ".join(notes), ""] if notes else [])
            continue
        lines += ["**" + _("Wrong.") + "** "
                  + _("Read as {answer}, which is not {label}.").format(answer=_md_math(v), label=md_text(v.label)), ""]
        lines += [f"- {md_text(d)}" for d in v.diagnosis] + [f"- {n}" for n in notes]
        cx = v.counterexample
        if cx:
            lines.append(f"- {_counterexample(cx, md_text)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def feedback_tex(sol, results) -> str:
    heading = _("Feedback: {title}").format(title=sol.problem.title)
    parts = [rf"\section*{{{tex_rich(heading)}}}"]
    parts.append(tex_text(_score(results)))
    for r in results:
        v = r["verdict"]
        parts.append(rf"\subsection*{{{tex_text(r['student'])}: {_tex(_asked(r))}}}")
        written = tex_text(_("Answer as written:"))
        parts.append(rf"{written} \texttt{{{tex_text(_one_line(r['answer']))}}}\par")
        if v is None:
            unchecked = tex_text(_("Could not check:"))
            parts.append(rf"\textbf{{{unchecked}}} {tex_text(r['error'])}")
            continue
        notes = "".join(rf" {{\small\itshape {tex_text(n)}}}" for n in v.notes)
        math = rf"$\displaystyle {_answer_tex(v)}$"
        if v.correct:
            sentence = _tex_around(_("Read as {answer}, which equals {label}."), math, v.label)
            correct = tex_text(_("Correct."))
            parts.append(rf"\textbf{{{correct}}} {sentence} {{\small ({tex_text(v.method)})}}{notes}")
            continue
        sentence = _tex_around(_("Read as {answer}, which is not {label}."), math, v.label)
        wrong = tex_text(_("Wrong."))
        parts.append(rf"\textbf{{\color{{bad}}{wrong}}} {sentence}")
        items = [_tex(d) for d in v.diagnosis] + [rf"{{\itshape {_tex(n)}}}" for n in v.notes]
        cx = v.counterexample
        if cx:
            items.append(tex_text(_counterexample(cx, str)))
        parts.append("\\begin{itemize}\n" + "\n".join(rf"\item {i}" for i in items) + "\n\\end{itemize}")
    return "\n\n".join(parts) + "\n"


def _tex_around(message: str, math: str, label: str) -> str:
    """A translated sentence with {answer} (LaTeX math, kept as is) and {label} (text, escaped): the
    fixed words are escaped, the math is not."""
    before, _sep, after = message.partition("{answer}")
    return _tex_spaced(before.format(label=label)) + math + _tex_spaced(after.format(label=label))


def _tex_spaced(text: str) -> str:
    """tex_text keeping the spaces at either end (they separate the words from the math)."""
    return tex_text(text, strip=False)


def write_feedback(sol, results, out_dir: Path) -> list[Path]:
    from ..render.pdf import compile_pdf, document
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "feedback.md"
    md.write_text(feedback_markdown(sol, results), encoding="utf-8")
    pdf = compile_pdf(document(feedback_tex(sol, results)), out_dir / "feedback.pdf")
    return [md, pdf]
