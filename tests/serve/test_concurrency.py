"""50 students at once get the verdicts they get alone, and no attempt is lost."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .test_api import CASES

STUDENTS = ["", "ann", "bo", "cy"]


def _questions(n: int = 50) -> list[dict]:
    out = []
    for i in range(n):
        problem, wrt, answer, _ = CASES[i % len(CASES)]
        out.append({"problem": problem, "wrt": wrt, "answer": answer, "lang": "ko" if i % 5 == 0 else "en",
                    "student": STUDENTS[i % len(STUDENTS)]})
    return out


def test_fifty_concurrent_verifies_match_serial(server):
    questions = _questions()
    with httpx.Client(base_url=server.url, timeout=120) as c:
        serial = [c.post("/api/verify", json=q).json() for q in questions]
    before = server.app.state.site.store.count()

    def one(q):
        with httpx.Client(base_url=server.url, timeout=120) as c:
            r = c.post("/api/verify", json=q)
            return r.status_code, r.json()

    with ThreadPoolExecutor(50) as pool:
        concurrent = list(pool.map(one, reversed(questions)))[::-1]
    assert [s for s, _ in concurrent] == [422 if v["correct"] is None else 200 for v in serial]
    assert [v for _, v in concurrent] == serial
    assert server.app.state.site.store.count() == before + len(questions)
    by_hand = [CASES[i % len(CASES)][3] for i in range(len(questions))]
    assert [v["correct"] for v in serial] == by_hand


def test_store_keeps_every_concurrent_write(tmp_path):
    from derive.serve.store import Store
    store = Store(tmp_path / "a.sqlite")
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(lambda i: store.add(f"s{i}", "circuit", "x", "z", {"correct": True, "diagnosis": []}, "en", 1.0),
                      range(200)))
    assert store.count() == 200
    assert len(store.summary()) == 200


def test_opening_a_page_solves_the_variant_in_every_worker(client):
    import json
    import time
    assert client.get("/practice/fanout", params={"student": "pat"}).status_code == 200
    key = json.dumps(["fanout", "en", "pat"])
    deadline = time.monotonic() + 120
    while not all(key in s.warm for s in client.site.pool._slots):
        assert time.monotonic() < deadline, "the other workers never solved the variant"
        time.sleep(0.2)
    answers = {client.post("/api/verify", json={"problem": "fanout", "wrt": "x", "answer": f"y + 2x{' ' * i}",
                                                "student": "pat"}).json()["correct"] for i in range(4)}
    assert answers == {True}
