"""Any command given --json prints an error as ONE JSON object on stdout ({"ok": false, "error": ...}),
besides the one line on stderr; without --json stdout stays empty."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from derive.cli import main

CASES = [  # (arguments, a word the error names)
    (["check", "/no/such/file.toml"], "no such file"),
    (["check"], "FILE"),
    (["show", "/no/such/file.toml"], "--json"),  # show, report, worksheet have no --json: a usage error
    (["verify", "circuit", "--wrt", "nope", "--answer", "z"], "nope"),
    (["verify", "circuit", "--wrt", "x", "--answer", "(("], "cannot read"),
    (["verify", "circuit", "--wrt", "x"], "--answer"),
    (["verify", "circuit", "--answers", "/no/such.toml", "-o", "out"], "no such file"),
    (["report", "/no/such/file.toml", "-o", "r.pdf"], "--json"),
    (["worksheet", "/no/such/file.toml", "-o", "sheets"], "--json"),
    (["report", "circuit", "-o", "r.tex"], "--json"),
    (["check", "circuit", "--tolerance", "x"], "tolerance"),
]


@pytest.mark.parametrize("args, names", CASES)
def test_an_error_with_json_is_one_json_object(args, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    said = json.loads(lines[0])
    assert said["ok"] is False and isinstance(said["error"], str) and said["error"]
    assert names.lower() in (said["error"] + result.stderr).lower()
    if args[0] == "verify":
        assert said["correct"] is None
    if names != "--json":  # the same error without --json: the line on stderr only
        plain = CliRunner().invoke(main, args)
        assert plain.exit_code == 2 and plain.stdout.strip() == ""


def test_json_after_a_double_dash_is_an_argument(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--", "--json"])
    assert result.exit_code == 2 and result.stdout.strip() == ""


def test_an_internal_error_with_json_is_one_json_object(monkeypatch):
    from derive import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(pipeline, "solve", broken)
    result = CliRunner().invoke(main, ["check", "circuit", "--json"])
    assert result.exit_code == 3
    said = json.loads(result.stdout)
    assert said["ok"] is False and "internal error" in said["error"] and "boom" in said["error"]


def test_success_with_json_is_unchanged():
    result = CliRunner().invoke(main, ["check", "circuit", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
