"""Names as students type them, matched against the names a problem has.

Greek spelled either way (δ_k, delta_k), layer superscripts braced or not (w^{l+1}_{ij},
w^l+1_ij, a^{l−1}_k, a_k^{l-1}), a batch sample in the superscript (a^{L-1,(n)}_k, o^(2)_1) moved
to the subscript (a^L-1_nk, o_21); `_name_at` finds the longest decorated name at a position that
the problem knows, or reads h^2_j as (h_j)^2.
"""
from __future__ import annotations

import re
import unicodedata

from ..errors import ParseError
from .latex_reading import greek

_NAMECH = r"A-Za-z0-9\u0370-\u03ff"
_START = re.compile(r"[A-Za-z\u0370-\u03ff]")
_BASE = re.compile(rf"[A-Za-z\u0370-\u03ff][{_NAMECH}]*")


def alias(name: str) -> str:
    """The same name with its Greek base spelled the other way: δ_k <-> delta_k, σ <-> sigma."""
    m = re.match(r"([A-Za-z\u0370-\u03ff]+)(.*)$", name, re.S)
    base, rest = m.groups() if m else (name, "")
    if len(base) == 1 and "\u0370" <= base <= "\u03ff":
        spelled = unicodedata.name(base, "").split()[-1].lower()
        return (spelled.capitalize() if base.isupper() else spelled) + rest
    letter = greek(base) if base.lower().replace("var", "") in _GREEK_SPELLED else None
    return letter + rest if letter else name


_GREEK_SPELLED = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
                  "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"}


def resolve_known(name: str, known) -> str | None:
    """`name` as one of the known names (directly or through its Greek alias), else None."""
    for candidate in (name, alias(name)):
        try:
            if candidate in known:
                return candidate
        except (TypeError, ValueError):
            return None
    return None


def _strip_parens(s: str) -> str:
    s = s.strip()
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def canonical(base: str, sup: str | None, sub: str | None) -> list[str]:
    """The spellings of a decorated name to look up, most literal first: w^l+1_ij, and for a
    sample in the superscript (a^{L-1,(n)}_k, o^(2)_1) also the sample moved into the subscript."""
    sub_c = re.sub(r"[\s{}]", "", sub) if sub is not None else None
    if sub_c is not None and "," in sub_c and not any(len(p) > 1 and p.isdigit() for p in sub_c.split(",")):
        sub_c = sub_c.replace(",", "")
    if sup is None:
        return [f"{base}_{sub_c}"] if sub_c is not None else [base]
    sup_c = re.sub(r"\s", "", _strip_parens(sup)).replace("−", "-")
    out = [f"{base}^{sup_c}" + (f"_{sub_c}" if sub_c is not None else "")]
    m = re.fullmatch(r"(?:(.*?),?)\(([A-Za-z0-9]+)\)", sup_c)
    if not m:  # y^{(n)}_j, t^((2))_k: the parentheses of a sample read off as grouping
        m = re.fullmatch(r"()\(\(?([A-Za-z0-9]+)\)?\)", re.sub(r"[\s{}]", "", sup).replace("−", "-"))
    if m:
        layer, sample = m.group(1), m.group(2)
        head = f"{base}^{layer}" if layer else base
        out.append(f"{head}_{sample}{sub_c or ''}")
    return out


class UnknownName(ParseError):
    """A decorated name (a^l-2_k) the problem does not have."""

    def __init__(self, name: str):
        super().__init__(f"unknown name {name}")
        self.name = name


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def _part(text: str, j: int) -> list:
    """The readings of one _ or ^ part at text[j]: (kind, raw, end), longest first."""
    kind, j = text[j], _skip(text, j + 1)
    if j < len(text) and text[j] in "({":
        close, depth, k = {"(": ")", "{": "}"}[text[j]], 0, j
        while k < len(text):
            depth += (text[k] == text[j]) - (text[k] == close)
            k += 1
            if depth == 0:
                return [(kind, text[j:k], k)]
        return []
    m = re.compile(r"[A-Za-z0-9]+").match(text, j)
    if not m:
        return []
    if kind == "_":
        return [(kind, m.group(), m.end())]
    longer = re.compile(r"[A-Za-z0-9]+(?:[+\-][0-9]+)?(?:,\([A-Za-z0-9]+\))?").match(text, j).group()
    return [(kind, r, j + len(r)) for r in dict.fromkeys([longer, m.group(), m.group()[0]])]


def _options(text: str, i: int) -> list:
    """Every reading (end, sup, sub) of the decorations after a name's base, longest first."""
    opts = []
    p = _skip(text, i)
    if p >= len(text) or text[p] not in "_^":
        return opts
    for kind, raw, end in _part(text, p):
        sup, sub = (raw, None) if kind == "^" else (None, raw)
        opts.append((end, sup, sub))
        q = _skip(text, end)
        if q < len(text) and text[q] in "_^" and text[q] != kind:
            for kind2, raw2, end2 in _part(text, q):
                opts.append((end2, raw2 if kind2 == "^" else sup, raw2 if kind2 == "_" else sub))
    return sorted(opts, key=lambda o: -o[0])


def _name_at(text: str, i: int, known):
    """(end, known name, power or None) for a decorated name at i, or None. `h^2_j` with h_j
    known is h_j to the power 2; an unknown layered name (a^l-2_k) raises UnknownName."""
    base = _BASE.match(text, i).group()
    opts = [o for o in _options(text, i + len(base)) if o[1] is not None]
    for end, sup, sub in opts:
        for name in canonical(base, sup, sub):
            found = resolve_known(name, known)
            if found:
                return end, found, None
    for end, sup, sub in opts:
        if sub is not None:
            found = resolve_known(canonical(base, None, sub)[0], known)
            if found and re.fullmatch(r"\(?[-+]?[0-9./]+\)?", sup.strip()):
                return end, found, _strip_parens(sup)
    for _end, sup, sub in opts:
        if sub is not None and re.search(r"[A-Za-z]", sup) and not resolve_known(base, known):
            raise UnknownName(canonical(base, sup, sub)[0])
    return None


def index_splits(sub: str, counts, limits) -> list[list[str]]:
    """Every reading of a subscript as `counts` (allowed numbers of) indices: `3,10` as written;
    `nj`, `12`, `111` with each letter one index and each run of digits split every way (12: 1,2 or
    12). `limits(count)` gives each position's largest 1-based value (None: a letter only fits)."""
    sub = re.sub(r"[\s{}]", "", sub)
    if "," in sub:
        runs = [[p] for p in sub.split(",")]
    else:
        runs = [[t] if t.isalpha() else _digit_splits(t) for t in re.findall(r"[A-Za-z]|[0-9]+|.", sub)]
    out: list[list[str]] = [[]]
    for options in runs:
        out = [r + o for r in out for o in ([opt] if isinstance(opt, str) else opt for opt in options)][:256]
    found = []
    for r in out:
        if len(r) in counts and all(_fits(p, top) for p, top in zip(r, limits(len(r)))) and r not in found:
            found.append(r)
    return found


def _digit_splits(run: str) -> list[list[str]]:
    if len(run) > 6:
        return [[run]]
    out = [[run]]
    for i in range(1, len(run)):
        out += [[run[:i], *rest] for rest in _digit_splits(run[i:])]
    return out


def _fits(part: str, top) -> bool:
    if len(part) == 1 and part.isalpha():
        return True
    return part.isdigit() and not part.startswith("0") and (top is None or int(part) <= top)
