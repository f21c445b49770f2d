"""`derive verify` on matrix-layer problems: whole-matrix answers and elements.

Oracle: the seeds' matrix forms (002: ∂L/∂X = ∂L/∂Y·Wᵀ, ∂L/∂W = Xᵀ·∂L/∂Y, ∂L/∂B = column sums of
∂L/∂Y; 003: Softmax-with-Loss ∂L/∂A = Y − T) written here with numpy and evaluated on the matrices of
each counterexample — never the engine's output copied in.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from derive import problems
from derive.cli import main
from derive.grading.verify import VerifyError, verify
from derive.pipeline import solve

_SOLVED = {}


def sol(name):
    if name not in _SOLVED:
        _SOLVED[name] = solve(problems.load(name))
    return _SOLVED[name]


def softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def seed_gradient(name, key, p):
    """The seeds' formulas at the point p (the drawn X, W, B, dY / A, T)."""
    m = {k: np.array(v, dtype=float) for k, v in p.items()}
    if "B" in m:
        m["B"] = m["B"].reshape(1, -1)
    if name == "affine_layer":
        up = m["dY"]
    else:
        scores = m["A"] if name == "softmax_with_loss" else m["X"] @ m["W"] + m["B"]
        up = softmax(scores) - m["T"]  # seed 003: y − t
        if key == "A":
            return up
    return {"X": up @ m["W"].T if "W" in m else None, "W": m["X"].T @ up if "X" in m else None,
            "B": up.sum(axis=0, keepdims=True)}[key]


CORRECT = [
    ("affine_layer", "W", "X^T dY"),
    ("affine_layer", "W", "X^T*dY"),
    ("affine_layer", "W", "transpose(X) dY"),
    ("affine_layer", "W", "X.T @ dY"),
    ("affine_layer", "W", "XᵀdY"),
    ("affine_layer", "W", r"X^{\top}\frac{\partial L}{\partial Y}"),
    ("affine_layer", "W", r"X^T \cdot dY"),
    ("affine_layer", "W", r"\mathbf{X}^{\mathsf{T}} \, \dfrac{\partial L}{\partial \mathbf{Y}}"),
    ("affine_layer", "W", "-(-X)^T dY"),
    ("affine_layer", "X", "dY W^T"),
    ("affine_layer", "X", "dY*W^T"),
    ("affine_layer", "X", "∂L/∂Y·Wᵀ"),
    ("affine_layer", "X", r"\frac{\partial L}{\partial Y} W^{T}"),
    ("affine_layer", "X", r"\left(W \frac{\partial L}{\partial Y}^{\top}\right)^{\top}"),
    ("affine_layer", "B", "sum_rows(dY)"),
    ("affine_layer", "B", "colsum(dY)"),
    ("affine_layer", "B", "np.sum(dY, axis=0)"),
    ("affine_layer", "B", r"\mathbf{1}^{\top} \frac{\partial L}{\partial Y}"),
    ("softmax_with_loss", "A", "Y - T"),
    ("softmax_with_loss", "A", r"Y - T"),
    ("softmax_with_loss", "A", "softmax(A) - T"),
    ("softmax_with_loss", "A", r"\operatorname{softmax}(A) - T"),
    ("softmax_with_loss", "A", "-(T - Y)"),
    ("affine_softmax", "A", "Y - T"),
    ("affine_softmax", "W", "X^T (Y - T)"),
    ("affine_softmax", "W", "X^T dA"),
    ("affine_softmax", "W", r"X^{\top}\left(Y - T\right)"),
    ("affine_softmax", "W", "X^T Y - X^T T"),
    ("affine_softmax", "X", "(Y - T) W^T"),
    ("affine_softmax", "B", "colsum(Y - T)"),
]


@pytest.mark.parametrize("name,wrt,answer", CORRECT)
def test_correct_matrix_forms(name, wrt, answer):
    v = verify(sol(name), wrt, answer)
    assert v.correct, (answer, v.diagnosis)
    assert v.points >= 10 and v.counterexample is None


