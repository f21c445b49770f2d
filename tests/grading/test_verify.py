"""derive verify on the scalar circuits of the seeds: a table of correct answers in several written
forms and of wrong answers with the diagnosis each must get. The correct formulas are the seeds'
own (000: ∂(xy + x²)/∂x = 2x + y; 004: the cs231n circuit, neuron and staged code), written by
hand here, or whole-expression sympy.diff — never the engine's output copied in."""
import json
import math
import time

import pytest
import sympy as sp
from click.testing import CliRunner

from derive import problems
from derive.cli import main
from derive.engine.parse import symbol
from derive.grading.verify import VerifyError, verify
from derive.pipeline import solve

SOLVED = {}


def solved(name):
    if name not in SOLVED:
        SOLVED[name] = solve(problems.load(name))
    return SOLVED[name]


# (problem, wrt, answer) that are right: several written forms, named quantities or their definitions
CORRECT = [
    ("fanout", "x", "2x + y"),
    ("fanout", "x", "y + 2*x"),
    ("fanout", "x", "x + x + y"),
    ("fanout", "x", r"2\cdot x + y"),
    ("fanout", "y", "x"),
    ("circuit", "x", "z"),
    ("circuit", "y", "z"),
    ("circuit", "z", "x + y"),
    ("circuit", "z", "q"),
    ("circuit", "q", "z"),
    ("neuron_sigmoid", "w_0", "x_0*sigmoid(z)*(1 - sigmoid(z))"),
    ("neuron_sigmoid", "w_0", r"x_0\,\sigma(z)\left(1-\sigma(z)\right)"),
    ("neuron_sigmoid", "w_0", "x_0 f (1 - f)"),
    ("neuron_sigmoid", "x_1", "w_1 f(1-f)"),
    ("neuron_sigmoid", "w_2", r"\sigma(w_0 x_0 + w_1 x_1 + w_2)(1 - \sigma(w_0 x_0 + w_1 x_1 + w_2))"),
    ("neuron_sigmoid", "w_2", "exp(-z)/(1 + exp(-z))^2"),
    ("neuron_sigmoid", "w_2", r"\frac{e^{-z}}{\left(1+e^{-z}\right)^{2}}"),
    # staged, seed 004's code: dx = dxpy + (1 - sigx) sigx dsigx + dnum
    ("staged", "x", "invden - 2*num*xpy/den^2 - num*sigx*(1-sigx)/den^2"),
    ("staged", "x", r"\frac{1}{den} + 2\,xpy\left(-\frac{num}{den^{2}}\right) - (1-sigx)\,sigx\,\frac{num}{den^2}"),
    ("staged", "x", "1/(σ(x) + (x+y)^2) - (x + σ(y))(2(x+y) + σ(x)(1-σ(x)))/(σ(x) + (x+y)^2)^2"),
    ("staged", "y", "invden sigy (1 - sigy) - 2 num xpy / den^2"),
    ("staged", "sigy", "invden"),
    ("staged", "sigy", "1/(sigmoid(x) + (x+y)^2)"),
    ("staged", "den", "-num/den^2"),
    ("staged", "den", "-num invden^2"),
    ("staged", "xpy", "2 xpy (-num/den^2)"),
    ("staged", "invden", "num"),
]

# (problem, wrt, answer, a phrase the diagnosis must contain)
WRONG = [
    ("fanout", "x", "-(2x + y)", "sign error"),
    ("fanout", "x", "2x", "missing the contribution through xy"),
    ("fanout", "x", "y", "missing the contribution through xsqr"),
    ("staged", "x", "-2 num xpy/den^2", "only the contribution through xpy"),
    ("fanout", "x", "4x + 2y", "factor of 2"),
    ("fanout", "y", "y", "y where x belongs"),
    ("circuit", "x", "-z", "sign error"),
    ("circuit", "x", "y", "y where z belongs"),
    ("circuit", "x", "1", "missing factor ∂f/∂q = z"),
    ("circuit", "z", "x", "x where q belongs"),
    ("neuron_sigmoid", "w_0", "x_0", "missing factor ∂f/∂z = f*(1 - f)"),
    ("neuron_sigmoid", "w_0", "f(1-f)", "missing factor ∂z/∂w_0 = x_0"),
    ("neuron_sigmoid", "w_0", "w_0 f(1-f)", "w_0 where x_0 belongs"),
    ("neuron_sigmoid", "w_0", "x_1 f(1-f)", "x_1 where x_0 belongs"),
    ("neuron_sigmoid", "w_0", "x_0 f^2(1-f)^2", "appears twice"),
    ("staged", "x", "invden - 2*num*xpy/den^2", "missing the contribution through sigx"),
    ("staged", "x", "invden - num*sigx*(1-sigx)/den^2", "missing the contribution through xpy"),
    ("staged", "y", "invden - 2*num*xpy/den^2", "missing factor ∂sigy/∂y = sigy*(1 - sigy)"),
    ("staged", "sigy", "1", "missing factor ∂f/∂num = invden"),
    ("staged", "den", "num/den^2", "sign error"),
    ("staged", "den", "-1/den^2", "missing factor ∂f/∂invden = num"),
    ("staged", "xpy", "-4 num xpy/den^2", "factor of 2"),
    ("staged", "xpy", "2 xpy", "missing the upstream gradient ∂f/∂xpysqr"),
    ("staged", "sigx", "-num/den^2 * sigx(1-sigx)", "extra factor"),
]


