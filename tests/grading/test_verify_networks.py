"""derive verify on networks: the seeds' formulas (000: ∂L/∂w_kj = −(t_k − o_k) o_k(1 − o_k) h_j and the
hidden-layer rule; 001: Nielsen's BP1–BP4) typed by hand in several forms must be accepted for every
instance (every k, j), and common mistakes must be named. Numbers come from Matt Mazur's published
2-2-2 example (∂E/∂w5 = 0.082167041), not from the engine."""
import json

import pytest
from click.testing import CliRunner

from derive import problems
from derive.cli import main
from derive.grading.verify import VerifyError, verify
from derive.pipeline import solve

NIELSEN = """
title = "2-2-2 sigmoid network, Nielsen's notation"
[network]
layers = [2, 2, 2]
activations = "sigmoid"
loss = "mse"
notation = "nielsen"
[values]
x = [0.05, 0.10]
t = [0.01, 0.99]
W1 = [[0.15, 0.20], [0.25, 0.30]]
b1 = [0.35, 0.35]
W2 = [[0.40, 0.45], [0.50, 0.55]]
b2 = [0.60, 0.60]
"""

_SOL = {}


def mitchell():
    if "m" not in _SOL:
        _SOL["m"] = solve(problems.load("mlp_222"))
    return _SOL["m"]


def nielsen():
    if "n" not in _SOL:
        _SOL["n"] = solve(problems.loads(NIELSEN, "nielsen-222"))
    return _SOL["n"]


CORRECT_MITCHELL = [
    ("w_kj", "-(t_k-o_k)*o_k*(1-o_k)*h_j"),
    ("w_kj", r"-(t_k - o_k)\,o_k(1-o_k)h_j"),
    ("w_kj", r"-\left(t_{k}-o_{k}\right) \cdot o_{k}\left(1-o_{k}\right) \cdot h_{j}"),
    ("w_kj", "(o_k - t_k) o_k (1 - o_k) h_j"),
    ("w_kj", "-(t_k - σ(net_k)) σ(net_k)(1 - σ(net_k)) h_j"),
    ("w_kj", "δ_k h_j"),
    ("w_kj", "delta_k*h_j"),
    ("w_kj", "(o_k^2 - o_k^3 - t_k o_k + t_k o_k^2) h_j"),  # expanded
    ("delta_k", "-(t_k - o_k) o_k (1 - o_k)"),
    ("b_k", "delta_k"),
    ("delta_j", "h_j(1-h_j) sum_k(delta_k w_kj)"),
    ("delta_j", r"\left(\sum_k \delta_k w_{kj}\right) h_j(1-h_j)"),
    ("delta_j", r"h_j(1-h_j)\sum_{k=1}^{2} w_{kj}\,\delta_k"),
    ("w_ji", "delta_j x_i"),
    ("w_ji", "h_j(1-h_j) x_i sum_k(delta_k w_kj)"),
    ("w_ji", "x_i σ(net_j)(1-σ(net_j)) Σ_k(-(t_k - o_k) o_k (1 - o_k) w_kj)"),
    ("b_j", "delta_j"),
    ("W2[1,1]", "-(t_1 - o_1) o_1 (1 - o_1) h_1"),
    ("W2[1,2]", "delta^o_1 h_2"),
    ("W2[1,2]", "delta_k h_j"),  # generic names, bound by the element
]

WRONG_MITCHELL = [
    ("w_kj", "(t_k-o_k)*o_k*(1-o_k)*h_j", "sign error"),
    ("w_kj", "-(t_k-o_k)*h_j", "missing factor ∂o_k/∂net_k = o_k*(1 - o_k)"),
    ("w_kj", "-(t_k-o_k)*o_k*(1-o_k)", "missing factor ∂net_k/∂w_kj = h_j"),
    ("w_kj", "-2(t_k-o_k)*o_k*(1-o_k)*h_j", "a factor of 2"),
    ("w_kj", "-(t_k-o_k)*o_k*(1-o_k)*x_i", "x_i where h_j belongs"),
    ("w_kj", "-(t_k-o_k)*o_k*(1-o_k)*h_k", "h_k where h_j belongs"),
    ("delta_k", "-(t_k-o_k)", "missing factor ∂o_k/∂net_k"),
    ("delta_j", "h_j(1-h_j) delta_k w_kj", "a missing sum over k"),
    ("delta_j", "h_j(1-h_j) sum_k(delta_k w_jk)", "w_jk where w_kj belongs"),
    ("delta_j", "sum_k(delta_k w_kj)", "missing factor ∂h_j/∂net_j = h_j*(1 - h_j)"),
    ("w_ji", "delta_j h_j", "h_j where x_i belongs"),
    ("W2[1,2]", "-(t_2-o_2)o_2(1-o_2)h_1", "transposed"),
]


@pytest.mark.parametrize("wrt,answer", CORRECT_MITCHELL)
def test_mitchell_correct_answers(wrt, answer):
    v = verify(mitchell(), wrt, answer)
    assert v.correct, (answer, v.diagnosis, v.counterexample)


