"""Escaping user text (titles, descriptions, names in prose) for LaTeX and for Markdown.

User text is data: after `tex_text`, no character of it can start a TeX command, open a
group, switch to math mode or start a comment. `\\input{/etc/passwd}` prints literally.
"""
from __future__ import annotations

import re
import unicodedata

from ..engine.ops import FUNCTION_TABLE
from ..i18n import hangul
from .printer import GREEK, UNICODE_GREEK

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
    "′": r"\ensuremath{'}", "″": r"\ensuremath{''}",  # primes: σ′, tanh′
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
    # Korean letters print as they are: a document holding them is set with LuaLaTeX and luatexko
    # (render/pdf.document); so does any other letter (ς, ά, ϑ, ƀ, ĸ, Cyrillic, CJK), combining
    # mark or digit, and CJK punctuation (『 』, full-width forms), in a document set with LuaLaTeX
    # and fonts that have it (pdf.unicode_preamble). Other symbols show their code point.
    if hangul(ch) or unicodedata.category(ch)[0] in "LMN" or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
        return ch
    return rf"\texttt{{[U+{code:04X}]}}"


def tex_text(text, strip: bool = True) -> str:
    """Plain text -> LaTeX text mode, every special character literal. Blank lines become \\par."""
    paragraphs = str(text).replace("\r\n", "\n").split("\n\n")
    pieces = ("".join(_tex_char(ch) for ch in p) for p in paragraphs)
    return r" \par ".join(p.strip() if strip else p for p in pieces)


_MD_SPECIAL = set("\\`*_[]|$~")  # inline specials of CommonMark/GFM, and $ (math in KaTeX blogs)
_MD_BLOCK_START = re.compile(r"^(\s*)([-+#>=]|\d+[.)])")  # would start a list, heading or quote


def md_text(text) -> str:
    """Plain text -> Markdown that shows it literally (no emphasis, no math, no HTML, no link).

    Only what CommonMark needs is escaped: `\\ ` * _ [ ] | $ ~`, `<`, `>` and `&` as entities,
    and a leading `-`, `+`, `#`, `>`, `=` or `1.` that would start a block; `.`, `(`, `-`
    elsewhere stay as they are (a `\\(` would open inline math in MathJax).
    """
    out = []
    text = " ".join(str(text).replace("\r\n", "\n").split("\n"))
    for ch in text:
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    line = "".join(out)
    m = _MD_BLOCK_START.match(line)
    if m and not m.group(2).startswith("&"):
        marker = m.group(2)
        line = m.group(1) + marker[:-1] + "\\" + marker[-1] + line[m.end():]
    return line


# ---------------------------------------------------------------- text with $math$

_MATH_COMMANDS = {
    "cdot", "times", "partial", "nabla", "sum", "prod", "frac", "tfrac", "dfrac", "sqrt", "ln",
    "top", "mathrm", "mathbf", "mathit", "mathsf", "boldsymbol",
    "operatorname", "odot", "circ", "le", "ge", "leq", "geq", "ne", "neq", "approx", "to", "infty",
    "ldots", "cdots", "dots", "quad", "qquad", "prime", "hat", "bar", "tilde", "vec", "in", "pm", "mid",
    "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "lvert", "rvert", "langle", "rangle",
    ",", ";", "!", "{", "}", "|",
} | GREEK | {  # and every command of the functions' LaTeX (\exp, \tanh, \max, \sigma)
    c for f in FUNCTION_TABLE.values() for c in re.findall(r"\\([A-Za-z]+)", f.latex + f.glyph)}
_MATH_UNICODE = {
    "·": r"\cdot ", "−": "-", "×": r"\times ", "½": r"\tfrac{1}{2}", "²": "^{2}", "³": "^{3}",
    "∂": r"\partial ", "∇": r"\nabla ", "∑": r"\sum ", "≈": r"\approx ", "≤": r"\le ", "≥": r"\ge ",
    "→": r"\to ", "∈": r"\in ", "′": "'", "⊙": r"\odot ", "ᵀ": r"^{\top}", "…": r"\dots ", "∞": r"\infty ",
    "≠": r"\ne ",
} | {ch: f"\\{cmd} " for ch, cmd in UNICODE_GREEK.items()}
_MATH_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=()[],./<>|!':;^_{}")


