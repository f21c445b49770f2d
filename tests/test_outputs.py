"""Outputs whole or untouched (issue 27, items 5, 8, 9, 10): a report's files as one unit, every
file through the atomic writer, symbolic links replaced and never followed, stdout closed or in a
narrow encoding, letters beyond Latin-1 in PDFs, worksheets without TeX, signals during SVG figures.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from derive import files, problems
from derive.render import pdf, svg

DERIVE = [sys.executable, "-m", "derive"]
HAS_LATEX = shutil.which("latexmk") is not None and shutil.which("lualatex") is not None


def run(*args, **kw):
    return subprocess.run([*DERIVE, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def one_error_line(proc, code=2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("derive: error")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def problem_text(title: str, steps: str = 'q = "x + y"\nf = "q * z"\n', values: str = "x = -2\ny = 5\nz = -4\n"):
    return f"title = {json.dumps(title, ensure_ascii=False)}\n[graph]\n{steps}[values]\n{values}"


# ---------------------------------------------------------------- one unit, whole or untouched

def test_units_written_by_many_threads_are_never_mixed(tmp_path):
    """Eight writers, each writing the same three files with its own mark: after every round the
    three files hold one writer's mark."""
    names = [tmp_path / "r.pdf", tmp_path / "r.tex", tmp_path / "sub" / "r-1.svg"]
    errors = []

    def writer(k):
        try:
            for i in range(30):
                files.write_unit({p: f"{k}:{i}" for p in names})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            with files.locked(tmp_path), files.locked(tmp_path / "sub"):
                if names[0].exists():
                    seen.append({p.read_text() for p in names if p.exists()})
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert not errors
    assert len({p.read_text() for p in names}) == 1
    assert seen and all(len(s) == 1 for s in seen)  # a reader under the lock never sees a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf", "r.tex", "sub"]  # no temporaries


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_full_disk_leaves_every_old_file(tmp_path, monkeypatch, fail_at):
    old = {tmp_path / "feedback.md": "old md", tmp_path / "feedback.tex": "old tex", tmp_path / "f.svg": "old svg"}
    for p, text in old.items():
        p.write_text(text)
    calls = []
    real = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(files.OutputError, match="no space left"):
        files.write_unit({p: "new" for p in old})
    assert {p: p.read_text() for p in old} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in old)


def test_feedback_md_goes_through_the_unit_writer(tmp_path, monkeypatch):
    """feedback.md is written with feedback.pdf/.tex as one unit: never with a plain open()."""
    from derive.grading import feedback
    from derive.pipeline import solve
    sol = solve(problems.load("circuit"))
    results = feedback.batch(sol, [{"student": "a", "wrt": "x", "answer": "z"}])
    units = []

    def compile_pdf(tex, path, tex_path=None, with_files=None, **kw):
        units.append((path, dict(with_files or {})))
        files.write_unit(with_files)
        return path
    monkeypatch.setattr(pdf, "compile_pdf", compile_pdf)
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: pytest.fail("a plain write"))
    feedback.write_feedback(sol, results, tmp_path / "fb")
    (path, extra), = units
    assert path.name == "feedback.pdf" and [p.name for p in extra] == ["feedback.md"]
    assert "a" in (tmp_path / "fb" / "feedback.md").read_bytes().decode()