@pytest.mark.parametrize("wrt,answer,phrase", WRONG_MITCHELL)
def test_mitchell_wrong_answers_are_diagnosed(wrt, answer, phrase):
    v = verify(mitchell(), wrt, answer)
    assert not v.correct
    assert any(phrase in d for d in v.diagnosis), v.diagnosis
    cx = v.counterexample
    assert cx and cx["expected"] is not None and cx["got"] != cx["expected"]


def test_a_generic_answer_must_hold_for_every_instance():
    # right for k = 1 (o_1, t_1 are the unit k = 1), wrong for k = 2
    v = verify(mitchell(), "w_kj", "-(t_1 - o_1) o_1 (1 - o_1) h_j")
    assert not v.correct
    assert v.counterexample["instance"]["k"] == 2


def test_the_counterexample_uses_mazurs_published_number():
    v = verify(mitchell(), "W2[1,1]", "-(t_1 - o_1) h_1")
    assert not v.correct and v.counterexample["own_point"]
    assert v.counterexample["expected"] == pytest.approx(0.082167041, abs=1e-9)


CORRECT_NIELSEN = [
    ("delta^L_j", "-(y_j - a^L_j) a^L_j (1 - a^L_j)"),                      # BP1
    ("delta^L_j", r"(a^L_j - y_j)\,\sigma(z^L_j)(1-\sigma(z^L_j))"),
    ("w^L_jk", "a^{L-1}_k delta^L_j"),                                       # BP4
    ("b^L_j", r"\delta^L_j"),                                               # BP3
    ("delta^l_j", r"\left(\sum_i w^{l+1}_{ij}\delta^{l+1}_i\right) a^l_j(1-a^l_j)"),  # BP2
    ("w^l_jk", "a^{l-1}_k δ^l_j"),
    ("b^l_j", "delta^l_j"),
]

WRONG_NIELSEN = [
    ("delta^L_j", "-(y_j - a^L_j)", "missing factor"),
    ("delta^l_j", r"\sum_i w^{l+1}_{ji}\delta^{l+1}_i a^l_j(1-a^l_j)", "w^{l+1}_ji where w^{l+1}_ij belongs"),
    ("delta^l_j", r"w^{l+1}_{ij}\delta^{l+1}_i a^l_j(1-a^l_j)", "a missing sum over i"),
    ("w^l_jk", "a^{l}_k delta^l_j", "a^l_k where a^{l-1}_k belongs"),
    ("W2[1,2]", "a^1_2 delta^2_1", "this is ∂C/∂W1[1,2]"),
]


@pytest.mark.parametrize("wrt,answer", CORRECT_NIELSEN)
def test_nielsen_correct_answers(wrt, answer):
    v = verify(nielsen(), wrt, answer)
    assert v.correct, (answer, v.diagnosis, v.counterexample)


@pytest.mark.parametrize("wrt,answer,phrase", WRONG_NIELSEN)
def test_nielsen_wrong_answers_are_diagnosed(wrt, answer, phrase):
    v = verify(nielsen(), wrt, answer)
    assert not v.correct
    assert any(phrase in d for d in v.diagnosis), v.diagnosis


def test_unknown_network_names_are_refused_with_the_valid_ones():
    with pytest.raises(VerifyError) as err:
        verify(mitchell(), "w_xy", "1")
    assert "w_kj" in str(err.value) and "W2[1,2]" in str(err.value)
    with pytest.raises(VerifyError) as err:
        verify(mitchell(), "w_kj", "q_k h_j")
    assert "not a quantity" in str(err.value)


def test_cli_on_a_network():
    r = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "w_kj", "--answer",
                                  "-(t_k-o_k)*h_j", "--json"])
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["correct"] is False and data["counterexample"]["instance"] == {"k": 1, "j": 1}
    ok = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "W2[1,2]", "--answer", "δ_k h_j"])
    assert ok.exit_code == 0


# ---------------------------------------------------------------- δ conventions

MITCHELL_DELTA = """
title = "2-2-2 sigmoid network, Mitchell's delta"
[network]
layers = [2, 2, 2]
activations = "sigmoid"
loss = "mse"
notation = "mitchell"
delta = "-dL/dnet"
[values]
x = [0.05, 0.10]
t = [0.01, 0.99]
W1 = [[0.15, 0.20], [0.25, 0.30]]
b1 = [0.35, 0.35]
W2 = [[0.40, 0.45], [0.50, 0.55]]
b2 = [0.60, 0.60]
"""


def mitchell_delta():
    if "md" not in _SOL:
        _SOL["md"] = solve(problems.loads(MITCHELL_DELTA, "mitchell-delta"))
    return _SOL["md"]


