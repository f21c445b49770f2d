"""`derive verify`: check one answer, or a TOML file of answers into a feedback report.

    derive verify FILE --wrt NAME --answer TEXT [--json]
        exit 0 correct, 1 wrong, 2 unreadable answer / unknown NAME / bad FILE
    derive verify FILE --answers ANSWERS.toml -o DIR
        ANSWERS.toml holds [[answer]] tables with keys student, wrt, answer; writes
        DIR/feedback.md (Markdown, $...$ math) and DIR/feedback.pdf. Exit 0 when written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import DeriveError
from .common import fail, solve_or_fail


def run_one(sol, wrt, answer, as_json):
    from ..teach.feedback import describe
    from ..teach.verify import verify
    try:
        v = verify(sol, wrt, answer)
    except DeriveError as e:
        if as_json:
            click.echo(json.dumps({"correct": None, "error": str(e)}, ensure_ascii=False))
        fail(str(e))
    if as_json:
        click.echo(json.dumps(v.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(describe(v, answer))
    sys.exit(0 if v.correct else 1)


def run_batch(file, answers_file, out_dir):
    from ..teach.feedback import batch, read_answers, write_feedback
    sol = solve_or_fail(file)
    try:
        entries = read_answers(answers_file)
    except DeriveError as e:
        fail(str(e))
    results = batch(sol, entries)
    try:
        paths = write_feedback(sol, results, Path(out_dir))
    except DeriveError as e:
        fail(str(e))
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    click.echo(f"{n_ok} of {len(results)} answers correct; wrote " + ", ".join(str(p) for p in paths))


@click.command("verify")
@click.argument("file")
@click.option("--wrt", help="The quantity differentiated: a leaf or node (x, sigy), a generic "
              "index form (w_kj, delta_j, w^l_jk), an element (W2[1,2]) or, for [layers] problems, a "
              "whole matrix (W) answered in matrix form (X^T dY).")
@click.option("--answer", help="The student's expression: plain math or LaTeX.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--answers", "answers_file", help="Batch mode: a TOML file of [[answer]] tables.")
@click.option("-o", "--output", "out_dir", help="Batch mode: the folder for feedback.md/.pdf.")
def verify_cmd(file, wrt, answer, as_json, answers_file, out_dir):
    """Check a hand-derived gradient; exit 0 correct, 1 wrong, 2 unreadable input."""
    if answers_file:
        if wrt or answer:
            fail("use either --wrt/--answer or --answers, not both")
        if not out_dir:
            fail("--answers needs -o DIR for the feedback report")
        run_batch(file, answers_file, out_dir)
        return
    if wrt is None or answer is None:
        fail("expected --wrt NAME and --answer TEXT (or --answers FILE -o DIR)")
    run_one(solve_or_fail(file), wrt, answer, as_json)