WRONG = [
    # (problem, wrt, answer, a phrase every expected diagnosis contains)
    ("affine_layer", "W", "X dY", ["X·dY is not defined: X is 2×3 and dY is 2×2", "X needs a transpose"]),
    ("affine_layer", "W", "dY^T X", ["the answer is 2×3, ∂L/∂W is 3×2", "a transposed matrix"]),
    ("affine_layer", "W", r"\frac{\partial L}{\partial Y}^{T} X", ["a transposed matrix"]),
    ("affine_layer", "W", "dY X^T", ["factors in the wrong order: dY·Xᵀ should be Xᵀ·dY"]),
    ("affine_layer", "W", "X^T dY^T", ["dYᵀ should not be transposed"]),
    ("affine_layer", "W", "X dY^T", ["X needs a transpose", "dYᵀ should not be transposed"]),
    ("affine_layer", "W", "W^T dY", ["not defined", "the wrong matrix: W where X belongs"]),  # seed 002's slip
    ("affine_layer", "W", "-X^T dY", ["sign error"]),
    ("affine_layer", "W", "2 X^T dY", ["factor of 2"]),
    ("affine_layer", "W", r"\frac{1}{2} X^T dY", ["factor of ½"]),
    ("affine_layer", "W", "dY W^T", ["2×3", "this is ∂L/∂X, not ∂L/∂W"]),
    ("affine_layer", "X", "dY W", ["dY·W is not defined: dY is 2×2 and W is 3×2", "W needs a transpose"]),
    ("affine_layer", "X", "W^T dY", ["factors in the wrong order: Wᵀ·dY should be dY·Wᵀ"]),
    ("affine_layer", "X", "-dY W^T", ["sign error"]),
    ("affine_layer", "B", "dY", ["the answer is 2×2, ∂L/∂B is 1×2", "forgot the column sum"]),
    ("affine_layer", "B", "rowsum(dY)", ["the answer is 2×1", "rowsum(…) where colsum(…) belongs"]),
    ("affine_layer", "B", "2 colsum(dY)", ["factor of 2"]),
    ("softmax_with_loss", "A", "T - Y", ["T − Y where Y − T belongs"]),
    ("softmax_with_loss", "A", "(Y - T)/2", ["divided by the batch size N = 2"]),
    ("softmax_with_loss", "A", "Y", ["a missing term −T"]),
    ("softmax_with_loss", "A", "(Y - T)^T", ["a transposed matrix"]),
    ("affine_softmax", "W", "X^T (T - Y)", ["sign error"]),
    ("affine_softmax", "W", "(Y - T)^T X", ["a transposed matrix"]),
    ("affine_softmax", "W", "(Y - T) X^T", ["factors in the wrong order"]),
    ("affine_softmax", "B", "Y - T", ["forgot the column sum"]),
    ("affine_softmax", "X", "X^T (Y - T)", ["this is ∂L/∂W, not ∂L/∂X"]),
]


@pytest.mark.parametrize("name,wrt,answer,phrases", WRONG)
def test_wrong_matrix_forms_are_diagnosed(name, wrt, answer, phrases):
    v = verify(sol(name), wrt, answer)
    assert not v.correct
    text = " | ".join(v.diagnosis)
    for phrase in phrases:
        assert phrase in text, (answer, v.diagnosis)
    cx = v.counterexample
    assert cx is not None and set(cx) >= {"point", "expected", "got", "shapes"}
    # the expected matrix is the seed's formula at the counterexample's own matrices
    assert np.allclose(cx["expected"], seed_gradient(name, wrt, cx["point"]), rtol=1e-9, atol=1e-12)
    if cx["got"] is not None:
        assert not np.array_equal(np.shape(cx["got"]), np.shape(cx["expected"])) or \
            not np.allclose(cx["got"], cx["expected"])


def test_counterexample_gives_the_answer_matrix_at_the_drawn_values():
    v = verify(sol("affine_layer"), "W", "dY X^T dY^T X")  # 2×2·3×2: undefined
    assert v.counterexample["got"] is None and v.counterexample["shapes"]["answer"] is None
    v = verify(sol("affine_layer"), "W", "X^T dY^T")
    p = {k: np.array(x, dtype=float) for k, x in v.counterexample["point"].items()}
    assert np.allclose(v.counterexample["got"], p["X"].T @ p["dY"].T)
    assert v.counterexample["shapes"] == {"expected": "3×2", "answer": "3×2"}


def test_a_wrong_answer_right_at_the_problems_own_values_is_still_wrong():
    # Y − T·Tᵀ·T: the problem's one-hot rows pick different classes, so T·Tᵀ = I and the answer
    # equals Y − T at the problem's own values; drawn targets (distributions, or two rows of the
    # same class) tell them apart.
    s = sol("softmax_with_loss")
    t = np.array(s.problem.arrays["T"], dtype=float)
    assert np.allclose(t @ t.T @ t, t)  # the premise, checked on the file's values
    v = verify(s, "A", "Y - T T^T T")
    assert not v.correct and v.counterexample["own_point"] is False
    p = {k: np.array(x, dtype=float) for k, x in v.counterexample["point"].items()}
    assert np.allclose(v.counterexample["got"], softmax(p["A"]) - p["T"] @ p["T"].T @ p["T"])


def test_element_answers():
    s = sol("affine_layer")
    for wrt in ("W[1,2]", "w_12", "W[1, 2]"):
        assert verify(s, wrt, "x_11*g_12 + x_21*g_22").correct
    assert verify(s, "W[1,2]", r"x_{11} dY_{12} + x_{21} dY_{22}").correct
    v = verify(s, "W[1,2]", "x_12*g_11 + x_22*g_21")  # ∂L/∂w_21: row and column swapped
    assert not v.correct and "transposed" in " ".join(v.diagnosis)
    # the oracle: ∂L/∂W[1,2] = (Xᵀ dY)[0, 1] at the counterexample's point
    p, want = v.counterexample["point"], v.counterexample["expected"]
    assert np.isclose(want, p["x_11"] * p["g_12"] + p["x_21"] * p["g_22"])
    assert verify(sol("softmax_with_loss"), "a_12", "y_12 - t_12").correct
    assert not verify(sol("softmax_with_loss"), "A[1,2]", "t_12 - y_12").correct


