"""Korean worksheets, answer keys and Moodle quizzes: the fixed text comes from the catalog.

Every expected string is taken from the Korean catalog (gettext under i18n.language("ko")) or from
a built-in problem's [translations.ko], never copied from the engine's output; the English words
that must be absent are the words of the English messages themselves.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_file

from derive import i18n
from derive.errors import LatexError
from derive.problems import load, localized
from derive.render import pdf
from derive.sheets.exercises import LEVELS, build_sheet
from derive.sheets.moodle import quiz_xml
from derive.sheets.sheet_view import build_versions, render_sheet

ROOT = Path(__file__).resolve().parents[2]
SHEET_TEMPLATES = ("worksheet.tex", "worksheet_item.tex", "worksheet_hints.tex", "worksheet_problem.tex",
                   "worksheet_figure.tex", "answers.tex", "_network_diagram.tex")
PROBLEMS = ("circuit", "fanout", "staged", "mlp_222")
FAKE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 0L1 1"/></svg>'
HAVE_KOREAN_TEX = bool(shutil.which("latexmk") and shutil.which("lualatex") and shutil.which("pdftotext")
                       and pdf._kpse_finds("luatexko.sty"))
needs_korean_tex = pytest.mark.skipif(not HAVE_KOREAN_TEX, reason="LuaLaTeX/luatexko/pdftotext not installed "
                                      "(sh scripts/ensure-tex.sh ko)")
HAVE_LATEX = bool(shutil.which("latexmk") and shutil.which("pdflatex") and shutil.which("pdftotext"))
LEVEL_SENTENCES = {  # the sentence under a worksheet's title at each level (templates/worksheet.tex)
    "exam": "Write your answers in the space below each exercise and in the boxes of the figures.",
    "outline": "Each exercise comes with an outline of the chain rule; write your answers in the space below it.",
    "local-gradients": "Each exercise comes with an outline of the chain rule and the local gradients it "
                       "needs; write your answers in the space below it.",
    "fill-in": "Fill in the boxes.",
    "worked": "Each exercise is followed by its worked solution.",
}


def ko(message: str, **values) -> str:
    with i18n.language("ko"):
        text = i18n._(message)
    assert text != message and i18n.hangul(text), f"not translated: {message!r}"
    return text % values if values else text


def plain(text: str) -> str:
    """What a reader sees of a message without its math and markup: the text before the first
    `$`, `\\` or placeholder, as one run without spaces (pdftotext breaks lines anywhere)."""
    return squash(re.split(r"\$|\\|%\(|\{", text)[0])


def squash(text: str) -> str:
    """Without white space, and TeX's --- as the em dash it prints."""
    return re.sub(r"\s+", "", text.replace("---", "\u2014"))


def template_messages() -> list[str]:
    """The English msgids of the worksheet and answer-key templates, as Babel extracts them."""
    options = {"block_start_string": "\\BLOCK{", "block_end_string": "}", "variable_start_string": "\\VAR{",
               "variable_end_string": "}", "comment_start_string": "\\#{", "comment_end_string": "}",
               "extensions": "jinja2.ext.i18n", "trimmed": "true"}
    out = []
    for name in SHEET_TEMPLATES:
        for _, message, _, _ in extract_from_file("jinja2", ROOT / "templates" / name, options=options):
            out.append(message if isinstance(message, str) else message[0])
    return out


def english_words(messages) -> set[str]:
    """The English words of `messages` (four letters or more, outside math and placeholders)."""
    words = set()
    for m in messages:
        m = re.sub(r"\$[^$]*\$|%\(\w+\)s|\{\w+\}|\\[A-Za-z]+", " ", m)
        words |= {w.lower() for w in re.findall(r"[A-Za-z]{4,}", m)}
    return words


@pytest.fixture(scope="module")
def problems():
    return [load(n) for n in PROBLEMS]


@pytest.fixture(scope="module")
def titles(problems):
    """The built-ins' Korean titles, from their [translations.ko]."""
    return [localized(p, "ko").title for p in problems]


def test_the_templates_messages_are_found_and_translated():
    messages = template_messages()
    assert len(messages) > 30 and "Name:" in messages
    for m in messages:
        ko(m)


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_says_its_instructions_in_korean(problems, titles, level):
    with i18n.language("ko"):
        worksheet, key = render_sheet(build_sheet(problems, 3, 1, level))
    assert pdf.engine(worksheet) == "lualatex" and pdf.engine(key) == "lualatex"
    assert squash(ko(LEVEL_SENTENCES[level])) in squash(worksheet)
    assert LEVEL_SENTENCES[level] not in worksheet
    assert squash(ko("Worksheet --- version %(version)s", version=1)) in squash(worksheet)
    assert plain(ko("Exercise %(number)s")) in squash(key)
    if level == "worked":
        assert squash(ko("Worked solution.")) in squash(worksheet)
    for title in titles:
        assert plain(title) in squash(worksheet) and plain(title) in squash(key)
    assert i18n.current() == "en"


