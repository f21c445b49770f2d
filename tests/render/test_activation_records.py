"""Every activation record reaches the report from its record: for each one, a small network and a
scalar circuit using it render in English and Korean with the function only as its record's LaTeX
(a parameter at its default left out, another value as a subscript), its glyph in the graph, its
translated label under the network diagram, and the Korean catalog holding its label and unit.
One report of them all is compiled, with no overfull line.

A new activation row is tested here without a line of this file changing; a row with a missing
piece fails with a message naming the record and the piece.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sympy as sp
from babel.messages.pofile import read_po

from derive import i18n
from derive.engine.ops import FUNCTION_TABLE
from derive.pipeline import solve
from derive.problems import loads
from derive.render import netfig, pdf, tex

ACTIVATIONS = [f for f in FUNCTION_TABLE.values() if f.activation]
PO = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "derive.po"
OTHER = 0.3  # a parameter value that is no record's default


def network_text(f) -> str:
    return (f'title = "A small network"\n[network]\nlayers = [2, 2, 1]\nactivations = "{f.name}"\n'
            f'loss = "mse"\nnotation = "mitchell"\nseed = 3\n')


def circuit_text(f) -> str:
    """f applied to an intermediate (a gate of its own, so its glyph is drawn) and, for a record with
    parameters, once more with a value other than the default."""
    extra = ", ".join(str(OTHER) for _ in f.params)
    lines = ['q = "x * y + z"', f'a = "{f.name}(q)"']
    lines += [f'b = "{f.name}(x, {extra})"', 'f = "a * b"'] if f.params else ['f = "a * x"']
    return 'title = "A small circuit"\n[graph]\n' + "\n".join(lines) + "\n[values]\nx = 1.5\ny = -2\nz = 0.5\n"


def _applied(f, arg: str = r"[^$]*?", sub: str = "") -> re.Pattern:
    """f's LaTeX applied to `arg` (a regex): derive's own heads print head(arg), SymPy's own as
    SymPy does (\\tanh{\\left(q \\right)}, \\tanh^{2}{...})."""
    return re.compile(re.escape(f.latex + sub) + r"(\^\{\d+\})?\{?\\left\(" + arg + r" ?\\right\)")


def _raw_names(f, text: str, lang: str) -> list[str]:
    """The record's names left in `text` once its LaTeX and its label (in `lang`) are taken out."""
    with i18n.language(lang):
        label = i18n._(f.label)
    text = text.replace(f.latex, " ").replace(f.glyph, " ").replace(label, " ")
    names = {f.name, f.plain, *f.spellings} - {""}
    found = []
    for name in names:
        for form in {name, name.replace("_", r"\_")}:
            if re.search(r"(?<![A-Za-z])" + re.escape(form) + r"(?![A-Za-z])", text):
                found.append(form)
    return found


