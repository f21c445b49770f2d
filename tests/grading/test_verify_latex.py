"""LaTeX and plain answers read into the same AST as derive.parse reads the plain equivalent."""
import pytest

from derive.engine.parse import parse
from derive.errors import ParseError
from derive.grading.reading import parse_answer

KNOWN = {"w_kj", "o_k", "h_j", "t_k", "net_k", "delta^l_j", "w^l+1_kj", "delta^l+1_k", "a^l-1_k"}


@pytest.mark.parametrize("latex,plain", [
    (r"-(t_k - o_k)\,o_k(1-o_k)h_j", "-(t_k-o_k)*o_k*(1-o_k)*h_j"),
    (r"\frac{1}{2}\sigma(x)\left(1-\sigma(x)\right)", "(1/2)*sigmoid(x)*(1-sigmoid(x))"),
    (r"x \cdot y \times z", "x*y*z"),
    (r"e^{-x}", "e^(-x)"),
    (r"\exp\left(-x\right)", "exp(-x)"),
    (r"\ln(x) + \log{x}", "ln(x) + log(x)"),
    (r"\tanh^{2}{\left(x \right)}", "tanh(x)^2"),
    (r"\operatorname{relu}(x)", "relu(x)"),
    (r"\mathrm{net}_k", "net_k"),
    (r"w_{kj}h_j", "w_kj*h_j"),
    (r"\delta_k w_{kj}", "δ_k*w_kj"),
    (r"\sqrt{x}", "x^(1/2)"),
])
def test_latex_reads_like_the_plain_form(latex, plain):
    assert parse_answer(latex, KNOWN) == parse(plain, implicit=True)


def test_sums_and_layered_names():
    body = ("mul", ("name", "delta_k"), ("name", "w_kj"))
    assert parse_answer("sum_k(delta_k w_kj)", KNOWN) == ("sum", "k", body, None, None)
    assert parse_answer(r"\sum_{k=1}^{m} \delta_k w_{kj}", KNOWN) == (
        "sum", "k", ("mul", ("name", "δ_k"), ("name", "w_kj")), "1", "m")
    # a sum covers the rest of its product, not what follows a + sign
    assert parse_answer("sum_k delta_k w_kj + 1", KNOWN) == ("add", ("sum", "k", body, None, None), ("num", "1"))
    # the textbook reading: the product that follows a sum is its body, parentheses or not
    assert parse_answer("sum_k(delta_k) w_kj", KNOWN) == ("sum", "k", body, None, None)
    # enclosed in parentheses it covers only the group
    assert parse_answer("(sum_k delta_k) w_kj", KNOWN) == (
        "mul", ("sum", "k", ("name", "delta_k"), None, None), ("name", "w_kj"))
    assert parse_answer(r"a^{l-1}_k \delta^l_j", KNOWN) == ("mul", ("name", "a^l-1_k"), ("name", "delta^l_j"))
    assert parse_answer("w^{l+1}_{kj} δ^{l+1}_k", KNOWN) == ("mul", ("name", "w^l+1_kj"), ("name", "delta^l+1_k"))
    # a superscript on an unknown name is a power
    assert parse_answer("o_k^2", KNOWN) == ("pow", ("name", "o_k"), ("num", "2"))


@pytest.mark.parametrize("text", [r"\input{/etc/passwd}", r"\frac{1}", "{x", "x}", "h_j'", "σ''(x)", r"\sum x",
                                  "SUMPqk", "(" * 61 + "x" + ")" * 61, "x" * 2001])
def test_bad_latex_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_answer(text, KNOWN)
