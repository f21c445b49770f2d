"""Size, time and range (issue 27, items 7 and 8): closed forms are capped by their size, numbers
beyond double precision are derived and printed from their 50-digit values, a 5,000-digit
integer is a limit, and derive's mpmath precision is its own and per thread.
"""
from __future__ import annotations

import json
import threading

import mpmath
import pytest
import sympy as sp
from click.testing import CliRunner

import derive
from derive.cli import main
from derive.engine.precision import Wide, as_float, mp
from derive.engine.steps import tree_size
from derive.render.printer import number

# ---------------------------------------------------------------- tree sizes


def _deep(n: int, uses: str = "tanh(s{p}) + s{p}*s{p} / 4 + s{p}") -> dict:
    steps = {"s1": "tanh(x) + x*x + x"}
    steps.update({f"s{k}": uses.format(p=k - 1) for k in range(2, n + 1)})
    return steps


@pytest.mark.parametrize("text", ["x", "x + y*z", "sin(x)**2 + sin(x)*cos(y) + 3", "(x + y)**(x*y) - exp(x + y)"])
def test_tree_size_counts_every_node_as_printing_writes_it(text):
    e = sp.sympify(text)
    assert tree_size(e, 10**6) == sum(1 for _ in sp.preorder_traversal(e))


def test_tree_size_of_a_shared_expression_is_counted_without_walking_it():
    x = sp.Symbol("x")
    e = x
    for _ in range(40):  # 2^40 leaves written out; 40 distinct nodes shared
        e = sp.Function("g")(e, e)
    assert tree_size(e, 1000) == 1001
    assert tree_size(e, 2**45) == 2**41 - 1  # each level: 1 + 2 × the level below


def _report(steps, values, fmt="md", tmp=None):
    p = derive.graph(steps, values=values)
    out = tmp / f"r.{fmt}"
    p.solve().report(str(out))
    return p, out.read_text(encoding="utf-8")


def test_twelve_steps_each_using_the_last_three_times_report(tmp_path):
    p, md = _report(_deep(12), {"x": 0.1}, tmp=tmp_path)
    s = p.solve()
    assert s.checks.ok
    # every printed closed form stays in the inputs and is short; the big ones are left out
    for g in s.raw.derivation.steps:
        if g.closed is not None:
            assert tree_size(g.closed, 10**6) <= 400
    # the asked gradient, against central differences of the definition in mpmath (independent)
    with mpmath.workdps(60):
        def f(x):
            v = mpmath.tanh(x) + x * x + x
            for _ in range(11):
                v = mpmath.tanh(v) + v * v / 4 + v
            return v
        fd = mpmath.diff(f, mpmath.mpf("0.1"))
    assert s.gradients["x"] == pytest.approx(float(fd), rel=1e-12)
    assert "s_{12}" in md or "s12" in md


def test_a_small_graph_keeps_its_closed_forms(tmp_path):
    # f = (x + y) z: ∂f/∂x = z, ∂f/∂z = x + y, printed in the inputs
    p, md = _report({"q": "x + y", "f": "q*z"}, {"x": -2, "y": 5, "z": -4}, tmp=tmp_path)
    closed = {g.node: g.closed for g in p.solve().raw.derivation.steps}
    at = {"x": -2, "y": 5, "z": -4, "q": 3}
    value = {n: e.subs({s: at[s.name] for s in e.free_symbols}) for n, e in closed.items() if e is not None}
    assert (value["x"], value["y"], value["z"]) == (-4, -4, 3)  # cs231n's dx, dy, dz
    assert "x + y" in md


# ---------------------------------------------------------------- beyond double precision

LOGSIG = {"s": "sigmoid(x)", "f": "log(s)"}