def tex_math(text: str) -> str | None:
    """The math an author wrote between $...$, as LaTeX math, or None when it is not safe.

    Only letters, digits, operators, braces (balanced), sub/superscripts (one of each per atom)
    and a fixed list of math commands pass; no `^^` (TeX's character-code escape), no other
    command, no `#`, `%`, `&`, `~` or `$`: whatever is refused is shown as text instead.
    """
    out, depth, i = [], 0, 0
    lefts = 0
    scripts: list[set] = [set()]  # per group: the scripts the current atom already has
    pending = False  # the next atom is the argument of a ^ or _, not a new base
    arg_groups: list[bool] = []  # per open group: is it a script's argument

    def atom():
        nonlocal pending
        if pending:
            pending = False
        else:
            scripts[-1] = set()
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            j = i + 1
            while j < len(text) and text[j].isalpha():
                j += 1
            cmd = text[i + 1:j] if j > i + 1 else text[i + 1:i + 2]
            if cmd not in _MATH_COMMANDS:
                return None
            lefts += {"left": 1, "right": -1}.get(cmd, 0)
            out.append("\\" + cmd + (" " if cmd.isalpha() else ""))
            i = j if j > i + 1 else i + 2
            atom()
            continue
        if ch in _MATH_UNICODE:
            out.append(_MATH_UNICODE[ch])
            if ch not in "²³ᵀ":
                atom()
            elif pending or "^" in scripts[-1]:
                return None
            else:
                scripts[-1].add("^")
        elif ch in _MATH_PLAIN:
            if ch in "^_":
                if text[i:i + 2] == "^^" or ch in scripts[-1] or pending or i + 1 == len(text):
                    return None
                scripts[-1].add(ch)
                pending = True
            elif ch == "{":
                depth += 1
                arg_groups.append(pending)
                pending = False
                scripts.append(set())
            elif ch == "}":
                depth -= 1
                if depth < 0:
                    return None
                scripts.pop()
                if not arg_groups.pop():
                    scripts[-1] = set()
            elif ch != " ":
                atom()
            out.append(ch)
        else:
            return None
        i += 1
    if depth or lefts or not text.strip():
        return None
    return "".join(out).strip()


def _rich(text, plain, math_wrap) -> str:
    """Text whose $...$ segments are math (sanitised by tex_math), the rest through `plain`."""
    text = str(text)
    parts = text.split("$")
    if len(parts) < 3:
        return plain(text)
    out = []
    for k, part in enumerate(parts):
        if k % 2 == 1 and k < len(parts) - 1:
            math = tex_math(part)
            out.append(math_wrap(math) if math is not None else plain("$" + part + "$"))
        elif k % 2 == 1:  # an unmatched last $
            out.append(plain("$" + part))
        else:
            out.append(plain(part))
    return "".join(out)


def tex_rich(text) -> str:
    """User text for LaTeX: literal, except $...$ segments typeset as (sanitised) math."""
    return _rich(text, lambda t: tex_text(t, strip=False), lambda m: f"${m}$").strip()


def html_rich(text) -> str:
    """User text for HTML with MathJax (Moodle): escaped, except $...$ segments as \\( ... \\)."""
    import html
    return _rich(text, lambda t: html.escape(t, quote=False), lambda m: "\\(" + html.escape(m, quote=False) + "\\)")


_MD_MATH = {"<": r"\lt ", ">": r"\gt ", "&": r"\&"}


def md_math(latex: str) -> str:
    """LaTeX math for a Markdown `$...$`: `<`, `>` and `&` as `\\lt`, `\\gt` and `\\&`, which KaTeX and
    MathJax print as the same signs, so a renderer that passes raw HTML (or one without a math
    extension) never reads a tag or an entity in it."""
    return "".join(_MD_MATH.get(ch, ch) for ch in str(latex))


def md_rich(text) -> str:
    """User text for Markdown: literal, except $...$ segments kept as math for KaTeX/MathJax
    (with `<` and `>` as \\lt and \\gt, see md_math)."""
    return _rich(text, md_text, lambda m: f"${md_math(m)}$")
