"""A verdict as plain text for the terminal: correct or wrong, how the answer was read, the
diagnosis and the counterexample with both values. (No LaTeX machinery: a plain verify stays light.)
The fixed text is in the current language (i18n).
"""
from __future__ import annotations

from ..i18n import _
from .answers import Verdict


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
    lines += [f"  - {d}" for d in verdict.diagnosis]
    cx = verdict.counterexample
    if cx:
        where = ", ".join(f"{k} = {number_text(v)}" for k, v in cx["point"].items())
        message = _("  counterexample{instance} at {point} (the problem's own values):") if cx.get("own_point") \
            else _("  counterexample{instance} at {point}:")
        lines.append(message.format(instance=instance_text(cx), point=where))
        gives = _("    expected {label} = {expected}, your answer gives {got}") if cx["got"] is not None else \
            _("    expected {label} = {expected}, your answer gives undefined")
        lines.append(gives.format(label=verdict.label, expected=number_text(cx["expected"]),
                                  got=number_text(cx["got"])))
        if cx.get("quantities") and cx.get("shapes"):
            lines.append(_("    where {values}").format(
                values=", ".join(f"{k} = {number_text(v)}" for k, v in cx["quantities"].items())))
    lines.append(f"  ({verdict.method})")
    return "\n".join(lines)
