"""The LaTeX preamble (built with PyLaTeX) and PDF compilation with latexmk.

    document(body, packages=()) -> str
        The complete .tex: PyLaTeX's Document with derive's packages, colours and settings,
        and `body` (LaTeX rendered by the Jinja templates) as its content. A body with Korean
        letters (a Korean document, or Korean in any user field) is set for LuaLaTeX with
        luatexko and the Nanum fonts; a body with any other letter beyond Latin-1 (ς, ά, ϑ, ƀ,
        ĸ in a title or a name) is set for LuaLaTeX with Latin Modern and, for letters it lacks,
        the fonts of FALLBACK_FONTS (`unicode_preamble`; in math such a letter is set as text);
        every other document stays pdfLaTeX with T1 fonts.
    engine(tex) -> "pdflatex" | "lualatex"    the engine a .tex made by `document` needs
    compile_pdf(tex, pdf_path, tex_path=None, timeout=DEFAULT_TIMEOUT, with_files=None) -> Path
        Runs latexmk in a fresh directory next to `pdf_path` (-pdf, or -lualatex for Korean), no shell escape,
        non-interactive, halt on the first error, a time limit; file access restricted
        (openin_any/openout_any = paranoid). Only on success are the .pdf, the .tex and
        `with_files` ({path: text}, e.g. feedback.md) put in place, together as one unit
        (files.write_unit), so an earlier good output survives a failure and two runs never
        leave the PDF of one and the .tex of the other. On failure raises
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

from .. import errors, files, i18n
from ..errors import LatexError

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

# Fonts asked, in turn, for a letter Latin Modern lacks (luaotfload's fallback); a letter none of
# them has is left out with a warning in the log, never an error. DejaVu covers Greek, Cyrillic and
# the Latin extensions; Baekmuk and Nanum, Hangul outside a Korean document.
FALLBACK_FONTS = ("DejaVu Serif", "DejaVu Sans", "Noto Serif", "FreeSerif", "NanumMyeongjo", "Baekmuk Batang")


def beyond_latin1(text: str) -> list[str]:
    """The distinct characters of `text` beyond Latin-1 other than Hangul (pdfLaTeX's T1 fonts and
    inputenc cannot print them), in order of code point."""
    return sorted({ch for ch in text if ord(ch) > 0xFF and not i18n.hangul(ch)})


@functools.cache
def installed_fonts(names) -> tuple[str, ...]:
    """Those of the font families `names` fontconfig knows on this machine (none without fc-list)."""
    try:
        out = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    families = {f.strip() for line in out.splitlines() for f in line.split(",")}
    return tuple(n for n in names if n in families)


def unicode_preamble(text: str, korean: bool) -> str:
    """The LuaLaTeX preamble that prints every letter of `text` some font on the machine has: the
    main font falls back to FALLBACK_FONTS, and each such letter is set as text in math too."""
    chars = beyond_latin1(text)
    if not chars:
        return ""
    fonts = ", ".join(f'"{name}:mode=node;"' for name in installed_fonts(FALLBACK_FONTS))
    lines = [] if korean else [r"\usepackage{fontspec}"]
    if fonts:  # luaotfload stops at a font it cannot find: only those the machine has
        lines += [r'\directlua{luaotfload.add_fallback("derivefallback", {' + fonts + "})}",
                  r"\setmainfont{Latin Modern Roman}[RawFeature={fallback=derivefallback}]"]
    lines += [r"\usepackage{newunicodechar}  % derive: letters beyond Latin-1"]
    lines += [rf'\newunicodechar{{{ch}}}{{\ifmmode\text{{\symbol{{"{ord(ch):04X}}}}}\else\symbol{{"{ord(ch):04X}}}\fi}}'
              for ch in chars if not ch.isspace()]
    return "\n".join(lines)


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


LatexMissing = errors.LatexMissing  # latexmk/pdflatex are not installed (a LatexError); the .tex was written


def document(body: str, packages=()) -> str:
    """The complete .tex around `body`. `packages`: extra (name, options) pairs."""
    korean = i18n.hangul(body)
    letters = unicode_preamble(body, korean)
    lua = korean or bool(letters)
    doc = Document(documentclass="article", document_options=["a4paper", "11pt"],
                   geometry_options={"margin": "2cm"}, lmodern=korean or not lua, textcomp=korean or not lua,
                   page_numbers=True,
                   fontenc=None if lua else "T1", inputenc=None if lua else "utf8")
    for name, options in (*PACKAGES, *packages, *((("luatexko", None),) if korean else ())):
        doc.packages.append(Package(name, options=options))
    if korean:
        doc.preamble.append(NoEscape(KOREAN_PREAMBLE))
    if letters:
        doc.preamble.append(NoEscape(letters))
    doc.preamble.append(NoEscape(PREAMBLE))
    doc.append(NoEscape(body))
    return doc.dumps() + "\n"


def engine(tex: str) -> str:
    """The TeX engine a document made by `document` needs."""
    return "lualatex" if "\\usepackage{luatexko}" in tex or "derive: letters beyond Latin-1" in tex else "pdflatex"


def missing_tools(program: str, package: str = "luatexko.sty") -> str | None:
    """What to install when `program` ("pdflatex" or "lualatex", with `package`) or latexmk is
    missing; None when all is there."""
    found = shutil.which("latexmk") and shutil.which(program)
    if program == "pdflatex":
        return None if found else ("latexmk/pdflatex not found; to make PDFs install: "
                                   f"sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES}")
    return None if found and _kpse_finds(package) else (
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


def clear_stale(folder: Path, prefix: str = TEMP_PREFIX, seconds: float = STALE_SECONDS) -> None:
    """Remove temporary folders `prefix<pid>-...` (ours: same owner) left by runs that were killed
    (their process is gone), or older than `seconds`; a folder without a pid only when it is old."""
    now = time.time()
    for d in Path(folder).glob(prefix + "*"):
        m = re.match(re.escape(prefix) + r"(\d+)-", d.name)
        try:
            st = d.lstat()
        except OSError:
            continue
        old = now - st.st_mtime > seconds
        if d.is_dir() and not d.is_symlink() and st.st_uid == os.getuid() and (
                old or (m and not _alive(int(m.group(1))))):
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def terminate_as_interrupt():
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


def kill_group(proc) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)


def compile_pdf(tex: str, pdf_path, tex_path=None, timeout: float = DEFAULT_TIMEOUT, with_files=None) -> Path:
    """Compile `tex` to `pdf_path` (see the module docstring). Returns the PDF's path.

    with_files: {path: text} written in the same unit as the PDF and the .tex (feedback.md with
    feedback.pdf): all of them, or (when LaTeX fails) none."""
    pdf_path = files.check_target(pdf_path)
    tex_path = files.check_target(tex_path if tex_path else pdf_path.with_suffix(".tex"))
    with_files = {files.check_target(k): v for k, v in (with_files or {}).items()}
    program = engine(tex)
    missing = missing_tools(program, "luatexko.sty" if "\\usepackage{luatexko}" in tex else "fontspec.sty")
    if missing:
        files.write_unit({tex_path: tex, **with_files})
        err = LatexMissing(f"wrote {tex_path} only: {missing}")
        err.missing = missing  # what to install, for a caller that wrote other files too
        raise err
    clear_stale(pdf_path.parent)
    try:
        work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=pdf_path.parent))
    except OSError as e:
        raise files.OutputError(f"cannot write in {pdf_path.parent}: {e.strerror}") from None
    proc = None
    try:
        with terminate_as_interrupt():
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
                kill_group(proc)
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
            # the PDF, its .tex and `with_files` as one unit: never the PDF of one run, the .tex of another
            files.write_unit({tex_path: tex, **with_files}, moves={built: pdf_path})
            return pdf_path
    except BaseException:
        if proc is not None and proc.poll() is None:
            kill_group(proc)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
