"""Languages: the gettext message catalogs (derive/locale/<lang>/LC_MESSAGES/derive.mo) and the
language the text being made is in. English is the source language: its catalog is the messages
themselves. `make messages` extracts, updates and compiles the catalogs with Babel.

    LANGUAGES                      the languages derive writes ("en", "ko")
    language(lang)                 context manager: text made inside it is in `lang`
    current() -> str               the language in use (default "en")
    chosen() -> str | None         the language a `language` block chose, None outside any
    _(message) -> str              `message` in the current language
    ngettext(singular, plural, n)  the same for a message with a count
    N_(message) -> message         marks a message for extraction; translate it later with _()
    hangul(text) -> bool           whether `text` holds Korean letters (the PDF needs LuaLaTeX)
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import re
from pathlib import Path

from .particles import Template, particles

LANGUAGES = ("en", "ko")
LANGUAGE_NAMES = {"en": "English", "ko": "Korean (한국어)"}
DOMAIN = "derive"
LOCALE_DIR = Path(__file__).with_name("locale")

_current = contextvars.ContextVar("derive_language", default=None)
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang` (English: the messages themselves). Unknown languages raise ValueError."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[lang])


@contextlib.contextmanager
def language(lang: str | None):
    """Make text in `lang` inside the block (None: leave the language as it is)."""
    if lang is None:
        yield current()
        return
    translations(lang)  # an unknown language fails here, before any text is made
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get() or "en"


def chosen() -> str | None:
    return _current.get()


def _korean(text: str) -> str:
    """Korean text picks its particles by the word before them, also once its placeholders are filled."""
    if current() != "ko":
        return text
    return Template(text if "{" in text or "%(" in text else particles(text))  # placeholders: once filled


def _(message: str) -> str:
    return _korean(translations(current()).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return _korean(translations(current()).ngettext(singular, plural, n))


def N_(message: str) -> str:
    return message


def hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))
