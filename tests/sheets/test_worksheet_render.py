"""Worksheets and answer keys as .tex and PDF: determinism, numbering, answers, escaping, CLI."""
import itertools
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
from derive.render.printer import name
from derive.sheets.exercises import build_sheet
from derive.sheets.sheet_view import WORKSHEET_BUILTINS, render_sheet, write_versions

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
    for file in names:
        assert (outs[0] / file).read_bytes() == (outs[1] / file).read_bytes(), file


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

LEVELS = ("exam", "outline", "local-gradients", "fill-in", "worked")


@pytest.fixture(scope="module")
def by_level(chosen):
    """seed 2, version 1 at every level: (worksheet body, key body)."""
    out = {}
    for level in LEVELS:
        w, a = tex_pair(chosen, 2, 1, level)
        out[level] = (body(w), body(a))
    return out


def body(tex):
    return tex.split(r"\begin{document}", 1)[1]


def worksheet_sections(tex):
    """Exercise number -> the worksheet's text for it (up to the next exercise or problem)."""
    parts = re.split(r"\\subsection\*\{Exercise (\d+)\}", tex)
    out = {}
    for number, text in zip(parts[1::2], parts[2::2]):
        out[int(number)] = re.split(r"\\section\*", text)[0]
    return out


def test_levels_scaffold_the_same_items(by_level, chosen):
    sheets = {level: build_sheet(chosen, 2, 1, level) for level in LEVELS}
    numbers = {level: exercise_numbers(w) for level, (w, _) in by_level.items()}
    assert len({tuple(n) for n in numbers.values()}) == 1
    keys = {a for _, a in by_level.values()}
    assert len(keys) == 1  # one answer key whatever the sheet shows
    w = {level: t for level, (t, _) in by_level.items()}
    assert "Chain rule:" in w["outline"] and "Local gradient:" not in w["outline"]
    assert "Local gradient:" in w["local-gradients"]
    assert r"\underbrace{\numbox}" in w["fill-in"] and "Worked solution" in w["worked"]
    for level in ("exam", "fill-in", "worked"):
        assert "Chain rule:" not in w[level] and "Local gradient:" not in w[level]
    # the worked sheet carries the key's worked solutions
    (answers,) = keys
    for number in range(1, 4):
        solution = section(answers, number).split("\n", 1)[1]
        assert solution.strip() in w["worked"]
    assert {s.level for s in sheets.values()} == set(LEVELS)


def test_exam_has_questions_figure_values_and_space_only(by_level, chosen):
    """No hint, no frame, no worked line, and no answer of the key anywhere on the sheet."""
    exam, _ = by_level["exam"]
    for word in ("Chain rule", "Local gradient", "Compute the gates", "underbrace", "Worked solution",
                 "sum of one term"):
        assert word not in exam
    sheet = build_sheet(chosen, 2, 1, "exam")
    sections = worksheet_sections(exam)
    given = {printed(float(x)) for v in sheet.variants for x in v.values.values()}

    def shown(x):  # a non-integer answer printed anywhere on the sheet
        text = printed(x)
        return "." in text and text not in given and re.search(rf"(?<![\d.]){re.escape(text)}(?!\d)", exam)

    for e in sheet.exercises:
        text = sections[e.number]
        if e.kind == "numeric":
            assert not shown(e.answer.value)
        if e.kind == "update":
            assert not shown(e.answer.new_value)
            assert r"\eta" in text and r"\eta \frac" not in text and r"- \eta" not in text  # no rule given
        for line in e.answer.lines if e.kind == "forward" else ():
            assert not shown(line.value)
        for g in e.answer.gradients if e.kind == "gates" else ():
            assert not shown(g.value)
    assert r"\begin{tikzpicture}" in exam  # the figures
    assert r"\begin{pmatrix}" in exam  # the network's given values


def test_every_exercise_has_answer_space_sized_to_its_answer(by_level, chosen):
    for level in ("exam", "outline", "local-gradients"):
        sheet = build_sheet(chosen, 2, 1, level)
        sections = worksheet_sections(by_level[level][0])
        for e in sheet.exercises:
            text = sections[e.number]
            lines = [int(n) for n in re.findall(r"\\answerlines\{(\d+)\}", text)]
            boxes = text.count(r"\numbox")
            if e.kind in ("forward", "gates"):  # numbers in the figure's boxes (or in boxes below)
                assert "boxes" in text or boxes, (level, e.number)
            elif e.kind == "symbolic":
                assert lines and lines[0] >= len(e.answer.chain.factors) + 2, (level, e.number)
            elif e.kind == "rule":
                assert lines and lines[0] >= len(e.answer.rule.factors) + 3
            elif e.kind == "numeric":
                assert lines and lines[0] >= len(e.answer.chain.factors) + 1 and boxes == 1
            elif e.kind == "update":
                assert boxes == 1
    # the figures' answer boxes are there at these levels
    assert "box, draw=fwd" in by_level["exam"][0] and "box, draw=bwd" in by_level["exam"][0]


def test_the_mlp_sheet_draws_the_network_and_gives_matrices(chosen):
    sheet = build_sheet([load("mlp_222")], 4, 1, "exam")
    worksheet, _ = render_sheet(sheet)
    (variant,) = sheet.variants
    assert r"\node[hidden]" in worksheet and r"\node[output]" in worksheet  # the Mazur-style figure
    w1 = variant.problem.arrays["W1"]
    row = " & ".join(printed(float(x)) for x in w1[0])
    assert row in worksheet  # W^h's first row, as a matrix row
    assert r"W^{h} = \begin{pmatrix}w^{h}_{11} & w^{h}_{12}" in worksheet
    assert "Given: $x_{1}" not in worksheet  # no run-on paragraph of values


