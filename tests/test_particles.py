"""Korean particles chosen by how the word before them is read aloud (derive/particles.py): a table of
words whose Korean reading a speaker would give, with the particle each takes."""
from __future__ import annotations

import pytest

from derive.particles import Template, particles

# word, its reading (for the reader of this table), the topic particle, the particle of 으로/로
WORDS = [
    ("층", "층", "은", "으로"), ("노드", "노드", "는", "로"), ("출력", "출력", "은", "으로"), ("열", "열", "은", "로"),
    ("x", "엑스", "는", "로"), ("l", "엘", "은", "로"), ("m", "엠", "은", "으로"), ("n", "엔", "은", "으로"),
    ("r", "알", "은", "로"), ("w_kj", "더블유", "는", "로"), ("w_{kj}", "더블유", "는", "로"),
    ("x^2", "엑스 제곱", "은", "으로"), ("den^2", "덴 제곱", "은", "으로"), ("σ′", "시그마 프라임", "은", "으로"),
    ("1", "일", "은", "로"), ("2", "이", "는", "로"), ("3", "삼", "은", "으로"), ("10", "십", "은", "으로"),
    ("100", "백", "은", "으로"), ("0.5", "영 점 오", "는", "로"), ("0", "영", "은", "으로"), ("7", "칠", "은", "로"),
    ("σ", "시그마", "는", "로"), ("ε", "엡실론", "은", "으로"), ("δ_j", "델타", "는", "로"),
    (r"\lambda", "람다", "는", "로"),
    ("net", "넷", "은", "으로"), ("layer", "레이어", "는", "로"), ("model", "모델", "은", "로"),
    ("ReLU", "렐루", "는", "로"),
    ("(x + y)", "엑스 플러스 와이", "는", "로"), ("$\\frac{\\partial L}{\\partial w}$", "… 더블유", "는", "로"),
    ("'den'", "덴", "은", "으로"), ("W^T", "더블유 전치", "는", "로"), ("Wᵀ", "더블유 전치", "는", "로"),
    ("o_k(1 - o_k)", "… 오", "는", "로"), ("bias", "바이어스", "는", "로"), ("softmax", "소프트맥스", "는", "로"),
]


@pytest.mark.parametrize(("word", "reading", "topic", "direction"), WORDS)
def test_particles_follow_the_reading(word, reading, topic, direction):
    subject = {"은": "이", "는": "가"}[topic]
    obj = {"은": "을", "는": "를"}[topic]
    assert particles(f"{word}은(는) 값") == f"{word}{topic} 값", reading
    assert particles(f"{word}이(가) 있습니다") == f"{word}{subject} 있습니다", reading
    assert particles(f"{word}을(를) 곱합니다") == f"{word}{obj} 곱합니다", reading
    assert particles(f"{word}(으)로 나눕니다") == f"{word}{direction} 나눕니다", reading
    assert particles(f"{word}와(과) 같습니다") == f"{word}{'과' if topic == '은' else '와'} 같습니다", reading


def test_no_fallback_survives_any_word():
    for word, *_ in WORDS:
        for fallback in ("은(는)", "이(가)", "을(를)", "(으)로", "와(과)", "(이)나"):
            assert "(" + fallback.strip("(")[:1] not in particles(word + fallback)[len(word):]


def test_a_template_resolves_after_it_is_filled():
    assert Template("{name}은(는) {other}와(과) 같습니다").format(name="층", other="x") == "층은 x와 같습니다"
    assert Template("%(name)s이(가) 큽니다") % {"name": "끝"} == "끝이 큽니다"
    assert particles("괄호 없는 문장") == "괄호 없는 문장"
