"""derive verify in Korean (--lang ko): the verdicts, diagnoses, counterexample sentences and the
batch feedback come from the catalog, hold Hangul and none of the English message's words; the
verdict itself (right or wrong, which mistake, the counterexample's numbers) does not depend on the
language, and English output stays English.

The expected Korean texts are the catalog's translations of the English messages (gettext under
i18n.language("ko")), formatted with the math the English verdict names: the engine's diagnosis is
checked against the English message by the other verify tests, and here against its translation."""
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from derive import i18n, problems
from derive.cli import main
from derive.grading.answers import code_of
from derive.grading.explain import describe
from derive.grading.verify import VerifyError, verify
from derive.pipeline import solve

SOLVED = {}


def solved(name):
    if name not in SOLVED:
        SOLVED[name] = solve(problems.load(name))
    return SOLVED[name]


def run(*args):
    return CliRunner().invoke(main, ["verify", *args])


def ko(msgid, **values):
    with i18n.language("ko"):
        text = i18n._(msgid)
    assert text != msgid, f"not translated: {msgid!r}"
    return text.format(**values) if values else text


def english_words(message):
    """The words of an English message, without its placeholders and one-letter names."""
    return {w for w in re.findall(r"[A-Za-z]{3,}", re.sub(r"\{\w*\}", " ", message))}


def assert_korean(text, message):
    assert i18n.hangul(text), text
    left = [w for w in english_words(message) if re.search(rf"\b{w}\b", text)]
    assert not left, f"English words {left} in {text!r}"


def both(problem, wrt, answer):
    """The verdict in English and in Korean, on the same solution."""
    sol = solved(problem)
    english = verify(sol, wrt, answer)
    with i18n.language("ko"):
        korean = verify(sol, wrt, answer)
    return english, korean


def same_verdict(english, korean):
    assert english.correct == korean.correct
    assert [code_of(d) for d in english.diagnosis] == [code_of(d) for d in korean.diagnosis]
    assert english.counterexample == korean.counterexample or (
        {k: v for k, v in english.counterexample.items() if k != "note"}
        == {k: v for k, v in korean.counterexample.items() if k != "note"})
    assert english.label == korean.label and english.read_as == korean.read_as


# ---------------------------------------------------------------- the three diagnoses of the issue

SIGN = "sign error: the answer is the negative of the gradient"
FACTOR_2 = "a factor of 2: the loss L = ½Σ(t − o)² has a ½ that cancels the 2 from the square"
MISSING = "missing factor {factor}"


def test_sign_error_in_korean():
    english, korean = both("mlp_222", "w_kj", "(t_k - o_k) o_k(1 - o_k) h_j")
    assert english.diagnosis[0] == SIGN and code_of(english.diagnosis[0]) == "sign"
    assert korean.diagnosis[0] == ko(SIGN)
    assert "부호" in korean.diagnosis[0] and "기울기" in korean.diagnosis[0]  # the glossary's gradient
    assert_korean(korean.diagnosis[0], SIGN)
    same_verdict(english, korean)


def test_factor_2_in_korean():
    english, korean = both("mlp_222", "w_kj", "2(o_k - t_k) o_k(1 - o_k) h_j")
    assert english.diagnosis == [FACTOR_2]
    assert korean.diagnosis == [ko(FACTOR_2)]
    assert "½Σ(t − o)²" in korean.diagnosis[0]  # the math stays as it is
    assert_korean(korean.diagnosis[0], FACTOR_2)
    same_verdict(english, korean)


def test_missing_factor_in_korean():
    english, korean = both("mlp_222", "w_kj", "(o_k - t_k) h_j")
    first = english.diagnosis[0]
    m = re.fullmatch(r"missing factor (∂o_k/∂net_k = .+)", first)
    assert m and code_of(first) == "missing-factor", english.diagnosis
    assert korean.diagnosis[0] == ko(MISSING, factor=m.group(1))
    assert_korean(korean.diagnosis[0], MISSING)
    same_verdict(english, korean)