@pytest.mark.parametrize("name,wrt,answer", CORRECT)
def test_correct_answers_in_several_forms(name, wrt, answer):
    v = verify(solved(name), wrt, answer)
    assert v.correct, (answer, v.diagnosis, v.counterexample)
    assert v.diagnosis == [] and v.counterexample is None
    assert v.points >= 20


@pytest.mark.parametrize("name,wrt,answer,phrase", WRONG)
def test_wrong_answers_are_diagnosed(name, wrt, answer, phrase):
    v = verify(solved(name), wrt, answer)
    assert not v.correct
    assert any(phrase in d for d in v.diagnosis), v.diagnosis
    cx = v.counterexample
    assert cx is not None and cx["expected"] is not None and cx["got"] is not None
    assert not math.isclose(cx["expected"], cx["got"], rel_tol=1e-9)


def _independent_value(name, wrt, point):
    """The gradient at `point` by whole-expression sympy.diff of the problem's formula."""
    formulas = {"fanout": "x*y + x**2", "circuit": "(x + y)*z",
                "staged": "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)"}
    from derive.engine.parse import parse, to_sympy
    f = to_sympy(parse(formulas[name]))
    d = sp.diff(f, symbol(wrt)).subs({symbol(k): sp.Rational(str(v)) for k, v in point.items()})
    return float(d.rewrite(sp.exp).evalf(30))


@pytest.mark.parametrize("name,wrt,answer", [
    ("fanout", "x", "x + 5"),        # = 8 at (3, 2) like 2x + y
    ("fanout", "x", "4y"),           # = 8 at (3, 2)
    ("circuit", "x", "2x"),          # = -4 at (-2, 5, -4) like z
    ("circuit", "z", "-x - 2y + 11"),  # = 3 at the seed point like x + y
    ("staged", "y", "invden sigy(1 - sigy) - 2 num xpy/den^2 + (x - 3)^2"),
])
def test_agreeing_at_the_problems_own_point_is_not_enough(name, wrt, answer):
    sol = solved(name)
    v = verify(sol, wrt, answer)
    assert not v.correct
    cx = v.counterexample
    assert cx["own_point"] is False
    assert cx["point"] != {k: float(x) for k, x in sol.problem.inputs.items()}
    # the counterexample's expected value is the true gradient there (independent oracle)
    assert math.isclose(cx["expected"], _independent_value(name, wrt, cx["point"]), rel_tol=1e-9)


@pytest.mark.parametrize("formula,values", [
    ("x*y + x**2", {"x": 3, "y": 2}),
    ("sigmoid(x*y) + exp(x)/y", {"x": 0.5, "y": 1.5}),
    ("tanh(x - y)*log(y**2 + 1)", {"x": 1, "y": -2}),
    ("(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)", {"x": 3, "y": -4}),
])
def test_sympy_diff_of_the_whole_expression_is_accepted_and_perturbations_are_not(formula, values):
    vals = "\n".join(f"{k} = {v}" for k, v in values.items())
    sol = solve(problems.loads(f'[graph]\nf = "{formula}"\n[values]\n{vals}\n', "test"))
    from derive.engine.parse import parse, to_sympy
    f = to_sympy(parse(formula))
    for wrt in values:
        d = sp.diff(f, symbol(wrt))
        assert verify(sol, wrt, str(d)).correct, (formula, wrt, d)
        assert verify(sol, wrt, sp.latex(d).replace(r"\operatorname{sigmoid}", r"\sigma")).correct
        assert not verify(sol, wrt, str(-d)).correct
        assert not verify(sol, wrt, f"{d} + 1e-15").correct
        bumped = verify(sol, wrt, f"({d})*(1 + (x - {values['x']})^2/1000)")
        assert not bumped.correct and bumped.counterexample["own_point"] is False


# ---------------------------------------------------------------- input it cannot read

@pytest.mark.parametrize("answer,phrase", [
    ("__import__('os').system('true')", "unexpected character"),
    ("x +", "expected a number"),
    ("foo * x", "not a quantity of this problem"),
    ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
    ("x+" * 1500 + "x", "too long"),
    (r"\input{/etc/passwd}", "unsupported LaTeX command"),
    ("sum_k(x)", "only makes sense in a network"),
    ("x^99999", "exponent"),
    ("9^9^9^9", "too large"),
    ("1e999999", "too large"),
    ("", "empty"),
])
def test_unreadable_input_is_refused_quickly(answer, phrase):
    sol = solved("fanout")
    start = time.perf_counter()
    with pytest.raises(VerifyError) as err:
        verify(sol, "x", answer)
    assert phrase in str(err.value)
    assert time.perf_counter() - start < 1.0  # a guard against a hang, not a benchmark


