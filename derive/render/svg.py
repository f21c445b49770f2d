"""TikZ pictures -> SVG, for Markdown reports, Moodle export and Jupyter display.

    svg_of_figure(tikz_source, timeout=DEFAULT_TIMEOUT) -> str
        `tikz_source` is one `\\begin{tikzpicture} ... \\end{tikzpicture}` (as the templates draw
        it: colours fwd/bwd/bad/gate, arrows.meta, the background layer are defined here). It is
        set in a standalone document, run through `latex` (DVI) and `dvisvgm --no-fonts` (glyphs
        become paths, so the SVG needs no fonts), and the SVG text is returned.
    standalone(tikz_source) -> str
        The standalone .tex that svg_of_figure compiles (a pure function, for tests and debugging).

A picture holding Korean letters cannot go through `latex` (no Hangul fonts in DVI) nor through
LuaLaTeX's DVI (dvisvgm misplaces its OpenType glyphs): it is set like a Korean report, with
LuaLaTeX, luatexko and the Nanum fonts, into a PDF that `dvisvgm --pdf --no-fonts` (Ghostscript,
which Debian's dvisvgm links) turns into paths. Pictures without Hangul keep the DVI route.

Both programs run in a fresh temporary directory (`derive-svg-<pid>-...` in the system's temporary
folder) that is removed afterwards, also on SIGINT or SIGTERM (the TeX process group is killed
first); folders left by a run killed outright (SIGKILL) are removed by the next run. Without shell
escape, non-interactive, halting on the first error, with file access restricted to that
directory, under one time limit for the whole run (the process group is killed when it is
exceeded). Failure raises errors.LatexError with the first TeX error and its line; missing
programs raise `SvgToolsMissing` (a LatexError) naming the Debian packages to install.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .. import i18n
from ..errors import LatexError
from .pdf import (
    FIGURE_PREAMBLE,
    KOREAN_PACKAGES,
    KOREAN_PREAMBLE,
    _kpse_finds,
    beyond_latin1,
    clear_stale,
    first_error,
    kill_group,
    terminate_as_interrupt,
    unicode_preamble,
)

DEFAULT_TIMEOUT = 60  # seconds for latex and dvisvgm together
DEBIAN_PACKAGES = "texlive-latex-base texlive-pictures lmodern dvisvgm"
TEMP_PREFIX = "derive-svg-"


class SvgToolsMissing(LatexError):
    """`latex` or `dvisvgm` is not installed."""


def standalone(tikz_source: str) -> str:
    """A standalone LaTeX document holding the one picture: for `latex` and the dvisvgm TikZ
    driver, or, when the picture holds Hangul or another letter beyond Latin-1, for LuaLaTeX (with
    luatexko, or fontspec and the fallback fonts of pdf.unicode_preamble) into a PDF."""
    korean = i18n.hangul(tikz_source)
    letters = unicode_preamble(tikz_source, korean)
    lua = korean or bool(letters)
    return "\n".join((
        *(() if lua else (r"\def\pgfsysdriver{pgfsys-dvisvgm.def}",)),
        r"\documentclass[border=3pt]{standalone}",
        r"\usepackage{luatexko}" if korean else "" if lua else r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath,amssymb,xcolor,tikz}" if lua and not korean else
        r"\usepackage{lmodern,amsmath,amssymb,xcolor,tikz}",
        *((KOREAN_PREAMBLE,) if korean else ()),
        letters,
        FIGURE_PREAMBLE,
        r"\begin{document}",
        tikz_source.strip(),
        r"\end{document}",
        "",
    ))


def _run(cmd, cwd: Path, env: dict, deadline: float, what: str) -> tuple[int, str]:
    """Run `cmd` in its own process group; kill the group when the deadline passes."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise LatexError(f"{what} did not start: the SVG time limit was used up")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=left)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise LatexError(f"{what} did not finish within the SVG time limit") from None
    except BaseException:  # interrupted (SIGINT, or SIGTERM made one): no TeX left running
        kill_group(proc)
        raise
    return proc.returncode, out.decode(errors="replace")


def svg_of_figure(tikz_source: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The SVG text of one TikZ picture (see the module docstring)."""
    if "\\begin{tikzpicture}" not in tikz_source:
        raise ValueError("svg_of_figure expects a tikzpicture environment")
    korean = i18n.hangul(tikz_source)
    lua = korean or bool(beyond_latin1(tikz_source))
    tex = "lualatex" if lua else "latex"
    missing = [tool for tool in (tex, "dvisvgm") if not shutil.which(tool)]
    if korean and not missing and not _kpse_finds("luatexko.sty"):
        missing = ["luatexko"]
    if missing:
        packages = f"{DEBIAN_PACKAGES} {KOREAN_PACKAGES}" if korean else DEBIAN_PACKAGES
        raise SvgToolsMissing(f"{' and '.join(missing)} not found, so no SVG figure was made. "
                              f"Install: sudo apt-get install --no-install-recommends {packages}")
    deadline = time.monotonic() + timeout
    clear_stale(Path(tempfile.gettempdir()), TEMP_PREFIX, timeout + 60)
    with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
        work = Path(tmp)
        (work / "figure.tex").write_text(standalone(tikz_source), encoding="utf-8")
        env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f",
               "TEXMFOUTPUT": str(work)}
        code, output = _run([tex, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                             "figure.tex"], work, env, deadline, tex)
        built = work / ("figure.pdf" if lua else "figure.dvi")
        if code != 0 or not built.exists():
            log = work / "figure.log"
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else output
            raise LatexError(f"LaTeX failed on the figure: {first_error(text)}")
        code, output = _run(["dvisvgm", *(("--pdf",) if lua else ()), "--no-fonts", "--exact-bbox",
                             "--verbosity=1", "--output=figure.svg", built.name], work, env, deadline, "dvisvgm")
        svg = work / "figure.svg"
        if code != 0 or not svg.exists():
            raise LatexError(f"dvisvgm failed on the figure: {output.strip()[-300:] or 'no message'}")
        return svg.read_text(encoding="utf-8")
