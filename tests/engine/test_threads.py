"""Eight threads at once give what the same calls give one after another (issue 27, class 1).

A table of calls (verify right and wrong answers on several built-ins in English and Korean,
solve and check, worksheet draws) runs serially, then on eight threads started together by a
barrier, several rounds; every result must be equal, exactly. A thread that sets its own
`mpmath.mp.dps` (5 or 1000) gets the same verdicts and numbers, and finds its setting untouched;
a thread speaking Korean never changes another thread's language.
"""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import mpmath
import pytest

import derive
from derive import i18n

# (built-in, wrt, answer): right and wrong answers; each runs in English and Korean
VERIFY = [
    ("mlp_222", "w_kj", "(o_k - t_k) o_k(1 - o_k) h_j"),
    ("mlp_222", "w_kj", "(o_k - t_k) o_k h_j"),
    ("mlp_222", "w_kj", "(t_k - o_k) o_k(1 - o_k) h_j"),
    ("mlp_222", "delta_j", r"\sigma'(net_j) \sum_k \delta_k w_{kj}"),
    ("mlp_222", "delta_j", r"\sum_k \delta_k w_{kj}"),
    ("mlp_222", "w_ji", "x_i h_j(1-h_j) sum_k (o_k - t_k) o_k(1-o_k) w_kj"),
    ("circuit", "x", "z"),
    ("circuit", "x", "q"),
    ("fanout", "x", "y + 2x"),
    ("fanout", "x", "y + x"),
    ("neuron_sigmoid", "w_0", "f(1 - f) x_0"),
    ("neuron_sigmoid", "w_0", "f x_0"),
    ("staged", "y", "1"),
    ("affine_layer", "W", "X^T dY"),
    ("affine_layer", "W", "dY X^T"),
    ("mlp_nielsen", "delta^L_j", "(a^L_j - y_j) a^L_j(1 - a^L_j)"),
    ("mlp_nielsen", "delta^L_j", "(a^L_j - y_j)"),
]
SOLVE = ["circuit", "staged", "mlp_222", "mlp_tanh_softmax", "softmax_with_loss", "neuron_gates"]
SHEETS = [("circuit", 7, 1), ("staged", 3, 2), ("neuron_sigmoid", 5, 1), ("mlp_222", 2, 1)]


def verify_call(name, wrt, answer, lang):
    def call():
        return derive.verify(derive.load(name), wrt=wrt, answer=answer, lang=lang).to_json()
    return call


_SHARED: dict = {}  # one solved problem per built-in, shared by every thread (as a server holds it)
_SHARED_LOCK = threading.Lock()


def shared_verify_call(name, wrt, answer, lang):
    def call():
        with _SHARED_LOCK:
            if name not in _SHARED:
                _SHARED[name] = derive.load(name).solve()
        return derive.verify(_SHARED[name], wrt=wrt, answer=answer, lang=lang).to_json()
    return call


def solve_call(name):
    def call():
        s = derive.load(name).solve()
        grads = {k: repr(v.tolist() if hasattr(v, "tolist") else v) for k, v in s.gradients.items()}
        checks = [(c.wrt, c.verdict, repr(c.analytic), repr(c.numeric)) for c in s.checks]
        return grads, checks, repr(s.output)
    return call


def sheet_call(name, seed, version):
    def call():
        from derive.sheets.exercises import build_sheet
        from derive.sheets.variants import draw_variant
        problem = derive.load(name).solve().raw.problem
        v = draw_variant(problem, seed, version)
        sheet = build_sheet([problem], seed, version)
        answers = re.sub(r" object at 0x[0-9a-f]+", "", repr([e.answer for e in sheet.exercises]))
        return repr(sorted(v.values.items())), answers
    return call


def table():
    calls = [(f"verify {n} {w} {a!r} {lang}", verify_call(n, w, a, lang))
             for n, w, a in VERIFY for lang in ("en", "ko")]
    calls += [(f"shared {n} {w} {a!r} {lang}", shared_verify_call(n, w, a, lang))
              for n, w, a in VERIFY[::2] for lang in ("en", "ko")]
    calls += [(f"solve {n}", solve_call(n)) for n in SOLVE]
    calls += [(f"sheet {n} {s}/{v}", sheet_call(n, s, v)) for n, s, v in SHEETS]
    return calls


def outcome(call):
    try:
        return ("ok", call())
    except Exception as e:  # a thread-safety bug shows as an exception in one run only
        return ("raised", f"{type(e).__name__}: {e}")


