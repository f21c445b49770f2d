"""The practice page's HTML: one Jinja2 environment (autoescape on), its fixed texts, math as MathML.

Math is typeset on the server: LaTeX from derive's printer goes through `latex2mathml` into MathML,
which Chromium, Firefox and Safari render natively; no script or font is fetched from anywhere.
Text from users or problem files is escaped by Jinja2; `inline` splits a title such as
"A circuit: $f = (x + y) z$" into escaped text and math.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from .. import i18n
from ..i18n import N_

HERE = Path(__file__).parent
TEXTS = {  # every fixed text of the page, marked for the catalogs (`make messages`)
    "title": N_("derive practice"),
    "choose": N_("Choose an exercise"),
    "student": N_("Your name or student id"),
    "student_help": N_("Each name gets its own numbers; the same name always gets the same ones."),
    "start": N_("Start"),
    "find": N_("Find"),
    "given": N_("Given"),
    "answer": N_("Your answer (plain text or LaTeX)"),
    "read_as": N_("Read as"),
    "check": N_("Check"),
    "correct": N_("Correct."),
    "wrong": N_("Not correct."),
    "cannot": N_("Could not check the answer"),
    "counterexample": N_("Counterexample"),
    "expected": N_("expected"),
    "got": N_("your answer gives"),
    "at": N_("at"),
    "hint": N_("Show a hint"),
    "hint_level": N_("Hint, level {level}"),
    "no_hints": N_("No hints for this question."),
    "no_figure": N_("This problem has no figure on the page."),
    "other_question": N_("Ask about"),
    "teacher": N_("Attempts"),
    "csv": N_("Download CSV"),
    "attempts": N_("attempts"),
    "right": N_("correct"),
    "last": N_("last answer"),
    "exercise": N_("exercise"),
    "nobody": N_("No attempts yet."),
    "back": N_("All exercises"),
    "wait": N_("Checking…"),
    "error": N_("Something went wrong"),
    "not_found": N_("There is no such page."),
    "kinds": N_("circuit, network, matrix layers"),
}
HINT_LEVEL = {"order": 1, "chain": 1, "fanout": 1, "update": 1, "rule": 2}  # outline, then local gradients


def texts(lang: str) -> dict[str, str]:
    with i18n.language(lang):
        out = {k: i18n._(v) for k, v in TEXTS.items()}
    out["language"] = "English" if lang == "ko" else "한국어"  # each language's name in itself
    return out


@lru_cache(maxsize=4096)
def mathml(tex: str, display: bool = False) -> Markup:
    """LaTeX -> MathML (escaped by the converter's XML writer); a formula it cannot convert is shown as
    its LaTeX source, escaped."""
    from latex2mathml.converter import convert
    tex = tex.replace(r"\smallbox", r"\square")  # the worksheets' own macro for a box to fill in
    try:
        return Markup(convert(tex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds; the source is still readable
        return Markup('<code class="tex">') + escape(tex) + Markup("</code>")


def inline(text: str) -> Markup:
    """Text with $...$ math: the text escaped, the math as MathML."""
    parts = re.split(r"(?<!\\)\$(.+?)(?<!\\)\$", text or "")
    return Markup("").join(mathml(p) if i % 2 else escape(p) for i, p in enumerate(parts))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["math"] = mathml
    env.filters["inline"] = inline
    return env


def render(template: str, lang: str, **context) -> str:
    return environment().get_template(template).render(t=texts(lang), lang=lang, **context)


def hints_by_level(hints: list[dict]) -> list[dict]:
    """[{"level": 1, "items": [MathML, ...]}, ...]: what each press of "hint" adds."""
    levels: dict[int, list] = {}
    for h in hints:
        levels.setdefault(HINT_LEVEL.get(h["kind"], 2), []).append(mathml(h["tex"]))
    return [{"level": k, "items": levels[k]} for k in sorted(levels)]
