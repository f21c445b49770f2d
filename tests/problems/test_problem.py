"""Problem files: good ones load, bad ones give one clear message naming the file and the key."""
import json
import subprocess
import sys

import pytest

from derive import problems
from derive.engine.parse import parse
from derive.errors import ParseError, ProblemError

GOOD = '''
title = "t"
[graph]
q = "x + y"
f = "q * z"
[values]
x = -2
y = 5
z = -4
'''


def load(text):
    return problems.loads(text, "bad.toml")


def test_good_file_loads_with_inputs_in_order():
    p = load(GOOD)
    assert list(p.values) == ["x", "y", "z"]
    assert p.output == "f"


@pytest.mark.parametrize("text, key, fragment", [
    ('[graph]\nf = "foo(x)"\n[values]\nx = 1', "[graph] f", "unknown function 'foo'"),
    ('[graph]\nf = "x +"\n[values]\nx = 1', "[graph] f", "expected a number, a name or '('"),
    ('[graph]\nf = "__import__(\'os\')"\n[values]\nx = 1', "[graph] f", "unexpected character '_'"),
    ('[graph]\nf = "x.__class__"\n[values]\nx = 1', "[graph] f", "unexpected"),
    ('[graph]\nq = "f + 1"\nf = "q * 2"\n[values]\nx = 1', "[graph]", "cycle: q -> f -> q"),
    ('[graph]\nf = "x * y"\n[values]\nx = 1', "[values] y", "missing"),
    ('[graph]\nf = "x * y"\n[values]\nx = 1\ny = "two"', "[values] y", "expected a number"),
    ('[graph]\nf = "x * y"\n[values]\nx = 1\ny = nan', "[values] y", "finite"),
    ('[graph]\nf = "x * y"\n[values]\nx = 1\ny = true', "[values] y", "expected a number"),
    ('[graph]\nf = "x"\n[values]\nx = 1\nw = 2', "[values] w", "not used by the graph"),
    ('[graph]\nf = "x"\n[values]\nx = 1\nf = 2', "[values] f", "is a step, not an input"),
    ('output = "g"\n[graph]\nf = "x"\n[values]\nx = 1', "output", "'g' is not one of the steps"),
    ('[graph]\nf = 3\n[values]\nx = 1', "[graph] f", "expected an expression in quotes"),
    ('[graph]\n"2x" = "x"\n[values]\nx = 1', "[graph] 2x", "expected a name"),
    ('[graph]\nexp = "x"\n[values]\nx = 1', "[graph] exp", "not a function name"),
    ('[graph]\nf = "x"', "[values]", "expected a table"),
    ('[graph]\nf = "sigmoid(x, y)"\n[values]\nx = 1\ny=1', "[graph] f", "takes 1 argument"),
    ('[graph]\nf = "x"\n[values]\nx = 1\n[network]\nlayers=[1]', "", "exactly one of the tables"),
    ('title = 5\n[graph]\nf = "x"\n[values]\nx = 1', "title", "expected a string"),
    ('colour = "red"\n[graph]\nf = "x"\n[values]\nx = 1', "colour", "unknown key"),
    ('[graph]\nf = "x"\nf = "y"', "", "malformed TOML"),  # a duplicate step is a TOML error
    ('[graph\nf = "x"', "", "malformed TOML"),
])
def test_bad_files_name_file_key_and_expectation(text, key, fragment):
    with pytest.raises(ProblemError) as info:
        load(text)
    message = str(info.value)
    assert message.startswith("bad.toml: ")
    assert info.value.key == key
    assert fragment in message


def test_nesting_limit_counts_each_parenthesis_once():
    from derive.engine.parse import MAX_DEPTH
    assert parse("(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)) == ("name", "x")
    with pytest.raises(ParseError, match="nested too deeply"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))


def test_duplicate_step_after_staging_is_refused():
    from derive.engine.graph import build_graph
    with pytest.raises(Exception, match="defined twice"):
        build_graph([("f", parse("x")), ("f", parse("y"))])


@pytest.mark.parametrize("text", ["x" * 3000, "(" * 100 + "x" + ")" * 100, "-" * 100 + "x"])
def test_oversized_or_deep_expressions_are_refused(text):
    with pytest.raises(ParseError):
        parse(text)


@pytest.mark.parametrize("text, implicit, expected", [
    ("2x + x y", True, ("add", ("mul", ("num", "2"), ("name", "x")), ("mul", ("name", "x"), ("name", "y")))),
    ("h_j(1 - h_j)", True, ("mul", ("name", "h_j"), ("sub", ("num", "1"), ("name", "h_j")))),
    ("x^2 ** 3", False, ("pow", ("name", "x"), ("pow", ("num", "2"), ("num", "3")))),
    ("-x^2", False, ("neg", ("pow", ("name", "x"), ("num", "2")))),
    ("σ(w_{kj}) × 2", False, ("mul", ("call", "sigmoid", (("name", "w_kj"),)), ("num", "2"))),
    ("max(a, b, c)", False, ("call", "max", (("name", "a"), ("name", "b"), ("name", "c")))),
])
def test_parser_grammar(text, implicit, expected):
    assert parse(text, implicit=implicit) == expected


def derive_cli(*args):
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True, timeout=120)


def test_cli_check_json_and_exit_codes(tmp_path):
    r = derive_cli("check", "circuit", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["output"] == -12 and out["gradients"] == {"x": -4, "y": -4, "z": 3}
    assert all(c["ok"] for c in out["checks"]) and {c["wrt"] for c in out["checks"]} >= {"x", "y", "z"}

    bad = tmp_path / "bad.toml"
    bad.write_text('[graph]\nf = "__import__(\'os\').system(\'echo hacked\')"\n[values]\n')
    r = derive_cli("check", str(bad), "--json")
    assert r.returncode == 2 and "hacked" not in r.stdout.splitlines()  # not run; the JSON error quotes it
    assert json.loads(r.stdout)["ok"] is False
    assert r.stderr.count("\n") == 1 and str(bad) in r.stderr and "[graph] f" in r.stderr

    r = derive_cli("show", "no-such-problem")
    assert r.returncode == 2 and "built-in" in r.stderr


def test_cli_show_prints_forward_and_backward_steps():
    r = derive_cli("show", "fanout")
    assert r.returncode == 0, r.stderr
    assert "via xy" in r.stdout and "via xsqr" in r.stdout
    assert "∂f/∂x = 2 + 6 = 8   [y + 2*x]" in r.stdout or "[2*x + y]" in r.stdout


def test_every_builtin_passes_its_check():
    from derive.pipeline import solve
    for name in problems.builtin_names():
        assert solve(problems.load(name)).report.ok, name
