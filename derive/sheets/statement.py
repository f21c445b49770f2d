"""What a variant's statement may say: a problem's description without the sentences that quote
its original numbers (Mazur's ∂E/∂w5 = 0.082167041 belongs to Mazur's values, not to new ones).

    description_for(problem, original_numbers, same_values) -> str
    quoted_numbers(text) -> list of (number text, Fraction)

A clause (split at ". " and "; ") quotes the original when it contains a number that equals, to
the digits it is written with, an input value, a forward value or a gradient of the original
problem. Integers must match with their sign ("lecture 4" is not y = −4), and 0 and ±1 are
taken for constants of a formula (σ(1 − σ)), as are numbers glued to letters or scripts (cs231n,
w5, x^2) and sizes like 2-2-2; a Korean particle after a number (0.5입니다) does not hide it. Math only.
"""
from __future__ import annotations

import re
from fractions import Fraction

# A letter or digit glued to a number makes it part of a name (w5, cs231n); a Korean particle or
# ending does not (0.5입니다, 3과): Hangul is left out of the \w that may not touch a number.
_WORD = r"[^\W\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]"
_NUMBER = re.compile(r"(?<![.^_/{−-])(?<!" + _WORD + r")[−-]?\d+(?:\.\d+)?(?!(?:" + _WORD + r"|\.)*" + _WORD
                     + r"|[−-]\d|\})")
_SHAPE = re.compile(r"\d+(?:\s*[-−x×]\s*\d+)+")  # 2-2-2, 3x3: sizes, not values
_CLAUSE = re.compile(r"(?<=[.;:!?])\s+")


def quoted_numbers(text: str) -> list[tuple[str, Fraction]]:
    text = _SHAPE.sub(" ", text)
    return [(m.group(0), Fraction(m.group(0).replace("−", "-"))) for m in _NUMBER.finditer(text)]


def _matches(written: str, value: Fraction, numbers) -> bool:
    decimals = len(written.split(".")[1]) if "." in written else 0
    half = Fraction(1, 2 * 10 ** decimals)
    if decimals == 0 and abs(value) <= 1:
        return False
    for x in numbers:
        if decimals == 0:
            if x == value:
                return True
        elif abs(Fraction(x) - value) <= half or abs(Fraction(-x) - value) <= half:
            return True
    return False


def description_for(description: str, original_numbers, same_values: bool) -> str:
    """The description, without the clauses that quote the original numbers unless the
    variant has the original values."""
    if same_values or not description:
        return description
    numbers = [Fraction(x).limit_denominator(10 ** 12) if not isinstance(x, Fraction) else x
               for x in original_numbers]
    kept = []
    for clause in _CLAUSE.split(description.strip()):
        if any(_matches(w, v, numbers) for w, v in quoted_numbers(clause)):
            continue
        kept.append(clause)
    text = " ".join(kept).strip()
    if text and text[-1] in ";:,":
        text = text[:-1] + "."
    return text
