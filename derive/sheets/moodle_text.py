"""What a Moodle question may contain: user text made inert, plain-text names, and numeric
answers with a tolerance that agrees with the significant digits the question asks for.

    user_html(text) -> str      a title or description as HTML in which nothing is live
    plain_text(text) -> str     a title as plain text (its $math$ as Unicode) for names and alt text
    defused(html) -> str        generated HTML with every cloze-like brace but derive's own blanks inert
    Answer(value, band, digits) a number, its absolute tolerance and the digits to give it with
    relative(value, tolerance) -> Answer
    update_answers(update, tolerance) -> (gradient Answer, new-weight Answer)

Inert means: Moodle's importer finds no cloze sub-question in it ({1:NUMERICAL:=…}, {#1}), its
file rewriting no @@PLUGINFILE@@, its TeX filter no \\( \\[ $$ [tex], a browser no tag or entity
(everything HTML-escaped; CDATA ends become &gt;), MathJax no math outside the author's $…$
(class tex2jax_ignore, which MathJax 2 and 3 both skip), and the author's $…$ only the math
commands render.escape.tex_math allows (no \\href, \\url, \\class, \\style).

Tolerances: an answer v has an absolute band; the question asks for the fewest significant
digits d whose last unit is at most the band, so an answer rounded to d digits is off by at most
half the band (the other half is room for rounding while working). A plain answer's band is
`tolerance` × |v|. The new weight of a descent step w' = w − η g is what the student combines
from w, η and their own g: its band is the larger of tolerance × |w'| and η × (g's band), and
never more than half the step |η g|, so a student who leaves w unchanged is marked wrong.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..render import escape
from ..render.printer import UNICODE_GREEK

MAX_DIGITS = 17  # the most digits a question asks for: what a double carries (keys print as many)
TINY = 1e-12  # the band of an answer that is exactly 0

# ---------------------------------------------------------------- inert user text

_ENTITIES = {"{": "&#123;", "}": "&#125;", "@": "&#64;", "\\": "&#92;", "$": "&#36;", "[": "&#91;",
             "]": "&#93;", "`": "&#96;"}


def _entities(text: str, keep: str = "") -> str:
    """HTML-escaped, and the characters Moodle's importer and filters read as markup as entities."""
    out = html.escape(text, quote=True)
    return "".join(_ENTITIES.get(ch, ch) if ch not in keep else ch for ch in out)


def _control_free(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in str(text).replace("\r\n", "\n"))


def _pieces(text: str):
    """(is_math, piece) for text whose $…$ segments are math that tex_math accepts."""
    parts = _control_free(text).split("$")
    if len(parts) < 3:
        yield False, "$".join(parts)
        return
    for k, part in enumerate(parts):
        math = escape.tex_math(part) if k % 2 == 1 and k < len(parts) - 1 else None
        if math is not None:
            yield True, math
        else:
            yield False, ("$" + part + ("$" if k < len(parts) - 1 else "")) if k % 2 == 1 else part


def user_html(text) -> str:
    """A title or description (user text) as inert HTML; its allowed $math$ as \\( … \\)."""
    out = []
    for is_math, piece in _pieces(str(text)):
        if is_math:  # backslashes stay for MathJax; braces as entities (the browser gives MathJax '{')
            out.append("\\(" + _entities(piece, keep="\\") + "\\)")
        elif piece:
            out.append(f'<span class="tex2jax_ignore">{_entities(piece)}</span>')
    return "".join(out)


_CLOZE_LIKE = re.compile(r"\{1:NUMERICAL:=[-+0-9.e]+:[-+0-9.e]+\}|\{(?=\s*#|\s*\d*\s*:)", re.IGNORECASE)


def defused(text: str) -> str:
    """Generated question HTML with every brace that could open a cloze sub-question as an entity,
    except derive's own blanks ({1:NUMERICAL:=answer:tolerance}, see moodle.blank)."""
    return _CLOZE_LIKE.sub(lambda m: m.group(0) if len(m.group(0)) > 1 else "&#123;", text)


# ---------------------------------------------------------------- plain text

_PLAIN = {"cdot": "·", "times": "×", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "le": "≤",
          "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "to": "→", "infty": "∞",
          "odot": "⊙", "circ": "∘", "top": "ᵀ", "ldots": "…", "cdots": "⋯", "dots": "…", "pm": "±",
          "in": "∈", "mid": "|", "prime": "′", "quad": " ", "qquad": " ", "sqrt": "√", "lvert": "|",
          "rvert": "|", "langle": "⟨", "rangle": "⟩", ",": " ", ";": " ", "!": "", "{": "{", "}": "}",
          "|": "‖"} | {cmd: ch for ch, cmd in UNICODE_GREEK.items()}
_SILENT = {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "mathrm", "mathbf", "mathit",
           "mathsf", "boldsymbol", "operatorname", "hat", "bar", "tilde", "vec"}
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def _plain_math(tex: str) -> str:
    for _ in range(4):  # nested fractions, innermost first
        tex = _FRAC.sub(lambda m: f"({m[1]})/({m[2]})" if len(m[1] + m[2]) > 2 else f"{m[1]}/{m[2]}", tex)

    def command(m):
        cmd = m.group(1)
        if cmd in _SILENT:
            return ""
        return _PLAIN.get(cmd, cmd)
    tex = re.sub(r"\\([A-Za-z]+|.)\s*", command, tex)
    return re.sub(r"[{}]", "", tex)


def plain_text(text) -> str:
    """A title as plain text: $math$ in Unicode (σ, ·, ∂), no TeX, no markup characters of
    Moodle (<, >, &, {, }, $, backslash and @ are kept out, as look-alikes where they matter)."""
    out = []
    for is_math, piece in _pieces(str(text)):
        out.append(_plain_math(piece) if is_math else piece)
    plain = " ".join("".join(out).split())
    return plain.translate(str.maketrans({"<": "‹", ">": "›", "&": "+", "{": "(", "}": ")", "$": "",
                                          "\\": "∖", "@": "＠", "[": "(", "]": ")"}))


# ---------------------------------------------------------------- answers and tolerances

@dataclass(frozen=True)
class Answer:
    """A numeric answer, its absolute tolerance (band) and the significant digits to ask for."""
    value: float
    band: float
    digits: int


def exponent(value: float) -> int:
    """The power of ten of the first significant digit (0.0276 -> -2), exactly as printed."""
    return int(f"{abs(float(value)):.15e}".split("e")[1])


def unit(value: float, digits: int) -> float:
    """One unit of the `digits`-th significant digit of value."""
    return 10.0 ** (exponent(value) - digits + 1)


def digits_for(value: float, band: float) -> int:
    """The fewest significant digits whose last unit fits in the band (an answer rounded to them
    is off by at most half the band)."""
    probe = float(value) if value else 1.0
    for d in range(1, MAX_DIGITS + 1):
        if unit(probe, d) <= band * (1 + 1e-9):
            return d
    return MAX_DIGITS


def relative(value, tolerance: float) -> Answer:
    value = float(value)
    band = max(abs(value) * tolerance, TINY)
    return Answer(value, band, digits_for(value, band if value else tolerance))


def update_answers(update, tolerance: float) -> tuple[Answer, Answer]:
    """∂f/∂w and w' = w − η ∂f/∂w (exercises.UpdateAnswer) with bands from the step."""
    gradient = relative(update.gradient, tolerance)
    eta = float(update.eta)
    step = abs(eta * update.gradient)
    new = float(update.new_value)
    band = min(max(abs(new) * tolerance, eta * gradient.band), step / 2)
    return gradient, Answer(new, band, digits_for(new, band))
