"""The diagnoses issue 26 asked to make specific, by their codes: softmax and sigmoid with
cross-entropy (the output's derivative multiplied in again, ∂L/∂o for ∂L/∂net, the target's
sign), Nielsen's layer one off, a batch average named as such before the loss's ½, one row of dY
or ⊙ where the column sum or − belongs; and the readings added with them (index sums in a layer
problem's elements, ∂/∂x (…), negative powers of functions, a number minus a matrix).
"""
import pytest
from verify_table import NEW_NETWORKS, judge, solve_problem

from derive.grading.verify import verify

BCE, DEEP = NEW_NETWORKS["nielsen_tanh_bce"], NEW_NETWORKS["nielsen_2222"]


def _codes(problem, wrt, text):
    v = verify(solve_problem(problem), wrt, text)
    assert not v.correct
    return [getattr(d, "code", "") for d in v.diagnosis], [str(d) for d in v.diagnosis]


@pytest.mark.parametrize("problem, wrt, text, code", [
    ("mlp_tanh_softmax", "delta_k", "o_k(1 - o_k)(o_k - t_k)", "output-derivative-twice"),
    ("mlp_tanh_softmax", "delta_j", "(1 - h_j^2) Σ_k w_kj o_k(1 - o_k)(o_k - t_k)", "output-derivative-twice"),
    ("mlp_tanh_softmax", "delta_k", "-t_k/o_k", "loss-by-output"),
    ("mlp_tanh_softmax", "w_kj", "-h_j t_k/o_k", "loss-by-output"),
    ("mlp_tanh_softmax", "delta_k", "o_k + t_k", "sign-in-term"),
    (BCE, "delta^L_j", "a^L_j(1-a^L_j)(a^L_j - y_j)", "output-derivative-twice"),
    (BCE, "delta^L_j", "(a^L_j - y_j)/(a^L_j(1-a^L_j))", "loss-by-output"),
    (DEEP, "delta^l_j", "Σ_k w^{l+1}_kj δ^{l}_k σ'(z^l_j)", "wrong-layer"),
    (DEEP, "w^l_jk", "a^{l}_k δ^l_j", "wrong-layer"),
    (DEEP, "b^l_j", "δ^{l+1}_j", "wrong-layer"),
    ("mlp_relu_batch", "w^L_jk", "1/2 Σ_n a^{L-1}_nk δ^L_nj", "batch-size"),
    ("mlp_relu_batch", "b^L_j", "Σ_n δ^L_nj / 2", "batch-size"),
    ("affine_layer", "B", "dY[1,:]", "one-slice"),
    ("affine_layer", "B", "colsum(dY)/2", "batch-size"),
    ("softmax_with_loss", "A", "Y ⊙ T", "wrong-operation"),
    ("softmax_with_loss", "A", r"Y \odot (Y - T)", "extra-factor"),
])
def test_specific_codes(problem, wrt, text, code):
    codes, shown = _codes(problem, wrt, text)
    assert codes[0] == code, shown


def test_a_batch_average_says_n_and_the_half_comes_second():
    shown = _codes("mlp_relu_batch", "w^L_jk", "1/2 Σ_n a^{L-1}_nk δ^L_nj")[1]
    assert "N = 2" in shown[0] and "½" not in shown[0]


def test_the_half_is_not_named_without_a_half_in_the_loss():
    shown = _codes("circuit", "x", "z/2")[1]
    assert shown and "½Σ" not in shown[0] and "loss" not in shown[0]


def test_the_loss_by_output_is_the_cross_entropy_s_own_derivative():
    # ∂(−Σ t log o)/∂o_k = −t_k/o_k, worked by hand; the message prints it
    shown = _codes("mlp_tanh_softmax", "delta_k", "-t_k/o_k")[1]
    assert "-t_k/o_k" in shown[0].replace(" ", "")


@pytest.mark.parametrize("problem, wrt, text", [
    ("affine_layer", "W[1,2]", "Σ_n x_n1 dY_n2"), ("affine_layer", "W[2,1]", "Σ_n X_{n,2} dY_{n,1}"),
    ("affine_layer", "B[2]", "Σ_n dY_n2"), ("affine_layer", "W[1,1]", "x_11 dY_11 + Σ_{n=2}^{2} x_{n1} dY_{n1}"),
    ("circuit", "x", r"\frac{\partial}{\partial x}(x+y) z"), ("circuit", "q", "∂/∂q (q z)"),
    ("mlp_tanh_softmax", "delta_j", "cosh^(-2)(net_j) Σ_k δ_k w_kj"),
    ("softmax_with_loss", "A", "1 - (1 - Y) - T"),
])
def test_new_readings_accept_right_answers(problem, wrt, text):
    outcome, diag = judge((problem, wrt, text, "right", "x"))
    assert outcome == "correct", diag


@pytest.mark.parametrize("problem, wrt, text", [
    ("affine_layer", "W[1,2]", "Σ_n x_n2 dY_n1"), ("affine_layer", "B[2]", "Σ_{n=1}^{3} dY_{n2}"),
    ("affine_layer", "W[1,2]", "Σ_n q_n1 dY_n2"),
])
def test_index_sums_never_accept_a_wrong_element(problem, wrt, text):
    outcome, diag = judge((problem, wrt, text, "wrong", "x"))
    assert outcome in ("wrong", "error"), diag
    assert all("\n" not in d for d in diag)
