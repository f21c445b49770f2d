"""No fallback particle (은(는), 이(가), 을(를), (으)로, 와(과) …) anywhere in Korean output: the report (TeX and
Markdown), worksheets and keys at every level, the Moodle quiz, and verify's feedback on right, wrong and unreadable
answers. Each particle is chosen by the word before it (derive/particles.py)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from derive.particles import _FORMS

FALLBACK = re.compile("|".join(re.escape(f) for f, _, _ in _FORMS))
EXAMPLES = Path(__file__).resolve().parents[1] / "derive" / "examples"
DERIVE = [sys.executable, "-m", "derive"]


def _run(*args):
    return subprocess.run(DERIVE + list(args), capture_output=True, text=True, timeout=300)


def _fallbacks(text):
    return [text[max(0, m.start() - 30):m.end() + 5] for m in FALLBACK.finditer(text)]


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_the_korean_report_has_no_fallback_particle(tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    r = _run("report", "--builtin", "--lang", "ko", "--detail", "full", "--format", fmt, "-o", str(out))
    assert r.returncode == 0
    assert _fallbacks(out.read_text(encoding="utf-8")) == []


def test_korean_worksheets_keys_and_quiz_have_no_fallback_particle(tmp_path):
    for level in ("exam", "outline", "local-gradients", "fill-in", "worked"):
        d = tmp_path / level
        r = _run("worksheet", "--builtin", "--lang", "ko", "--format", "tex", "--level", level, "-o", str(d))
        assert r.returncode == 0
        for f in d.glob("*.tex"):
            assert _fallbacks(f.read_text(encoding="utf-8")) == [], (level, f.name)
    q = tmp_path / "moodle"
    assert _run("worksheet", "--builtin", "--lang", "ko", "--format", "moodle", "-o", str(q)).returncode == 0
    assert _fallbacks((q / "quiz.xml").read_text(encoding="utf-8")) == []


# (problem, wrt, answers): right, wrong in different ways, unreadable, unknown names
VERIFY = [
    ("circuit.toml", "x", ["z", "x + y", "2*z", "q", "$z$", "z +", "foo*z", "(x"]),
    ("staged.toml", "den", ["-num/den^2", "-num/den", "num/den^2", "1/den", "invden"]),
    ("mlp_222.toml", "w^o_11", ["-(t_1 - o_1)*o_1*(1-o_1)*h_1", "o_1*(1-o_1)", "(t_1 - o_1)*o_1*(1-o_1)*h_1",
                                "-(t_1 - o_1)*h_1", "delta_1", "w_kj"]),
    ("affine_layer.toml", "W", ["X^T dY", "X dY", "dY X^T", "W^T"]),
    ("softmax_with_loss.toml", "A", ["Y - T", "T - Y", "Y"]),
]


@pytest.mark.parametrize(("problem", "wrt", "answers"), VERIFY)
def test_korean_verify_feedback_has_no_fallback_particle(problem, wrt, answers):
    for answer in answers:
        r = _run("verify", str(EXAMPLES / problem), "--wrt", wrt, "--answer", answer, "--lang", "ko")
        assert r.returncode in (0, 1, 2), (answer, r.stderr)
        assert _fallbacks(r.stdout + r.stderr) == [], (problem, answer)