@pytest.mark.parametrize(("problem", "wrt", "answer", "code"), [
    ("mlp_222", "delta_j", "h_j(1-h_j) sum_k(delta_k w_jk)", "wrong-index"),
    ("mlp_222", "delta_j", "h_j(1-h_j) delta_k w_kj", "unbound-index"),
    ("mlp_222", "delta_j", "h_j(1-h_j) sum_k(w_kj)", "missing-upstream"),
    ("mlp_222", "delta_k", "o_k(1-o_k)(t_k-o_k)", "delta-convention"),
    ("mlp_222", "w_kj", "0.08216704056", "number"),
    ("circuit", "x", "y", "wrong-quantity"),
    ("fanout", "x", "2x", "missing-path"),
    ("affine_layer", "W", "dY X^T", "shape"),
    ("affine_layer", "W", "-X^T dY", "sign"),
    ("affine_layer", "B", "dY", "shape"),
])
def test_other_diagnoses_are_korean_too(problem, wrt, answer, code):
    english, korean = both(problem, wrt, answer)
    assert not korean.correct and code_of(korean.diagnosis[0]) == code, english.diagnosis
    same_verdict(english, korean)
    for e, k in zip(english.diagnosis, korean.diagnosis):
        assert not i18n.hangul(e) and i18n.hangul(k), (e, k)
        assert k != e
    assert i18n.hangul(korean.method)


def test_wrong_index_keeps_the_names_the_answer_used():
    """The Korean wrong-index message names the student's w_jk first, like the English one (the
    unbound-index search rewrites that name)."""
    english, korean = both("mlp_222", "delta_j", "h_j(1-h_j) sum_k(delta_k w_jk)")
    assert english.diagnosis[0] == "the wrong index: w_jk where w_kj belongs"
    assert korean.diagnosis[0] == ko("the wrong index: {new} where {old} belongs", new="w_jk", old="w_kj")


# ---------------------------------------------------------------- the terminal, JSON, the API


def test_correct_verdict_in_korean():
    sol = solved("mlp_222")
    answer = "(o_k - t_k) o_k(1 - o_k) h_j"
    with i18n.language("ko"):
        v = verify(sol, "w_kj", answer)
        text = describe(v, answer)
    assert v.correct and v.diagnosis == []
    first = text.splitlines()[0]
    assert first == ko("correct: {answer} = {label}", answer=answer, label="∂L/∂w_kj")
    assert_korean(first, "correct: {answer} = {label}")
    assert ko("  read as: {answer}", answer=v.read_as) in text
    assert_korean(text, "correct read as numeric random points digits")


def test_cli_text_in_korean_and_english():
    args = ("mlp_222", "--wrt", "w_kj", "--answer", "(t_k - o_k) o_k(1 - o_k) h_j")
    korean = run(*args, "--lang", "ko")
    english = run(*args)
    assert korean.exit_code == english.exit_code == 1
    assert ko(SIGN) in korean.output and SIGN in english.output
    assert korean.output.startswith(ko("wrong: {answer} is not {label}", answer=args[-1], label="∂L/∂w_kj"))
    assert_korean(korean.output, "wrong is not read as counterexample at the problem's own values expected "
                                 "your answer gives numeric random points digits " + SIGN)
    assert not i18n.hangul(english.output) and english.output.startswith("wrong: ")
    # the few values the two values depend on, not the network's 16 inputs
    assert "counterexample for k = 1, j = 1 at the problem's own values, where h_1 = 0.5932699921" in english.output
    assert "x_1 = 0.05" not in english.output
    numbers = re.findall(r"-?\d+\.\d+", english.output)
    assert numbers and numbers == re.findall(r"-?\d+\.\d+", korean.output)  # the same counterexample


