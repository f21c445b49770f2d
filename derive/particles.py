"""Korean particles after any word: 은/는, 이/가, 을/를, 으로/로, 과/와, 이나/나, 이라/라 chosen by how
the word before them is read aloud, never the machine's fallback "은(는)".

A Korean message puts the fallback form after a placeholder ("{name}은(는) …"), because the word is
only known when the message is filled in; `particles(text)` then replaces every fallback by the
particle the preceding word takes. The word's last sound is read as a Korean speaker reads it:

    Hangul        its final consonant (받침): 층 → 은, 노드 → 는; ㄹ takes 로, not 으로 (출력 → 으로, 열 → 로)
    a letter      its name: x 엑스 → 는, l 엘 → 은 (and 로), m 엠 → 은, w 더블유 → 는; a subscript is not read
                  (w_kj → 더블유), a superscript is "제곱" (x^2 → 제곱 → 은), a prime "프라임" (σ′ → 은)
    a number      as it is said: 1 일, 3 삼, 10 십, 100 백, 0.5 영 점 오 (the last digit after a point)
    Greek, TeX    by name: σ 시그마, ε 엡실론, \\lambda 람다; closing brackets, quotes and $ are skipped
    an English word  by its final letter as loanwords are written: net 넷 → 은, layer 레이어 → 는, model 모델 → 로

    particles("x은(는) 입력입니다") == "x는 입력입니다"
    Template(s).format(...) / Template(s) % (...)  a message whose fillings are resolved after formatting
"""
from __future__ import annotations

import re

# the fallback forms: (written fallback, after a final consonant, after a vowel)
_FORMS = (("은(는)", "은", "는"), ("는(은)", "은", "는"), ("이(가)", "이", "가"), ("가(이)", "이", "가"),
          ("을(를)", "을", "를"), ("를(을)", "을", "를"), ("과(와)", "과", "와"), ("와(과)", "과", "와"),
          ("(으)로", "으로", "로"), ("(이)나", "이나", "나"), ("(이)라", "이라", "라"), ("(이)며", "이며", "며"),
          ("(이)고", "이고", "고"), ("(이)다", "이다", "다"), ("(이)면", "이면", "면"))
_FALLBACK = re.compile("|".join(re.escape(f) for f, _, _ in _FORMS))
_BY_FALLBACK = {f: (c, v) for f, c, v in _FORMS}

NONE, RIEUL, OTHER = 0, 8, 1  # no final consonant; ㄹ (takes 로, not 으로); any other final consonant

# how a letter's name ends, read in Korean: a 에이, b 비, ... l 엘 (ㄹ), m 엠, n 엔, r 알 (ㄹ)
_LETTERS = dict.fromkeys("abcdefghijkopqstuvwxyz", NONE) | {"l": RIEUL, "m": OTHER, "n": OTHER, "r": RIEUL}
# digits as said at the end of a number: 영 일 이 삼 사 오 육 칠 팔 구
_DIGITS = {"0": OTHER, "1": RIEUL, "2": NONE, "3": OTHER, "4": NONE, "5": NONE, "6": OTHER, "7": RIEUL,
           "8": RIEUL, "9": NONE}
# trailing zeros of a whole number: 십 백 천 만, then 십만 백만 천만 억 ...
_POWERS = {1: OTHER, 2: OTHER, 3: OTHER, 4: OTHER}
# Greek letters and symbols by their Korean names (final sound)
_NAMES = {"alpha": NONE, "beta": NONE, "gamma": NONE, "delta": NONE, "epsilon": OTHER, "varepsilon": OTHER,
          "zeta": NONE, "eta": NONE, "theta": NONE, "vartheta": NONE, "iota": NONE, "kappa": NONE,
          "lambda": NONE, "mu": NONE, "nu": NONE, "xi": NONE, "pi": NONE, "rho": NONE, "sigma": NONE,
          "tau": NONE, "upsilon": OTHER, "phi": NONE, "varphi": NONE, "chi": NONE, "psi": NONE, "omega": NONE,
          "partial": NONE, "nabla": NONE, "infty": NONE, "top": NONE, "odot": NONE, "cdot": NONE, "prime": OTHER,
          "ell": RIEUL, "hat": NONE, "bar": NONE, "log": NONE, "exp": NONE, "tanh": NONE, "sum": NONE}
