"""render/svg.py: a TikZ picture becomes an SVG (latex -> DVI -> dvisvgm --no-fonts), safely."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from derive.errors import LatexError
from derive.render import svg

needs_svg_tools = pytest.mark.skipif(
    not (shutil.which("latex") and shutil.which("dvisvgm")),
    reason="latex/dvisvgm not installed (scripts/ensure-tex.sh installs them)")

PICTURE = r"""
\begin{tikzpicture}
\node[draw, fill=gate, minimum width=2cm] (a) at (0, 0) {$x_{1}$};
\node[draw, label={[text=bwd]below:{$-4$}}] (b) at (5, 0) {$\mathrm{sigy}$};
\begin{pgfonlayer}{background}\draw[->, fwd] (a) -- (b);\end{pgfonlayer}
\end{tikzpicture}
"""


def _leftovers() -> set[str]:
    """This process's temporary SVG folders (named by pid: other runs on the machine have their own)."""
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{svg.TEMP_PREFIX}{os.getpid()}-*")}


def _size_pt(text: str) -> tuple[float, float]:
    m = re.search(r"<svg[^>]*width='([\d.]+)pt' height='([\d.]+)pt'", text)
    assert m, text[:300]
    return float(m.group(1)), float(m.group(2))


@needs_svg_tools
def test_picture_becomes_svg_with_its_size_colours_and_no_fonts():
    before = _leftovers()
    text = svg.svg_of_figure(PICTURE)
    assert text.lstrip().startswith("<?xml") and "</svg>" in text
    width, height = _size_pt(text)
    # the nodes' centres are 5 cm apart and the left one is 2 cm wide: about 6 cm of picture
    assert 6 * 28.45 * 0.95 < width < 8 * 28.45
    assert height < width / 2
    assert "<text" not in text and "<font" not in text  # glyphs are paths: the SVG needs no fonts
    assert "<path" in text
    colours = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}", text)}
    assert "#ebf0fa" in colours  # gate fill RGB(235,240,250), from the shared figure preamble
    assert "#c81e1e" in colours  # bwd RGB(200,30,30): the gradient label
    assert "#008040" in colours  # fwd RGB(0,128,64): the edge
    assert _leftovers() == before  # the temporary directory is gone


@needs_svg_tools
def test_error_names_the_first_tex_error_and_cleans_up():
    before = _leftovers()
    broken = "\\begin{tikzpicture}\\node {\\undefinedmacroxyz};\\end{tikzpicture}"
    with pytest.raises(LatexError, match=r"Undefined control sequence.*l\.\d+"):
        svg.svg_of_figure(broken)
    assert _leftovers() == before


@needs_svg_tools
def test_time_limit_kills_latex():
    looping = "\\begin{tikzpicture}\\def\\loop{\\loop}\\loop\\end{tikzpicture}"
    with pytest.raises(LatexError, match="did not finish"):
        svg.svg_of_figure(looping, timeout=2)


@needs_svg_tools
def test_no_shell_escape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "pwned"
    hostile = ("\\begin{tikzpicture}\\immediate\\write18{touch " + str(target) + "}"
               "\\node {x};\\end{tikzpicture}")
    svg.svg_of_figure(hostile)
    assert not target.exists()


def test_missing_tools_name_the_packages(monkeypatch):
    monkeypatch.setattr(svg.shutil, "which", lambda _: None)
    with pytest.raises(svg.SvgToolsMissing, match="dvisvgm") as err:
        svg.svg_of_figure(PICTURE)
    assert isinstance(err.value, LatexError)


def test_only_pictures_are_accepted():
    with pytest.raises(ValueError):
        svg.svg_of_figure("\\documentclass{article}")