def test_json_in_korean_keeps_its_keys():
    args = ("mlp_222", "--wrt", "w_kj", "--answer", "2(o_k - t_k) o_k(1 - o_k) h_j", "--json")
    korean, english = run(*args, "--lang", "ko"), run(*args)
    assert korean.exit_code == english.exit_code == 1
    k, e = json.loads(korean.output), json.loads(english.output)
    assert set(k) == set(e) and set(k["counterexample"]) == set(e["counterexample"])
    assert k["diagnosis"] == [ko(FACTOR_2)] and e["diagnosis"] == [FACTOR_2]
    assert k["counterexample"] == e["counterexample"] and k["gradient"] == e["gradient"] == "∂L/∂w_kj"
    assert k["correct"] is False and k["reference"] == e["reference"] and k["answer"] == e["answer"]
    assert i18n.hangul(k["method"]) and not i18n.hangul(json.dumps(e, ensure_ascii=False))


def test_unreadable_answer_in_korean():
    sol = solved("mlp_222")
    with i18n.language("ko"), pytest.raises(VerifyError) as err:
        verify(sol, "w_kj", "(o_k - t_k) h_j @")
    message = str(err.value)
    assert message.startswith(ko("cannot read the answer: {message}", message=""))
    assert ko("unexpected character {character}", character="'@'") in message
    assert_korean(message, "cannot read the answer unexpected character")
    with pytest.raises(VerifyError, match=r"^cannot read the answer: unexpected character '@' in "):
        verify(sol, "w_kj", "(o_k - t_k) h_j @")
    with i18n.language("ko"), pytest.raises(VerifyError) as err:  # math delimiters: say to type the formula alone
        verify(sol, "w_kj", "$(o_k - t_k) h_j$")
    assert ko("'$' cannot be used: type the expression alone, without math delimiters") in str(err.value)


def test_python_api_verdict_markdown_in_korean():
    import derive
    english = derive.verify("mlp_222", wrt="w_kj", answer="(t_k - o_k) o_k(1 - o_k) h_j")
    with i18n.language("ko"):
        korean = derive.verify("mlp_222", wrt="w_kj", answer="(t_k - o_k) o_k(1 - o_k) h_j")
        md = korean._repr_markdown_()
    assert english._repr_markdown_().startswith("**Wrong:**")
    blank = [line == "" for line in english._repr_markdown_().splitlines()]
    assert [line == "" for line in md.splitlines()] == blank  # the same paragraphs and list
    assert blank[1] and blank[3], "the verdict, how it was read and the list are separate paragraphs"
    assert md.startswith(ko("**Wrong:** %(answer)s is not $%(label)s$.").split("%(answer)s")[0])
    assert ko(SIGN) in md
    for word in ("Wrong", "Read as", "Counterexample", "expected", "the answer gives"):
        assert word not in md, word


def test_the_language_of_one_verdict_does_not_leak_into_the_next():
    """The mistakes simulated for a target are cached with their texts: per language."""
    sol = solved("mlp_222")
    answer = "(o_k - t_k) h_j"
    first = verify(sol, "w_kj", answer).diagnosis
    with i18n.language("ko"):
        korean = verify(sol, "w_kj", answer).diagnosis
    again = verify(sol, "w_kj", answer).diagnosis
    assert first == again and not any(i18n.hangul(d) for d in again)
    assert all(i18n.hangul(d) for d in korean)


# ---------------------------------------------------------------- batch feedback


ANSWERS = '''
[[answer]]
student = "김민준"
wrt = "w_kj"
answer = "(o_k - t_k) o_k(1 - o_k) h_j"

[[answer]]
student = "이서연"
wrt = "w_kj"
answer = "(t_k - o_k) o_k(1 - o_k) h_j"

[[answer]]
student = "박지호"
wrt = "w_kj"
answer = "(o_k - t_k) h_j"

[[answer]]
student = "최수아"
wrt = "w_kj"
answer = "2(o_k - t_k) o_k(1 - o_k) h_j"

[[answer]]
student = "윤도윤"
wrt = "w_ji"
answer = "h_j(1-h_j) x_i $"
'''