@needs_korean_tex
def test_korean_worksheet_and_key_pdfs(tmp_path, problems, titles):
    sheet = build_sheet(problems, 3, 2, "local-gradients")
    with i18n.language("ko"):
        worksheet, key = render_sheet(sheet)
    texts = {}
    for stem, tex in (("worksheet", worksheet), ("answers", key)):
        out = pdf.compile_pdf(tex, tmp_path / f"{stem}.pdf")
        texts[stem] = subprocess.run(["pdftotext", str(out), "-"], check=True, capture_output=True,
                                     text=True).stdout
    n = len(sheet.exercises)
    common = [plain(t) for t in titles] + [
        ko("The graph, gate by gate:"), ko("The network, unit by unit:"), ko("Given (also on the figure):"),
        ko("input"), ko("output"), ko("sigmoid"),
        plain(ko("\\textcolor{fwd}{value (forward)} above each node, \\textcolor{bwd}{gradient of $%(output)s$ "
                 "(backward)} below it.")),
    ]
    expected = {
        "worksheet": [ko("Worksheet --- version %(version)s", version=2), ko("Name:"),
                      ko("%(count)s exercises.", count=n), ko(LEVEL_SENTENCES["local-gradients"]),
                      plain(ko("Chain rule: $%(text)s$.")), plain(ko("Local gradient: $%(text)s$.")),
                      plain(ko("Compute the gates in this order: $%(text)s$.")),
                      plain(ko("Fill in the forward value of every gate in the \\textcolor{fwd}{boxes above the "
                               "nodes} of the graph."))],
        "answers": [ko("Answer key --- version %(version)s", version=2),
                    ko("%(count)s exercises, numbered as on worksheet version %(version)s. Every answer below "
                       "was checked numerically (central differences in 50-digit arithmetic) before it was "
                       "written.", count=n, version=2)],
    }
    english = english_words(template_messages())
    for stem, text in texts.items():
        flat = squash(text)
        for s in common + expected[stem]:
            assert squash(s) in flat, (stem, s)
        for k in range(1, n + 1):
            assert squash(ko("Exercise %(number)s", number=k)) in flat
        assert "[U+" not in text
        left = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)} & english
        assert not left, (stem, sorted(left))
        assert "Worksheet" not in text and "Answer key" not in text and "Exercise" not in text


@pytest.mark.skipif(not HAVE_LATEX, reason="latexmk/pdflatex/pdftotext not installed")
def test_english_worksheet_still_compiles_with_pdflatex(tmp_path, problems):
    worksheet, _ = render_sheet(build_sheet(problems[:1], 3, 1, "outline"))
    assert pdf.engine(worksheet) == "pdflatex" and "luatexko" not in worksheet
    out = pdf.compile_pdf(worksheet, tmp_path / "w.pdf")
    text = subprocess.run(["pdftotext", str(out), "-"], check=True, capture_output=True, text=True).stdout
    assert "Worksheet \u2014 version 1" in text and "Exercise 1" in text and not i18n.hangul(text)


# ---------------------------------------------------------------- Moodle

def moodle_messages() -> list[str]:
    """The English msgids of sheets/moodle.py, as Babel extracts them."""
    path = ROOT / "derive" / "sheets" / "moodle.py"
    with path.open("rb") as f:
        return [m for _, m, _, _ in extract("python", f, keywords={"_": None, "N_": None})]


@pytest.fixture(scope="module")
def korean_quiz(problems):
    sheets = build_versions(problems, 2, 3)
    with i18n.language("ko"):
        text = quiz_xml(sheets, figure=lambda tikz: FAKE_SVG)
    return text


def test_korean_quiz_is_utf8_xml_with_korean_questions(korean_quiz):
    assert korean_quiz.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(korean_quiz.encode("utf-8"))
    messages = moodle_messages()
    assert len(messages) > 15
    english = english_words(messages) - {"derive"}  # the program's name stays
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    categories = [q.find("category/text").text for q in root.findall("question") if q.get("type") == "category"]
    assert questions and categories
    assert all(i18n.hangul(c) and not (set(re.findall(r"[a-z]{4,}", c.lower())) & english) for c in categories)
    for q in questions:
        body = q.find("questiontext/text").text
        assert body.startswith('<div lang="ko">')
        prose = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]|<[^>]+>|\{1:NUMERICAL:[^}]*\}", " ", body, flags=re.S)
        assert i18n.hangul(prose)
        assert not ({w.lower() for w in re.findall(r"[A-Za-z]{4,}", prose)} & english), prose
        assert i18n.hangul(q.find("name/text").text)
        assert squash(ko("Exercise {number}.").split("{")[0]) in squash(prose)