def test_mitchells_delta_is_right_when_the_problem_says_so():
    # Mitchell (Machine Learning, 4.5): δ_k = o_k(1 − o_k)(t_k − o_k), Δw_kj = η δ_k h_j
    assert verify(mitchell_delta(), "delta_k", "o_k(1 - o_k)(t_k - o_k)").correct
    assert verify(mitchell_delta(), "w_kj", "-δ_k h_j").correct
    assert verify(mitchell_delta(), "delta_j", "h_j(1 - h_j) Σ_k δ_k w_kj").correct  # the same form either way
    assert verify(mitchell(), "delta_k", "o_k(1 - o_k)(t_k - o_k)", delta_sign=-1).correct
    # ∂L/∂w is the same number whatever δ means
    assert verify(mitchell_delta(), "w_kj", "(o_k - t_k) o_k (1 - o_k) h_j").correct


@pytest.mark.parametrize("solution,wrt,answer", [
    ("default", "delta_k", "o_k(1 - o_k)(t_k - o_k)"),
    ("default", "w_kj", "-δ_k h_j"),
    ("mitchell", "delta_k", "(o_k - t_k) o_k (1 - o_k)"),
    ("mitchell", "w_kj", "δ_k h_j"),
])
def test_the_other_convention_is_named_not_called_a_sign_error(solution, wrt, answer):
    sol = mitchell() if solution == "default" else mitchell_delta()
    v = verify(sol, wrt, answer)
    assert not v.correct
    assert v.diagnosis[0].startswith("right under the other sign convention for δ"), v.diagnosis
    assert not any(d.startswith("sign error") for d in v.diagnosis)


def test_cli_delta_sign_overrides_the_problem():
    args = ["verify", "mlp_222", "--wrt", "delta_k", "--answer", "o_k(1-o_k)(t_k-o_k)"]
    assert CliRunner().invoke(main, args).exit_code == 1
    assert CliRunner().invoke(main, args + ["--delta-sign", "-dL/dnet"]).exit_code == 0
    assert CliRunner().invoke(main, args + ["--delta-sign", "sideways"]).exit_code == 2


# ---------------------------------------------------------------- never a traceback

def test_an_internal_error_is_one_line_naming_the_answer(monkeypatch):
    import derive.grading.verify as module

    def broken(*args, **kwargs):
        raise KeyError("no value for z^1_1")
    monkeypatch.setattr(module, "verify", broken)
    r = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "w_kj", "--answer", "δ_k h_j"])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line]
    assert len(lines) == 1 and "'δ_k h_j'" in lines[0] and "KeyError" in lines[0]
    assert "Traceback" not in r.output


def test_batch_keeps_one_students_failure_in_their_feedback(monkeypatch, tmp_path):
    import derive.grading.feedback as feedback
    real = feedback.verify

    def flaky(sol, wrt, answer, **kw):
        if answer == "boom":
            raise ZeroDivisionError("division by zero")
        return real(sol, wrt, answer, **kw)
    monkeypatch.setattr(feedback, "verify", flaky)
    answers = tmp_path / "answers.toml"
    answers.write_text('[[answer]]\nstudent = "Ann"\nwrt = "w_kj"\nanswer = "δ_k h_j"\n'
                       '[[answer]]\nstudent = "Ben"\nwrt = "w_kj"\nanswer = "boom"\n'
                       '[[answer]]\nstudent = "Cat"\nwrt = "w_kj"\nanswer = "h_j"\n', encoding="utf-8")
    results = feedback.batch(mitchell(), feedback.read_answers(str(answers)))
    assert results[0]["verdict"].correct and results[2]["verdict"].correct is False
    assert results[1]["verdict"] is None and "internal error" in results[1]["error"]
    md = feedback.feedback_markdown(mitchell(), results)
    assert "## Ben" in md and "Could not check" in md and "## Cat" in md and "1 of 3 answers correct" in md


@pytest.mark.parametrize("wrt", ["delta^l_j", "w^l_jk", "b^l_j", "delta^L_j", "w^L_jk", "W1[1,2]", "W2[2,1]"])
@pytest.mark.parametrize("answer", ["a^l_j", "w^l+1_ij delta^l+1_i", "a^{l-1}_k", "1", "z^L_j - y_j",
                                    "sum_i(w^l+1_ji delta^l+1_i)", "delta^l_j a^l_k", "a^3_1", "w^4_11"])
def test_wrong_answers_on_a_deeper_network_are_diagnosed_not_crashed(wrt, answer):
    deep = NIELSEN.replace("layers = [2, 2, 2]", "layers = [2, 2, 2, 2]").replace(
        "b2 = [0.60, 0.60]", "b2 = [0.60, 0.60]\nW3 = [[0.1, -0.2], [0.3, 0.4]]\nb3 = [0.05, -0.05]")
    if "deep" not in _SOL:
        _SOL["deep"] = solve(problems.loads(deep, "deep"))
    try:
        v = verify(_SOL["deep"], wrt, answer)
    except VerifyError as e:  # a name of a layer that is not there: one clear line
        assert "\n" not in str(e)
        return
    assert not v.correct and v.diagnosis
