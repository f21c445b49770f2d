"""The API agrees with the command line: the same keys and shapes as `derive check --json`, the same
errors and messages, the same report files; `import derive` stays light."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import derive
from derive.cli import main


def cli_json(name: str) -> dict:
    result = CliRunner().invoke(main, ["check", name, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["circuit", "staged", "mlp_222", "mlp_tanh_softmax", "affine_softmax"])
def test_gradients_have_the_json_keys_and_shapes(name):
    s = derive.load(name).solve()
    expected = cli_json(name)["gradients"]
    assert list(s.gradients) == list(expected)
    for key, value in expected.items():
        assert np.shape(s.gradients[key]) == np.shape(value)
        np.testing.assert_allclose(s.gradients[key], value, rtol=1e-15)


def test_values_are_the_json_values():
    s = derive.load("staged").solve()
    assert s.values == cli_json("staged")["values"]


BAD = {
    "missing value": '[graph]\nf = "x * y"\n[values]\nx = 1\n',
    "unknown activation": '[network]\nlayers = [2, 2]\nactivations = "gelu"\n',
    "bad expression": '[graph]\nf = "x * (y"\n[values]\nx = 1\ny = 2\n',
    "malformed TOML": '[graph\n',
    "ragged weights": '[network]\nlayers = [2, 2]\n[values]\nx = [1, 2]\nt = [0.5, 0.5]\n'
                      'W1 = [[1, 2], [3]]\nb1 = [0, 0]\n',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_errors_are_the_cli_errors(case, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD[case], encoding="utf-8")
    with pytest.raises(derive.ProblemError) as raised:
        derive.load(str(path))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"derive: error: {raised.value}"


def test_python_problems_get_the_file_messages():
    """The constructors build a file's data, so a mistake gets the message a file gets."""
    with pytest.raises(derive.ProblemError) as from_python:
        derive.network([2, 2], activations="gelu")
    with pytest.raises(derive.ProblemError) as from_text:
        derive.loads('[network]\nlayers = [2, 2]\nactivations = "gelu"\n', "derive.network()")
    assert str(from_python.value) == str(from_text.value)
    assert "unknown activation 'gelu'" in str(from_python.value)
    with pytest.raises(derive.ProblemError, match=r"\[values\] z: missing"):
        derive.circuit("f = (x + y) * z", x=1, y=2)
    with pytest.raises(derive.ProblemError, match=r"\[values\] W2: missing"):
        derive.network([2, 2, 2], values={k: v for k, v in
                                          {"x": [1, 2], "t": [0, 1], "W1": np.eye(2), "b1": [0, 0]}.items()})
    with pytest.raises(derive.ProblemError, match=r"expected a number, got 'two'"):
        derive.circuit("f = x * y", x=1, y="two")
    with pytest.raises(derive.ProblemError, match="defined twice"):
        derive.circuit("f = x; f = y", x=1, y=2)


def test_expressions_are_parsed_never_evaluated():
    with pytest.raises(derive.ProblemError) as e:
        derive.circuit("f = __import__('os').system('true')", x=1)
    assert "[graph] f" in str(e.value)


def test_verify_errors_are_the_cli_errors():
    p = derive.load("mlp_222")
    with pytest.raises(derive.DeriveError) as e:
        derive.verify(p, wrt="w_zz", answer="1")
    result = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "w_zz", "--answer", "1"])
    # the same message, each in its own words: the option --wrt on the command line, wrt= in Python
    said = str(e.value)
    assert "wrt=" in said and "--wrt" not in said
    assert result.exit_code == 2 and result.stderr.strip() == f"derive: error: {said.replace('wrt=', '--wrt ')}"


