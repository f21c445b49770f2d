"""Problem files (TOML) and built-in problems: reading, validation, dispatch on the kind.

`load(path_or_name)` / `loads(text)` give a ScalarProblem ([graph]), or a NetworkProblem
([network] or [layers]). Every error names the file, the key and what was expected.
"""
from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path

from .. import limits
from ..errors import ProblemError
from .common import languages
from .layers import load_layers
from .network import NetworkProblem, load_network
from .scalar import ScalarProblem, load_scalar

MAX_FILE_BYTES = limits.MAX_FILE_BYTES

__all__ = ["NetworkProblem", "ScalarProblem", "builtin_names", "from_data", "language", "load", "load_builtins",
           "loads", "localized", "resolve"]


def builtin_names() -> list[str]:
    folder = resources.files("derive.examples")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve(path_or_name: str) -> tuple[str, str]:
    """(display name, TOML text) for a file path or a built-in problem's name."""
    path = Path(path_or_name)
    if path.is_file():
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProblemError(str(path), "", f"file is larger than {MAX_FILE_BYTES} bytes")
        try:
            return str(path), path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ProblemError(str(path), "", "expected a UTF-8 text file") from None
    stem = path_or_name[:-5] if path_or_name.endswith(".toml") else path_or_name
    if "/" not in stem and stem in builtin_names():
        text = resources.files("derive.examples").joinpath(stem + ".toml").read_text(encoding="utf-8")
        return f"{stem} (built-in)", text
    raise ProblemError(path_or_name, "", "no such file, and not a built-in problem "
                       f"(built-ins: {', '.join(builtin_names())})")


def load(path_or_name: str):
    """A problem from a file path or a built-in problem's name."""
    source, text = resolve(path_or_name)
    return loads(text, source)


def load_builtins() -> list:
    return [load(n) for n in builtin_names()]


def loads(text: str, source: str = "<string>"):
    """A problem from TOML text; `source` names it in error messages."""
    if len(text) > MAX_FILE_BYTES:
        raise ProblemError(source, "", f"the text is larger than {MAX_FILE_BYTES} characters")
    depth = limits.toml_depth(text)
    if depth > limits.MAX_TOML_DEPTH:
        raise ProblemError(source, "", f"arrays or tables nested {depth} levels deep; at most "
                           f"{limits.MAX_TOML_DEPTH} (a problem needs 2 or 3)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProblemError(source, "", f"malformed TOML: {e}") from None
    return from_data(data, source)


def from_data(data: dict, source: str):
    """A problem from already-parsed TOML data (a dict of str, int, float, bool, list, dict):
    the same validation and messages as a file. The Python API builds such dicts."""
    if not isinstance(data, dict):
        raise ProblemError(source, "", f"expected a table of keys, got {type(data).__name__}")
    kinds = [k for k in ("graph", "network", "layers") if k in data]
    if len(kinds) != 1:
        raise ProblemError(source, "", "expected exactly one of the tables [graph] (a scalar circuit), "
                           "[network] (a multilayer perceptron) or [layers] (matrix layers)")
    loader = {"graph": load_scalar, "network": load_network, "layers": load_layers}[kinds[0]]
    rest, lang, translations = languages(data, source)
    return dataclasses.replace(loader(rest, source), lang=lang, translations=translations)


def localized(problem, lang: str):
    """`problem` with its title and description in `lang` where its file gives them
    ([translations.<lang>]); otherwise as written."""
    text = problem.translations.get(lang, {})
    return dataclasses.replace(problem, **text) if text else problem


def language(loaded, given: str | None = None) -> str:
    """The language of a document of the problems `loaded`: `given` (--lang) when set, else the
    language their files share (lang = ...), else English."""
    if given:
        return given
    langs = {p.lang for p in loaded}
    return langs.pop() if len(langs) == 1 else "en"