def test_log_sigmoid_of_minus_1000_is_derived():
    s = derive.graph(LOGSIG, values={"x": -1000}).solve()
    assert s.checks.ok
    assert s.gradients["x"] == pytest.approx(1.0, rel=1e-15)  # 1 − σ(−1000)
    d = s.raw.derivation
    with mpmath.workdps(60):
        inverse = 1 + mpmath.exp(1000)  # 1/σ(−1000), the intermediate ∂f/∂s
        sig = 1 / inverse
    g = d.gradient("s").value
    assert isinstance(g, Wide) and float(g) == float("inf")
    assert abs(g.exact / inverse - 1) < mpmath.mpf(10) ** -40
    v = d.values["s"]
    assert isinstance(v, Wide) and float(v) == 0 and abs(v.exact / sig - 1) < mpmath.mpf(10) ** -40


def test_log_sigmoid_report_prints_the_50_digit_values(tmp_path):
    _, md = _report(LOGSIG, {"x": -1000}, tmp=tmp_path)
    with mpmath.workdps(60):
        big = mpmath.nstr(1 + mpmath.exp(1000), 6).split("e")[0]  # 1.97007
    assert f"{big} \\times 10^{{434}}" in md
    assert "\\infty" not in md


def test_log_sigmoid_check_json_is_strict_and_right(tmp_path):
    (tmp_path / "p.toml").write_text('[graph]\ns = "sigmoid(x)"\nf = "log(s)"\n[values]\nx = -1000\n')
    r = CliRunner().invoke(main, ["check", str(tmp_path / "p.toml"), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["gradients"]["x"] == pytest.approx(1.0)
    row = next(c for c in data["checks"] if c["wrt"] == "s")
    assert row["analytic"].startswith("1.97007") and row["analytic"].endswith("e+434")


def test_an_asked_gradient_beyond_double_is_still_refused():
    with pytest.raises(derive.DeriveError, match="beyond double precision"):
        derive.graph({"f": "exp(exp(x))"}, values={"x": 7}).solve()


@pytest.mark.parametrize("text,digits", [("1.970071114017047e+434", 6), ("-5.0759588975494567e-435", 4),
                                         ("3.25e+400", 3)])
def test_wide_numbers_print_and_format_from_their_exact_value(text, digits):
    w = as_float(mp.mpf(text))
    assert isinstance(w, Wide)
    mant, exp = f"{float(text.split('e')[0]):.{digits}g}", int(text.split("e")[1])
    assert format(w, f".{digits}g") == f"{mant}e{exp:+d}"
    assert number(w, digits) == f"{mant} \\times 10^{{{exp}}}"


def test_ordinary_numbers_stay_floats():
    for text in ("0", "1.5", "-2e300", "3e-300"):
        x = as_float(mp.mpf(text))
        assert type(x) is float and x == float(text)


# ---------------------------------------------------------------- literals


@pytest.mark.parametrize("text", ['[graph]\nf = "x * 3"\n[values]\nx = ' + "7" * 5000 + "\n",
                                  '[graph]\nf = "x * 3"\n[values]\nx = ' + "-" + "1" * 4400 + "\n"])
def test_a_5000_digit_integer_in_a_file_is_a_limit(tmp_path, text):
    (tmp_path / "p.toml").write_text(text)
    r = CliRunner().invoke(main, ["check", str(tmp_path / "p.toml")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output and "4300 digits" in r.output
    with pytest.raises(derive.ProblemError, match="4300 digits"):
        derive.loads(text)


def test_a_long_exponent_in_an_expression_is_a_limit():
    with pytest.raises(derive.DeriveError, match="exponent"):
        derive.circuit("f = x * 1e" + "9" * 1500, x=1)


# ---------------------------------------------------------------- precision


def test_precision_is_per_thread_and_not_the_callers():
    before = mpmath.mp.dps
    got = {}
    barrier = threading.Barrier(4)

    def work(d):
        with mp.workdps(d):
            barrier.wait()
            for _ in range(200):
                third = mp.mpf(1) / 3
            got[d] = (mp.dps, third._mpf_[3])  # the bits 1/3 was rounded to

    threads = [threading.Thread(target=work, args=(d,)) for d in (10, 30, 60, 120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {d: (d, mpmath.libmp.dps_to_prec(d)) for d in (10, 30, 60, 120)}
    assert mpmath.mp.dps == before and mp.dps == 15