def test_original_numbers_are_quoted_only_with_the_original_values():
    import dataclasses

    from derive.pipeline import solve
    from derive.sheets.sheet_view import statement_description
    mazur = load("mlp_222")
    sheet = build_sheet([mazur], 1, 1)
    worksheet, answers = render_sheet(sheet)
    for tex in (worksheet, answers):
        assert "0.082167041" not in tex and "0.298371109" not in tex
        assert "One hidden layer, sigmoid units" in tex  # the rest of the description stays
    (variant,) = sheet.variants
    original = dataclasses.replace(variant, problem=mazur, solution=solve(mazur))
    assert "0.082167041" in statement_description(original)
    assert "0.082167041" not in statement_description(variant)


def _parts(row):
    """An align* row split at its top-level = signs (outside braces), normalised."""
    row = row.replace("&", " ")
    parts, depth, cur = [], 0, ""
    for ch in row:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = re.sub(r"\\left|\\right|\\,|\\qquad|\\\\(\[\d+pt\])?|\s+", "", p)
        while p.startswith("(") and p.endswith(")"):
            p = p[1:-1]
        out.append(p)
    return out


def align_rows(tex):
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, re.S):
        for row in re.split(r"\\\\(?:\[\d+pt\])?", block):
            if row.strip():
                yield row


def test_no_a_equals_a_line(chosen):
    """No row of any key or sheet has two equal neighbours around an = (∂q/∂y = 1 = 1 = 1)."""
    fan = loads('[graph]\nf = "x*y + x*z + x**2 + sigmoid(x)"\n[values]\nx = 1\ny = 2\nz = -3\n')
    for seed in (1, 2, 3, 4):
        for level in ("worked", "fill-in"):
            worksheet, answers = tex_pair([*chosen, fan], seed, 1, level)
            for tex in (worksheet, answers):
                for row in align_rows(tex):
                    parts = [p for p in _parts(row) if p]
                    for a, b in itertools.pairwise(parts):
                        assert a != b, (seed, level, row)


def test_no_circular_hints_or_blank_labels(by_level, chosen):
    """No hint says A = A, and no box is labelled with the quantity its exercise asks for."""
    hints = labels = 0
    for level in ("outline", "local-gradients", "fill-in"):
        sheet = build_sheet(chosen, 2, 1, level)
        sections = worksheet_sections(by_level[level][0])
        for e in sheet.exercises:
            text = sections[e.number]
            for lhs, rhs in re.findall(r"\\item [^$]*\$([^=$]*)=([^$]*)\$", text):
                assert lhs.strip() != rhs.strip(), (level, e.number, lhs)
                hints += 1
            if e.target and e.kind != "update":  # an update asks for w', and names ∂f/∂w
                asked = "\\partial " + e.variant.derivation.output + "/\\partial " + name(e.target)
                for label in re.findall(r"\\underbrace\{\\(?:num|expr)box\}_\{(.*?)\}(?= \+| =| \\cdot|$)", text,
                                        re.M):
                    assert label.replace(" ", "") != asked.replace(" ", ""), (level, e.number)
                    labels += 1
    assert hints > 10 and labels > 10
    # the staged problem's fan-out hint: the sum of its paths with the local factors blank
    outline = by_level["outline"][0]
    assert re.search(r"\\partial f/\\partial x = \\partial f/\\partial \\math(it|rm)\{num\} \\cdot \\smallbox", outline)


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


# ---------------------------------------------------------------- nothing crosses the margin

def overfull_boxes(tex: str, tmp_path: Path, stem: str) -> list[str]:
    """The Overfull \\hbox lines of one pdflatex run (draft mode: typesetting only)."""
    work = tmp_path / stem
    work.mkdir()
    (work / "x.tex").write_text(tex, encoding="utf-8")
    subprocess.run(["pdflatex", "-draftmode", "-interaction=nonstopmode", "-halt-on-error", "x.tex"],
                   cwd=work, capture_output=True, timeout=240, check=False)
    log = (work / "x.log").read_text(encoding="utf-8", errors="replace")
    assert "\n! " not in log, log[-2000:]  # LaTeX stopped on an error
    return [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]


LONG_SUMS = ('title = "x used five times"\n[graph]\n'
             'f = "x*y + x*z + x**2 + sigmoid(x) * y + exp(x) * z"\n[values]\nx = 0.5\ny = 1.5\nz = -0.7\n')


@needs_latex
def test_no_overfull_hbox_in_any_sheet_or_key(tmp_path, chosen):
    problems = [*chosen, load("neuron_gates"), load("mlp_nielsen"), loads(LONG_SUMS)]
    found = {}
    for seed in (1, 2):
        sheet = build_sheet(problems, seed, 1, "exam")
        found[f"key seed {seed}"] = overfull_boxes(render_sheet(sheet)[1], tmp_path, f"key{seed}")
    for level in LEVELS:
        worksheet, _ = tex_pair(problems, 3, 1, level)
        found[level] = overfull_boxes(worksheet, tmp_path, level)
    assert found == {k: [] for k in found}
