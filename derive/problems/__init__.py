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
from .network import NetworkProblem, load_network, memory_available
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
    if path.exists() and not path.is_file() and not path.is_dir():
        raise ProblemError(str(path), "", "not a regular file (a pipe, a device or a socket); expected a TOML file")
    if path.is_file():
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProblemError(str(path), "", f"file is larger than {MAX_FILE_BYTES} bytes")
        try:
            return str(path), path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ProblemError(str(path), "", "expected a UTF-8 text file") from None
        except OSError as e:
            raise ProblemError(str(path), "", f"cannot read the file: {e.strerror or e}") from None
    stem = path_or_name[:-5] if path_or_name.endswith(".toml") else path_or_name
    if "/" not in stem and stem in builtin_names():
        text = resources.files("derive.examples").joinpath(stem + ".toml").read_text(encoding="utf-8")
        return f"{stem} (built-in)", text
    raise ProblemError(path_or_name, "", "no such file, and not a built-in problem "
                       f"(built-ins: {', '.join(builtin_names())})")


def load(path_or_name: str):
    """A problem from a file path or a built-in problem's name ([values] file = "x.npz" is read
    relative to the file)."""
    source, text = resolve(path_or_name)
    path = Path(path_or_name)
    return loads(text, source, path.parent if path.is_file() else None)


def load_builtins() -> list:
    return [load(n) for n in builtin_names()]


def loads(text: str, source: str = "<string>", base: Path | None = None):
    """A problem from TOML text; `source` names it in error messages; `base`: the folder a
    [values] file = "x.npz" is read from (default: the current folder)."""
    if len(text) > MAX_FILE_BYTES:
        raise ProblemError(source, "", f"the text is larger than {MAX_FILE_BYTES} characters")
    depth = limits.toml_depth(text)
    if depth > limits.MAX_TOML_DEPTH:
        raise ProblemError(source, "", f"arrays or tables nested {depth} levels deep; at most "
                           f"{limits.MAX_TOML_DEPTH} (a problem needs 2 or 3)")
    try:
        data = limits.toml_loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProblemError(source, "", f"malformed TOML: {e}") from None
    except limits.LimitError as e:
        raise ProblemError(source, "", str(e)) from None
    return from_data(data, source, base)


def from_data(data: dict, source: str, base: Path | None = None):
    """A problem from already-parsed TOML data (a dict of str, int, float, bool, list, dict):
    the same validation and messages as a file. The Python API builds such dicts."""
    if not isinstance(data, dict):
        raise ProblemError(source, "", f"expected a table of keys, got {type(data).__name__}")
    npz = data.get("values", {}).get("file") if isinstance(data.get("values"), dict) else None
    data = values_file(data, source, base)
    kinds = [k for k in ("graph", "network", "layers") if k in data]
    if len(kinds) != 1:
        raise ProblemError(source, "", "expected exactly one of the tables [graph] (a scalar circuit), "
                           "[network] (a multilayer perceptron) or [layers] (matrix layers)")
    loader = {"graph": load_scalar, "network": load_network, "layers": load_layers}[kinds[0]]
    rest, lang, translations = languages(data, source)
    try:
        problem = loader(rest, source)
    except ProblemError as e:
        said = str(e).removeprefix(f"{source}: {e.key}: ")
        if npz and e.key.startswith("[values]") and said.startswith("missing"):
            raise ProblemError(source, e.key, f"{said} (in neither [values] nor {npz})") from None
        raise
    return dataclasses.replace(problem, lang=lang, translations=translations)


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


BYTES_PER_VALUE = 400  # a number read from a .npz becomes a float, a Fraction and graph leaves: about this much


def values_file(data: dict, source: str, base: Path | None) -> dict:
    """`data` with [values] file = "weights.npz" read: NumPy arrays by the names of [values] (x, t,
    W1, b1, ... or X, W, B, ...), the path relative to the problem file (`base`, its folder); a value
    written in the TOML wins over the file's. Only plain numeric arrays (no pickles); refused before
    reading when its numbers would not fit in the memory left."""
    values = data.get("values")
    if not isinstance(values, dict) or "file" not in values:
        return data
    name = values["file"]
    if not isinstance(name, str) or not name.endswith(".npz"):
        raise ProblemError(source, "[values] file", f'expected the name of a NumPy .npz file such as "weights.npz", '
                           f"got {name!r}")
    path = (base or Path.cwd()) / name
    key = f"[values] file {name!r}"
    import zipfile

    import numpy as np
    try:
        with zipfile.ZipFile(path) as z:
            numbers = sum(i.file_size for i in z.infolist()) // 8
    except FileNotFoundError:
        raise ProblemError(source, key, f"no such file {str(path)!r} (relative to the problem file)") from None
    except (OSError, zipfile.BadZipFile) as e:
        raise ProblemError(source, key, f"cannot read it as a NumPy .npz file: {e}") from None
    free = memory_available() or 2 ** 31
    if numbers * BYTES_PER_VALUE > free // 2:
        raise ProblemError(source, key, f"holds about {numbers:,} numbers, which need about "
                           f"{numbers * BYTES_PER_VALUE / 2 ** 30:.1f} GiB; only {free / 2 ** 30:.1f} GiB of memory "
                           "is free")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for array_name in npz.files:
                a = npz[array_name]
                if a.dtype.kind not in "iuf":
                    raise ProblemError(source, f"{key} {array_name}", f"expected numbers, got an array of {a.dtype}")
                arrays[array_name] = a.tolist()
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ProblemError(source, key, f"cannot read it as a NumPy .npz file: {e}") from None
    merged = {**arrays, **{k: v for k, v in values.items() if k != "file"}}
    return {**data, "values": merged}
