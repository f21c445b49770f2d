"""Type checkers see derive as installed by `make` (editable_mode=compat: a path in a .pth file, so
py.typed is honoured): mypy accepts a user's script and rejects a typo in it."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mypy")

SCRIPT = textwrap.dedent("""
    import os
    import derive

    p = derive.load(os.path.join("x", "circuit.toml"))
    s: derive.Solution = p.solve()
    output: float = s.output
    v: derive.Verdict = derive.verify(p, wrt="x", answer="z", delta="dL/dnet")
    ok: bool = v.correct
    try:
        derive.circuit("f = x * y", x=1, y=2)
    except (derive.VerifyError, derive.DomainError, derive.LatexMissing) as e:
        message: str = str(e)
""")


def _mypy(tmp_path, text: str) -> subprocess.CompletedProcess:
    (tmp_path / "user.py").write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                           "--follow-imports=silent", "user.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)


def test_mypy_sees_derive(tmp_path):
    result = _mypy(tmp_path, SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_mistakes(tmp_path):
    result = _mypy(tmp_path, "import derive\nderive.circut('f = x')\nn: int = derive.load('circuit')\n")
    assert result.returncode == 1, result.stdout
    assert 'has no attribute "circut"' in result.stdout and "Problem" in result.stdout, result.stdout
    assert "import-not-found" not in result.stdout
