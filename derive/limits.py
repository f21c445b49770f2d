"""Every size limit derive enforces, in one place, each with the reason it exists.

Limits are checked before work starts, and every refusal names the limit and why; a test sits on
both sides of each (tests/test_limits.py).
"""
from __future__ import annotations

import unicodedata

from .errors import DeriveError

# problem and answer files
MAX_FILE_BYTES = 1_000_000  # a problem file; real ones are a few kB
MAX_TOML_DEPTH = 32  # nested arrays/tables in a file; Python's TOML reader recurses per level

# expressions (engine/parse.py)
MAX_EXPRESSION_CHARS = 2000  # one step or one answer
MAX_NESTING = 60  # parentheses and function calls inside one expression
MAX_NUMBER_DIGITS = 60  # digits of one number literal (50-digit arithmetic cannot use more)
MAX_EXPONENT = 300  # |e| in 1e300: beyond it a number is not a float any more
MAX_POWER_DIGITS = 1000  # an exact constant power (9^9^9) bigger than this many digits is refused


class LimitError(DeriveError):
    """Input over one of the limits above (exit code 2)."""


def toml_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } outside strings and comments (a cheap pre-scan, so a
    pathological file is refused before the recursive TOML reader sees it)."""
    depth = top = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            end = text.find(ch * 3 if triple else ch, i + (3 if triple else 1))
            if ch == '"' and not triple:  # skip escaped quotes in basic strings
                while end != -1 and text[end - 1] == "\\" and not _escaped_backslash(text, end - 1):
                    end = text.find(ch, end + 1)
            i = n if end == -1 else end + (3 if triple else 1)
            continue
        if ch == "#":
            nl = text.find("\n", i)
            i = n if nl == -1 else nl
            continue
        if ch in "[{":
            depth += 1
            top = max(top, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return top


def _escaped_backslash(text: str, i: int) -> bool:
    """True when the backslash at i is itself escaped (an even run of backslashes before it)."""
    run = 0
    while i - 1 - run >= 0 and text[i - 1 - run] == "\\":
        run += 1
    return run % 2 == 1


def control_character(text: str, allow: str = "") -> tuple[int, str] | None:
    """(position, description) of the first control character in `text` not in `allow`."""
    for i, ch in enumerate(text):
        if ch in allow:
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\u200d\u200c":
            name = unicodedata.name(ch, "") or {"\x00": "NUL", "\x07": "BEL", "\x1b": "ESC", "\x7f": "DEL"}.get(
                ch, "control character")
            return i, f"U+{ord(ch):04X} ({name})"
    return None
