"""A class on the practice page, simulated on loopback (`make bench`): students open their page, then
submit answers; counts errors and lost attempts and measures the latency of every submit.

    run(students=50, submits=(10, 20), think=(2.0, 6.0)) -> {"p95_ms", "errors", "lost", ...}

Each student is a thread with its own HTTP connection and a seeded plan: one built-in exercise, then
10–20 answers to it, right and wrong (the answers of ANSWERS, retyped: the spaces around them vary, so a
verdict cached for the exact text seldom applies), with a think time between submits (a person reads the
verdict and types; 2–6 s is a fast student). think=(0, 0) is a burst: every student submits back to back.
The server is the real one (uvicorn, worker processes, SQLite in a temporary folder), on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

P95_GOAL = 300  # ms, the latency of a submit that 95% of submits stay under

ANSWERS = {  # exercise -> (wrt, answers a student might type, right and wrong)
    "circuit": ("z", ["x + y", "x - y", "x*y", "(x+y)", "z"]),
    "fanout": ("x", ["y + 2x", "y + x", "2x", "y + 2*x"]),
    "staged": ("y", ["1/den", "sigy(1-sigy)/den", "sigy(1 - sigy) invden", "invden"]),
    "neuron_sigmoid": ("w_2", ["f(1-f)", "f", "1 - f", "f*(1-f)"]),
    "mlp_222": ("w_kj", ["(o_k - t_k) o_k(1 - o_k) h_j", "(o_k - t_k) o_k h_j", "(t_k - o_k) o_k(1-o_k) h_j",
                         r"\delta_k h_j"]),
    "mlp_nielsen": ("w^L_jk", ["a^{L-1}_k delta^L_j", "a^L_j delta^L_j", "delta^L_j"]),
    "affine_layer": ("W", ["X^T dY", "dY X^T", "X dY"]),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def run(students: int = 50, submits: tuple[int, int] = (10, 20), think: tuple[float, float] = (2.0, 6.0),
        workers: int = 2, seed: int = 1) -> dict:
    import httpx
    import uvicorn

    from .app import Config, make_app
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Config(db=str(Path(tmp) / "attempts.sqlite"), workers=workers))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                                    timeout_keep_alive=75))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            app.state.site.pool.ready()
            while not server.started:
                time.sleep(0.05)
            return _class(f"http://127.0.0.1:{port}", app.state.site, students, submits, think, seed, httpx)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _class(url, site, students, submits, think, seed, httpx) -> dict:
    before = site.store.count()
    pages, latencies, errors, sent = [], [], [], [0]
    lock = threading.Lock()
    opened = threading.Barrier(students)

    def student(i: int) -> None:
        rng = random.Random(f"{seed}:{i}")
        name = f"student{i:02d}"
        eid = list(ANSWERS)[i % len(ANSWERS)]
        wrt, answers = ANSWERS[eid]
        with httpx.Client(base_url=url, timeout=300) as c:  # a class opening pages at once queues for minutes
            start = time.perf_counter()
            try:
                r = c.get(f"/practice/{eid}", params={"student": name})
                ok = r.status_code == 200
            except httpx.HTTPError as e:
                ok, r = False, e
            with lock:
                pages.append(time.perf_counter() - start)
                if not ok:
                    errors.append(f"{name} page: {getattr(r, 'status_code', r)}")
            with contextlib.suppress(threading.BrokenBarrierError):
                opened.wait(timeout=900)  # submits start when the whole class has its page
            for _ in range(rng.randint(*submits)):
                time.sleep(rng.uniform(*think))
                answer = " " * rng.randint(0, 5) + rng.choice(answers) + " " * rng.randint(0, 5)
                body = {"problem": eid, "wrt": wrt, "answer": answer, "lang": "en", "student": name}
                start = time.perf_counter()
                try:
                    r = c.post("/api/verify", json=body)
                    ok = r.status_code == 200 and r.json().get("correct") in (True, False)
                except httpx.HTTPError as e:
                    ok, r = False, e
                with lock:
                    latencies.append(time.perf_counter() - start)
                    sent[0] += 1
                    if not ok:
                        errors.append(f"{name} submit: {getattr(r, 'status_code', r)}")

    threads = [threading.Thread(target=student, args=(i,)) for i in range(students)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stored = site.store.count() - before
    ms = [x * 1000 for x in latencies]
    return {"students": students, "submits": sent[0], "errors": len(errors), "error_examples": errors[:3],
            "lost": sent[0] - stored, "p50_ms": _p(ms, 50), "p95_ms": _p(ms, 95), "max_ms": max(ms, default=0),
            "page_p95_ms": _p([x * 1000 for x in pages], 95), "wall_s": wall, "think": think}


def failures(r: dict) -> list[str]:
    """What `make bench` reports as over its limits."""
    out = [f"practice page: {r['errors']} errors"] if r["errors"] else []
    out += [f"practice page: {r['lost']} lost attempts"] if r["lost"] else []
    out += [f"practice page: p95 {r['p95_ms']:.0f} ms"] if r["p95_ms"] > P95_GOAL else []
    return out


def describe(r: dict) -> str:
    think = "back to back" if r["think"] == (0, 0) else f"{r['think'][0]:g}–{r['think'][1]:g} s between submits"
    return (f"{r['students']} students, {r['submits']} submits ({think}) in {r['wall_s']:.0f} s: "
            f"{r['errors']} errors, {r['lost']} lost attempts; submit latency p50 {r['p50_ms']:.0f} ms, "
            f"p95 {r['p95_ms']:.0f} ms, max {r['max_ms']:.0f} ms; opening a page p95 {r['page_p95_ms']:.0f} ms")
