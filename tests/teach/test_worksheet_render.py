"""Worksheets and answer keys as .tex and PDF: determinism, numbering, answers, escaping, CLI."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

from derive.cli import main
from derive.problems import load, loads
from derive.teach.exercises import build_sheet
from derive.teach.sheet_view import WORKSHEET_BUILTINS, render_sheet, write_versions

HAVE_LATEX = bool(shutil.which("latexmk") and shutil.which("pdflatex") and shutil.which("pdftotext"))
needs_latex = pytest.mark.skipif(not HAVE_LATEX, reason="latexmk/pdflatex/pdftotext not installed "
                                 "(make tex installs them)")


@pytest.fixture(scope="module")
def chosen():
    return [load(n) for n in WORKSHEET_BUILTINS]


def tex_pair(problems, seed, version, level="hints"):
    return render_sheet(build_sheet(problems, seed, version, level))


def exercise_numbers(text):
    return re.findall(r"Exercise (\d+)\b", text)


def test_same_seed_gives_identical_tex(chosen):
    assert tex_pair(chosen, 5, 1) == tex_pair(chosen, 5, 1)


def test_identical_across_processes_and_hash_seeds(tmp_path):
    """SymPy hashes depend on PYTHONHASHSEED; the .tex must not."""
    outs = []
    for hash_seed in ("0", "12345"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "derive", "worksheet", "--builtin", "--versions", "2",
                        "--seed", "3", "-o", str(out), "--tex-only"], check=True, env=env,
                       capture_output=True)
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == ["answers-v1.tex", "answers-v2.tex", "worksheet-v1.tex", "worksheet-v2.tex"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_different_seeds_and_versions_differ(chosen):
    w1, a1 = tex_pair(chosen, 1, 1)
    w2, a2 = tex_pair(chosen, 2, 1)
    v2w, v2a = tex_pair(chosen, 1, 2)
    assert w1 != w2 and a1 != a2
    assert w1 != v2w and a1 != v2a


def test_items_numbered_alike_once_each(chosen):
    sheet = build_sheet(chosen, 4, 1)
    worksheet, answers = render_sheet(sheet)
    expected = [str(i) for i in range(1, len(sheet.exercises) + 1)]
    assert exercise_numbers(worksheet) == expected
    assert exercise_numbers(answers) == expected


# ---------------------------------------------------------------- the key's numbers vs an oracle

def expanded(graph, name, keep=None):
    node = graph.node(name)
    if node.is_input or name == keep:
        return node.symbol
    return node.expr.xreplace({graph.node(p).symbol: expanded(graph, p, keep) for p in node.parents})


def oracle_gradient(graph, values, name):
    d = sp.diff(expanded(graph, graph.output), graph.node(name).symbol)
    return float(d.xreplace({sp.Symbol(k, real=True): sp.Rational(v.numerator, v.denominator)
                             for k, v in values.items()}).evalf(30))


def section(tex, number):
    """The answer key's text for one exercise."""
    start = tex.index(f"Exercise {number}}}")
    nxt = re.search(r"\\(sub)?section\*", tex[start + 10:])
    return tex[start:start + 10 + nxt.start()] if nxt else tex[start:]


def printed(x):
    """How a number shows in the key: 6 significant digits, a plain minus."""
    return f"{x:.6g}"


def test_key_shows_independently_computed_answers(chosen):
    for seed in (1, 2, 3):
        sheet = build_sheet(chosen, seed, 1)
        _, answers = render_sheet(sheet)
        for e in sheet.exercises:
            g, vals = e.variant.graph, e.variant.values
            text = section(answers, e.number)
            if e.kind == "numeric":
                assert "= " + printed(oracle_gradient(g, vals, e.target)) in text, (seed, e.number)
            elif e.kind == "update":
                grad = oracle_gradient(g, vals, e.target)
                eta = dict(e.given)["η"]
                new = float(vals[e.target]) - float(eta) * grad
                assert text.rstrip().endswith(printed(new) + "\n\\end{align*}") or \
                    ("= " + printed(new)) in text, (seed, e.number)
            elif e.kind == "forward":
                out = float(expanded(g, g.output).xreplace(
                    {sp.Symbol(k, real=True): sp.Rational(v.numerator, v.denominator)
                     for k, v in vals.items()}).evalf(30))
                assert "= " + printed(out) in text


