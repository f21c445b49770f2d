"""Verdicts as feedback: plain text for the terminal, and a class's batch of answers as
feedback.md (Markdown, $...$ math) and feedback.pdf.

An answers file holds [[answer]] tables with keys student, wrt, answer (`read_answers`);
`batch` verifies each, a failure to read or check one answer staying in that answer's entry (the
class's feedback is still written). Each verdict shows how the answer was read.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .. import i18n, limits
from ..errors import DeriveError
from ..i18n import _
from ..particles import particles
from ..render.escape import md_math, md_rich, md_text, tex_rich, tex_text
from .explain import formula, number_text, shown, shown_values
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
    if p.exists() and not p.is_file():
        raise DeriveError(_("{path}: not a regular file (a directory, a pipe or a device); expected a TOML "
                            "file").format(path=path))
    if not p.is_file():
        raise DeriveError(_("{path}: no such file").format(path=path))
    if p.stat().st_size > MAX_ANSWERS_BYTES:
        raise DeriveError(_("{path}: file is larger than {limit} bytes").format(path=path, limit=MAX_ANSWERS_BYTES))
    try:
        data = limits.toml_loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DeriveError(_toml_error(path, e)) from None
    except UnicodeDecodeError:
        raise DeriveError(_("{path}: not UTF-8 text; expected a TOML file").format(path=path)) from None
    except OSError as e:
        raise DeriveError(_("{path}: cannot read the file: {error}").format(path=path, error=e.strerror or e)) \
            from None
    entries = data.get("answer")
    if not isinstance(entries, list) or not entries:
        raise DeriveError(_("{path}: expected [[answer]] tables with keys student, wrt and answer").format(path=path))
    if len(entries) > MAX_ANSWERS:
        raise DeriveError(_("{path}: at most {limit} answers per file").format(path=path, limit=MAX_ANSWERS))
    out = []
    for i, e in enumerate(entries, 1):
        where = f"{path}: [[answer]] #{i}"
        if not isinstance(e, dict):
            raise DeriveError(_("{where}: expected a table").format(where=where))
        for key in ("wrt", "answer"):
            if not isinstance(e.get(key), str):
                raise DeriveError(_("{where}: {key}: expected a string").format(where=where, key=key))
        student = e.get("student", f"#{i}")
        if not isinstance(student, (str, int)):
            raise DeriveError(_("{where}: {key}: expected a string").format(where=where, key="student"))
        unknown = set(e) - {"student", "wrt", "answer"}
        if unknown:
            raise DeriveError(_("{where}: unknown key {key}; expected student, wrt, answer").format(
                where=where, key=repr(sorted(unknown)[0])))
        out.append({"student": str(student), "wrt": e["wrt"], "answer": e["answer"]})
    return out


def _toml_error(path, e) -> str:
    """'FILE: malformed TOML at line 3, column 7' (Python's reason after it in English only)."""
    m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
    if not m:
        return _("{path}: malformed TOML").format(path=path) + (f": {e}" if i18n.current() == "en" else "")
    reason = str(e)[:m.start()].strip()
    return _("{path}: malformed TOML at line {line}, column {column}").format(
        path=path, line=m.group(1), column=m.group(2)) + (f": {reason}" if i18n.current() == "en" else "")


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
    return " ".join(printable(str(text)).split())


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without control characters (ESC, NUL, BEL, C1, bidirectional overrides) that a
    terminal or viewer would act on; line breaks and tabs stay."""
    return _CONTROL.sub("", text)


def _asked(sol, r) -> str:
    """What the answer is for: the verdict's label (∂L/∂w_kj, δ_k), else the label the question
    has (also for an unreadable answer), else ∂/∂wrt."""
    v = r.get("verdict")
    if v is not None:
        return v.label
    from .targets import find_target, targets_of
    try:
        targets = targets_of(sol)
        key = find_target(r["wrt"], targets)
        return targets[key].label if key else f"∂/∂{r['wrt']}"
    except (DeriveError, KeyError, ValueError, TypeError):
        return f"∂/∂{r['wrt']}"


# ---------------------------------------------------------------- math in the message

def math_tex(plain) -> str | None:
    """A plain-text formula of a message (∂o_k/∂net_k = o_k*(1 - o_k), w^h_11, δ_k) as LaTeX math,
    read by the answer reader and written by its TeX printer; None when it is not one formula."""
    return formula(plain, tex=True)


def _tex(text: str) -> str:
    """User-facing text for LaTeX, spaces at the ends kept, -- kept as two hyphens (--delta-sign:
    LuaTeX joins -{}- into a dash too, a box does not)."""
    return tex_text(text, strip=False).replace("--", r"\mbox{-}\mbox{-}")


def _tex_value(plain) -> str:
    """A value of a message: math when it is a formula, its formulas as math when it mixes words
    and formulas (−∂L/∂net (Mitchell's δ_k = …)), else escaped text."""
    return _mixed(str(plain), _tex, lambda m: f"${m}$")


def _md_value(plain) -> str:
    return _mixed(str(plain), md_text, lambda m: f"${md_math(m)}$")


# words in a value: Hangul, or a Latin word of 3+ letters that is no name (not after ∂ _ ^, not before ( _ ^)
_WORD = r"(?:[가-힣]+|(?<![\\\w∂_^/′])[A-Za-z][a-z]{2,}(?:'s)?(?![\w(_^′]))"
_WORDS = re.compile(_WORD + r"(?:[\s,]+" + _WORD + ")*")


def _mixed(value: str, text, wrap) -> str:
    whole = math_tex(value)
    if whole is not None:
        return wrap(whole)
    out, last = [], 0
    for m in list(_WORDS.finditer(value)) + [None]:
        part = value[last:m.start()] if m else value[last:]
        lead = re.match(r"[\s,;:]*", part).group()
        core, trail = part[len(lead):], ""
        while core.startswith("(") and core.count("(") > core.count(")"):
            lead, core = lead + "(", core[1:].lstrip()
        while core and (core[-1] in " ,;:(" or (core[-1] == ")" and core.count(")") > core.count("("))):
            core, trail = core[:-1], core[-1] + trail
        math = math_tex(core) if core.strip() else None
        out.append(text(lead) + (wrap(math) if math is not None else text(core)) + text(trail))
        if m:
            out.append(text(m.group()))
            last = m.end()
    return "".join(out)


def fill(message: str, values: dict, text, math=None) -> str:
    """The translated `message` with its placeholders filled: the fixed words through `text`, each
    value through `math` (or a (plain, shown) pair as given); particles after a value are chosen by
    the value as it is read (plain), so a Korean 을/를 follows the formula it belongs to."""
    marks = {k: f"\ue000{k}\ue001" for k in values}
    try:
        marked = str.format(str(message), **marks)
    except (KeyError, IndexError, ValueError):
        plain_values = {k: v[0] if isinstance(v, tuple) else v for k, v in values.items()}
        return text(message.format(**plain_values))
    out, said = [], ""
    for piece in re.split("(\ue000[^\ue001]*\ue001)", marked):
        if piece.startswith("\ue000"):
            value = values[piece[1:-1]]
            plain, shown = value if isinstance(value, tuple) else (str(value), math(value))
            said += plain
            out.append(shown)
        elif piece:
            words = particles(said + piece)[len(said):]
            said += words
            out.append(text(words))
    return "".join(out)


def _diagnosis(d, text, math) -> str:
    """One diagnosis with its formulas as math (when it kept its message and values)."""
    msgid, values = getattr(d, "msgid", ""), getattr(d, "values", None)
    if not msgid or not values:
        return text(str(d))
    return fill(_(msgid), values, text, math)


def _counterexample(cx, text, math) -> str:
    """The counterexample sentence: both values, at the few values that matter (all of a small point)."""
    got = cx["got"] is not None
    values, whole = shown_values(cx) if got else (cx.get("point") or {}, True)
    where = ", ".join(math(f"{k} = {number_text(x)}") for k, x in values.items())
    inst = cx.get("instance") or {}
    own = cx.get("own_point")
    if not whole and inst:
        gives = _("Counterexample for {bindings} at the problem's own values, where {point}: expected {expected}, "
                  "the answer gives {got}.") if own else \
            _("Counterexample for {bindings} at a random point, where {point}: expected {expected}, the answer "
              "gives {got}.")
    elif not whole:
        gives = _("Counterexample at the problem's own values, where {point}: expected {expected}, the answer gives "
                  "{got}.") if own else \
            _("Counterexample at a random point, where {point}: expected {expected}, the answer gives {got}.")
    elif inst:
        gives = _("Counterexample at {point} (for {bindings}): expected {expected}, the answer gives {got}.") if got \
            else _("Counterexample at {point} (for {bindings}): expected {expected}, the answer gives undefined.")
    else:
        gives = _("Counterexample at {point}: expected {expected}, the answer gives {got}.") if got else \
            _("Counterexample at {point}: expected {expected}, the answer gives undefined.")
    bindings = ", ".join(f"{k} = {v}" for k, v in inst.items())
    plain = ", ".join(f"{k} = {number_text(x)}" for k, x in values.items())
    shown = {"point": (plain, where), "bindings": (bindings, ", ".join(math(f"{k} = {v}") for k, v in inst.items())),
             "expected": (number_text(cx["expected"]), math(number_text(cx["expected"]))),
             "got": (number_text(cx["got"]), math(number_text(cx["got"])) if got else "")}
    return fill(gives, shown, text)


def _score(results) -> str:
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    return _("{correct} of {total} answers correct.").format(correct=n_ok, total=len(results))


def _md_formula(plain) -> str:
    math = math_tex(plain)
    return f"${md_math(math)}$" if math is not None else md_text(str(plain))


def _verbatim_md(text: str) -> str:
    """An answer as written, as a Markdown code span (a fence longer than any run of ` in it)."""
    runs = max((len(m) for m in re.findall("`+", text)), default=0)
    fence = "`" * (runs + 1)
    return f"{fence} {text} {fence}" if runs else f"`{text}`"


def feedback_markdown(sol, results) -> str:
    title = sol.problem.title
    lines = ["# " + _("Feedback: {title}").format(title=md_rich(title)), ""]
    lines += [_score(results), ""]
    for r in results:
        v = r["verdict"]
        lines.append(f"## {md_text(r['student'])}: {_md_formula(_asked(sol, r))}")
        lines.append("")
        lines.append(_("Answer as written:") + " " + _verbatim_md(_one_line(r["answer"])))
        lines.append("")
        if v is None:
            lines += ["**" + _("Could not check:") + f"** {md_text(r['error'])}", ""]
            continue
        notes = [f"*{md_text(n)}*" for n in v.notes]
        answer = (v.read_as or str(v.answer), f"${md_math(_answer_tex(v))}$")
        label = (v.label, _md_formula(v.label))
        if v.correct:
            lines += ["**" + _("Correct.") + "** "
                      + fill(_("Read as {answer}, which equals {label}."), {"answer": answer, "label": label}, md_text)
                      + f" ({md_text(v.method)})", ""] + ([" ".join(notes), ""] if notes else [])
            continue
        lines += ["**" + _("Wrong.") + "** "
                  + fill(_("Read as {answer}, which is not {label}."), {"answer": answer, "label": label}, md_text),
                  ""]
        lines += [f"- {_diagnosis(d, md_text, _md_value)}" for d in shown(v.diagnosis, v)] + [f"- {n}" for n in notes]
        if v.counterexample:
            lines.append(f"- {_counterexample(v.counterexample, md_text, _md_value)}")
        lines.append("")
    return printable("\n".join(lines) + "\n")  # nothing echoed from an answer file acts on a terminal


def _tex_formula(plain) -> str:
    math = math_tex(plain)
    return f"${math}$" if math is not None else _tex(str(plain)).strip()


def feedback_tex(sol, results) -> str:
    heading = _("Feedback: {title}").format(title=sol.problem.title)
    parts = [rf"\section*{{{tex_rich(heading)}}}"]
    parts.append(tex_text(_score(results)))
    for r in results:
        v = r["verdict"]
        parts.append(rf"\subsection*{{{_tex(r['student']).strip()}: {_tex_formula(_asked(sol, r))}}}")
        written = tex_text(_("Answer as written:"))
        parts.append(rf"{written} \texttt{{{_tex(_one_line(r['answer'])).strip()}}}\par")
        if v is None:
            unchecked = tex_text(_("Could not check:"))
            parts.append(rf"\textbf{{{unchecked}}} {_tex(r['error']).strip()}")
            continue
        notes = "".join(rf" {{\small\itshape {_tex(n).strip()}}}" for n in v.notes)
        answer = (v.read_as or str(v.answer), rf"$\displaystyle {_answer_tex(v)}$")
        label = (v.label, _tex_formula(v.label))
        if v.correct:
            sentence = fill(_("Read as {answer}, which equals {label}."), {"answer": answer, "label": label}, _tex)
            correct = tex_text(_("Correct."))
            parts.append(rf"\textbf{{{correct}}} {sentence} {{\small ({tex_text(v.method)})}}{notes}")
            continue
        sentence = fill(_("Read as {answer}, which is not {label}."), {"answer": answer, "label": label}, _tex)
        wrong = tex_text(_("Wrong."))
        parts.append(rf"\textbf{{\color{{bad}}{wrong}}} {sentence}")
        items = [_diagnosis(d, _tex, _tex_value) for d in shown(v.diagnosis, v)]
        items += [rf"{{\itshape {_tex(n).strip()}}}" for n in v.notes]
        if v.counterexample:
            items.append(_counterexample(v.counterexample, _tex, _tex_value))
        parts.append("\\begin{itemize}\n" + "\n".join(rf"\item {i}" for i in items) + "\n\\end{itemize}")
    return printable("\n\n".join(parts) + "\n")


def write_feedback(sol, results, out_dir: Path) -> list[Path]:
    from ..files import ensure_dir
    from ..render.pdf import compile_pdf, document
    md = ensure_dir(out_dir) / "feedback.md"  # written with the PDF, atomically, as one unit
    pdf = compile_pdf(document(feedback_tex(sol, results)), out_dir / "feedback.pdf",
                      with_files={md: feedback_markdown(sol, results)})
    return [md, pdf]
