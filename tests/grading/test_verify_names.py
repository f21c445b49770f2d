"""Every name derive prints reads back when a student types it, and the answer is shown as read.

The names listed in an error ("it may use ..."), the --wrt keys, the concrete names of counterexamples
and reports (w^o_12, a^3,(2)_1, delta^2_1) and the did-you-mean suggestions all parse; a wrong name
gets the list, never "refers to ?". The read-as text shows the structure the parser found.
"""
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from verify_table import NEW_NETWORKS

from derive import problems
from derive.cli import main
from derive.grading.reading import read_answer
from derive.grading.targets import find_target, targets_of
from derive.grading.verify import VerifyError, verify
from derive.pipeline import solve

PROBLEMS = ["mlp_222", "mlp_nielsen", "mlp_relu_batch", "mlp_tanh_softmax", "nielsen_2222", "mitchell_relu_batch"]
_SOL = {}


def sol(name):
    if name not in _SOL:
        p = problems.loads(NEW_NETWORKS[name], name) if name in NEW_NETWORKS else problems.load(name)
        _SOL[name] = solve(p)
    return _SOL[name]


@pytest.mark.parametrize("name", PROBLEMS)
def test_listed_names_read_back_as_themselves(name):
    for key, target in targets_of(sol(name)).items():
        assert find_target(key, targets_of(sol(name))) == key
        for shown in target.names.shown():
            reading = read_answer(shown, target.names)
            assert reading.parts == (("name", shown),), (key, shown, reading)


@pytest.mark.parametrize("name", PROBLEMS)
def test_concrete_names_read_back_in_element_answers(name):
    s = sol(name)
    targets = targets_of(s)
    element = next(k for k, t in targets.items() if t.kind == "element")
    for node in s.derivation.graph.nodes:
        if node.name == s.derivation.graph.output:
            continue
        verify(s, element, node.name)  # a verdict, never "not a quantity of this problem"
    for dname in s.extra.deltas.values():
        verify(s, element, dname)


def test_unknown_names_get_the_list_and_a_suggestion():
    with pytest.raises(VerifyError) as err:
        verify(sol("mlp_nielsen"), "w^l_jk", "q^l-1_k delta^l_j")
    message = str(err.value)
    assert "'q^l-1_k', which is not a quantity" in message and "a^l-1_k" in message and "refers to ?" not in message
    v = verify(sol("mlp_nielsen"), "w^l_jk", "a^l-2_k delta^l_j")  # a layer that does not exist: a verdict
    assert not v.correct and "a^{l-2}_1, which does not exist" in v.diagnosis[0]
    with pytest.raises(VerifyError) as err:
        verify(sol("mlp_nielsen"), "w^l_jk", "a^l-1_k delt^l_j")
    assert "did you mean" in str(err.value)
    listed = re.search(r"It may use: (.*?);", str(err.value)).group(1).split(", ")
    for name in listed:  # the suggestion list reads back
        verify(sol("mlp_nielsen"), "w^l_jk", name)


@pytest.mark.parametrize("wrt,answer", [
    ("w^l_jk", "a^l-1_k delta^l_j"), ("w^l_jk", "a^{l−1}_k δ^l_j"), ("w^l_jk", "a_k^{l-1} δ_j^l"),
    ("delta^l_j", "sum_i w^l+1_ij delta^l+1_i a^l_j(1-a^l_j)"), ("delta^l_j", "Σ_i w^{l+1}_ij δ^{l+1}_i σ′(z^l_j)"),
    ("delta^l_j", r"\sum_i w^l+1_{ij} \delta^{l+1}_i \sigma'(z^l_j)"), ("W2[1,2]", "a^2_2 delta^3_1"),
])
def test_nielsen_names_as_printed_are_read(wrt, answer):
    assert verify(sol("mlp_nielsen"), wrt, answer).correct


def test_batch_names_with_the_sample_in_the_superscript():
    s = sol("mlp_relu_batch")
    assert verify(s, "w^L_jk", "Σ_n a^{L-1,(n)}_k δ^{L,(n)}_j").correct
    assert verify(s, "w^L_jk", r"\sum_n a^{L-1}_{nk} \delta^L_{nj}").correct
    assert verify(s, "delta^L_j", "a^L_nj - y_nj").correct  # --wrt without the sample letter
    assert verify(s, "W1[1,1]", "a^1,(1)_1 delta^2,(1)_1 + a^1,(2)_1 delta^2,(2)_1").correct


@pytest.mark.parametrize("answer,shown", [
    (r"\sigma(net_k)(1-\sigma(net_k))", "σ(net_k)(1 − σ(net_k))"),
    ("x_i h_j(1-h_j) sum_k (o_k - t_k) o_k(1-o_k) w_kj", "x_i h_j(1 − h_j) Σ_k[(o_k − t_k) o_k(1 − o_k) w_kj]"),
    ("-sum_k(δ_k w_kj) h_j", "−Σ_k[δ_k w_kj h_j]"),
    ("∂E/∂o_k o_k(1-o_k)", "∂E/∂o_k o_k(1 − o_k)"),
    ("(1-h_j²)", "1 − h_j²"),
    ("1[net_j > 0]", "step(net_j)"),
    ("𝟙(0 < net_j - b_j)", "step(net_j − b_j)"),
])
def test_the_answer_is_shown_as_it_was_read(answer, shown):
    from derive.grading.showing import show_plain
    t = targets_of(sol("mlp_222"))["w_kj"]
    assert show_plain(read_answer(answer, t.names).parts[0]) == shown


def test_cli_shows_how_the_answer_was_read():
    r = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "w_kj", "--answer",
                                  r"\sigma(net_k)(1-\sigma(net_k))(o_k - t_k) h_j"])
    assert r.exit_code == 0 and "read as: σ(net_k)(1 − σ(net_k))(o_k − t_k) h_j" in r.output
    r = CliRunner().invoke(main, ["verify", "mlp_222", "--wrt", "w_kj", "--answer", "o_k(1-o_k) h_j", "--json"])
    data = json.loads(r.output)
    assert r.exit_code == 1 and data["read_as"] == "o_k(1 − o_k) h_j"
    assert data["read_as_latex"] == r"o_{k}\,\left(1 - o_{k}\right)\,h_{j}"


ALPHABET = list("xyzhjkoti_^{}()[]+-*/=,.'′²Σσδ∂ 0123\\") + ["\\sum", "\\frac", "sum_k", "w_kj", "δ_k",
                                                            "a^{l-1}_k", "1[", "> 0]", "\\sigma", "∂E/∂"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=25).map("".join),
       st.sampled_from(["w_kj", "delta_j", "W2[1,2]"]))
def test_any_text_is_a_verdict_or_one_clear_error(text, wrt):
    try:
        v = verify(sol("mlp_222"), wrt, text)
    except VerifyError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert isinstance(v.correct, bool) and (v.correct or v.diagnosis)
