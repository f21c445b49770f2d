"""The API fits Python's habits (issue 26 "API and packaging", issue 27 item 6): exported error
classes, typos as AttributeError, gradient names, Python's words in errors, one δ convention,
report suffixes and missing figures, read_as, load(PathLike), [values] file = "x.npz", bad
arguments as DeriveErrors naming the argument. Values are checked against numpy or by hand."""
from __future__ import annotations

import importlib
import pathlib
import shutil
import warnings

import numpy as np
import pytest

import derive

# ---------------------------------------------------------------- exports and typos

@pytest.mark.parametrize("name", ["DeriveError", "VerifyError", "DomainError", "LatexError", "LatexMissing",
                                  "ProblemError", "ParseError", "CheckFailed"])
def test_error_classes_are_exported(name):
    cls = getattr(derive, name)
    assert issubclass(cls, derive.DeriveError) and name in derive.__all__ and name in dir(derive)


def test_error_classes_are_the_ones_raised():
    from derive import pipeline
    from derive.engine import numeric
    from derive.grading import answers
    from derive.render import pdf
    assert numeric.DomainError is pipeline.DomainError is derive.DomainError
    assert answers.VerifyError is derive.VerifyError
    assert pdf.LatexMissing is derive.LatexMissing and issubclass(derive.LatexMissing, derive.LatexError)
    with pytest.raises(derive.VerifyError):
        derive.verify("circuit", wrt="nope", answer="z")
    with pytest.raises(derive.DomainError):
        derive.circuit("f = log(x)", x=-1).solve()


@pytest.mark.parametrize("typo, near", [("circut", "circuit"), ("verfy", "verify"), ("Solutoin", "Solution"),
                                        ("zzz_nothing", None)])
def test_a_typo_is_an_attribute_error(typo, near):
    with pytest.raises(AttributeError) as e:
        getattr(derive, typo)
    assert (near in str(e.value)) if near else "did you mean" not in str(e.value)


def test_i18n_as_the_docs_use_it():
    assert derive.i18n.language is importlib.import_module("derive.i18n").language
    with derive.i18n.language("ko"):
        v = derive.verify("circuit", wrt="x", answer="z", lang=None)
    assert v.correct


# ---------------------------------------------------------------- gradient names

@pytest.fixture(scope="module")
def mlp():
    return derive.load("mlp_222").solve()


def test_gradient_and_gradients_take_the_same_names(mlp):
    for name, array in mlp.gradients.items():
        assert np.array_equal(mlp.gradient(name), array)
        for index in np.ndindex(array.shape):
            shown = f"{name}[{','.join(str(i + 1) for i in index)}]"
            assert mlp.gradient(shown) == array[index]  # 1-based as printed, the numpy array 0-based


@pytest.mark.parametrize("name, says", [
    ("W2[0,0]", "indices start at 1"), ("W2[3,1]", "2×2"), ("W3", "did you mean"), ("w2", "W2"),
    ("W2[1,1,1]", "W2"), ("nothing", "names: W1"),
])
def test_unknown_gradient_names(mlp, name, says):
    for ask in (lambda: mlp.gradient(name), lambda: mlp.gradients[name]):
        with pytest.raises(derive.DeriveError) as e:
            ask()
        assert says in str(e.value) and isinstance(e.value, KeyError)


def test_gradient_of_a_circuit_node_and_a_bad_type():
    s = derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4).solve()
    assert s.gradient("x") == -4.0 and s.gradients["z"] == 3.0
    with pytest.raises(derive.DeriveError, match="wrt="):
        s.gradient(None)
    with pytest.raises(derive.DeriveError, match="did you mean 'x'"):
        s.gradients["xx"]


# ---------------------------------------------------------------- Python's words, one δ convention

@pytest.mark.parametrize("wrt", ["nope", "w_zz"])
def test_errors_say_keywords_not_options(wrt):
    with pytest.raises(derive.VerifyError) as e:
        derive.verify("mlp_222", wrt=wrt, answer="1")
    assert "wrt=" in str(e.value) and "--wrt" not in str(e.value)


MITCHELL_DELTA = "(t_k - o_k) o_k (1 - o_k)"  # δ_k = −∂E/∂net_k for sigmoid/MSE with ½


