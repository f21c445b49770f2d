"""`derive check`: exit 1 exactly when the JSON says "ok": false, strict JSON (no Infinity or NaN),
the "values" key for every kind, what each proof did, one-line errors for values that are not finite,
and a progress bar on stderr only where a person is watching."""
import dataclasses
import io
import json

from click.testing import CliRunner

from derive import pipeline
from derive.cli import common, main
from derive.cli.common import Progress, progress_for
from derive.cli.text import json_safe


def strict(text):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_network_json_has_values_proof_and_how_each_gradient_was_checked():
    res = run("check", "mlp_222", "--json")
    assert res.exit_code == 0, res.output
    out = strict(res.stdout)
    assert out["ok"] is True and out["values"]["o_1"] == out["values"]["o_1"]
    assert abs(out["values"]["o_1"] - 0.75136507) < 1e-8 and out["values"]["w^o_11"] == 0.4
    assert out["proof"]["checked"] == len(out["checks"]) and out["proof"]["methods"]
    c = out["checks"][0]
    assert {"method", "digits", "step", "error", "verdict", "ok"} <= set(c)
    assert c["method"] == "central difference" and c["digits"] == 50
    assert all(r["checked"] for r in out["rules"])
    assert res.stderr == ""  # quiet under --json when stderr is not a terminal


def test_json_ok_false_exits_1_even_when_every_gradient_passed(monkeypatch):
    """A BP rule that does not check out made `ok` false while the command printed success and exited 0."""
    real = pipeline.solve

    def broken(problem, progress=None):
        sol = real(problem)
        rules = list(sol.extra.vector_rules)
        rules[1] = dataclasses.replace(rules[1], checked=False)
        return dataclasses.replace(sol, extra=dataclasses.replace(sol.extra, vector_rules=tuple(rules)))
    monkeypatch.setattr(pipeline, "solve", broken)
    res = run("check", "mlp_nielsen", "--json")
    out = strict(res.stdout)
    assert out["ok"] is False and res.exit_code == 1
    res = run("check", "mlp_nielsen")
    assert res.exit_code == 1 and "SOME CHECKS FAILED" in res.stdout


def test_a_network_value_beyond_double_precision_is_one_line_and_exit_2(tmp_path):
    """Its exact value is known, but JSON (and the report) could only say Infinity."""
    f = tmp_path / "big.toml"
    f.write_text('[network]\nlayers = [1, 1]\nactivations = "identity"\nloss = "mse"\n'
                 "[values]\nx = [1e200]\nt = [0.5]\nW1 = [[1e200]]\nb1 = [0.0]\n")
    res = run("check", str(f), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout) == {"ok": False, "error": res.stderr.strip()[15:]}
    assert res.stderr.count("\n") == 1 and "beyond double precision" in res.stderr


def test_json_never_holds_infinity():
    out = json_safe({"a": [1.0, float("inf")], "b": {"c": float("-inf")}, "d": "x"})
    assert strict(json.dumps(out)) == {"a": [1.0, "inf"], "b": {"c": "-inf"}, "d": "x"}


def test_a_value_that_is_not_a_finite_real_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "log0.toml"
    f.write_text('[graph]\nq = "log(x)"\nf = "q * y"\n[values]\nx = 0\ny = 2\n')
    res = run("check", str(f), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["ok"] is False  # one JSON object for scripts
    assert res.stderr.count("\n") == 1 and "q = log(x)" in res.stderr and "log of 0" in res.stderr


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_with_a_rate_on_a_terminal(monkeypatch):
    clock = iter([0.0, 0.5, 2.0, 2.5, 3.0, 3.0])
    monkeypatch.setattr(common.time, "monotonic", lambda: next(clock))
    stream = Tty()
    bar = Progress(stream)
    bar("proving", 10, 100)  # t = 0.5: too early, nothing drawn
    assert stream.getvalue() == ""
    bar("proving", 50, 100)  # t = 2.0
    bar("proving", 100, 100)  # t = 2.5
    bar.close()
    text = stream.getvalue()
    assert "\rderive: proving" in text and "50/100" in text and "100/100" in text and "/s)" in text
    assert text.endswith("\n")


def test_progress_is_quiet_for_json_unless_stderr_is_a_terminal(monkeypatch):
    monkeypatch.setattr(common.sys, "stderr", io.StringIO())
    assert progress_for(True) is None and progress_for(False) is not None
    monkeypatch.setattr(common.sys, "stderr", Tty())
    assert progress_for(True) is not None
