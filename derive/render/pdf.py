"""The LaTeX preamble (built with PyLaTeX) and PDF compilation with latexmk.

    document(body, packages=()) -> str
        The complete .tex: PyLaTeX's Document with derive's packages, colours and settings,
        and `body` (LaTeX rendered by the Jinja templates) as its content.
    compile_pdf(tex, pdf_path, tex_path=None, timeout=DEFAULT_TIMEOUT) -> Path
        Runs latexmk in a fresh directory next to `pdf_path`: -pdf, no shell escape,
        non-interactive, halt on the first error, a time limit; file access restricted
        (openin_any/openout_any = paranoid). Only on success are the .pdf (and .tex) moved
        into place, so an earlier good output survives a failure. On failure raises
        errors.LatexError with the first "! ..." line and the "l.<n>" line of the log; the
        failed source is kept as <name>.failed.tex for inspection.
        If latexmk is missing, writes the .tex and raises LatexMissing (says what to install).

Colours defined for templates: `fwd` (forward values) and `bwd` (gradients), `bad` (failures).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pylatex import Document, NoEscape, Package

from ..errors import DeriveError, LatexError

DEFAULT_TIMEOUT = 180  # seconds for the whole latexmk run
DEBIAN_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra "
                   "texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils")

PACKAGES = (
    ("amsmath", None), ("amssymb", None), ("xcolor", None), ("tikz", None), ("adjustbox", None),
    ("longtable", None), ("booktabs", None), ("array", None), ("parskip", None),
)
PREAMBLE = r"""
\usetikzlibrary{arrows.meta,positioning}
\pgfdeclarelayer{background}
\pgfsetlayers{background,main}
\definecolor{fwd}{RGB}{0,128,64}
\definecolor{bwd}{RGB}{200,30,30}
\definecolor{bad}{RGB}{200,0,0}
\definecolor{gate}{RGB}{235,240,250}
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
    doc = Document(documentclass="article", document_options=["a4paper", "11pt"],
                   geometry_options={"margin": "2cm"}, lmodern=True, textcomp=True,
                   page_numbers=True)
    for name, options in (*PACKAGES, *packages):
        doc.packages.append(Package(name, options=options))
    doc.preamble.append(NoEscape(PREAMBLE))
    doc.append(NoEscape(body))
    return doc.dumps() + "\n"


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


def _write_atomic(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def compile_pdf(tex: str, pdf_path, tex_path=None, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Compile `tex` to `pdf_path` (see the module docstring). Returns the PDF's path."""
    pdf_path = Path(pdf_path)
    tex_path = Path(tex_path) if tex_path else pdf_path.with_suffix(".tex")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    if not shutil.which("latexmk") or not shutil.which("pdflatex"):
        _write_atomic(tex, tex_path)
        raise LatexMissing(f"latexmk/pdflatex not found; wrote {tex_path} only. "
                           f"To make PDFs install: sudo apt-get install --no-install-recommends "
                           f"{DEBIAN_PACKAGES}")
    work = Path(tempfile.mkdtemp(prefix=".derive-latex-", dir=pdf_path.parent))
    try:
        src = work / "report.tex"
        src.write_text(tex, encoding="utf-8")
        env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f",
               "TEXMFOUTPUT": str(work)}
        cmd = ["latexmk", "-pdf", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
               "-quiet", "report.tex"]
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise LatexError(f"LaTeX did not finish within {timeout:g} s; {pdf_path} was not changed") from None
        log_file = work / "report.log"
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
        built = work / "report.pdf"
        if proc.returncode != 0 or not built.exists():
            kept = tex_path.with_name(tex_path.stem + ".failed.tex")
            shutil.copyfile(src, kept)
            detail = first_error(log) if log else output.decode(errors="replace").strip()[-500:]
            raise LatexError(f"LaTeX failed: {detail}; the source is in {kept}; "
                             f"{pdf_path} was not changed")
        os.replace(built, pdf_path)
        _write_atomic(tex, tex_path)
        return pdf_path
    finally:
        shutil.rmtree(work, ignore_errors=True)
