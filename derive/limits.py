"""Every size limit derive enforces, in one place, each with the reason it exists.

Limits are checked before work starts, and every refusal names the limit and why; a test sits on
both sides of each (tests/test_limits.py).
"""
from __future__ import annotations

import itertools
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
MAX_INTEGER_DIGITS = 4300  # an integer in a TOML file: Python reads no longer one (sys.int_info.default_max_str_digits)

# networks: memory to derive and prove one (network_memory). Measured as peak RSS of `derive check
# --json`: a 784-64-10 network over 1 sample peaks near 0.25 GiB (`make bench`), where the weights
# dominate; over a batch each sample adds its own units (net, activation, loss terms and their
# steps and checks): 2-2-2 over 400 and 1,600 samples peaks at 250 and 801 MiB (~470 KiB a sample),
# 3-6-2 over 100 and 400 at 127 and 468 MiB (~1.1 MiB a sample), 2-8-2 over 400 at 405 MiB, 8-8-8
# over 200 at 475 MiB, 2-2-2-2-2 over 400 at 378-463 MiB, 20-20-2 over 100 at 335 MiB. The constants
# bound all of these from above, by at most about 1.7x (tests/test_outputs_input.py measures two).
NETWORK_BASE_BYTES = 120 * 2**20  # the interpreter, SymPy, mpmath and derive
BYTES_PER_WEIGHT_SAMPLE = 3 * 2**10  # one term of one unit's net, per sample
BYTES_PER_UNIT_SAMPLE = 120 * 2**10  # a unit's net, activation, their gradients and checks, per sample
BYTES_PER_SAMPLE = 250 * 2**10  # the sample's inputs, targets and loss
BYTES_PER_PARAMETER = 2 * 2**10  # a weight's or bias's gradient, chain and check


def network_memory(sizes, batch: int) -> int:
    """Bytes needed to derive and prove a network of these layer sizes over `batch` samples."""
    sizes = [int(n) for n in sizes]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    units = sum(sizes[1:])
    return (NETWORK_BASE_BYTES + batch * (BYTES_PER_SAMPLE + BYTES_PER_UNIT_SAMPLE * units
                                          + BYTES_PER_WEIGHT_SAMPLE * weights)
            + BYTES_PER_PARAMETER * (weights + units))


# options
MIN_TOLERANCE = 1e-14  # a Moodle answer's relative tolerance: its key is printed with up to 17 significant
# digits (the double exactly, itself within 1.1e-16 of the 50-digit proof), so a finer band could reject it


class LimitError(DeriveError):
    """Input over one of the limits above (exit code 2)."""


def tolerance(text) -> float:
    """A relative tolerance from an option's text: a finite number in [MIN_TOLERANCE, 1), or a
    LimitError saying what was expected."""
    import math
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not MIN_TOLERANCE <= value < 1:
        raise LimitError(f"--tolerance: expected a relative tolerance from {MIN_TOLERANCE:g} (what a key's "
                         f"double precision carries) to below 1, such as 0.01 for 1 %, got {str(text)[:40]!r}")
    return value


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


def toml_loads(text: str) -> dict:
    """`tomllib.loads`, with an integer too long for Python to read (5,000 digits) refused as a
    LimitError instead of the ValueError tomllib lets through; TOMLDecodeError as tomllib raises it."""
    import tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise
    except ValueError:
        from .i18n import _
        raise LimitError(_("a number in the file has more than {limit} digits, the most Python reads (derive "
                           "computes with 50 significant digits)").format(limit=MAX_INTEGER_DIGITS)) from None