@pytest.mark.parametrize("delta, right", [("-dL/dnet", MITCHELL_DELTA), ("dL/dnet", "(o_k - t_k) o_k (1 - o_k)")])
def test_one_way_to_say_delta(delta, right):
    assert derive.verify("mlp_222", wrt="delta_k", answer=right, delta=delta).correct
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        old = derive.verify("mlp_222", wrt="delta_k", answer=right, delta_sign=-1 if delta.startswith("-") else 1)
    assert old.correct and any(issubclass(x.category, DeprecationWarning) for x in w)
    problem = derive.network([2, 2, 2], delta=delta, seed=3)
    assert derive.verify(problem, wrt="delta_k", answer=right).correct


@pytest.mark.parametrize("bad", ["dL/dz", 2, "+", True])
def test_a_bad_delta_names_the_keyword(bad):
    with pytest.raises(derive.DeriveError, match="delta="):
        derive.verify("mlp_222", wrt="delta_k", answer="1", delta=bad)


# ---------------------------------------------------------------- reports

@pytest.mark.parametrize("suffix", [".html", ".docx", ".PDFX", ".txt"])
def test_an_unknown_report_suffix_raises(tmp_path, suffix):
    s = derive.load("circuit").solve()
    with pytest.raises(derive.DeriveError, match="suffix"):
        s.report(tmp_path / f"x{suffix}")
    assert not list(tmp_path.iterdir())
    assert s.report(tmp_path / f"x{suffix}", format="tex") is True  # a format said outright is taken


def test_markdown_without_latex_says_figures_are_missing(tmp_path, monkeypatch):
    import derive.render.svg as svg
    real = shutil.which
    monkeypatch.setattr(svg.shutil, "which", lambda tool, *a, **k: None if "latex" in tool or tool == "dvisvgm"
                        else real(tool, *a, **k))
    out = tmp_path / "r.md"
    with pytest.warns(derive.DisplayWarning, match="figure"):
        result = derive.load("circuit").solve().report(out)
    assert result is False
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]
    assert ".svg" not in out.read_text(encoding="utf-8")


# ---------------------------------------------------------------- read_as

@pytest.mark.parametrize("answer, shown", [("zz", "z·z"), ("z z", "z z"), ("z^2", "z²"), ("z*z", "z z")])
def test_read_as_shows_implicit_products(answer, shown):
    p = derive.circuit("f = x * z * z", x=1.5, z=2)
    v = derive.verify(p, wrt="x", answer=answer)
    assert v.read_as == shown and v.correct  # ∂(x z²)/∂x = z² by hand


# ---------------------------------------------------------------- load and [values] file

