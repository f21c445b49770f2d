"""The report in Korean (`derive report --lang ko`): what a reader gets from the compiled PDF and the
Markdown. The expected Korean words come from the catalog (derive/locale/ko) through gettext, the
expected titles from the problems' own [translations.ko]; nothing here copies the engine's output.

One Korean and one English compilation for the module (LuaLaTeX takes a few seconds).
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from derive import i18n, problems
from derive.cli.report import build
from derive.pipeline import solve
from derive.render import pdf, svg, tex
from derive.render.view import problem_view

needs_lualatex = pytest.mark.skipif(
    not (shutil.which("latexmk") and shutil.which("lualatex") and shutil.which("pdftotext")
         and pdf.missing_tools("lualatex") is None),
    reason="latexmk/lualatex with luatexko/pdftotext not installed (sh scripts/ensure-tex.sh ko)")
needs_pdflatex = pytest.mark.skipif(
    not (shutil.which("latexmk") and shutil.which("pdflatex") and shutil.which("pdftotext")),
    reason="latexmk/pdflatex/pdftotext not installed (scripts/ensure-tex.sh installs them)")

# a scalar circuit, a network in each notation, matrix layers
PROBLEMS = ("circuit", "mlp_222", "mlp_nielsen", "affine_softmax")
# headings every one of these sections has, and those of its kind
COMMON = ("Definition", "Result", "Numeric check")
HEADINGS = (*COMMON, "Forward pass", "Computational graph", "Backward pass", "Backward pass, rule by rule",
            "Vector and matrix form", "Layers", "Problems")
# English words a Korean report must not hold outside math and names (Softmax-with-Loss keeps "with" and "loss")
ENGLISH = {"the", "of", "and", "are", "is", "in", "at", "to", "by", "for", "every", "each", "all",
           "gradient", "gradients", "check", "checked", "value", "values", "node", "nodes", "layer",
           "layers", "forward", "backward", "pass", "result", "definition", "numeric", "error",
           "network", "units", "hidden", "output", "input", "notation", "batch", "rule", "rules"}


def korean(message: str) -> str:
    with i18n.language("ko"):
        return i18n._(message)


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return re.sub(r"\s+", " ", out)


def title_words(name: str, lang: str) -> str:
    """The problem's title in `lang` up to its first math ($...$ prints differently in a PDF)."""
    title = problems.localized(problems.load(name), lang).title
    return re.sub(r"\s+", " ", title.split("$")[0]).strip()


@pytest.fixture(scope="module")
def korean_pdf(tmp_path_factory):
    out = tmp_path_factory.mktemp("ko") / "report.pdf"
    build(list(PROBLEMS), out, "pdf", echo=lambda line: None, lang="ko")
    return out


@pytest.fixture(scope="module")
def english_pdf(tmp_path_factory):
    out = tmp_path_factory.mktemp("en") / "report.pdf"
    build(list(PROBLEMS), out, "pdf", echo=lambda line: None)
    return out


def test_the_catalog_translates_the_headings():
    for heading in HEADINGS:
        assert i18n.hangul(korean(heading)), f"{heading!r} has no Korean translation"


@needs_lualatex
def test_korean_report_has_korean_headings_and_titles(korean_pdf):
    assert pdf.engine(korean_pdf.with_suffix(".tex").read_text(encoding="utf-8")) == "lualatex"
    text = pdf_text(korean_pdf)
    assert "[U+" not in text
    for heading in COMMON:
        assert text.count(korean(heading)) >= len(PROBLEMS), heading
    for heading in HEADINGS:
        assert korean(heading) in text, heading
    for name in PROBLEMS:
        words = title_words(name, "ko")
        assert i18n.hangul(words) and words in text, name


@needs_lualatex
def test_korean_report_leaves_no_english_sentence(korean_pdf):
    text = pdf_text(korean_pdf)
    for heading in HEADINGS:
        assert heading not in text, heading
    for name in PROBLEMS:
        english = title_words(name, "en")
        assert english not in text, english
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    assert not words & ENGLISH, sorted(words & ENGLISH)


@needs_lualatex
def test_korean_full_detail(tmp_path):
    out = tmp_path / "full.pdf"
    build(["mlp_nielsen", "circuit"], out, "pdf", echo=lambda line: None, detail="full", lang="ko")
    text = pdf_text(out)
    for heading in ("Per-weight chains", "General rules (index form)", "Vector and matrix form", "Backward pass"):
        assert korean(heading) in text and heading not in text, heading
    assert not re.search("[다요]\\.[\uac00-\ud7a3]", text), "two sentences run together"
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    assert not words & ENGLISH, sorted(words & ENGLISH)


