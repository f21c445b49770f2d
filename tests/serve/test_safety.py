"""The practice page refuses what it must: oversize, cross-site and malformed requests, and it escapes
everything a user typed or a problem file holds; an error page never shows a traceback."""
from __future__ import annotations

import pytest

from derive.serve.app import MAX_BODY, Config, make_app

Q = {"problem": "circuit", "wrt": "x", "answer": "z", "lang": "en", "student": "ann"}


@pytest.mark.parametrize(("change", "status"), [
    ({"answer": "z" * 2001}, 413), ({"student": "s" * 81}, 413), ({"wrt": "x" * 61}, 413),
    ({"lang": "fr"}, 400), ({"problem": "nope"}, 404), ({"answer": 3}, 400), ({"answer": None}, 400),
    ({"student": "a\u202eb"}, 400), ({"answer": "z\x1b[31m"}, 400),
])
def test_bad_fields_are_one_line_errors(client, change, status):
    r = client.post("/api/verify", json={**Q, **change})
    assert r.status_code == status
    assert r.json()["correct"] is None and "\n" not in r.json()["error"] and "Traceback" not in r.text


def test_body_limits_and_content_type(client):
    big = '{"answer": "' + "z" * MAX_BODY + '"}'
    r = client.post("/api/verify", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/api/verify", content="problem=circuit", headers=form)
    assert r.status_code == 415
    r = client.post("/api/verify", content="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = client.post("/api/verify", content="[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_cross_site_posts_are_refused(client):
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "http://127.0.0.1:9999"}):
        r = client.post("/api/verify", json=Q, headers=headers)
        assert r.status_code == 403, headers
    own = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    same = client.post("/api/verify", json=Q, headers=own)
    assert same.status_code == 200 and same.json()["correct"] is True


def test_user_text_is_escaped_everywhere(client):
    evil = '<script>alert(1)</script>"\'&'
    r = client.get("/practice/circuit", params={"student": evil})
    assert r.status_code == 200, r.text[-300:]
    page = r.text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\u003cscript\\u003e" in page  # the page's setup JSON cannot close its <script>
    index = client.get("/", params={"student": evil}).text
    assert "<script>alert" not in index
    client.post("/api/verify", json={**Q, "student": evil, "answer": "<img src=x onerror=alert(1)>"})
    teacher = client.get("/teacher").text
    assert "<script>alert" not in teacher and "<img src=x" not in teacher
    assert "&lt;img src=x onerror=alert(1)&gt;" in teacher
    assert client.get("/teacher/attempts.csv").headers["content-type"].startswith("text/csv")


def test_csv_cells_are_not_formulas(client):
    client.post("/api/verify", json={**Q, "student": "=HYPERLINK(\"http://x\")"})
    text = client.get("/teacher/attempts.csv").text
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text and "'=HYPERLINK" in text


def test_error_pages_have_no_traceback(client):
    for path in ("/nope", "/practice/nope", "/practice/circuit?lang=xx", "/static/../../etc/passwd"):
        r = client.get(path)
        assert r.status_code in (400, 404), path
        assert "Traceback" not in r.text and "File \"" not in r.text
    r = client.get("/api/verify")
    assert r.status_code == 405 and "Traceback" not in r.text


def test_headers_forbid_foreign_scripts(client):
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_problem_file_text_is_escaped(tmp_path):
    from starlette.testclient import TestClient
    f = tmp_path / "evil.toml"
    f.write_text('title = "<b>bold</b> & $x^2$"\ndescription = "<script>alert(2)</script>"\n'
                 '[graph]\nf = "x * y"\n[values]\nx = 2\ny = 3\n', encoding="utf-8")
    from derive.api import load
    load(str(f))  # a valid problem file (the loader says what is wrong otherwise)
    app = make_app(Config(sources=[str(f)], db=str(tmp_path / "a.sqlite"), workers=1))
    with TestClient(app) as c:
        assert app.state.site.pool.ready(120)
        listed = c.get("/api/exercises").json()
        assert [e["id"] for e in listed] == ["evil"]
        for html in (c.get("/").text, c.get("/practice/evil").text):
            assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp;" in html
            assert "<script>alert(2)" not in html
        assert "<math" in c.get("/practice/evil").text  # the $x^2$ of the title is typeset


def test_a_slow_check_is_stopped_and_its_worker_replaced(tmp_path):
    from derive.serve.pool import Pool, TaskTimeout
    with Pool([], workers=1, timeout=0.001) as pool:
        assert pool.ready(120)
        with pytest.raises(TaskTimeout):
            pool.call("verify", "mlp_tanh_softmax", "w_ji", "(o_k - t_k) w_kj (1 - h_j^2) x_i", "en", "slow")
        assert pool.ready(120)
        assert pool.call("verify", "circuit", "x", "z", "en", "", timeout=60)["correct"] is True
