"""The LaTeX preamble (built with PyLaTeX) and PDF compilation with latexmk.

    document(body, packages=()) -> str
        The complete .tex: PyLaTeX's Document with derive's packages, colours and settings,
        and `body` (LaTeX rendered by the Jinja templates) as its content. A body with Korean
        letters (a Korean document, or Korean in any user field) is set for LuaLaTeX with
        luatexko and the Nanum fonts; every other document stays pdfLaTeX with T1 fonts.
    engine(tex) -> "pdflatex" | "lualatex"    the engine a .tex made by `document` needs
    compile_pdf(tex, pdf_path, tex_path=None, timeout=DEFAULT_TIMEOUT) -> Path
        Runs latexmk in a fresh directory next to `pdf_path` (-pdf, or -lualatex for Korean), no shell escape,
        non-interactive, halt on the first error, a time limit; file access restricted
        (openin_any/openout_any = paranoid). Only on success are the .pdf (and .tex) moved
        into place, so an earlier good output survives a failure. On failure raises
        errors.LatexError with the first "! ..." line and the "l.<n>" line of the log; the
        failed source is kept as <name>.failed.tex for inspection.
        If latexmk is missing, writes the .tex and raises LatexMissing (says what to install).
        SIGINT/SIGTERM while LaTeX runs kill the TeX process group and remove the temporary
        folder; `timeout` leads that group, so even a derive killed outright leaves no TeX
        running past the time limit, and the next run clears the folder it left.

Colours defined for templates: `fwd` (forward values) and `bwd` (gradients), `bad` (failures).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from pylatex import Document, NoEscape, Package

from .. import files, i18n
from ..errors import DeriveError, LatexError

DEFAULT_TIMEOUT = 180  # seconds for the whole latexmk run
DEBIAN_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra "
                   "texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils dvisvgm")
KOREAN_PACKAGES = "texlive-lang-korean texlive-luatex fonts-nanum"  # only for documents with Korean
# Korean: luatexko (LuaLaTeX) sets Hangul in the Nanum fonts and Latin and math in Latin Modern, as
# in an English document; its line breaking and spacing follow Korean typesetting rules.
KOREAN_PREAMBLE = r"""
\setmainhangulfont{NanumMyeongjo}
\setsanshangulfont{NanumGothic}
\setmonohangulfont{NanumGothicCoding}
""".strip()

PACKAGES = (
    ("amsmath", None), ("amssymb", None), ("xcolor", None), ("tikz", None), ("adjustbox", None),
    ("longtable", None), ("booktabs", None), ("array", None), ("parskip", None), ("needspace", None),
)
FIGURE_PREAMBLE = r"""
\usetikzlibrary{arrows.meta,positioning}
\pgfdeclarelayer{background}
\pgfsetlayers{background,main}
\definecolor{fwd}{RGB}{0,128,64}
\definecolor{bwd}{RGB}{200,30,30}
\definecolor{bad}{RGB}{200,0,0}
\definecolor{gate}{RGB}{235,240,250}
""".strip()  # what a figure needs: shared with render/svg.py's standalone documents
PREAMBLE = FIGURE_PREAMBLE + "\n" + r"""
\allowdisplaybreaks
\setlength{\LTpre}{4pt}
\setlength{\LTpost}{4pt}
\emergencystretch=3em
\sloppy
""".strip()


class LatexMissing(DeriveError):
    """latexmk/pdflatex are not installed; the .tex was written."""


def document(body: str, packages=()) -> str:
    """The complete .tex around `body`. `packages`: extra (name, options) pairs."""
    korean = i18n.hangul(body)
    doc = Document(documentclass="article", document_options=["a4paper", "11pt"],
                   geometry_options={"margin": "2cm"}, lmodern=True, textcomp=True,
                   page_numbers=True,
                   fontenc=None if korean else "T1", inputenc=None if korean else "utf8")
    for name, options in (*PACKAGES, *packages, *((("luatexko", None),) if korean else ())):
        doc.packages.append(Package(name, options=options))
    if korean:
        doc.preamble.append(NoEscape(KOREAN_PREAMBLE))
    doc.preamble.append(NoEscape(PREAMBLE))
    doc.append(NoEscape(body))
    return doc.dumps() + "\n"


def engine(tex: str) -> str:
    """The TeX engine a document made by `document` needs."""
    return "lualatex" if "\\usepackage{luatexko}" in tex else "pdflatex"


def missing_tools(program: str) -> str | None:
    """What to install when `program` ("pdflatex" or "lualatex") or latexmk is missing; None when all is there."""
    found = shutil.which("latexmk") and shutil.which(program)
    if program == "pdflatex":
        return None if found else ("latexmk/pdflatex not found; to make PDFs install: "
                                   f"sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES}")
    return None if found and _kpse_finds("luatexko.sty") else (
        "latexmk/lualatex with luatexko (for Korean) not found; to make PDFs install: "
        f"sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES} {KOREAN_PACKAGES}")


@functools.cache
def _kpse_finds(name: str) -> bool:
    if not shutil.which("kpsewhich"):
        return False
    try:
        out = subprocess.run(["kpsewhich", name], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def first_error(log: str) -> str:
    """The first "! ..." error of a TeX log and its "l.<n> ..." line, as one message."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            where = next((m for m in lines[i + 1:i + 30] if re.match(r"l\.\d+", m)), None)
            return f"{line}" + (f" (at {where.strip()})" if where else "")
    for line in lines:
        if "Emergency stop" in line or "Fatal error" in line:
            return line.strip()
    return "LaTeX failed without an error message in the log"