@pytest.mark.skipif(not HAS_LATEX, reason="needs LaTeX")
def test_two_runs_writing_one_pdf_report_leave_one_runs_files(tmp_path):
    out = tmp_path / "r.pdf"
    titles = ["Writer Alpha", "Writer Omega"]
    for k, title in enumerate(titles):
        (tmp_path / f"p{k}.toml").write_text(problem_text(title))
    procs = [subprocess.Popen([*DERIVE, "report", tmp_path / f"p{k}.toml", "-o", out], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(2) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    tex = out.with_suffix(".tex").read_text()
    text = subprocess.run(["pdftotext", out, "-"], capture_output=True, text=True).stdout
    (winner,) = [t for t in titles if t in tex]
    assert winner in text and not any(t in text for t in titles if t != winner)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.toml", "p1.toml", "r.pdf", "r.tex"]


# ---------------------------------------------------------------- symbolic links

@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_a_symlinked_output_is_replaced_not_followed(tmp_path, fmt):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "out"
    folder.mkdir()
    link = folder / f"r.{fmt}"
    link.symlink_to(outside)
    r = run("report", "circuit", "-o", link, "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert outside.read_text() == "precious"
    assert not link.is_symlink() and "circuit" in link.read_text().lower()


def test_write_atomic_replaces_a_dangling_or_live_link(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep")
    for name, points in (("live", target), ("dangling", tmp_path / "nowhere")):
        link = tmp_path / name
        link.symlink_to(points)
        files.write_unit({link: "new"})
        assert not link.is_symlink() and link.read_text() == "new"
    assert target.read_text() == "keep" and not (tmp_path / "nowhere").exists()


# ---------------------------------------------------------------- standard streams

def test_check_json_with_stdout_closed_is_exit_2():
    r = subprocess.run([*DERIVE, "check", "circuit", "--json"], stderr=subprocess.PIPE, text=True, timeout=120,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("derive:")] == [
        "derive: error: standard output is closed; nothing can be printed"]


def test_stderr_closed_is_no_internal_error():
    r = subprocess.run([*DERIVE, "check", "circuit", "--json"], stdout=subprocess.PIPE, text=True, timeout=120,
                       preexec_fn=lambda: os.close(2))
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


@pytest.mark.parametrize("encoding", ["latin-1", "ascii", "cp1252"])
@pytest.mark.parametrize("args, code", [
    (["show", "circuit"], 0), (["check", "circuit", "--json"], 0), (["show", "mlp_222"], 0),
    (["verify", "circuit", "--wrt", "x", "--answer", "z"], 0),
    (["verify", "circuit", "--wrt", "x", "--answer", "y"], 1),
    (["verify", "circuit", "--wrt", "x", "--answer", "y", "--lang", "ko"], 1),
    (["verify", "circuit", "--wrt", "x", "--answer", "z", "--lang", "ko", "--json"], 0),
])
def test_a_narrow_stdout_encoding_is_no_internal_error(encoding, args, code):
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    r = subprocess.run([*DERIVE, *args], capture_output=True, timeout=120, env=env)
    assert r.returncode == code, r.stderr.decode(encoding, "replace")
    if "--json" in args:  # \uXXXX escapes of what the encoding lacks are still JSON (click writes
        data = json.loads(r.stdout.decode("utf-8" if encoding == "ascii" else encoding))  # UTF-8 for ascii)
        if args[0] == "check":
            assert data["gradients"]["x"] == -4 and data["ok"] is True  # hand values: ∂(x+y)z/∂x = z = -4
        else:
            assert data["correct"] is True


# ---------------------------------------------------------------- letters beyond Latin-1

LETTERS = "ς ά ϑ ƀ ĸ ŧ ж ğ Ł"


@pytest.mark.parametrize("text", ["ς", "ά", "ϑ", "ƀ", "ĸ", "ŧ", "Ωmega ж", "ꙮ", "𝔘"])
def test_letters_are_kept_and_set_for_lualatex(text):
    from derive.render.escape import tex_text
    body = tex_text(f"Title {text}")
    assert "[U+" not in body
    doc = pdf.document(body)
    assert pdf.engine(doc) == "lualatex"
    assert pdf.engine(pdf.document(tex_text("Plain café, naïve, ½ °"))) == "pdflatex"  # Latin-1: T1 and TS1


@pytest.mark.skipif(not HAS_LATEX, reason="needs LaTeX")
def test_a_pdf_with_such_letters_in_title_and_names_builds(tmp_path):
    text = problem_text(f"Letters {LETTERS}", steps='"ά" = "x * ϑ"\nf = "ά + ς"\n',
                        values='x = 2\n"ϑ" = 3\n"ς" = 1\n')
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    r = run("report", tmp_path / "p.toml", "-o", tmp_path / "r.pdf")
    assert r.returncode == 0, r.stderr
    shown = subprocess.run(["pdftotext", tmp_path / "r.pdf", "-"], capture_output=True, text=True).stdout
    for letter in LETTERS.split():
        assert letter in shown, letter


@pytest.mark.skipif(not HAS_LATEX, reason="needs LaTeX")
def test_a_figure_with_such_letters_becomes_svg():
    text = svg.svg_of_figure("\\begin{tikzpicture}\\node[draw] {$ά\\,y$ ƀ ĸ};\\end{tikzpicture}")
    assert "<path" in text and "</svg>" in text


# ---------------------------------------------------------------- worksheets without TeX

def _no_tex_path(tmp_path) -> str:
    """A PATH with python but none of TeX's programs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    return str(bin_dir)


@pytest.mark.parametrize("args", [["circuit", "fanout"], ["circuit", "--lang", "ko"], ["--builtin"]])
def test_worksheets_without_tex_write_every_tex_and_say_once(tmp_path, args):
    env = {**os.environ, "PATH": _no_tex_path(tmp_path)}
    r = subprocess.run([*DERIVE, "worksheet", *args, "--versions", "3", "-o", tmp_path / "ws"], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "ws").iterdir())
    assert names == sorted(f"{s}-v{k}.tex" for s in ("worksheet", "answers") for k in (1, 2, 3))
    assert r.stderr.count("apt-get install") == 1 and "Traceback" not in r.stderr


def test_the_api_writes_every_tex_without_tex_and_warns_once(tmp_path, monkeypatch):
    import derive
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    said = []
    paths = derive.worksheets(["circuit", "fanout"], versions=2, out=tmp_path / "ws", echo=said.append)
    assert [p.name for p in paths] == ["worksheet-v1.tex", "answers-v1.tex", "worksheet-v2.tex", "answers-v2.tex"]
    assert all(p.exists() for p in paths)
    assert sum("apt-get install" in s for s in said) == 1
    with pytest.warns(UserWarning, match="apt-get install"):
        derive.worksheets("circuit", versions=2, out=tmp_path / "ws2", echo=None)


# ---------------------------------------------------------------- signals during SVG figures

def _svg_dirs(tmp: Path) -> list[Path]:
    return list(tmp.glob(svg.TEMP_PREFIX + "*"))


@pytest.mark.skipif(not HAS_LATEX or not shutil.which("dvisvgm"), reason="needs latex and dvisvgm")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_figures_are_made_leaves_no_folder_and_no_process(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    p = subprocess.Popen([*DERIVE, "report", "--builtin", "-o", tmp_path / "r.md"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not _svg_dirs(tmp):
        time.sleep(0.02)
    assert _svg_dirs(tmp), "no figure was started"
    time.sleep(0.3)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "Traceback" not in err
    assert _svg_dirs(tmp) == []
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], "TeX processes survived"


def test_folders_of_killed_runs_are_cleared_by_the_next(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{svg.TEMP_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{svg.TEMP_PREFIX}{os.getpid()}-abc"
    old = tmp_path / f"{svg.TEMP_PREFIX}xyz"  # an old-style name: only removed when old
    for d in (stale, live, old):
        d.mkdir()
        (d / "figure.tex").write_text("x")
    pdf.clear_stale(tmp_path, svg.TEMP_PREFIX, 60)
    assert not stale.exists() and live.exists() and old.exists()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    pdf.clear_stale(tmp_path, svg.TEMP_PREFIX, 60)
    assert not old.exists() and live.exists()