def test_verdict_json_is_the_cli_json():
    v = derive.verify(derive.load("circuit"), wrt="x", answer="-z")
    result = CliRunner().invoke(main, ["verify", "circuit", "--wrt", "x", "--answer", "-z", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == json.loads(json.dumps(v.to_json()))


@pytest.mark.parametrize("fmt, detail", [("tex", "concise"), ("md", "concise"), ("tex", "full")])
def test_report_files_are_the_cli_files(fmt, detail, tmp_path):
    ours, theirs = tmp_path / "ours" / f"r.{fmt}", tmp_path / "theirs" / f"r.{fmt}"
    assert derive.load("staged").solve().with_detail(detail).report(ours) is True
    result = CliRunner().invoke(main, ["report", "staged", "-o", str(theirs), "--detail", detail])
    assert result.exit_code == 0, result.output
    ours_files = sorted(p.name for p in ours.parent.iterdir())
    assert ours_files == sorted(p.name for p in theirs.parent.iterdir())
    assert len(ours_files) == (2 if fmt == "md" else 1)  # the Markdown's figure: r-1.svg next to it
    for name in ours_files:
        assert (ours.parent / name).read_bytes() == (theirs.parent / name).read_bytes(), name
    several = tmp_path / "several" / f"r.{fmt}"
    derive.report([derive.load("circuit"), "fanout"], several, detail=detail)
    CliRunner().invoke(main, ["report", "circuit", "fanout", "-o", str(theirs), "--detail", detail])
    assert several.read_text(encoding="utf-8") == theirs.read_text(encoding="utf-8")


def test_latex_document_is_the_report_tex(tmp_path):
    s = derive.load("circuit").solve()
    s.report(tmp_path / "c.tex")
    assert s.latex(document=True) == (tmp_path / "c.tex").read_text(encoding="utf-8")
    assert s.latex() in s.latex(document=True) and r"\documentclass" not in s.latex()


def test_report_to_a_folder_is_an_output_error(tmp_path):
    with pytest.raises(derive.DeriveError, match="is a directory"):
        derive.load("circuit").solve().report(tmp_path)


def test_import_derive_is_light_and_lazy():
    code = ("import sys, derive; assert 'derive.api' not in sys.modules and 'sympy' not in sys.modules;"
            "import derive.engine.parse; assert 'derive.api' not in sys.modules;"
            "derive.circuit; assert 'derive.api' in sys.modules; print(derive.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == derive.__version__
    assert set(derive.__all__) <= set(dir(derive))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        derive.nope  # noqa: B018


def test_public_names_are_documented_and_typed():
    for name in derive.__all__:
        if name == "__version__":
            continue
        obj = getattr(derive, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name
    assert resources.files("derive").joinpath("py.typed").is_file()
    for fn in (derive.circuit, derive.graph, derive.network, derive.layers, derive.load, derive.loads,
               derive.verify, derive.worksheets, derive.report):
        assert "return" in fn.__annotations__, fn.__name__


def test_worksheets_from_python(tmp_path):
    paths = derive.worksheets([derive.load("circuit"), "mlp_222"], versions=2, seed=7, out=tmp_path / "a",
                              pdf=False, echo=None)
    assert [p.name for p in paths] == ["worksheet-v1.tex", "answers-v1.tex", "worksheet-v2.tex", "answers-v2.tex"]
    assert all(p.is_file() for p in paths)
    again = derive.worksheets(["circuit", "mlp_222"], versions=2, seed=7, out=tmp_path / "b", pdf=False, echo=None)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]  # the same seed, the same sheets
    assert paths[0].read_bytes() != paths[2].read_bytes()  # versions differ
    with pytest.raises(derive.DeriveError, match="versions"):
        derive.worksheets(["circuit"], versions=0, out=tmp_path / "c")
    with pytest.raises(derive.DeriveError, match="level"):
        derive.worksheets(["circuit"], level="all", out=tmp_path / "c")
    (tmp_path / "file").write_text("x")
    with pytest.raises(derive.DeriveError, match="it is a file"):
        derive.worksheets(["circuit"], out=tmp_path / "file", pdf=False, echo=None)


def test_the_readme_python_snippet_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python\n", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    # the sheets' PDFs take a minute to compile: the same call writes their .tex only here
    snippet = snippet.replace('out="sheets/")', 'out="sheets/", pdf=False, echo=None)')
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(snippet, "README.md", "exec"), scope)
    s = scope["s"]
    assert s.gradients["W1"].shape == (2, 2) and s.checks.ok
    assert (tmp_path / "out.pdf").is_file() and (tmp_path / "sheets" / "answers-v3.tex").is_file()
    with pytest.raises(derive.ProblemError) as e:
        derive.circuit("f = (x + y) * z", x=-2, y=5)
    assert f"derive.ProblemError: {e.value}" in " ".join(section.split())


def test_a_problem_undefined_at_its_point_is_the_cli_error(tmp_path):
    path = tmp_path / "log0.toml"
    path.write_text('[graph]\nf = "log(x) * y"\n[values]\nx = 0\ny = 1\n', encoding="utf-8")
    problem = derive.load(str(path))
    with pytest.raises(derive.DeriveError) as e:
        problem.solve()
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2 and result.stderr.strip() == f"derive: error: {e.value}"
    assert "log of 0" in str(e.value)
    with pytest.raises(derive.DeriveError, match=r"^derive.circuit\(\): .*log of 0"):
        derive.circuit("f = log(x) * y", x=0, y=1).solve()
