"""Helpers shared by every problem kind: the header keys, numbers, names and arrays.

Every error is a ProblemError naming the file, the key and what was expected.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

from ..engine.ops import spelled
from ..errors import ProblemError
from ..i18n import LANGUAGES
from ..limits import control_character

NAME = re.compile(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9\u0370-\u03ff]*(?:_[A-Za-z0-9\u0370-\u03ff]+)*")


def text_key(data: dict, key: str, source: str, default: str = "") -> str:
    """A string value; control characters (ESC, NUL, BEL...) are refused: they would reach the
    terminal, Markdown and LaTeX. Line breaks and tabs are allowed in a description."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ProblemError(source, key, f"expected a string, got {type(value).__name__}")
    bad = control_character(value, "\n\t" if key == "description" else "")
    if bad:
        raise ProblemError(source, key, f"contains the control character {bad[1]} at position "
                           f"{bad[0] + 1}; remove it")
    return value


def header(data: dict, source: str, table: str, extra=()) -> tuple[str, str]:
    """Refuse unknown top-level keys; return (title, description). Shared by every problem kind."""
    known = {"title", "description", table, "values", *extra}
    for key in data:
        if key not in known:
            raise ProblemError(source, key, f"unknown key; expected one of {', '.join(sorted(known))}")
    title = text_key(data, "title", source, Path(source.split(" ")[0]).stem)
    return title, text_key(data, "description", source)


def languages(data: dict, source: str) -> tuple[dict, str, dict]:
    """Take the language keys off a problem's data: (the rest, lang, translations).

    lang = "ko" says which language the problem is written in (the language of its documents
    unless --lang says otherwise; default "en"). [translations.<lang>] gives the title and
    description in another language, used when a document is made in that language."""
    rest = {k: v for k, v in data.items() if k not in ("lang", "translations")}
    lang = data.get("lang", "en")
    if lang not in LANGUAGES:
        raise ProblemError(source, "lang", f"expected one of {', '.join(map(repr, LANGUAGES))}; got {lang!r}")
    table = data.get("translations", {})
    if not isinstance(table, dict):
        raise ProblemError(source, "translations", 'expected tables such as [translations.ko] with title = "..."')
    translations = {}
    for code, entry in table.items():
        key = f"[translations.{code}]"
        if code not in LANGUAGES:
            raise ProblemError(source, key, f"unknown language; expected one of {', '.join(LANGUAGES)}")
        if not isinstance(entry, dict):
            raise ProblemError(source, key, "expected a table with title and description")
        for name in entry:
            if name not in ("title", "description"):
                raise ProblemError(source, f"{key} {name}", "unknown key; expected title or description")
        translations[code] = {name: text_key(entry, name, f"{source} {key}") for name in entry}
    return rest, lang, translations


def number(value, source: str, key: str) -> Fraction:
    """A finite TOML number as an exact Fraction (0.1 -> 1/10)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProblemError(source, key, f"expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ProblemError(source, key, f"expected a finite number, got {value!r}")
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def check_name(name: str, source: str, key: str) -> None:
    if not NAME.fullmatch(name) or spelled(name) is not None:
        raise ProblemError(source, key, "expected a name made of letters, digits and _subscripts, "
                           f"starting with a letter and not a function name; got {name!r}")


def array(value, source, key):
    """Nested lists of finite numbers -> nested tuples of Fractions."""
    if isinstance(value, list):
        if not value:
            raise ProblemError(source, key, "expected a non-empty list of numbers")
        return tuple(array(v, source, key) for v in value)
    return number(value, source, key)


def shape(a) -> tuple:
    """The shape of nested tuples; ("ragged",) when rows differ."""
    if isinstance(a, tuple):
        inner = {shape(v) for v in a}
        if len(inner) != 1:
            return ("ragged",)
        return (len(a),) + inner.pop()
    return ()

