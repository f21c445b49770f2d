"""Input that reaches outputs (issue 27, items 4 and 10): the --tolerance option, problem and answer
files that cannot be read, the memory a network batch needs, `\\href{javascript:…}` in HTML."""
from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from derive import limits, problems
from derive.errors import DeriveError, ProblemError

DERIVE = [sys.executable, "-m", "derive"]


def one_error_line(proc, code=2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("derive:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- --tolerance

BAD_TOLERANCES = ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "-0.01", "0", "-0", "1", "2", "abc", "", " ",
                  "1e-15", "1e-300", "5e-15", "0x10", "1/100", "1e400", "0.01%"]
GOOD_TOLERANCES = [("0.01", 0.01), ("1e-9", 1e-9), ("1e-12", 1e-12), ("1e-14", 1e-14),
                   (" 0.5 ", 0.5), ("0.999", 0.999), ("1E-3", 1e-3)]


@pytest.mark.parametrize("text", BAD_TOLERANCES)
def test_bad_tolerances_are_refused_with_what_was_expected(text):
    with pytest.raises(limits.LimitError, match=r"--tolerance: expected a relative tolerance"):
        limits.tolerance(text)


@pytest.mark.parametrize("text, value", GOOD_TOLERANCES)
def test_good_tolerances_are_read(text, value):
    assert limits.tolerance(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e-15", "x"])
def test_the_worksheet_option_is_one_line_and_exit_2(tmp_path, text):
    r = subprocess.run([*DERIVE, "worksheet", "circuit", "--format", "moodle", "-o", tmp_path, "--tolerance", text],
                       capture_output=True, text=True, timeout=120)
    assert "--tolerance" in one_error_line(r)
    assert not (tmp_path / "quiz.xml").exists()


def test_keys_never_reject_the_exact_answer_at_the_finest_tolerance():
    """A key printed for the finest band (moodle.number) is within MIN_TOLERANCE of the exact
    value, relatively, for values of every size."""
    from derive.sheets.moodle import number
    rng = random.Random(27)
    for _ in range(20000):
        v = rng.choice([-1, 1]) * rng.uniform(1, 10) * 10.0 ** rng.randint(-30, 30)
        key = float(number(v, abs(v) * limits.MIN_TOLERANCE))
        assert abs(key - v) <= limits.MIN_TOLERANCE * abs(v), (v, number(v))


def test_a_quiz_at_the_finest_tolerance_has_finite_positive_bands(tmp_path):
    r = subprocess.run([*DERIVE, "worksheet", "circuit", "fanout", "--format", "moodle", "-o", tmp_path,
                        "--tolerance", "1e-9"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    xml = (tmp_path / "quiz.xml").read_text()
    blanks = re.findall(r"NUMERICAL:=([^:}]+):([^}]+)\}", xml)
    assert blanks
    for key, band in blanks:
        assert math.isfinite(float(key)) and 0 < float(band) < math.inf


# ---------------------------------------------------------------- files that cannot be read

CIRCUIT = '[graph]\nf = "x * y"\n[values]\nx = 1\ny = 2\n'


def test_a_fifo_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    with pytest.raises(ProblemError, match="not a regular file"):
        problems.load(str(fifo))
    r = subprocess.run([*DERIVE, "check", fifo], capture_output=True, text=True, timeout=60)
    line = one_error_line(r)
    assert "not a regular file" in line and "no such file" not in line


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/stdin"])
def test_devices_are_not_regular_files(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(ProblemError, match="not a regular file"):
        problems.load(device)


def test_an_unreadable_problem_file_is_cannot_read(tmp_path, monkeypatch):
    p = tmp_path / "p.toml"
    p.write_text(CIRCUIT)

    def denied(self, *a, **k):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(ProblemError, match="cannot read the file: Permission denied") as e:
        problems.load(str(p))
    assert "write" not in str(e.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_problem_file_from_the_command_line(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(CIRCUIT)
    p.chmod(0)
    r = subprocess.run([*DERIVE, "check", p], capture_output=True, text=True, timeout=60)
    assert "cannot read" in one_error_line(r)


def test_answers_files_that_cannot_be_read(tmp_path, monkeypatch):
    from derive.grading.feedback import read_answers
    fifo = tmp_path / "a.toml"
    os.mkfifo(fifo)
    with pytest.raises(DeriveError, match="not a regular file"):
        read_answers(str(fifo))
    with pytest.raises(DeriveError, match="not a regular file"):
        read_answers(str(tmp_path))
    plain = tmp_path / "b.toml"
    plain.write_text('[[answer]]\nwrt = "x"\nanswer = "y"\n')
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (_ for _ in ()).throw(PermissionError(13, "no")))
    with pytest.raises(DeriveError, match="cannot read"):
        read_answers(str(plain))


# ---------------------------------------------------------------- memory of a network batch

def _batch(sizes, rows, seed=1) -> str:
    rng = random.Random(seed)
    x = [[round(rng.uniform(-1, 1), 3) for _ in range(sizes[0])] for _ in range(rows)]
    t = [[round(rng.uniform(0, 1), 3) for _ in range(sizes[-1])] for _ in range(rows)]
    ws = "".join(f"W{k} = {[[round(rng.uniform(-1, 1), 3) for _ in range(sizes[k - 1])] for _ in range(sizes[k])]}\n"
                 f"b{k} = {[0.1] * sizes[k]}\n" for k in range(1, len(sizes)))
    return (f'[network]\nlayers = {list(sizes)}\nactivations = "sigmoid"\nloss = "mse"\n[values]\n'
            f"x = {x}\nt = {t}\n{ws}")


def test_a_ten_thousand_row_batch_is_refused_up_front_by_its_size(monkeypatch):
    from derive.problems import network
    monkeypatch.setattr(network, "memory_available", lambda: 3 * 2**30)
    with pytest.raises(ProblemError, match=r"\[values\] x: a 2-2-2 network over 10000 sample\(s\).*needs about "
                                           r"\d+\.\d GiB.* only 3\.0 GiB"):
        problems.loads(_batch((2, 2, 2), 10_000), "big.toml")
    problems.loads(_batch((2, 2, 2), 1_000), "fits.toml")  # about 0.7 GiB: no error


# VmHWM, the peak resident size of this process's own memory: ru_maxrss would also count the size of
# the (pytest) process it was forked from, which Linux keeps across exec
PEAK = ("import runpy, sys, atexit, os, re; atexit.register(lambda: os.write(2, b'PEAK %d' % int(re.search("
        "r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))); sys.argv = ['derive', 'check', "
        "sys.argv[1], '--json']; runpy.run_module('derive', run_name='__main__')")


@pytest.mark.parametrize("sizes, rows", [((2, 2, 2), 300), ((3, 6, 2), 200)])
def test_the_estimate_bounds_the_measured_peak_from_above_and_is_not_far_off(tmp_path, sizes, rows):
    """The estimate is true: at least the peak memory of the real run, and at most four times it."""
    p = tmp_path / "p.toml"
    p.write_text(_batch(sizes, rows))
    r = subprocess.run([sys.executable, "-c", PEAK, p], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-500:]
    peak = int(r.stderr.rsplit("PEAK", 1)[1].split()[0]) * 1024  # VmHWM is in KiB
    need = limits.network_memory(sizes, rows)
    assert peak <= need <= 4 * peak, (peak / 2**20, need / 2**20)


# ---------------------------------------------------------------- links in HTML (Moodle text)

@pytest.mark.parametrize("text", ["\\href{javascript:alert(1)}{x}", "$\\href{javascript:alert(1)}{x}$",
                                  "$\\url{javascript:alert(1)}$", "<a href='javascript:alert(1)'>x</a>",
                                  "$<img src=x onerror=alert(1)>$"])
def test_links_in_user_text_stay_text_in_html(text):
    from derive.render.escape import html_rich
    out = html_rich(text)
    assert "<a" not in out and "<img" not in out
    for math_part in re.findall(r"\\\((.*?)\\\)", out):  # MathJax reads only what is between \( \)
        assert "href" not in math_part and "url" not in math_part