TEMP_PREFIX = ".derive-latex-"
STALE_SECONDS = DEFAULT_TIMEOUT + 60  # a temporary LaTeX folder older than this, whose run is gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale(folder: Path) -> None:
    """Remove temporary LaTeX folders left by runs that were killed (their process is gone)."""
    now = time.time()
    for d in folder.glob(TEMP_PREFIX + "*"):
        m = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", d.name)
        try:
            old = now - d.stat().st_mtime > STALE_SECONDS
        except OSError:
            continue
        if d.is_dir() and m and (not _alive(int(m.group(1))) or old):
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Turn SIGTERM into an exception while LaTeX runs, so the cleanup below runs too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _kill_group(proc) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)


def compile_pdf(tex: str, pdf_path, tex_path=None, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Compile `tex` to `pdf_path` (see the module docstring). Returns the PDF's path."""
    pdf_path = files.check_target(pdf_path)
    tex_path = files.check_target(tex_path if tex_path else pdf_path.with_suffix(".tex"))
    program = engine(tex)
    missing = missing_tools(program)
    if missing:
        files.write_atomic(tex_path, tex)
        raise LatexMissing(f"wrote {tex_path} only: {missing}")
    clear_stale(pdf_path.parent)
    try:
        work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=pdf_path.parent))
    except OSError as e:
        raise files.OutputError(f"cannot write in {pdf_path.parent}: {e.strerror}") from None
    proc = None
    try:
        with _terminate_as_interrupt():
            src = work / "report.tex"
            src.write_text(tex, encoding="utf-8")
            env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f",
                   "TEXMFOUTPUT": str(work)}
            # `timeout` leads the TeX process group: even if derive is killed outright, the whole
            # group (latexmk and pdflatex) is killed when the time limit runs out.
            cmd = ["latexmk", "-lualatex" if program == "lualatex" else "-pdf", "-no-shell-escape",
                   "-interaction=nonstopmode", "-halt-on-error", "-quiet", "report.tex"]
            if shutil.which("timeout"):
                cmd = ["timeout", "-s", "KILL", f"{timeout + 5:g}", *cmd]
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise LatexError(f"LaTeX did not finish within {timeout:g} s; {pdf_path} was not changed") from None
            log_file = work / "report.log"
            log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
            built = work / "report.pdf"
            if proc.returncode != 0 or not built.exists():
                kept = tex_path.with_name(tex_path.stem + ".failed.tex")
                files.write_atomic(kept, tex)
                detail = first_error(log) if log else output.decode(errors="replace").strip()[-500:]
                raise LatexError(f"LaTeX failed: {detail}; the source is in {kept}; "
                                 f"{pdf_path} was not changed")
            files.move_into_place(built, pdf_path)
            files.write_atomic(tex_path, tex)
            return pdf_path
    except BaseException:
        if proc is not None and proc.poll() is None:
            _kill_group(proc)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