def threaded(calls, threads=8, rounds=2, setup=None):
    """Every call `rounds` times on `threads` threads that start together; name -> outcomes."""
    jobs = [c for c in calls for _ in range(rounds)]
    barrier = threading.Barrier(threads)

    def start(_):
        barrier.wait()
        if setup is not None:
            setup()

    results: dict = {}
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(start, range(threads)))
        for (name, _), got in zip(jobs, pool.map(lambda c: outcome(c[1]), jobs)):
            results.setdefault(name, []).append(got)
    return results


def mismatches(calls, threads=8, rounds=2, setup=None, serial=None):
    serial = serial or {name: outcome(call) for name, call in calls}
    found = []
    for name, outs in threaded(calls, threads, rounds, setup).items():
        found += [(name, serial[name], o) for o in outs if o != serial[name]]
    return serial, found


@pytest.fixture(scope="module")
def calls():
    return table()


@pytest.fixture(scope="module")
def serial(calls):
    return {name: outcome(call) for name, call in calls}


def test_serial_results_are_sane(serial):
    assert all(kind == "ok" for kind, _ in serial.values()), [n for n, o in serial.items() if o[0] != "ok"]
    correct = {name: out["correct"] for name, (_, out) in serial.items() if name.startswith("verify")}
    assert correct["verify mlp_222 w_kj '(o_k - t_k) o_k(1 - o_k) h_j' en"] is True
    assert correct["verify mlp_222 w_kj '(o_k - t_k) o_k h_j' ko"] is False
    assert correct["verify affine_layer W 'X^T dY' ko"] is True


def test_eight_threads_match_serial(calls, serial):
    _, found = mismatches(calls, threads=8, rounds=2, serial=serial)
    assert found == []


def test_threads_with_their_own_mpmath_precision(calls, serial):
    """Threads that set mpmath.mp.dps to 5 or 1000 (the caller's context) change nothing."""
    before = mpmath.mp.dps
    picks = iter([5, 1000] * 8)
    lock = threading.Lock()

    def setup():
        with lock:
            mpmath.mp.dps = next(picks)

    try:
        _, found = mismatches(calls[:12] + calls[-10:], threads=8, rounds=1, setup=setup, serial=serial)
    finally:
        mpmath.mp.dps = before
    assert found == []


@pytest.mark.parametrize("dps", [5, 1000])
def test_callers_precision_neither_read_nor_changed(dps):
    name, wrt, answer = VERIFY[0]
    expected = verify_call(name, wrt, answer, "en")()
    before = mpmath.mp.dps
    mpmath.mp.dps = dps
    try:
        got = verify_call(name, wrt, answer, "en")()
        solved = derive.load("mlp_222").solve()
        assert mpmath.mp.dps == dps
    finally:
        mpmath.mp.dps = before
    assert got == expected and got["correct"] is True
    assert solved.checks.ok
    # Mazur's hand value (his ∂E/∂w_5 = 0.082167041), independent of derive
    assert abs(solved.gradients["W2"][0][0] - 0.082167041) < 1e-9


def test_language_does_not_leak_between_threads():
    """Half the threads hold a Korean block for their whole life; the others never see it."""
    barrier = threading.Barrier(8)

    def work(i):
        lang = "ko" if i % 2 else None
        with i18n.language(lang):
            barrier.wait()
            seen = []
            for _ in range(20):
                seen.append(i18n.current())
                v = derive.verify("circuit", wrt="x", answer="q")
                seen.append(v.lang)
            return set(seen)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(8)))
    assert got == [{"en"} if i % 2 == 0 else {"ko"} for i in range(8)]
    assert i18n.current() == "en"


def test_a_thread_changing_mpmath_precision_meanwhile_changes_nothing(calls, serial):
    """Another thread of the caller flips mpmath.mp.dps between 5 and 1000 all the time."""
    chosen = [c for c in calls if c[0].startswith(("verify mlp_222", "verify circuit", "solve"))][:12]
    stop = threading.Event()

    def toggle():
        while not stop.is_set():
            mpmath.mp.dps = 5
            stop.wait(0.0005)
            mpmath.mp.dps = 1000
            stop.wait(0.0005)

    before = mpmath.mp.dps
    t = threading.Thread(target=toggle)
    t.start()
    try:
        got = {name: outcome(call) for name, call in chosen}
    finally:
        stop.set()
        t.join()
        mpmath.mp.dps = before
    assert [n for n in got if got[n] != serial[n]] == []
