"""Feedback as a Korean instructor hands it out (issue 25): one diagnosis, the most specific; the
problem's own names (never an auto-staged gate such as wxpb); a counterexample with the few values
that matter; the feedback PDF's formulas in math mode with the particle the formula is read with;
answer-file errors in the chosen language."""
import re

import pytest

from derive import i18n, problems
from derive.errors import DeriveError
from derive.grading.answers import Diagnosis
from derive.grading.explain import MAX_VALUES, describe, shown, shown_values
from derive.grading.feedback import batch, feedback_markdown, feedback_tex, fill, math_tex, read_answers
from derive.grading.verify import verify
from derive.pipeline import solve

SOLVED = {}
FALLBACK = re.compile(r"은\(는\)|는\(은\)|이\(가\)|가\(이\)|을\(를\)|를\(을\)|와\(과\)|과\(와\)|\(으\)로")


def solved(source):
    if source not in SOLVED:
        SOLVED[source] = solve(problems.load(source))
    return SOLVED[source]


def d(code, together=False):
    x = Diagnosis(code, code)
    x.together = together
    return x


@pytest.mark.parametrize("given, kept", [
    (["other-gradient", "missing-factor", "other-gradient", "other-gradient"], ["missing-factor"]),
    (["missing-factor", "wrong-activation"], ["wrong-activation"]),
    (["factor-half", "part-of-factor"], ["part-of-factor"]),
    (["sign", "sign-in-factor"], ["sign-in-factor"]),
    (["left-side", "ratio", "factor-2"], ["left-side", "factor-2"]),
    (["unbound-index", "wrong-index", "wrong-quantity"], ["wrong-index"]),
    (["unbound-index", "wrong-quantity", "other-gradient"], ["unbound-index", "wrong-quantity"]),
    (["generic"], ["generic"]),
    (["extra-term", "generic"], ["extra-term"]),
])
def test_one_diagnosis_the_most_specific(given, kept):
    assert [str(x) for x in shown([d(c) for c in given])] == kept


def test_two_mistakes_at_once_are_both_shown():
    both = [d("sign"), d("missing-factor", together=True)]
    assert [str(x) for x in shown(both)] == ["sign", "missing-factor"]


@pytest.mark.parametrize("n", [1, 3, MAX_VALUES, MAX_VALUES + 1, 16])
def test_counterexample_values(n):
    point = {f"x_{i}": float(i) for i in range(n)}
    cx = {"point": point, "quantities": {"o_1": 0.75, "h_1": 0.59}}
    values, whole = shown_values(cx)
    assert whole == (n <= MAX_VALUES)
    assert values == (point if n <= MAX_VALUES else cx["quantities"])


@pytest.mark.parametrize("plain, pieces", [
    ("∂L/∂w_kj", [r"\partial L", r"\partial w_{kj}"]),
    ("∂o_k/∂net_k = o_k*(1 - o_k)", [r"\partial o_{k}", r"\mathrm{net}_{k}", "1 - o_{k}", " = "]),
    ("δ_k", [r"\delta_{k}"]),
    ("w^h_11 = 0.15", ["w^{h}_{11}", "0.15"]),
    ("σ′", [r"\sigma'"]),
    ("1 - h_j^2", ["h_{j}^{2}"]),
    ("2×3", [r"2 \times 3"]),  # a shape, not a product
    ("tanh(b + w*x)", [r"\tanh\left(b + w\,x\right)"]),
])
def test_formulas_are_math(plain, pieces):
    tex = math_tex(plain)
    assert tex is not None and all(p in tex for p in pieces), tex
    assert "\\frac" not in tex  # one line in a sentence


@pytest.mark.parametrize("plain", ["1 (항등 뉴런)", "the problem's own values", "", "$x$", "a\\b", "identity unit",
                                   "1 (identity unit)", "colsum(dY)"])
def test_words_are_not_math(plain):
    assert math_tex(plain) is None


@pytest.mark.parametrize("value, maths, words", [
    ("−∂L/∂net (Mitchell's δ_k = o_k(1 − o_k)(t_k − o_k))", [r"$-\partial L/\partial \mathrm{net}$",
                                                          r"$\delta_{k} = o_{k}"], ["Mitchell's"]),
    ("−∂L/∂net(Mitchell 교재의 정의, δ_k = o_k(1 − o_k)(t_k − o_k))", [r"$\delta_{k} = o_{k}"],
     ["Mitchell 교재의 정의"]),
    ("1 (항등 뉴런)", ["$1$"], ["(항등 뉴런)"]),
    ("1 (identity unit)", ["$1$"], ["(identity unit)"]),
])
def test_values_mixing_words_and_formulas(value, maths, words):
    from derive.grading.feedback import _tex_value
    tex = _tex_value(value)
    assert all(m in tex for m in maths) and all(w in tex for w in words), tex
    assert tex.count("$") % 2 == 0


