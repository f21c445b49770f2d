"""How an answer was read, shown back: the one walk of grading/showing.py in its two styles (plain text and
TeX) gives the same structure: parentheses only where the reading needs them, a sum's body in brackets, a
function by its record's head and a derivative by its record's prime (σ′, \\sigma'), whatever spelling the
student used. The expected strings are written by hand."""
import pytest

from derive.engine.ops import FUNCTION_TABLE
from derive.grading.reading import read_answer
from derive.grading.showing import PLAIN, TEX, show, show_plain, show_tex

CASES = [
    ("σ′(net_j) h_j", "σ′(net_j) h_j", r"\sigma'\left(\mathrm{net}_{j}\right)\,h_{j}"),
    ("sigmoid'(net_j) h_j", "σ′(net_j) h_j", r"\sigma'\left(\mathrm{net}_{j}\right)\,h_{j}"),
    ("f′(net_j) x_i", "f′(net_j) x_i", r"f'\left(\mathrm{net}_{j}\right)\,x_{i}"),
    ("sech(x)^2 ln(y)", "sech(x)² log(y)", r"\operatorname{sech}\left(x\right)^{2}\,\log\left(y\right)"),
    ("x^-2", "x^(−2)", "x^{-2}"),
    ("(-x)^2", "(−x)²", r"\left(-x\right)^{2}"),
    ("-(a+b)", "−(a + b)", r"-\left(a + b\right)"),
    ("-a b", "−a b", r"-a\,b"),
    ("a/(b c)", "a/(b c)", r"\frac{a}{b\,c}"),
    ("(a+b)/c", "(a + b)/c", r"\frac{a + b}{c}"),
    ("a - (b - c)", "a − (b − c)", r"a - \left(b - c\right)"),
    ("x 2", "x·2", r"x \cdot 2"),
    ("Σ_{k=1}^{3} x_k", "Σ_{k=1}^{3}[x_k]", r"\sum_{k=1}^{3} \left[x_{k}\right]"),
    ("∂E/∂o_k w_kj", "∂E/∂o_k w_kj", r"\frac{\partial E}{\partial o_{k}}\,w_{kj}"),
    ("max(x, y) sgn(y)", "max(x, y) sgn(y)", r"\max\left(x, y\right)\,\operatorname{sgn}\left(y\right)"),
    ("1[z > 0] x", "step(z) x", r"\mathbf{1}\left[z > 0\right]\,x"),
]


@pytest.mark.parametrize("answer,plain,tex", CASES)
def test_plain_and_tex_read_as(answer, plain, tex):
    ast = read_answer(answer).parts[0]
    assert show_plain(ast) == show(ast, PLAIN) == plain
    assert show_tex(ast) == show(ast, TEX) == tex


@pytest.mark.parametrize("f", [f for f in FUNCTION_TABLE.values() if f.activation], ids=lambda f: f.name)
def test_a_derivative_is_shown_by_its_record_whatever_the_spelling(f):
    for head in (f.name, *f.spellings, *f.answer_only):
        ast = read_answer(f"{head}'(z) + {head}(z)").parts[0]
        assert show_plain(ast) == f"{f.prime_plain}(z) + {f.plain}(z)"
        assert show_tex(ast) == rf"{f.prime_latex}\left(z\right) + {f.latex}\left(z\right)"


@pytest.mark.parametrize("f", [f for f in FUNCTION_TABLE.values() if f.activation], ids=lambda f: f.name)
def test_every_latex_head_of_a_record_is_read_as_its_function(f):
    heads = [h.replace("_", r"\_") for h in (f.name, *f.spellings, *f.answer_only) if h.isascii()]
    for head in heads:
        for written in (rf"\operatorname{{{head}}}", rf"\mathrm{{{head}}}", rf"\text{{{head}}}"):
            assert show_plain(read_answer(rf"{written}\left(z\right) + 1").parts[0]) == f"{f.plain}(z) + 1", written
        if head.isalpha() and head not in ("sigma",):  # \sigma is the letter σ, itself a spelling of sigmoid
            assert show_plain(read_answer(rf"\{head}(z)").parts[0]) == f"{f.plain}(z)", head
    assert show_plain(read_answer(r"\sigma(z)").parts[0]) == f"{FUNCTION_TABLE['sigmoid'].plain}(z)"
