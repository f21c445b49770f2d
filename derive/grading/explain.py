"""A verdict as plain text for the terminal: correct or wrong, how the answer was read, ONE
diagnosis (the most specific of the alternatives the simulated mistakes found, `shown`) and the
counterexample with both values and the few values they depend on (`shown_values`).
(No LaTeX machinery: a plain verify stays light.) The fixed text is in the current language (i18n).
"""
from __future__ import annotations

import re

from ..i18n import _
from .answers import Verdict

# the alternatives a wrong answer may have, most specific first: one of them is shown
_SPECIFIC = ("delta-convention", "quotient-rule", "wrong-activation", "activation-for-derivative",
             "flipped-indicator", "part-of-factor", "missing-path", "counted-twice", "chain-stops", "chain-past",
             "missing-upstream", "upstream-twice", "missing-factor", "factor-twice", "sign-in-factor", "transposed",
             "wrong-index", "wrong-quantity", "factor-2", "factor-half", "sign", "other-gradient", "extra-factor",
             "extra-term", "some-units", "ratio")
# what is wrong besides the mistake (the left side, an unbound index, a number for an expression): always shown
_ALWAYS = ("left-side", "right-side", "unbound-index", "missing-sum", "narrow-sum", "number", "shape", "undefined",
           "no-such-unit", "batch-size")
MAX_VALUES = 6  # a counterexample point with more values shows only those the two values depend on


def in_own_names(d, verdict):
    """The diagnosis told in the problem's own names (tanh(w·x + b), not the gate tanhwxpb) when the
    answer and the question use no gate name: the student never saw those."""
    from .answers import Diagnosis, code_of
    values = getattr(d, "spoken", None)
    if not values or verdict is None:
        return d
    used = {str(s) for s in getattr(verdict.answer, "free_symbols", ())} | {verdict.wrt}
    if used & d.gates:
        return d
    told = Diagnosis(_(d.msgid).format(**values), code_of(d), d.msgid, values)
    told.together = getattr(d, "together", False)
    return told


def shown(diagnoses, verdict=None) -> list[str]:
    """The diagnoses to show: every one that says what else is wrong, and of the alternative
    explanations of the mistake only the most specific (two when the mistake is two at once), in
    the problem's own names (`in_own_names`)."""
    from .answers import code_of, is_generic
    diagnoses = [in_own_names(d, verdict) for d in diagnoses]
    always = [d for d in diagnoses if code_of(d) in _ALWAYS]
    rest = [d for d in diagnoses if code_of(d) not in _ALWAYS]
    if any(getattr(d, "together", False) for d in rest):
        return always + rest
    specific = [d for d in rest if not is_generic(d)] or rest

    def rank(d):
        code = code_of(d)
        return _SPECIFIC.index(code) if code in _SPECIFIC else len(_SPECIFIC) // 2
    best = sorted(specific, key=rank)[:1]
    if best and code_of(best[0]) == "wrong-index":  # i where j belongs says why i is left unbound: once
        always = [d for d in always if code_of(d) != "unbound-index"]
    return always + best


def as_json(verdict) -> dict:
    """What `derive verify --json` prints: the verdict's record, and under "shown" the diagnoses a
    student is shown (`shown`: the most specific one, in the problem's own names), worded as the
    terminal words them (`told`: formulas as o_k(1 − o_k), not o_k*(1 - o_k))."""
    return {**verdict.to_json(), "shown": [told(d) for d in shown(verdict.diagnosis, verdict)]}


def shown_values(cx) -> tuple[dict, bool]:
    """The values a counterexample is shown with, and whether they are the whole point: a point of a
    few values whole, else the quantities the expected and the given value depend on."""
    point, quantities = cx.get("point") or {}, cx.get("quantities") or {}
    if len(point) <= MAX_VALUES or not quantities:
        return point, True
    return quantities, False


_NAME = re.compile(r"[A-Za-z]+(?:\^[A-Za-z0-9]+)?(?:_[A-Za-z0-9]+)?")


def _function_names() -> set:
    from ..engine.ops import FUNCTION_TABLE
    return {n for f in FUNCTION_TABLE.values() for n in (f.name, f.short, f.plain, *f.spellings)}


def _inline_tex():
    """The answer printer's TeX with ∂L/∂w_kj on one line (a fraction is too small in a sentence)."""
    from dataclasses import replace

    from .showing import TEX, tex_name
    return replace(TEX, grad=lambda num, den: rf"\partial {tex_name(num)}/\partial {tex_name(den)}",
                   diff=lambda body, x: rf"\partial\left({body}\right)/\partial {tex_name(x)}")


