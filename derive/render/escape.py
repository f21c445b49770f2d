"""Escaping user text (titles, descriptions, names in prose) for LaTeX and for Markdown.

User text is data: after `tex_text`, no character of it can start a TeX command, open a
group, switch to math mode or start a comment. `\\input{/etc/passwd}` prints literally.
"""
from __future__ import annotations

import unicodedata

from .printer import UNICODE_GREEK

_TEX = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}",
    "\u2212": "\u2013",  # minus sign -> en dash in text
    "\u00a0": "~",
    "×": r"\texttimes{}", "·": r"\textperiodcentered{}", "…": r"\dots{}", "∂": r"\ensuremath{\partial}",
    "⊙": r"\ensuremath{\odot}", "∑": r"\ensuremath{\sum}", "∇": r"\ensuremath{\nabla}",
    "≈": r"\ensuremath{\approx}", "≤": r"\ensuremath{\le}", "≥": r"\ensuremath{\ge}",
    "→": r"\ensuremath{\to}", "←": r"\ensuremath{\leftarrow}", "ᵀ": r"\textsuperscript{T}",
    "²": r"\textsuperscript{2}", "³": r"\textsuperscript{3}", "√": r"\ensuremath{\surd}",
    "∞": r"\ensuremath{\infty}", "≠": r"\ensuremath{\neq}", "±": r"\ensuremath{\pm}",
    "‘": "`", "’": "'", "“": "``", "”": "''", "–": "--", "—": "---",
}
_TEX.update({ch: rf"\ensuremath{{\{cmd}}}" for ch, cmd in UNICODE_GREEK.items()})


def _tex_char(ch: str) -> str:
    if ch in _TEX:
        return _TEX[ch]
    if ch in "\n\r\t":
        return " "
    code = ord(ch)
    if code < 32 or code == 127 or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return ""
    if code < 128:
        return ch
    # Latin-1 (½, °, é, ...) and Latin letters with accents are covered by inputenc utf8 + T1 +
    # textcomp; anything else is shown by its code point rather than breaking the build.
    if code <= 0xFF or (code < 0x250 and unicodedata.category(ch).startswith("L")):
        return ch
    return rf"\texttt{{[U+{code:04X}]}}"


def tex_text(text) -> str:
    """Plain text -> LaTeX text mode, every special character literal. Blank lines become \\par."""
    paragraphs = str(text).replace("\r\n", "\n").split("\n\n")
    return r" \par ".join("".join(_tex_char(ch) for ch in p).strip() for p in paragraphs)


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>$~&")


def md_text(text) -> str:
    """Plain text -> Markdown that shows it literally (no emphasis, no math, no HTML)."""
    out = []
    for ch in str(text).replace("\r\n", "\n"):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)