@pytest.fixture(scope="module")
def korean():
    with open(PO, "rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("f", ACTIVATIONS, ids=lambda f: f.name)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_network_report_prints_the_activation_from_its_record(f, lang):
    problem = loads(network_text(f))
    solution = solve(problem)
    assert solution.report.ok, f"{f.name}: the network's checks fail"
    with i18n.language(lang):
        section = tex.render_section(solution)
        diagram = tex.render("_network_diagram.tex", nf=netfig.network_figure(problem))
        label = i18n._(f.label)
    z = sp.Symbol("z")
    if f.make(z) != z:  # the identity prints as its argument
        assert _applied(f).search(section), f"{f.name}: its LaTeX {f.latex!r} is not in the report"
    assert label in section, f"{f.name}: the settings do not name it {label!r}"
    assert label in diagram, f"{f.name}: the diagram's captions do not name it {label!r}"
    assert not _raw_names(f, section, lang), f"{f.name}: raw name in the report: {_raw_names(f, section, lang)}"
    assert not _raw_names(f, diagram, lang), f"{f.name}: raw name in the diagram: {_raw_names(f, diagram, lang)}"


@pytest.mark.parametrize("f", [f for f in ACTIVATIONS if f.in_problems], ids=lambda f: f.name)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_circuit_report_prints_the_function_from_its_record(f, lang):
    solution = solve(loads(circuit_text(f)))
    assert solution.report.ok, f"{f.name}: the circuit's checks fail"
    with i18n.language(lang):
        section = tex.render_section(solution)
    assert _applied(f, "q").search(section), f"{f.name}: {f.latex}(q) is not printed"
    assert "{" + f.glyph + "}" in section or "$" + f.glyph + "$" in section, \
        f"{f.name}: its glyph {f.glyph!r} is not drawn in the graph"
    if f.params:
        assert _applied(f, "x", f"_{{{OTHER}}}").search(section), \
            f"{f.name}: a parameter other than its default is not shown as {f.latex}_{{{OTHER}}}(x)"
    assert not _raw_names(f, section, lang), f"{f.name}: raw name in the report: {_raw_names(f, section, lang)}"


@pytest.mark.parametrize("f", ACTIVATIONS, ids=lambda f: f.name)
def test_korean_catalog_names_the_activation_and_its_unit(f, korean):
    for piece in ("label", "unit"):
        msgid = getattr(f, piece)
        assert msgid, f"{f.name}: the record has no {piece}"
        entry = korean.get(msgid)
        assert entry is not None, f"{f.name}: its {piece} {msgid!r} is not in {PO.name} (run `make messages`)"
        assert entry.string and not entry.fuzzy, f"{f.name}: its {piece} {msgid!r} is not translated in {PO.name}"
        with i18n.language("ko"):
            assert i18n._(msgid) == entry.string, f"{f.name}: stale .mo for {msgid!r} (run `make messages`)"


def test_parameters_print_only_when_not_the_default():
    from derive.render.printer import latex
    z = sp.Symbol("z")
    for f in (f for f in FUNCTION_TABLE.values() if f.params):
        defaults = [d for _, d in f.params]
        assert latex(f.sympy(z, *defaults)) == latex(f.make(z)) == f"{f.latex}\\left(z\\right)", f.name
        assert latex(f.sympy(z, *[sp.Rational(1, 5)] * len(defaults))) == f"{f.latex}_{{0.2}}\\left(z\\right)"
        assert latex(f.sympy(z, *[sp.Symbol("alpha")] * len(defaults))) == f"{f.latex}_{{\\alpha}}\\left(z\\right)"


def test_step_prints_as_an_indicator_of_its_argument_sign():
    from derive.render.printer import latex
    x, z = sp.symbols("x z")
    assert latex(sp.Heaviside(z)) == r"\mathbf{1}\left[z > 0\right]"
    assert latex(sp.Heaviside(-z)) == r"\mathbf{1}\left[z < 0\right]"
    assert latex(sp.Heaviside(-x - z)) == r"\mathbf{1}\left[x + z < 0\right]"
    assert latex(sp.Heaviside(1 - z)) == r"\mathbf{1}\left[1 - z > 0\right]"
    assert latex(sp.Heaviside(z) ** 2) == r"\mathbf{1}\left[z > 0\right]^{2}"


@pytest.mark.skipif(pdf.missing_tools("lualatex") is not None, reason="latexmk/lualatex with luatexko not installed")
def test_one_korean_report_of_every_activation_compiles_without_overfull_lines(tmp_path):
    solutions = [solve(loads(network_text(f))) for f in ACTIVATIONS]
    solutions += [solve(loads(circuit_text(f))) for f in ACTIVATIONS if f.in_problems]
    with i18n.language("ko"):
        source = tex.render_report(solutions)
    (tmp_path / "report.tex").write_text(source, encoding="utf-8")
    done = subprocess.run([shutil.which("latexmk"), "-lualatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "report.tex"], cwd=tmp_path, capture_output=True, timeout=600)
    log = (tmp_path / "report.log").read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, pdf.first_error(log)
    overfull = re.findall(r"^Overfull \\hbox.*$", log, flags=re.M)
    assert not overfull, f"{len(overfull)} overfull line(s): {overfull[:3]}"