@pytest.mark.parametrize("answer", ["exp(exp(exp(exp(x))))", "exp(exp(exp(exp(exp(exp(x))))))",
                                    "relu(exp(exp(exp(exp(y)))))", "x^(x^(x^x))"])
def test_explosive_answers_are_judged_not_hung(answer):
    v = verify(solved("fanout"), "x", answer)
    assert not v.correct and v.counterexample is not None


def test_unknown_wrt_lists_the_valid_names():
    with pytest.raises(VerifyError) as err:
        verify(solved("staged"), "nope", "1")
    for name in ("x", "y", "sigy", "den"):
        assert name in str(err.value)


# ---------------------------------------------------------------- the command line

def run(*args):
    return CliRunner().invoke(main, ["verify", *args])


def test_cli_exit_codes_and_json():
    ok = run("staged", "--wrt", "sigy", "--answer", "invden")
    assert ok.exit_code == 0 and ok.output.startswith("correct")
    bad = run("fanout", "--wrt", "x", "--answer", "2x", "--json")
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["correct"] is False
    assert any("missing the contribution through xy" in d for d in data["diagnosis"])
    cx = data["counterexample"]
    assert cx["point"] == {"x": 3.0, "y": 2.0} and cx["expected"] == 8.0 and cx["got"] == 6.0
    assert run("fanout", "--wrt", "x", "--answer", "import os").exit_code == 2
    unknown = run("fanout", "--wrt", "q", "--answer", "1")
    assert unknown.exit_code == 2 and "expected one of" in unknown.output
    assert run("no-such-problem", "--wrt", "x", "--answer", "1").exit_code == 2
    assert run("fanout", "--wrt", "x").exit_code == 2


def test_cli_text_names_the_mistake_and_the_counterexample():
    r = run("circuit", "--wrt", "x", "--answer", "-z")
    assert r.exit_code == 1
    assert "sign error" in r.output
    assert "x = -2, y = 5, z = -4" in r.output and "expected ∂f/∂x = -4" in r.output
    assert "gives 4" in r.output


# ---------------------------------------------------------------- batch mode: feedback report

ANSWERS = r'''
[[answer]]
student = 'Ada \input{/etc/passwd} $x$ 50% #1'
wrt = "x"
answer = "2x + y"

[[answer]]
student = "Bob"
wrt = "x"
answer = "2x"

[[answer]]
student = "Cy"
wrt = "x"
answer = "__import__('os')"
'''


def test_batch_feedback_markdown_and_pdf(tmp_path):
    import shutil
    import subprocess
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS, encoding="utf-8")
    out = tmp_path / "fb"
    if not shutil.which("latexmk"):
        pytest.skip("latexmk is not installed (make tex installs it)")
    r = run("fanout", "--answers", str(answers), "-o", str(out))
    assert r.exit_code == 0, r.output
    md = (out / "feedback.md").read_text(encoding="utf-8")
    assert "1 of 3 answers correct" in md
    # the answer uses no gate name: the gate xy is told as the product it stands for, in math
    assert "missing the contribution through $x\\,y$" in md and "expected $8$, the answer gives $6$" in md
    assert "Could not check" in md and "unexpected character" in md
    text = subprocess.run(["pdftotext", str(out / "feedback.pdf"), "-"], capture_output=True,
                          text=True, timeout=60).stdout
    assert r"Ada \input{/etc/passwd} $x$ 50% #1" in text  # user text printed literally
    assert "Wrong." in text and "Counterexample at x = 3, y = 2" in text


def test_batch_input_errors_name_the_file_and_entry(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[answer]]\nstudent = "A"\nwrt = "x"\n', encoding="utf-8")
    r = run("fanout", "--answers", str(bad), "-o", str(tmp_path / "o"))
    assert r.exit_code == 2 and "[[answer]] #1: answer: expected a string" in r.output
    assert not (tmp_path / "o").exists()
    bad.write_text("not toml [", encoding="utf-8")
    assert run("fanout", "--answers", str(bad), "-o", str(tmp_path / "o")).exit_code == 2


@pytest.mark.parametrize("answer", ["∂E/∂o_k²·σ(net_k)(1 - σ(net_k))", "∂E/∂o_k^2 σ(net_k)(1 - σ(net_k))",
                                    "\\frac{\\partial E}{\\partial o_k}^2 o_k(1-o_k)"])
def test_a_power_after_a_named_gradient_is_kept(answer):
    """∂E/∂o_k² once read as ∂E/∂o_k (the power was dropped) and so accepted a squared upstream
    gradient as δ_k; the power belongs to the derivative: (∂E/∂o_k)², wrong."""
    sol = solve(problems.load("mlp_222"))
    assert verify(sol, "delta_k", answer.replace("^2", "").replace("²", "")).correct  # the same without it
    v = verify(sol, "delta_k", answer)
    assert not v.correct and v.diagnosis