# ---------------------------------------------------------------- levels and escaping

def test_levels_scaffold_the_same_items(chosen):
    full, _ = tex_pair(chosen, 2, 1, "full")
    hints, answers = tex_pair(chosen, 2, 1, "hints")
    blanks, _ = tex_pair(chosen, 2, 1, "blanks")
    assert exercise_numbers(full) == exercise_numbers(hints) == exercise_numbers(blanks)
    assert "Hint" in hints and "Hint" not in blanks and "Hint" not in full
    assert r"\blank" in blanks.split(r"\begin{document}")[1]
    assert "Worked solution" in full and "Worked solution" not in hints
    # the full sheet carries the key's worked solutions
    for number in range(1, 4):
        body = section(answers, number).split("\n", 1)[1]
        assert body.strip() in full


def test_user_text_is_escaped():
    evil = loads('title = "Evil $x$ \\\\input{/etc/passwd} 100% #1 _ ^"\n'
                 'description = "}{\\\\end{document}"\n[graph]\nq = "a + b"\nf = "q * c"\n'
                 '[values]\na = 1\nb = 2\nc = 3\n')
    worksheet, answers = tex_pair([evil], 1, 1)
    for tex in (worksheet, answers):
        assert r"\input{/etc/passwd}" not in tex
        assert tex.count(r"\end{document}") == 1
        assert r"100\%" in tex


# ---------------------------------------------------------------- CLI

def test_cli_reports_progress_and_redraws(tmp_path):
    result = CliRunner().invoke(main, ["worksheet", "--builtin", "--versions", "2", "--seed", "1",
                                       "-o", str(tmp_path), "--tex-only"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("version ")]
    assert len(lines) == 2 and all("redraws" in line for line in lines)
    assert {p.name for p in tmp_path.iterdir()} == {
        "worksheet-v1.tex", "answers-v1.tex", "worksheet-v2.tex", "answers-v2.tex"}


def test_cli_errors_name_the_problem(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["worksheet", "-o", str(tmp_path)])
    assert r.exit_code == 2 and "no problems" in r.stderr
    r = runner.invoke(main, ["worksheet", str(tmp_path / "missing.toml"), "-o", str(tmp_path)])
    assert r.exit_code == 2 and "missing.toml" in r.stderr
    bad = tmp_path / "sat.toml"
    bad.write_text('[graph]\nf = "sigmoid(100 * x)"\n[values]\nx = 1\n', encoding="utf-8")
    r = runner.invoke(main, ["worksheet", str(bad), "-o", str(tmp_path / "out"), "--tex-only"])
    assert r.exit_code == 2 and "no clean variant" in r.stderr and "sat.toml" in r.stderr


# ---------------------------------------------------------------- PDFs (few compiles)

def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


@needs_latex
def test_pdfs_compile_with_each_item_once(tmp_path, chosen):
    (sheet,) = write_versions(chosen, 1, 1, tmp_path, "hints")
    n = len(sheet.exercises)
    for stem in ("worksheet-v1", "answers-v1"):
        assert (tmp_path / f"{stem}.tex").is_file()
        text = pdf_text(tmp_path / f"{stem}.pdf")
        numbers = exercise_numbers(text)
        assert sorted(numbers, key=int) == [str(i) for i in range(1, n + 1)], (stem, numbers)


@needs_latex
def test_blanks_and_full_levels_compile(tmp_path, chosen):
    from derive.render.pdf import compile_pdf
    for level in ("blanks", "full"):
        worksheet, _ = tex_pair(chosen, 2, 1, level)
        pdf = compile_pdf(worksheet, tmp_path / f"worksheet-{level}.pdf")
        assert exercise_numbers(pdf_text(pdf)) == exercise_numbers(worksheet)