def test_unknown_names_and_unreadable_answers():
    s = sol("affine_layer")
    with pytest.raises(VerifyError, match=r"a matrix \(X, W, B\)"):
        verify(s, "Q", "dY")
    for bad, msg in [("Q dY", "not a matrix of this problem"), ("X^2 dY", "only the transpose"),
                     ("__import__('os')", "not a matrix"), ("X^T (dY", "closing parenthesis"),
                     ("X^T dY / W", "dividing by a matrix")]:
        try:
            v = verify(s, "W", bad)
        except VerifyError as e:
            assert msg in str(e), (bad, str(e))
        else:
            assert not v.correct and msg in " ".join(v.diagnosis), (bad, v.diagnosis)
    with pytest.raises(VerifyError, match="the gradient it should express"):
        verify(sol("softmax_with_loss"), "A", "dA")


def run(*args):
    return CliRunner().invoke(main, ["verify", *args])


def test_cli_exit_codes_and_json():
    assert run("affine_layer", "--wrt", "W", "--answer", "X^T dY").exit_code == 0
    r = run("affine_layer", "--wrt", "W", "--answer", "dY X^T")
    assert r.exit_code == 1 and "factors in the wrong order" in r.output and "expected ∂L/∂W = [[" in r.output
    assert run("affine_layer", "--wrt", "W", "--answer", "X^T +").exit_code == 2
    r = run("affine_layer", "--wrt", "V", "--answer", "X")
    assert r.exit_code == 2 and "X, W, B" in r.output
    r = run("affine_layer", "--wrt", "B", "--answer", "dY", "--json")
    data = json.loads(r.output)
    assert r.exit_code == 1 and data["correct"] is False
    assert {"correct", "diagnosis", "counterexample", "wrt", "gradient", "answer"} <= set(data)
    assert np.allclose(data["counterexample"]["expected"],
                       seed_gradient("affine_layer", "B", data["counterexample"]["point"]))


def test_batch_feedback_for_layers(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[[answer]]\nstudent = "Ada"\nwrt = "W"\nanswer = "X^T dY"\n'
                       '[[answer]]\nstudent = "Bob"\nwrt = "W"\nanswer = "dY^T X"\n'
                       '[[answer]]\nstudent = "Cy"\nwrt = "W[1,2]"\nanswer = "x_11 g_12 + x_21 g_22"\n',
                       encoding="utf-8")
    if not shutil.which("latexmk"):
        pytest.skip("latexmk is not installed (make tex installs it)")
    out = tmp_path / "fb"
    r = run("affine_layer", "--answers", str(answers), "-o", str(out))
    assert r.exit_code == 0, r.output
    md = (out / "feedback.md").read_text(encoding="utf-8")
    assert "2 of 3 answers correct" in md and "a transposed matrix" in md
    text = subprocess.run(["pdftotext", str(out / "feedback.pdf"), "-"], capture_output=True,
                          text=True, timeout=60).stdout
    assert "Wrong." in text and "Counterexample at X = [[1, 2, 3]" in text


def test_oversized_matrix_answers_are_refused():
    s = sol("affine_layer")
    for big in ["X" + "+X" * 900, "(X^T dY)" + " X^T X" * 100, "-" * 1500 + "X^T dY",
                "(" * 70 + "X" + ")" * 70]:
        with pytest.raises(VerifyError, match=r"too long|at most|nested too deeply"):
            verify(s, "W", big)


@pytest.mark.parametrize("key,answer", [
    ("W", "X^T(softmax(X W + B) - T)"),
    ("W", r"X^{\top}\left(\operatorname{softmax}(XW + B) - T\right)"),
    ("B", "colsum(softmax(X W + B) - T)"),
    ("X", "(softmax(X W + B) - T) W^T"),
])
def test_a_bias_row_broadcasts_over_the_batch(key, answer):
    """Affine then Softmax-with-Loss: ∂L/∂W = Xᵀ(softmax(XW + B) − T), B a row added to every sample
    as numpy broadcasts it. Oracle: central differences of the loss written here with numpy."""
    v = verify(sol("affine_softmax"), key, answer)
    assert v.correct, v.diagnosis
    p = {k: np.array(x, dtype=float) for k, x in sol("affine_softmax").problem.arrays.items()}
    p["B"] = p["B"].reshape(1, -1)

    def loss(m):
        return -np.sum(m["T"] * np.log(softmax(m["X"] @ m["W"] + m["B"])))
    h, numeric = 1e-6, np.zeros_like(p[key])
    for idx in np.ndindex(p[key].shape):
        up = {k: x.copy() for k, x in p.items()}
        down = {k: x.copy() for k, x in p.items()}
        up[key][idx] += h
        down[key][idx] -= h
        numeric[idx] = (loss(up) - loss(down)) / (2 * h)
    assert np.allclose(numeric, seed_gradient("affine_softmax", key, p), atol=1e-7)
    assert not verify(sol("affine_softmax"), key, answer.replace("- T", "+ T")).correct