def test_load_takes_a_path_like(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[graph]\nf = "x * y"\n[values]\nx = 3\ny = -2\n', encoding="utf-8")
    for given in (path, str(path), pathlib.PurePath(path)):
        assert derive.load(given).solve().gradients == {"x": -2.0, "y": 3.0}


def _net(tmp_path, values: str, arrays: dict, name="w.npz"):
    np.savez(tmp_path / name, **arrays)
    path = tmp_path / "sub" / "p.toml" if "/" in values else tmp_path / "p.toml"
    path.write_text('[network]\nlayers = [3, 2, 2]\nactivations = "sigmoid"\nloss = "mse"\nnotation = "nielsen"\n'
                    f"[values]\n{values}\n", encoding="utf-8")
    return path


def _numpy_gradients(x, t, W1, b1, W2, b2):
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a1 = sig(W1 @ x + b1)
    a2 = sig(W2 @ a1 + b2)
    d2 = (a2 - t) * a2 * (1 - a2)  # the loss's ½ (seed 000)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    return {"W1": np.outer(d1, x), "b1": d1, "W2": np.outer(d2, a1), "b2": d2}


def test_values_from_an_npz_file(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {"x": rng.uniform(-1, 1, 3), "W1": rng.uniform(-1, 1, (2, 3)), "b1": rng.uniform(-1, 1, 2),
              "W2": rng.uniform(-1, 1, (2, 2)), "b2": rng.uniform(-1, 1, 2), "t": np.array([0.9, 0.9])}
    path = _net(tmp_path, 'file = "w.npz"\nt = [0.25, 0.75]', arrays)
    s = derive.load(path).solve()
    given = {**arrays, "t": np.array([0.25, 0.75])}  # the TOML's own t wins over the file's
    expected = _numpy_gradients(**given)
    for name, value in expected.items():
        assert np.allclose(s.gradients[name], value, rtol=1e-12, atol=0)
    assert np.allclose(s.parameters["t"], [[0.25, 0.75]])


@pytest.mark.parametrize("values, arrays, says", [
    ('file = "w.npz"\nt = [0.5, 0.5]', {"x": np.ones(3)}, "W1: missing"),
    ('file = "none.npz"', {}, "no such file"),
    ('file = "w.npz"', {"x": np.array(["a", "b", "c"])}, "expected numbers"),
    ('file = 3', {}, ".npz"),
    ('file = "w.txt"', {}, ".npz"),
])
def test_npz_errors_name_the_array_or_the_file(tmp_path, values, arrays, says):
    path = _net(tmp_path, values, arrays)
    with pytest.raises(derive.ProblemError, match=says) as e:
        derive.load(path)
    assert str(path) in str(e.value)


def test_npz_is_read_relative_to_the_problem_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(2)
    arrays = {"x": rng.uniform(-1, 1, 3), "t": np.array([0.1, 0.2]), "W1": rng.uniform(-1, 1, (2, 3)),
              "b1": np.zeros(2), "W2": rng.uniform(-1, 1, (2, 2)), "b2": np.zeros(2)}
    np.savez(tmp_path / "sub" / "w.npz", **arrays)
    path = tmp_path / "sub" / "p.toml"
    path.write_text('[network]\nlayers = [3, 2, 2]\nnotation = "nielsen"\n[values]\nfile = "w.npz"\n',
                    encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = derive.load(path).solve()
    assert np.allclose(s.gradients["W2"], _numpy_gradients(**arrays)["W2"], rtol=1e-12)


def test_npz_with_pickles_is_refused(tmp_path):
    np.savez(tmp_path / "w.npz", W1=np.array([{"a": 1}], dtype=object))
    path = tmp_path / "p.toml"
    path.write_text('[network]\nlayers = [3, 2, 2]\n[values]\nfile = "w.npz"\n', encoding="utf-8")
    with pytest.raises(derive.ProblemError, match="npz"):
        derive.load(path)


# ---------------------------------------------------------------- bad arguments (issue 27 item 6)

def _loop_dict():
    d: dict = {"x": 1}
    d["y"] = d
    return d


def _loop_list():
    a: list = [1, 2]
    a.append(a)
    return a


@pytest.mark.parametrize("call, names", [
    (lambda: derive.circuit("f = x * y", values=_loop_dict()), "values"),
    (lambda: derive.network([2, 2, 2], values={"x": _loop_list()}), "values"),
    (lambda: derive.network(_loop_list()), "layers"),
    (lambda: derive.graph({"f": "x"}, values={"x": [[[[[[[[[[1]]]]]]]]]]}), "values"),
    (lambda: derive.layers(_loop_list(), values={}), "stack"),
    (lambda: derive.circuit("f = x", values=5), "values"),
    (lambda: derive.load(None), "path"),
    (lambda: derive.load(3), "path"),
    (lambda: derive.report(None, "x.pdf"), "problems="),
    (lambda: derive.report(5, "x.pdf"), "problems="),
    (lambda: derive.report(["circuit"], None), "path="),
    (lambda: derive.report(["circuit"], 3), "path="),
    (lambda: derive.report(["circuit"], "x.tex", echo=5), "echo="),
    (lambda: derive.worksheets(None), "problems="),
    (lambda: derive.worksheets(["circuit"], out=None), "out="),
    (lambda: derive.worksheets(["circuit"], echo="loud"), "echo="),
    (lambda: derive.verify(None, wrt="x", answer="z"), "verify"),
    (lambda: derive.verify("circuit", wrt=None, answer="z"), "wrt="),
    (lambda: derive.verify("circuit", wrt="x", answer=3), "answer="),
    (lambda: derive.verify("circuit", wrt="x", answer="z", seed=None), "seed="),
    (lambda: derive.layers(["affine"], values=None), "values"),
    (lambda: derive.loads("[graph]\nf = 'x'\n[values]\nx = 1\n", source=None), "source"),
    (lambda: derive.load("circuit").solve().steps.of(None), "steps.of"),
])
def test_bad_arguments_are_derive_errors_naming_them(call, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(derive.DeriveError) as e:
        call()
    assert names in str(e.value)
    assert not list(tmp_path.iterdir())


def test_npz_too_big_for_memory_is_refused_before_reading(tmp_path, monkeypatch):
    import derive.problems
    monkeypatch.setattr(derive.problems, "memory_available", lambda: 10_000_000)  # 10 MB left
    np.savez(tmp_path / "w.npz", W1=np.zeros((300, 300)))  # 90,000 numbers: about 36 MB as values
    path = tmp_path / "p.toml"
    path.write_text('[network]\nlayers = [300, 300, 2]\n[values]\nfile = "w.npz"\n', encoding="utf-8")
    with pytest.raises(derive.ProblemError, match="memory"):
        derive.load(path)