# the particle a Korean speaker uses after each formula as read aloud (independent of the code's tables)
@pytest.mark.parametrize("plain, tex, obj, topic", [
    ("w_kj", "$w_{kj}$", "를", "는"),  # 더블유
    ("x_1", "$x_{1}$", "를", "는"),  # 엑스 (the subscript is not read)
    ("b_1", "$b_{1}$", "를", "는"),  # 비
    ("l", "$l$", "을", "은"),  # 엘
    ("o_k*(1 - o_k)", "$o_{k}(1 - o_{k})$", "를", "는"),  # ... 오
    ("h_j^2", "$h_{j}^{2}$", "을", "은"),  # 제곱
    ("σ′", r"$\sigma'$", "을", "은"),  # 프라임
    ("0.5", "$0.5$", "를", "는"),  # 영 점 오
    ("net_k", r"$\mathrm{net}_{k}$", "을", "은"),  # 넷
])
def test_particle_follows_the_formula_as_read(plain, tex, obj, topic):
    out = fill("{f}을(를) 곱하고 {f}은(는) 남깁니다", {"f": (plain, tex)}, str)
    assert out == f"{tex}{obj} 곱하고 {tex}{topic} 남깁니다"


def test_fill_escapes_words_not_values():
    out = fill("50% of {f} & more", {"f": ("x", "$x$")}, lambda t: t.replace("%", r"\%").replace("&", r"\&"))
    assert out == r"50\% of $x$ \& more"


OWN = """title = "Own neuron"
[graph]
f = "(tanh(w*x + b) - t)**2"
[values]
w = 0.5
x = 2
b = -1
t = 0.3
"""
GATES = re.compile(r"\b(wx|wxpb|tanhwxpb|diff|prod|sum)(_\d+)?\b")


@pytest.mark.parametrize("answer", ["2*(tanh(w*x+b)-t)*x", "2*(tanh(w*x+b)-t)*(1-tanh(w*x+b)**2)",
                                    "(tanh(w*x+b)-t)*(1-tanh(w*x+b)**2)*x", "2*(tanh(w*x+b)-t)*(1-tanh(w*x+b))*x",
                                    "-2*(tanh(w*x+b)-t)*(1-tanh(w*x+b)**2)*x"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_own_file_speaks_in_its_own_names(tmp_path, answer, lang):
    path = tmp_path / "own.toml"
    path.write_text(OWN)
    sol = solved(str(path))
    with i18n.language(lang):
        v = verify(sol, "w", answer)
        text = describe(v, answer)
    assert not v.correct
    assert not GATES.search(text.split("\n", 1)[1]), text
    assert len([line for line in text.splitlines() if line.startswith("  - ")]) == 1, text


ANSWERS = """
[[answer]]
student = "A"
wrt = "w_kj"
answer = "(o_k - t_k)*h_j"
[[answer]]
student = "B"
wrt = "delta_k"
answer = "(t_k - o_k)*o_k*(1-o_k)"
[[answer]]
student = "C"
wrt = "w_kj"
answer = "2*(o_k - t_k)*o_k*(1-o_k)*h_j"
[[answer]]
student = "D --delta-sign"
wrt = "w_ji"
answer = "$x$ -- y"
[[answer]]
student = "E"
wrt = "w_kj"
answer = "(o_k - t_k)*o_k*(1-o_k)*h_j"
"""


@pytest.fixture(scope="module")
def class_results(tmp_path_factory):
    path = tmp_path_factory.mktemp("fb") / "answers.toml"
    path.write_text(ANSWERS)
    sol = solved("mlp_222")
    with i18n.language("ko"):
        return sol, batch(sol, read_answers(str(path)))


def test_feedback_tex_typesets_math(class_results):
    sol, results = class_results
    with i18n.language("ko"):
        tex = feedback_tex(sol, results)
        md = feedback_markdown(sol, results)
    headings = re.findall(r"\\subsection\*\{(.*)\}", tex)
    assert len(headings) == 5 and all("$" in h for h in headings), headings
    assert r"\partial L/\partial w_{ji}" in headings[3]  # an unreadable answer keeps its L
    assert headings[3].startswith(r"D \mbox{-}\mbox{-}delta-sign: ")
    assert "--" not in tex.replace(r"\mbox{-}\mbox{-}", "")  # never a dash from two hyphens
    assert r"\texttt{\$x\$ \mbox{-}\mbox{-} y}" in tex  # the answer as written, verbatim
    assert not FALLBACK.search(tex) and not FALLBACK.search(md)
    assert "o_k*(1" not in tex and "w\\_kj" not in tex  # no ASCII math
    assert "시드" not in tex


def test_counterexample_shows_few_values(class_results):
    sol, results = class_results
    with i18n.language("ko"):
        md = feedback_markdown(sol, results)
    for line in md.splitlines():
        if line.startswith("- ") and "0.08216704056" in line:
            assert line.count(" = ") <= MAX_VALUES + 2, line
            assert "x_{1}" not in line and "b^{h}" not in line  # inputs the value does not depend on
            break
    else:
        raise AssertionError(md)


@pytest.mark.parametrize("body", ['[[answer]]\nstudent = "a"\nwrt = \n', "answer = [1, 2", "x = 1\n"])
def test_answers_file_errors_in_korean(tmp_path, body):
    path = tmp_path / "answers.toml"
    path.write_text(body)
    with i18n.language("ko"), pytest.raises(DeriveError) as err:
        read_answers(str(path))
    message = str(err.value)
    assert message.startswith(str(path)) and re.search("[가-힣]", message), message
    assert not re.search(r"\b(malformed|expected|Invalid|Expected)\b", message), message
