"""Hostile and unlucky input, by class: one line and the right exit code, never a traceback or a hang,
and nothing half-written. Expected values are computed here, independently of the engine."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from derive import files, limits, problems
from derive.cli import main
from derive.engine.parse import parse, to_sympy
from derive.errors import ParseError, ProblemError

DERIVE = [sys.executable, "-m", "derive"]
CIRCUIT = '[graph]\nq = "x + y"\nf = "q * z"\n[values]\nx = -2\ny = 5\nz = -4\n'


def run(*args, timeout=120, **kw):
    return subprocess.run([*DERIVE, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)


def one_line_error(proc, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in (proc.stdout or "")
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("derive:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- the guard and exit codes

@pytest.fixture
def boom_command():
    @click.command("boom")
    def boom():
        raise ZeroDivisionError("from a bug")
    main.add_command(boom)
    yield
    main.commands.pop("boom")


def test_an_internal_error_is_one_line_and_exit_3(boom_command):
    r = CliRunner().invoke(main, ["boom"])
    assert r.exit_code == 3
    assert "internal error" in r.output and "ZeroDivisionError" in r.output and "report" in r.output
    assert "Traceback" not in r.output


def test_debug_shows_the_traceback(boom_command):
    r = CliRunner().invoke(main, ["--debug", "boom"])
    assert isinstance(r.exception, ZeroDivisionError)


def test_help_documents_the_exit_codes():
    r = CliRunner().invoke(main, ["--help"])
    assert "Exit codes" in r.output and "3  an internal error" in r.output


def test_stdout_on_a_full_device_is_an_error():
    with open("/dev/full", "w") as full:
        r = subprocess.run([*DERIVE, "check", "circuit", "--json"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    assert "No space left" in one_line_error(r)


# ---------------------------------------------------------------- size and depth, both sides of each limit

def test_toml_nesting_limit(tmp_path):
    ok = "a = " + "[" * limits.MAX_TOML_DEPTH + "]" * limits.MAX_TOML_DEPTH + "\n"
    deep = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ProblemError) as e:
        problems.loads(ok, "ok.toml")
    assert "nested" not in str(e.value)  # refused for what it lacks, not for its depth
    with pytest.raises(ProblemError, match=f"nested 5000 levels deep; at most {limits.MAX_TOML_DEPTH}"):
        problems.loads(deep, "deep.toml")
    assert limits.toml_depth('t = "[[[[" # [[[[\n[a]\nb = [1, [2]]\n') == 2


@pytest.mark.parametrize("literal, ok", [
    ("1" * limits.MAX_NUMBER_DIGITS, True), ("1" * (limits.MAX_NUMBER_DIGITS + 1), False),
    ("0." + "0" * 100 + "5", True),  # leading zeros are not digits of precision
    (f"1e{limits.MAX_EXPONENT}", True), (f"1e{limits.MAX_EXPONENT + 1}", False), ("1e999999999", False),
    ("2.5e-300", True), ("9" * 5000, False),
])
def test_number_literal_limits(literal, ok):
    if ok:
        to_sympy(parse(f"{literal} * x"))
    else:
        with pytest.raises(ParseError):
            to_sympy(parse(f"{literal} * x"))


def test_constant_powers_are_bounded_before_they_are_computed():
    start = time.perf_counter()
    assert to_sympy(parse("2^3000 * x")).args[0] == 2**3000  # 904 digits
    for text in ("9^9^9 * x", "2^2^2^2^2 * x", "10^1001 * x"):
        with pytest.raises(ParseError, match="digits"):
            to_sympy(parse(text))
    assert time.perf_counter() - start < 30  # a hang would never get here


def test_a_flat_sum_of_a_thousand_terms_builds_without_recursion():
    text = "+".join(["x"] * 1000)
    assert to_sympy(parse(text)) == 1000 * to_sympy(parse("x"))
    p = problems.loads(f'[graph]\nf = "{text}"\n[values]\nx = 1\n', "flat.toml")
    assert len(p.steps) == 999 and p.graph().output == "f"


# ---------------------------------------------------------------- silently wrong graphs

def test_generated_gate_names_never_capture_a_user_name():
    text = ('stage = true\n[graph]\ng = "sigmoid(y) + 1"\nf = "a * sigy * g"\n'
            "[values]\na = 2\nsigy = 3\ny = 1\n")
    from derive.pipeline import solve
    sol = solve(problems.loads(text, "c.toml"))
    sigma = 1 / (1 + math.exp(-1))
    assert sol.derivation.values["f"] == pytest.approx(2 * 3 * (sigma + 1), rel=1e-12)
    assert sol.derivation.gradient("sigy").value == pytest.approx(2 * (sigma + 1), rel=1e-12)


# ---------------------------------------------------------------- text: control characters

@pytest.mark.parametrize("char", ["\x1b[31m", "\x00", "\x07", "\u202e"])
def test_control_characters_in_text_are_refused(char):
    esc = char.encode("unicode_escape").decode().replace("\\x", "\\u00")
    with pytest.raises(ProblemError, match="control character"):
        problems.loads(f'title = "a{esc}b"\n' + CIRCUIT, "t.toml")


def test_printable_text_is_kept():
    p = problems.loads('title = "간단한 회로 ς ά ϑ ŧ"\ndescription = "two\\nlines\\tand a tab"\n' + CIRCUIT)
    assert p.title == "간단한 회로 ς ά ϑ ŧ"


# ---------------------------------------------------------------- output paths

def test_output_paths_that_cannot_be_written(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    cases = [(tmp_path / "afile" / "r.md", "is a file"), (tmp_path / "adir", "is a directory"),
             (Path("/dev/full"), "not a regular file")]
    for out, words in cases:
        r = run("report", "circuit", "-o", out, "--format", "md")
        assert words in one_line_error(r), r.stderr
    if os.geteuid() == 0:  # root writes anywhere chmod allows nothing: use a read-only kernel tree
        r = run("report", "circuit", "-o", "/sys/derive-test.md")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        r = run("report", "circuit", "-o", locked / "r.md")
    assert "cannot write" in one_line_error(r)


def test_write_atomic_keeps_the_old_file_and_leaves_no_temporaries(tmp_path, monkeypatch):
    target = tmp_path / "r.md"
    files.write_atomic(target, "old")

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(files.OutputError, match="no space left"):
        files.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_concurrent_writers_never_splice_a_file(tmp_path):
    out = tmp_path / "r.md"
    names = ["circuit", "staged", "fanout", "neuron_sigmoid"]
    procs = [subprocess.Popen([*DERIVE, "report", names[i % 4], "-o", out], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    text = out.read_text()
    assert text.count("\n# ") + text.startswith("# ") == 1  # one whole report, one title
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r-1.svg", "r.md"]  # + the graph as SVG


@pytest.mark.skipif(not os.path.exists("/usr/bin/latexmk"), reason="needs LaTeX")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_latex_run_cleans_up(tmp_path, sig):
    out = tmp_path / "r.pdf"
    p = subprocess.Popen([*DERIVE, "report", "--builtin", "-o", out], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".derive-latex-*")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".derive-latex-*")), "LaTeX never started"
    time.sleep(0.5)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "Traceback" not in err
    assert not list(tmp_path.glob(".derive-latex-*"))
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], "TeX processes survived"
    assert not out.exists()


def test_a_killed_run_leaves_a_folder_the_next_run_clears(tmp_path):
    from derive.render import pdf
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{pdf.TEMP_PREFIX}{dead.pid}-abc"
    stale.mkdir()
    mine = tmp_path / f"{pdf.TEMP_PREFIX}{os.getpid()}-abc"  # a live run's folder stays
    mine.mkdir()
    pdf.clear_stale(tmp_path)
    assert not stale.exists() and mine.exists()


# ---------------------------------------------------------------- domain errors at the given point

@pytest.mark.parametrize("expr, values, words", [
    ("x / y", "x = 1\ny = 0", "division by zero"),
    ("log(x)", "x = 0", "log of 0"),
    ("log(x)", "x = -1", "log of the negative number -1"),
    ("x ^ 0.5", "x = -4", "non-integer power 0.5 of the negative number -4"),
    ("x ^ y", "x = 0\ny = -2", "0 to the negative power -2"),
    ("exp(x)", "x = 1000", "beyond double precision"),
    ("x * y", "x = 1e300\ny = 1e300", "beyond double precision"),
    ("(x + y) / (x - y)", "x = 1\ny = 1", "division by zero"),
    ("log(x * y)", "x = 2\ny = 0", "log of 0"),
])
def test_undefined_at_the_given_point_names_the_node(expr, values, words):
    from derive.pipeline import DomainError, solve
    p = problems.loads(f'[graph]\nf = "{expr}"\n[values]\n{values}\n', "d.toml")
    with pytest.raises(DomainError) as e:
        solve(p)
    assert words in str(e.value) and "is undefined at" in str(e.value)


def test_a_defined_point_next_to_an_undefined_one_is_fine():
    from derive.pipeline import solve
    sol = solve(problems.loads('[graph]\nf = "x / y"\n[values]\nx = 1\ny = 1e-9\n', "d.toml"))
    assert sol.derivation.values["f"] == pytest.approx(1e9) and sol.report.ok
    assert sol.derivation.gradient("y").value == pytest.approx(-1e18)


def test_a_gradient_beyond_double_precision_is_an_error():
    from derive.pipeline import DomainError, solve
    with pytest.raises(DomainError, match=r"∂f/∂y .* beyond double precision"):
        solve(problems.loads('[graph]\nf = "x / y"\n[values]\nx = 1\ny = 1e-200\n', "d.toml"))


def test_domain_errors_reach_the_user_as_one_line(tmp_path):
    p = tmp_path / "d.toml"
    p.write_text('[graph]\nf = "log(x)"\n[values]\nx = -1\n')
    for cmd in (["check", p, "--json"], ["show", p], ["report", p, "-o", tmp_path / "r.md"],
                ["verify", p, "--wrt", "x", "--answer", "1/x"]):
        assert "log of the negative number" in one_line_error(run(*cmd))


def test_atomic_files_get_the_permissions_a_plain_write_would(tmp_path):
    umask = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "new.md", "x")
        assert (tmp_path / "new.md").stat().st_mode & 0o777 == 0o644
        (tmp_path / "old.md").write_text("x")
        (tmp_path / "old.md").chmod(0o600)
        files.write_atomic(tmp_path / "old.md", "y")
        assert (tmp_path / "old.md").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(umask)


@pytest.mark.parametrize("expr", ["exp(2) * x", "x * y + exp(1)", "log(3) * x + y"])
def test_worksheets_keep_constant_functions(tmp_path, expr):
    from derive.sheets.exercises import build_sheet
    p = problems.loads(f'[graph]\nf = "{expr}"\n[values]\nx = 1\ny = 2\n'.replace("y = 2\n", "y = 2\n"
                       if "y" in expr else ""), "c.toml")
    sheet = build_sheet([p], 1, 1)
    d = sheet.variants[0].derivation
    x = float(sheet.variants[0].values["x"])
    want = {"exp(2) * x": math.exp(2), "x * y + exp(1)": float(sheet.variants[0].values.get("y", 0)),
            "log(3) * x + y": math.log(3)}[expr]
    assert d.gradient("x").value == pytest.approx(want, rel=1e-12) and x != 0


def test_a_very_deep_graph_gets_a_summary_figure_that_fits_tex(tmp_path):
    """A 2000-step chain: the per-column summary shows both ends, not 2000 boxes past TeX's limits."""
    from derive.pipeline import solve
    from derive.render import tikz
    steps = "".join(f's{i} = "s{i - 1} * 1.001"\n' for i in range(1, 2000))
    p = problems.loads(f'[graph]\ns0 = "x * 1.001"\n{steps}[values]\nx = 1\n', "deep.toml")
    fig = tikz.layout(solve(p).derivation)
    assert fig.summary and len(fig.columns) == 2 * tikz.SUMMARY_COLUMNS + 1
    gap = fig.columns[tikz.SUMMARY_COLUMNS]
    assert gap.skipped == 2001 - 2 * tikz.SUMMARY_COLUMNS and fig.width < 100