@needs_lualatex
def test_a_korean_title_renders_without_lang(tmp_path):
    title = "간단한 회로: 덧셈과 곱셈 노드"
    source = tmp_path / "circuit.toml"
    source.write_text(f'title = "{title}"\n[graph]\nq = "x + y"\nf = "q * z"\n[values]\nx = -2\ny = 5\nz = -4\n',
                      encoding="utf-8")
    out = tmp_path / "report.pdf"
    build([str(source)], out, "pdf", echo=lambda line: None)
    text = pdf_text(out)
    assert title in text and "[U+" not in text
    assert "Forward pass" in text  # no --lang: the fixed text stays English


@needs_pdflatex
def test_english_report_stays_pdflatex_with_english_headings(english_pdf):
    assert pdf.engine(english_pdf.with_suffix(".tex").read_text(encoding="utf-8")) == "pdflatex"
    text = pdf_text(english_pdf)
    for heading in HEADINGS:
        assert heading in text, heading
    assert not i18n.hangul(text)


def test_korean_markdown_report(tmp_path):
    out = tmp_path / "report.md"
    build(list(PROBLEMS), out, "md", echo=lambda line: None, lang="ko")
    text = out.read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+ (.*)$", text, flags=re.M))
    for heading in ("Definition", "Result", "Numeric check", "Forward pass", "Computational graph",
                    "Backward pass, rule by rule", "Vector and matrix form"):
        assert korean(heading) in headings, heading
        assert heading not in headings, heading
    for name in PROBLEMS:
        assert title_words(name, "ko") in text, name
    if shutil.which("latex") and shutil.which("dvisvgm"):
        figures = re.findall(r"\]\(([^)]+\.svg)\)", text)
        assert figures and all((tmp_path / f).read_text(encoding="utf-8").lstrip().startswith("<?xml")
                               for f in figures)


def test_standalone_figure_takes_luatexko_only_for_hangul():
    plain = svg.standalone(r"\begin{tikzpicture}\node {$x$};\end{tikzpicture}")
    hangul = svg.standalone(r"\begin{tikzpicture}\node {노드};\end{tikzpicture}")
    assert "pgfsys-dvisvgm" in plain and "luatexko" not in plain
    assert "luatexko" in hangul and "pgfsys-dvisvgm" not in hangul


@pytest.mark.skipif(not shutil.which("dvisvgm") or pdf.missing_tools("lualatex") is not None,
                    reason="dvisvgm or lualatex with luatexko not installed")
def test_a_figure_with_hangul_becomes_svg_paths():
    one = svg.svg_of_figure(r"\begin{tikzpicture}\node[draw] {노드};\end{tikzpicture}")
    two = svg.svg_of_figure(r"\begin{tikzpicture}\node[draw] {노드 노드};\end{tikzpicture}")
    assert "<path" in one and "노드" not in one  # glyphs as paths, no font needed
    width = [float(re.search(r"width=['\"]([\d.]+)pt", s).group(1)) for s in (one, two)]
    assert width[1] > 1.5 * width[0]  # the letters are set: twice the text, a wider picture


def test_a_failed_check_is_flagged_in_korean():
    """The failure texts (banner, flagged steps, unproven result, verdicts, unchecked rules) are only
    reached when a check fails: the section of a view whose checks are marked wrong."""
    failures = ("Unproven: the numeric check failed.", "check failed", "wrong", "NOT checked")
    with i18n.language("ko"):
        sections = []
        for name in ("circuit", "mlp_222"):
            v = problem_view(solve(problems.load(name)), detail="full")
            net = v["network"] and {**v["network"], "rules": tuple(dataclasses.replace(r, checked=False)
                                                                   for r in v["network"]["rules"])}
            v = {**v, "ok": False, "failures": ["x"], "network": net,
                 "checks": tuple(dataclasses.replace(c, verdict="wrong") for c in v["checks"]),
                 "backward": tuple(dataclasses.replace(b, verdict="wrong") for b in v["backward"])}
            sections.append(tex.render("_problem.tex", p=v))
        body = tex.render_body(sections, failed=2)
    for message in failures:
        assert korean(message) in body, message
        assert message not in body, message