def formula(plain, tex: bool = False) -> str | None:
    """A formula of a message (∂o_k/∂net_k = o_k*(1 - o_k), w^h_11, δ_k) as the answer printer
    writes it: plain (o_k(1 − o_k)) or, with `tex`, LaTeX math; None when it is not one formula."""
    from ..engine.ops import FUNCTION_TABLE
    from ..errors import DeriveError, ParseError
    from .reading import parse_answer
    from .showing import PLAIN, show
    text = str(plain)
    if not text.strip() or len(text) > 300 or re.search(r"[가-힣]|[A-Za-z]{2,}'?s?\s+[A-Za-z]{2,}", text):
        return None  # words, not a formula (two words in a row: "identity unit")
    primes = {f.prime_plain: f.prime_latex for f in FUNCTION_TABLE.values() if f.prime_plain}
    if text in primes:  # σ′ on its own: the derivative's head
        return primes[text] if tex else text
    if re.fullmatch(r"\d+(?:×\d+)+", text):  # a shape, 2×3: not a product
        return r" \times ".join(text.split("×")) if tex else text
    out, functions = [], _function_names()
    if any(w not in functions for w in re.findall(r"(?<![\w^])([A-Za-z]{3,})\(", text)):
        return None  # colsum(dY): a call the answer reader does not know
    for side in text.split(" = "):
        gradient = re.fullmatch(r"∂([^∂/]+)/∂\((.+)\)", side)  # ∂tanh(w·x + b)/∂(w·x + b): a gate told as its value
        if gradient:
            top, bottom = formula(gradient.group(1), tex), formula(gradient.group(2), tex)
            if top is None or bottom is None:
                return None
            out.append(rf"\partial {top}/\partial\left({bottom}\right)" if tex else f"∂{top}/∂({bottom})")
            continue
        known = {n for n in _NAME.findall(side) if n not in functions}
        try:
            out.append(show(parse_answer(side, known), _inline_tex() if tex else PLAIN))
        except (ParseError, DeriveError, ValueError, TypeError, KeyError, IndexError, RecursionError):
            return None
    return " = ".join(out)


def told(d) -> str:
    """A diagnosis for the terminal, its formulas as the answer printer writes them (o_k(1 − o_k))."""
    msgid, values = getattr(d, "msgid", ""), getattr(d, "values", None)
    if not msgid or not values:
        return str(d)
    pretty = {k: (formula(v) or v) if isinstance(v, str) else v for k, v in values.items()}
    try:
        return _(msgid).format(**pretty)
    except (KeyError, IndexError, ValueError):
        return str(d)


def number_text(x) -> str:
    if isinstance(x, list):  # a matrix (rows) or a vector of a matrix-layer counterexample
        return "[" + ", ".join(number_text(v) for v in x) + "]"
    return _("undefined") if x is None else f"{x:.10g}"


def instance_text(cx) -> str:
    """' for k = 1, j = 2' (the index binding of a counterexample), or ''."""
    inst = cx.get("instance")
    if not inst:
        return ""
    return _(" for {bindings}").format(bindings=", ".join(f"{k} = {v}" for k, v in inst.items()))


def _read_as(v) -> list[str]:
    lines = [_("  read as: {answer}").format(answer=v.read_as)] if v.read_as else []
    return lines + [f"  ({n})" for n in v.notes]


def describe(verdict: Verdict, answer_text: str) -> str:
    """The verdict as plain text for the terminal."""
    if verdict.correct:
        return "\n".join([_("correct: {answer} = {label}").format(answer=answer_text, label=verdict.label)]
                         + _read_as(verdict) + [f"  ({verdict.method})"])
    lines = [_("wrong: {answer} is not {label}").format(answer=answer_text, label=verdict.label)] + _read_as(verdict)
    lines += [f"  - {told(d)}" for d in shown(verdict.diagnosis, verdict)]
    cx = verdict.counterexample
    if cx:
        values, whole = shown_values(cx)
        where = ", ".join(f"{k} = {number_text(v)}" for k, v in values.items())
        if not whole:
            message = _("  counterexample{instance} at the problem's own values, where {values}:") \
                if cx.get("own_point") else _("  counterexample{instance} at a random point, where {values}:")
            lines.append(message.format(instance=instance_text(cx), values=where))
        else:
            message = _("  counterexample{instance} at {point} (the problem's own values):") if cx.get("own_point") \
                else _("  counterexample{instance} at {point}:")
            lines.append(message.format(instance=instance_text(cx), point=where))
        gives = _("    expected {label} = {expected}, your answer gives {got}") if cx["got"] is not None else \
            _("    expected {label} = {expected}, your answer gives undefined")
        lines.append(gives.format(label=verdict.label, expected=number_text(cx["expected"]),
                                  got=number_text(cx["got"])))
        if whole and cx.get("quantities") and cx.get("shapes"):
            lines.append(_("    where {values}").format(
                values=", ".join(f"{k} = {number_text(v)}" for k, v in cx["quantities"].items())))
    lines.append(f"  ({verdict.method})")
    return "\n".join(lines)