ENGLISH_FEEDBACK = ("Feedback", "answers correct", "Answer", "Correct.", "Wrong.", "Read as", "which equals",
                    "which is not", "Counterexample", "expected", "the answer gives", "Could not check",
                    "cannot read", "unexpected character", "sign error", "missing factor", "a factor of 2",
                    "numeric", "random points")


def test_batch_feedback_in_korean(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS, encoding="utf-8")
    pdf = bool(shutil.which("latexmk")) and shutil.which("lualatex") and shutil.which("pdftotext")
    if not pdf:
        pytest.skip("latexmk/lualatex are not installed (scripts/ensure-tex.sh ko installs them)")
    out = tmp_path / "ko"
    r = run("mlp_222", "--answers", str(answers), "-o", str(out), "--lang", "ko")
    assert r.exit_code == 0, r.output
    assert r.output.startswith(ko("{correct} of {total} answers correct, {unchecked} could not be checked; "
                                  "wrote {paths}", correct=1, total=5, unchecked=1, paths="")[:20])
    md = (out / "feedback.md").read_text(encoding="utf-8")
    title = problems.localized(problems.load("mlp_222"), "ko").title
    assert i18n.hangul(title)
    heading = md.splitlines()[0]
    assert heading.startswith("# " + ko("Feedback: {title}", title="")) and "신경망" in heading
    assert ko("{correct} of {total} answers correct.", correct=1, total=5) in md
    for message in ("Correct.", "Wrong.", "Could not check:", "Answer as written:"):
        assert ko(message) in md, message
    assert ko(SIGN) in md and ko(FACTOR_2) in md
    point = "$h_{1} = 0.5932699921$, $o_{1} = 0.7513650696$, $t_{1} = 0.01$, $w^{o}_{11} = 0.4$"
    counterexample = ko("Counterexample for {bindings} at the problem's own values, where {point}: expected "
                        "{expected}, the answer gives {got}.", point=point, bindings="$k = 1$, $j = 1$",
                        expected="$0.08216704056$", got="$-0.08216704056$")
    assert "- " + counterexample in md  # the values that matter, in math, as the English verdict has them
    assert "x\\_1" not in md and "x_{1}" not in md  # not the network's 16 inputs
    for words in ENGLISH_FEEDBACK:
        assert words not in md, words
    text = subprocess.run(["pdftotext", str(out / "feedback.pdf"), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    assert "[U+" not in text
    assert "김민준" in text and "신경망" in text and ko(SIGN).split(":")[0] in text and "오답입니다" in text
    assert ko("Feedback: {title}", title="").strip() in text
    for words in ENGLISH_FEEDBACK:
        assert words not in text, words


def test_batch_feedback_in_english_stays_english(tmp_path):
    from derive.grading.feedback import batch, feedback_markdown, feedback_tex
    sol = solved("mlp_222")
    entries = [{"student": "Ann", "wrt": "w_kj", "answer": "(t_k - o_k) o_k(1 - o_k) h_j"},
               {"student": "Ben", "wrt": "w_kj", "answer": "(o_k - t_k) o_k(1 - o_k) h_j"}]
    results = batch(sol, entries)
    md, tex = feedback_markdown(sol, results), feedback_tex(sol, results)
    assert not i18n.hangul(md) and not i18n.hangul(tex)
    assert "1 of 2 answers correct." in md and "- " + SIGN in md
    assert "- Counterexample for $k = 1$, $j = 1$ at the problem's own values, where $h_{1} = 0.5932699921$" in md
    assert "expected $0.08216704056$" in md and "x\\_1" not in md
    assert r"\textbf{\color{bad}Wrong.} Read as $\displaystyle" in tex
    assert r"\textbf{Correct.} Read as $\displaystyle" in tex