_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
          "θ": "theta", "ϑ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
          "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi",
          "ψ": "psi", "ω": "omega", "Σ": "sigma", "Δ": "delta", "Γ": "gamma", "Λ": "lambda", "Θ": "theta",
          "Π": "pi", "Φ": "phi", "Ψ": "psi", "Ω": "omega", "∂": "partial", "∇": "nabla", "∞": "infty",
          "ℓ": "ell", "⊤": "top", "⊙": "odot", "·": "cdot"}
_SKIP = set(")]}>\"'`$ \t\n.,;:!?*|⟩」』’”\\")  # read past closing marks to the word they close
_PRIMES = set("′'″")
_SUPERSCRIPTS = set("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿᵀ")
_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼ")
_HARD_END = set("bcdgkpt")  # an English word ending so is written with a final consonant: net 넷, bias 바이어스
_COMMAND = re.compile(r"\\([A-Za-z]+)$")
_WORD = re.compile(r"[A-Za-z]+$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?$")
_SCRIPT = re.compile(r"(?:_\{[^{}]*\}|_[A-Za-z0-9]+|_\\[A-Za-z]+)$")
_POWER = re.compile(r"(?:\^\{[^{}]*\}|\^[A-Za-z0-9]|\*\*[A-Za-z0-9.]+)$")
_TRANSPOSE = re.compile(r"\^(?:\{(?:T|\\top|⊤|\\intercal)\}|T|⊤|\\top)$")
_IGNORED_COMMANDS = {"right", "left", "big", "Big", "bigg", "Bigg", "mathrm", "text", "mathbf", "boldsymbol"}


def _hangul(ch: str) -> int | None:
    code = ord(ch) - 0xAC00
    if 0 <= code < 11172:
        jong = code % 28
        return NONE if jong == 0 else RIEUL if jong == 8 else OTHER
    return None


def _number(digits: str) -> int:
    if "." in digits:
        return _DIGITS[digits[-1]]
    if digits.strip("0") == "":
        return OTHER  # 영
    zeros = len(digits) - len(digits.rstrip("0"))
    return _POWERS.get(zeros, OTHER) if zeros else _DIGITS[digits[-1]]


def final_sound(text: str) -> int | None:
    """How `text`, read aloud in Korean, ends: NONE, RIEUL or OTHER; None when nothing readable ends it."""
    s = text
    while s:
        ch = s[-1]
        if ch in _SKIP:
            s = s[:-1]
            continue
        if (m := _SCRIPT.search(s)) and m.start() > 0:
            s = s[:m.start()]  # w_kj is read 더블유
            continue
        if ch in _SUBSCRIPTS:
            s = s[:-1]
            continue
        if ch in _PRIMES:
            return OTHER  # 프라임
        if _TRANSPOSE.search(s):
            return NONE  # 전치
        if ch in _SUPERSCRIPTS or _POWER.search(s):
            return OTHER if ch != "ᵀ" else NONE  # 제곱 / 전치
        if (sound := _hangul(ch)) is not None:
            return sound
        if ch in _GREEK:
            return _NAMES[_GREEK[ch]]
        if m := _COMMAND.search(s):
            if m.group(1) in _IGNORED_COMMANDS:
                s = s[:m.start()]
                continue
            return _NAMES.get(m.group(1), _word(m.group(1)))
        if m := _NUMBER.search(s):
            return _number(m.group())
        if m := _WORD.search(s):
            return _word(m.group())
        return None
    return None


def _word(word: str) -> int:
    """An English word or a letter as Korean writes it."""
    low = word.lower()
    if len(low) == 1 or word.isupper():
        return _LETTERS.get(low[-1], NONE)  # a letter or an acronym: its last letter's name
    if low.endswith("ng") or low[-1] in "mn":
        return OTHER
    if low[-1] == "l":
        return RIEUL
    return OTHER if low[-1] in _HARD_END else NONE


def particles(text: str) -> str:
    """Every fallback particle in `text` replaced by the one the word before it takes."""
    if "(" not in text:
        return text
    out, last = [], 0
    for m in _FALLBACK.finditer(text):
        before = text[:m.start()]
        after_consonant, after_vowel = _BY_FALLBACK[m.group()]
        sound = final_sound(before)
        if m.group() == "(으)로":
            word = after_consonant if sound == OTHER else after_vowel
        else:
            word = after_vowel if sound in (NONE, None) else after_consonant
        out.append(text[last:m.start()] + word)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


class Template(str):
    """A translated message: formatting it fills the placeholders, then resolves the particles."""

    def format(self, *args, **kwargs) -> str:
        return particles(str.format(self, *args, **kwargs))

    def __mod__(self, values) -> str:
        return particles(str.__mod__(self, values))
