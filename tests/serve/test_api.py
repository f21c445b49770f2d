"""The JSON API of the practice page: the verdicts are `derive verify --json`'s, students get their own values."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from derive.cli import main

# (problem, wrt, answer, correct by hand: None when it cannot be read or asked)
CASES = [
    ("circuit", "x", "z", True), ("circuit", "y", "z", True), ("circuit", "z", "x + y", True),
    ("circuit", "x", "x + y", False), ("circuit", "z", "x*y", False), ("circuit", "x", "-z", False),
    ("fanout", "x", "y + 2x", True), ("fanout", "x", "y + x", False), ("fanout", "y", "x", True),
    ("neuron_sigmoid", "w_2", "f(1-f)", True), ("neuron_sigmoid", "x_0", "f(1 - f) w_0", True),
    ("neuron_sigmoid", "x_0", "f(1-f) x_0", False),
    ("mlp_222", "w_kj", "(o_k - t_k) o_k(1 - o_k) h_j", True), ("mlp_222", "w_kj", "(o_k - t_k) o_k h_j", False),
    ("mlp_222", "w_kj", r"\left(o_k - t_k\right) \cdot o_k (1 - o_k) \cdot h_j", True),
    ("affine_layer", "W", "X^T dY", True), ("affine_layer", "W", "dY X^T", False),
    ("circuit", "q9", "z", None), ("circuit", "x", "((z", None),
]


def cli_json(problem, wrt, answer, lang="en"):
    r = CliRunner().invoke(main, ["verify", problem, "--wrt", wrt, "--answer", answer, "--json", "--lang", lang])
    return json.loads(r.stdout)


def post(client, path, **body):
    return client.post(path, json=body)


@pytest.mark.parametrize(("problem", "wrt", "answer", "truth"), CASES)
def test_verify_is_derive_verify_json(client, problem, wrt, answer, truth):
    r = post(client, "/api/verify", problem=problem, wrt=wrt, answer=answer, lang="en", student="")
    assert r.json() == cli_json(problem, wrt, answer)
    assert r.json()["correct"] is truth
    assert r.status_code == (422 if truth is None else 200)


def test_korean_verdict_is_the_korean_cli(client):
    body = post(client, "/api/verify", problem="circuit", wrt="x", answer="-z", lang="ko", student="").json()
    assert body == cli_json("circuit", "x", "-z", "ko")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in " ".join(body["diagnosis"]))


def test_exercises_list_every_builtin(client):
    from derive.api import builtins
    listed = client.get("/api/exercises").json()
    ids = [e["id"] for e in listed]
    assert set(ids) <= set(builtins()) and {"circuit", "fanout", "mlp_222", "affine_layer"} <= set(ids)
    circuit = next(e for e in listed if e["id"] == "circuit")
    assert circuit["kind"] == "scalar" and sorted(circuit["wrt"]) == ["x", "y", "z"]


def test_read_preview(client):
    r = post(client, "/api/read", problem="mlp_222", wrt="w_kj", answer="(o_k - t_k)*o_k*(1-o_k)*h_j", student="")
    body = r.json()
    assert r.status_code == 200 and body["read_as"] == "(o_k − t_k) o_k(1 − o_k) h_j"
    assert body["mathml"].startswith("<math") and "<script" not in body["mathml"]
    bad = post(client, "/api/read", problem="mlp_222", wrt="w_kj", answer="(o_k", student="")
    assert bad.status_code == 422 and bad.json()["error"]


def _given(client, problem, student):
    from derive.serve import work
    work.setup([])
    return work.page(problem, student, "en", None)["given"]


def test_students_get_their_own_seeded_values(client):
    """The same name gives the same numbers, other names other numbers; a right symbolic answer is
    right for every student, and a wrong one's counterexample is at that student's values."""
    values = {s: _given(client, "circuit", s) for s in ("ann", "bo", "cy", "di", "ed")}
    assert len({json.dumps(v) for v in values.values()}) > 1
    assert _given(client, "circuit", "ann") == values["ann"]
    own = 0
    for s in values:
        ok = post(client, "/api/verify", problem="circuit", wrt="z", answer="x + y", student=s).json()
        assert ok["correct"] is True
        bad = post(client, "/api/verify", problem="circuit", wrt="z", answer="x - y", student=s).json()
        assert bad["correct"] is False
        cx = bad["counterexample"]
        p = {k: float(v) for k, v in cx["point"].items()}
        assert cx["expected"] == pytest.approx(p["x"] + p["y"]) and cx["got"] == pytest.approx(p["x"] - p["y"])
        if cx.get("own_point"):  # the check's first point is the student's own numbers, as the page shows them
            assert p == {k: float(v) for k, v in values[s]}
            own += 1
    assert own >= 3  # most counterexamples are at the student's own values


def test_page_shows_statement_math_figure_and_hints(client):
    r = client.get("/practice/staged", params={"student": "ann"})
    assert r.status_code == 200
    html = r.text
    assert "<math" in html and 'id="answer"' in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert 'class="hint"' in html
    ko = client.get("/practice/staged", params={"student": "ann", "lang": "ko"}).text
    assert '<html lang="ko">' in ko
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ko.split("<h1")[1].split("</h1>")[0])  # the Korean title


def test_attempts_are_stored_and_exported(client):
    before = client.site.store.count()
    post(client, "/api/verify", problem="circuit", wrt="x", answer="z", student="zoe")
    assert client.site.store.count() == before + 1
    page = client.get("/teacher").text
    assert "zoe" in page
    csv_text = client.get("/teacher/attempts.csv").text
    assert csv_text.splitlines()[0].startswith("id,at,student,exercise")
    assert any(",zoe,circuit,x,z,1," in line for line in csv_text.splitlines())


def test_matrix_layer_page_states_its_matrices_and_lists_speak_korean(client):
    html = client.get("/practice/affine_layer", params={"student": "ann"}).text
    assert html.count("<mtable") >= 3  # X, W and dY as matrices
    ko = client.get("/api/exercises", params={"lang": "ko"}).json()
    assert any("\uac00" <= ch <= "\ud7a3" for ch in next(e for e in ko if e["id"] == "circuit")["title"])