def test_korean_quiz_problem_titles_and_given_values(korean_quiz, titles):
    for title in titles:
        assert plain(title) in squash(korean_quiz)
    assert squash(ko("Given:")) in squash(korean_quiz)


def test_a_figure_the_svg_route_cannot_set_is_left_out(problems, titles):
    """latex (DVI) cannot set Hangul; the quiz keeps the question and leaves that figure out."""
    def figure(tikz):
        if i18n.hangul(tikz):
            raise LatexError("LaTeX failed on the figure: ! LaTeX Error: Unicode character")
        return FAKE_SVG
    said = []
    with i18n.language("ko"):
        text = quiz_xml(build_versions(problems, 1, 3), figure=figure, echo=said.append)
    root = ET.fromstring(text)
    net_title = plain(titles[-1])
    for q in root.findall("question"):
        if q.get("type") == "category":
            continue
        body = q.find("questiontext/text").text
        assert ("<img" in body) != (net_title in squash(body)), q.find("name/text").text
    assert any("Korean" in line for line in said)
    with pytest.raises(LatexError):  # any other LaTeX failure still stops the export
        quiz_xml(build_versions(problems[:1], 1, 3), figure=lambda tikz: (_ for _ in ()).throw(LatexError("x")))


def test_english_quiz_has_no_language_marker(problems):
    text = quiz_xml(build_versions(problems[:1], 1, 3), figure=None)
    assert '<div lang=' not in text and "Exercise 1, version 1" in text and not i18n.hangul(text)


# ---------------------------------------------------------------- the same numbers in every language

def numbers(tex: str) -> list[str]:
    """Every number in the displayed equations of a sheet, in order."""
    blocks = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, flags=re.S)
    return re.findall(r"-?\d+(?:\.\d+)?", "".join(blocks))


def test_the_same_seed_gives_the_same_numbers_in_korean_and_english(tmp_path):
    from click.testing import CliRunner

    from derive.cli import main
    keys = {}
    for lang in ("en", "ko"):
        result = CliRunner().invoke(main, ["worksheet", *PROBLEMS, "--seed", "7", "--versions", "2", "--lang", lang,
                                           "--format", "tex", "-o", str(tmp_path / lang)])
        assert result.exit_code == 0, result.output
        keys[lang] = [(tmp_path / lang / f"answers-v{k}.tex").read_text(encoding="utf-8") for k in (1, 2)]
    assert not i18n.hangul(keys["en"][0]) and i18n.hangul(keys["ko"][0])
    for en, ko_key in zip(keys["en"], keys["ko"]):
        assert len(numbers(en)) > 50 and numbers(en) == numbers(ko_key)
    assert numbers(keys["en"][0]) != numbers(keys["en"][1])  # versions differ: the check can fail


# ---------------------------------------------------------------- the Python API

def test_python_api_writes_korean_worksheets(tmp_path):
    import derive
    from derive.errors import DeriveError
    paths = derive.worksheets(["circuit"], out=tmp_path, pdf=False, echo=None, lang="ko")
    text = paths[0].read_text(encoding="utf-8")
    assert squash(ko("Worksheet --- version %(version)s", version=1)) in squash(text)
    assert plain(localized(load("circuit"), "ko").title) in squash(text)
    assert i18n.current() == "en"
    english = derive.worksheets(["circuit"], out=tmp_path / "en", pdf=False, echo=None)
    assert "Worksheet --- version 1" in english[0].read_text(encoding="utf-8")
    with pytest.raises(DeriveError, match="lang: expected one of en, ko"):
        derive.worksheets(["circuit"], out=tmp_path / "x", pdf=False, echo=None, lang="fr")


# ---------------------------------------------------------------- a Korean statement

def test_a_korean_clause_quoting_an_original_number_is_dropped():
    """A particle glued to a number (0.298371109을) does not hide the number; a letter glued to one
    (cs231n, w5) still makes it part of a name."""
    from fractions import Fraction

    from derive.sheets.statement import description_for, quoted_numbers
    text = "은닉층 하나. 그는 손으로 0.298371109을 계산합니다. 가중치 w5는 3과 곱해집니다."
    assert description_for(text, [Fraction("0.298371109")], False) == "은닉층 하나. 가중치 w5는 3과 곱해집니다."
    assert description_for(text, [Fraction(3)], False) == "은닉층 하나. 그는 손으로 0.298371109을 계산합니다."
    assert description_for(text, [Fraction(5)], False) == text
    assert [w for w, _ in quoted_numbers("cs231n 강의, w5 = 0.5입니다")] == ["0.5"]
