"""TikZ pictures -> SVG, for Markdown reports, Moodle export and Jupyter display.

    svg_of_figure(tikz_source, timeout=DEFAULT_TIMEOUT) -> str
        `tikz_source` is one `\\begin{tikzpicture} ... \\end{tikzpicture}` (as the templates draw
        it: colours fwd/bwd/bad/gate, arrows.meta, the background layer are defined here). It is
        set in a standalone document, run through `latex` (DVI) and `dvisvgm --no-fonts` (glyphs
        become paths, so the SVG needs no fonts), and the SVG text is returned.
    standalone(tikz_source) -> str
        The standalone .tex that svg_of_figure compiles (a pure function, for tests and debugging).

Both programs run in a fresh temporary directory that is removed afterwards, without shell
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

from ..errors import LatexError
from .pdf import FIGURE_PREAMBLE, first_error

DEFAULT_TIMEOUT = 60  # seconds for latex and dvisvgm together
DEBIAN_PACKAGES = "texlive-latex-base texlive-pictures lmodern dvisvgm"


class SvgToolsMissing(LatexError):
    """`latex` or `dvisvgm` is not installed."""


def standalone(tikz_source: str) -> str:
    """A standalone LaTeX document holding the one picture (the dvisvgm TikZ driver)."""
    return "\n".join((
        r"\def\pgfsysdriver{pgfsys-dvisvgm.def}",
        r"\documentclass[border=3pt]{standalone}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{lmodern,amsmath,amssymb,xcolor,tikz}",
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
    return proc.returncode, out.decode(errors="replace")


def svg_of_figure(tikz_source: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The SVG text of one TikZ picture (see the module docstring)."""
    if "\\begin{tikzpicture}" not in tikz_source:
        raise ValueError("svg_of_figure expects a tikzpicture environment")
    missing = [tool for tool in ("latex", "dvisvgm") if not shutil.which(tool)]
    if missing:
        raise SvgToolsMissing(f"{' and '.join(missing)} not found, so no SVG figure was made. "
                              f"Install: sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES}")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="derive-svg-") as tmp:
        work = Path(tmp)
        (work / "figure.tex").write_text(standalone(tikz_source), encoding="utf-8")
        env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f",
               "TEXMFOUTPUT": str(work)}
        code, output = _run(["latex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                             "figure.tex"], work, env, deadline, "latex")
        dvi = work / "figure.dvi"
        if code != 0 or not dvi.exists():
            log = work / "figure.log"
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else output
            raise LatexError(f"LaTeX failed on the figure: {first_error(text)}")
        code, output = _run(["dvisvgm", "--no-fonts", "--exact-bbox", "--verbosity=1",
                             "--output=figure.svg", "figure.dvi"], work, env, deadline, "dvisvgm")
        svg = work / "figure.svg"
        if code != 0 or not svg.exists():
            raise LatexError(f"dvisvgm failed on the figure: {output.strip()[-300:] or 'no message'}")
        return svg.read_text(encoding="utf-8")
