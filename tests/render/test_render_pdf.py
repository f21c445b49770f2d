"""What a reader gets: the compiled PDF's text, LaTeX failures, and the Markdown's math in KaTeX.

One report compilation for the whole module (a few seconds). The expected numbers are computed
here independently of the engine: the seed values and plain-Python formulas.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from derive import problems as problem
from derive.errors import LatexError
from derive.pipeline import solve
from derive.render import pdf, tex
from derive.render.markdown import render_markdown

needs_latex = pytest.mark.skipif(
    not (shutil.which("latexmk") and shutil.which("pdflatex") and shutil.which("pdftotext")),
    reason="latexmk/pdflatex/pdftotext not installed (scripts/ensure-tex.sh installs them)")

INJECT = r"Evil \input{/etc/passwd} \write18{touch pwned} $5 & 100% #1 a_b x^2 ~ {c}"


BIG_NETWORK = """title = "Deep network 4-8-8-8-3"
[network]
layers = [4, 8, 8, 8, 3]
activations = ["tanh", "tanh", "tanh", "softmax"]
loss = "softmax_cross_entropy"
notation = "nielsen"
seed = 3
"""


def sigma(v):
    return 1 / (1 + math.exp(-v))


def expected_results():
    """title -> numbers that must appear in its section: seed numbers and plain-Python formulas."""
    x, y = 3.0, -4.0  # staged
    f_staged = (x + sigma(y)) / (sigma(x) + (x + y) ** 2)
    h = 1e-6
    staged = lambda a, b: (a + sigma(b)) / (sigma(a) + (a + b) ** 2)  # noqa: E731
    dfx = (staged(x + h, y) - staged(x - h, y)) / (2 * h)
    dfy = (staged(x, y + h) - staged(x, y - h)) / (2 * h)
    w0, x0, w1, x1, w2 = 2, -1, -3, -2, -3
    f_neuron = sigma(w0 * x0 + w1 * x1 + w2)
    ds = f_neuron * (1 - f_neuron)
    neuron = [f_neuron, ds * x0, ds * w0, ds * x1, ds * w1, ds]
    return {
        "A simple circuit": [-12, -4, -4, 3],  # cs231n seed
        "A variable used twice": [15, 2 * 3 + 2, 3],  # f = xy + x², ∂f/∂x = 2x + y, ∂f/∂y = x
        "A 2-D sigmoid neuron, gate by gate": neuron,
        "A 2-D sigmoid neuron with a sigmoid gate": neuron,
        "Staged backpropagation": [f_staged, dfx, dfy],
        # Matt Mazur's hand computation: total error, ∂E/∂w5 (W2[1,1]) and ∂E/∂w1 (W1[1,1])
        "2-2-2 sigmoid network": [0.298371109, 0.082167041, 0.000438568],
    }


def shown(v: float) -> str:
    """How the report prints a result (6 significant digits), as pdftotext reads it back."""
    return f"{v:.6g}".replace("-", "\u2212")


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return out


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    evil = folder / "evil.toml"
    evil.write_text(
        "title = " + json.dumps(INJECT) + "\ndescription = " + json.dumps(INJECT) +
        '\n[graph]\nq = "x + y"\nf = "q * z"\n[values]\nx = -2\ny = 5\nz = -4\n', encoding="utf-8")
    big = folder / "big.toml"  # too big to write out in full: exercises every limit of the report
    big.write_text(BIG_NETWORK, encoding="utf-8")
    sols = [solve(p) for p in problem.load_builtins()] + [solve(problem.load(str(evil))),
                                                            solve(problem.load(str(big)))]
    out = folder / "report.pdf"
    pdf.compile_pdf(tex.render_report(sols), out)
    return out


@needs_latex
def test_pdf_has_every_title_and_result(report_pdf):
    text = pdf_text(report_pdf)
    assert report_pdf.with_suffix(".tex").exists()
    expected = expected_results()
    starts = {}
    for title in expected:
        found = list(re.finditer(r"^\f?\d+\s+" + re.escape(title), text, re.M))
        assert len(found) == 2, f"{title!r}: expected a contents line and a section heading"
        starts[title] = found[-1].start()  # "5    Staged backprop..." (the first is the contents)
    bounds = sorted(starts.values()) + [len(text)]
    for title, numbers in expected.items():
        section = text[starts[title]:bounds[bounds.index(starts[title]) + 1]]
        result = section[section.index("Result"):section.index("Numeric check")]
        for v in numbers:
            assert shown(v) in result, f"{title}: {shown(v)} not in its Result: {result!r}"


@needs_latex
def test_big_network_is_cut_with_notes(report_pdf):
    text = " ".join(pdf_text(report_pdf).split())
    section = text[text.rindex("Deep network 4-8-8-8-3"):]
    assert "too many nodes to draw one by one" in section
    assert re.search(r"All \d+ gradients agree with an independent derivative", section)  # concise: a summary
    full = tex.render_section(solve(problem.loads(BIG_NETWORK, "big.toml")), detail="full")
    assert "Shown: 12 of" in full and "more checks are not listed" in full
    assert "more nodes are not listed" in full


@needs_latex
def test_pdf_prints_injected_text_literally(report_pdf):
    text = pdf_text(report_pdf)
    flat = " ".join(text.split())
    assert r"Evil \input{/etc/passwd} \write18{touch pwned} $5 & 100% #1 a_b x^2 ~ {c}" in flat
    assert not (report_pdf.parent / "pwned").exists()
    assert "root:" not in text  # /etc/passwd was not read


@needs_latex
def test_latex_error_is_one_message_and_earlier_outputs_survive(tmp_path):
    out = tmp_path / "r.pdf"
    out.write_bytes(b"%PDF earlier")
    (tmp_path / "r.tex").write_text("earlier tex")
    broken = pdf.document("line one\n\\undefinedcommandxyz\n")
    with pytest.raises(LatexError) as err:
        pdf.compile_pdf(broken, out, timeout=60)
    message = str(err.value)
    assert "! Undefined control sequence" in message and re.search(r"l\.\d+", message)
    line = int(re.search(r"l\.(\d+)", message).group(1))
    assert "undefinedcommandxyz" in broken.splitlines()[line - 1]
    assert out.read_bytes() == b"%PDF earlier"
    assert (tmp_path / "r.tex").read_text() == "earlier tex"
    assert (tmp_path / "r.failed.tex").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".derive-latex-")]


@needs_latex
def test_latex_time_limit(tmp_path):
    out = tmp_path / "r.pdf"
    looping = pdf.document("\\def\\loop{\\loop}\\loop")  # never finishes on its own
    with pytest.raises(LatexError, match="did not finish"):
        pdf.compile_pdf(looping, out, timeout=2)
    assert not out.exists()


def test_missing_latex_writes_tex_and_names_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda _: None)
    with pytest.raises(pdf.LatexMissing, match="latexmk"):
        pdf.compile_pdf(pdf.document("x"), tmp_path / "r.pdf")
    assert (tmp_path / "r.tex").exists()


# ---------------------------------------------------------------- Markdown in KaTeX

KATEX_VERSION = "0.16.22"
KATEX_SCRIPT = r"""
const katex = require(process.argv[process.argv.length - 1]);
const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const errors = [];
for (const [src, display] of items) {
  try { katex.renderToString(src, {throwOnError: true, displayMode: display, strict: 'error'}); }
  catch (e) { errors.push(String(e.message) + '  IN: ' + src.slice(0, 200)); }
}
console.log(JSON.stringify({count: items.length, errors}));
"""


def katex_module():
    """Path of the katex package, installed from npm into a cache dir under the temp dir."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node/npm not installed: cannot run KaTeX on the Markdown formulas")
    cache = Path(os.environ.get("DERIVE_KATEX_DIR", Path(tempfile.gettempdir()) / "derive-katex"))
    module = cache / "node_modules" / "katex"
    if not (module / "package.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                              str(cache), f"katex@{KATEX_VERSION}"],
                             capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            pytest.skip(f"npm could not install katex (offline?): {res.stderr.strip()[-300:]}")
    return module


def formulas(md: str) -> list[tuple[str, bool]]:
    """Every $$...$$ block (display) and $...$ span (inline) of the Markdown."""
    found = [(m.group(1).strip(), True) for m in re.finditer(r"^\$\$\n(.*?)\n\$\$$", md, re.S | re.M)]
    rest = re.sub(r"^\$\$\n.*?\n\$\$$", "", md, flags=re.S | re.M)
    found += [(m.group(1), False) for m in re.finditer(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", rest)]
    return found


def test_markdown_formulas_render_in_katex():
    sols = [solve(p) for p in problem.load_builtins()]
    md = render_markdown(sols)[0]
    assert r"\VAR" not in md and r"\BLOCK" not in md
    items = formulas(md)
    assert len(items) > 50
    module = katex_module()
    res = subprocess.run(["node", "-e", KATEX_SCRIPT, str(module)], input=json.dumps(items),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["count"] == len(items)
    assert report["errors"] == []
