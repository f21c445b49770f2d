"""A verdict as plain text for the terminal: correct or wrong, how the answer was read, the
diagnosis and the counterexample with both values. (No LaTeX machinery: a plain verify stays light.)
"""
from __future__ import annotations

from .answers import Verdict


def number_text(x) -> str:
    if isinstance(x, list):  # a matrix (rows) or a vector of a matrix-layer counterexample
        return "[" + ", ".join(number_text(v) for v in x) + "]"
    return "undefined" if x is None else f"{x:.10g}"


def _read_as(v) -> list[str]:
    lines = [f"  read as: {v.read_as}"] if v.read_as else []
    return lines + [f"  ({n})" for n in v.notes]


def describe(verdict: Verdict, answer_text: str) -> str:
    """The verdict as plain text for the terminal."""
    if verdict.correct:
        return "\n".join([f"correct: {answer_text} = {verdict.label}"] + _read_as(verdict)
                         + [f"  ({verdict.method})"])
    lines = [f"wrong: {answer_text} is not {verdict.label}"] + _read_as(verdict)
    lines += [f"  - {d}" for d in verdict.diagnosis]
    cx = verdict.counterexample
    if cx:
        where = ", ".join(f"{k} = {number_text(v)}" for k, v in cx["point"].items())
        inst = ""
        if cx.get("instance"):
            inst = " for " + ", ".join(f"{k} = {v}" for k, v in cx["instance"].items())
        own = " (the problem's own values)" if cx.get("own_point") else ""
        lines.append(f"  counterexample{inst} at {where}{own}:")
        lines.append(f"    expected {verdict.label} = {number_text(cx['expected'])}, "
                     f"your answer gives {number_text(cx['got'])}")
        if cx.get("quantities") and cx.get("shapes"):
            lines.append("    where " + ", ".join(f"{k} = {number_text(v)}" for k, v in cx["quantities"].items()))
    lines.append(f"  ({verdict.method})")
    return "\n".join(lines)
