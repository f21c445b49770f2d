"""`derive verify`: check one answer, or a TOML file of answers into a feedback report.

    derive verify FILE --wrt NAME --answer TEXT [--json] [--delta-sign dL/dnet|-dL/dnet]
        exit 0 correct, 1 wrong, 2 unreadable answer / unknown NAME / bad FILE / internal error
    derive verify FILE --answers ANSWERS.toml -o DIR
        ANSWERS.toml holds [[answer]] tables with keys student, wrt, answer; writes
        DIR/feedback.md (Markdown, $...$ math) and DIR/feedback.pdf. Exit 0 when written.

Nothing heavy is imported before it is needed: a plain verify never loads the LaTeX machinery.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import i18n, problems
from ..errors import DeriveError
from .common import fail, lang_option

SIGNS = {"dL/dnet": 1, "-dL/dnet": -1}


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def run_one(sol, wrt, answer, as_json, delta_sign=None):
    from ..grading.explain import as_json as verdict_json
    from ..grading.explain import describe
    from ..grading.verify import verify
    try:
        v = verify(sol, wrt, answer, delta_sign=delta_sign)
    except DeriveError as e:
        fail(str(e), correct=None)
    except Exception as e:  # a defect must not reach the user as a traceback: one line, exit 2
        ctx = click.get_current_context(silent=True)
        if ctx is not None and (ctx.find_root().obj or {}).get("debug"):
            raise
        message = (f"internal error while checking the answer {_short(answer)!r} for {wrt}: "
                   f"{type(e).__name__}: {str(e)[:200]} (a bug in derive: please report it; --debug shows "
                   "the traceback)")
        fail(message, correct=None)
    if as_json:
        click.echo(json.dumps(verdict_json(v), indent=2, ensure_ascii=False))
    else:
        click.echo(describe(v, answer))
    sys.exit(0 if v.correct else 1)


def run_batch(problem, answers_file, out_dir, delta_sign=None):
    from ..grading.feedback import batch, read_answers, write_feedback
    from ..grading.targets import reduced
    from .common import solve_or_fail
    try:
        entries = read_answers(answers_file)
    except DeriveError as e:
        fail(str(e))
    texts = [str(e.get(k, "")) for e in entries for k in ("wrt", "answer")]
    sol = solve_or_fail(reduced(problem, texts))  # a big network: a smaller copy of the same form
    results = batch(sol, entries, delta_sign=delta_sign, progress=_progress(len(entries)))
    try:
        paths = write_feedback(sol, results, Path(out_dir))
    except DeriveError as e:
        fail(str(e))
    n_ok = sum(1 for r in results if r["verdict"] and r["verdict"].correct)
    n_bad = sum(1 for r in results if r["verdict"] is None)
    wrote = ", ".join(str(p) for p in paths)
    if n_bad:
        click.echo(i18n._("{correct} of {total} answers correct, {unchecked} could not be checked; wrote "
                          "{paths}").format(correct=n_ok, total=len(results), unchecked=n_bad, paths=wrote))
    else:
        click.echo(i18n._("{correct} of {total} answers correct; wrote {paths}").format(
            correct=n_ok, total=len(results), paths=wrote))


def _progress(total: int):
    if total < 20 or not sys.stderr.isatty():
        return None

    def report(i):
        if i % 10 == 0 or i == total:
            click.echo("\r" + i18n._("  checked {done} of {total} answers").format(done=i, total=total), err=True,
                       nl=i == total)
    return report


@click.command("verify")
@click.argument("file")
@click.option("--wrt", help="The quantity differentiated: a leaf or node (x, sigy), a generic "
              "index form (w_kj, delta_j, w^l_jk), an element (W2[1,2]) or, for [layers] problems, a "
              "whole matrix (W) answered in matrix form (X^T dY).")
@click.option("--answer", help="The student's expression: plain math or LaTeX; an equation "
              "(∂E/∂w_kj = ...) has its left side checked against --wrt.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--delta-sign", type=click.Choice(list(SIGNS)), default=None,
              help="What δ in an answer means: dL/dnet (δ = ∂L/∂net) or -dL/dnet (Mitchell's δ = −∂E/∂net); "
              "overrides the problem's [network] delta.")
@click.option("--answers", "answers_file", help="Batch mode: a TOML file of [[answer]] tables.")
@click.option("-o", "--output", "out_dir", help="Batch mode: the folder for feedback.md/.pdf.")
@lang_option
def verify_cmd(file, wrt, answer, as_json, delta_sign, answers_file, out_dir, lang):
    """Check a hand-derived gradient; exit 0 correct, 1 wrong, 2 unreadable input."""
    from .common import load_or_fail
    problem = load_or_fail(file)
    lang = lang or problem.lang
    with i18n.language(lang):
        _verify(problems.localized(problem, lang), wrt, answer, as_json, SIGNS.get(delta_sign), answers_file,
                out_dir)


def _verify(problem, wrt, answer, as_json, sign, answers_file, out_dir):
    if answers_file:
        if wrt or answer:
            fail("use either --wrt/--answer or --answers, not both")
        if not out_dir:
            fail("--answers needs -o DIR for the feedback report")
        run_batch(problem, answers_file, out_dir, sign)
        return
    if wrt is None or answer is None:
        fail("expected --wrt NAME and --answer TEXT (or --answers FILE -o DIR)")
    from ..grading.targets import reduced
    from .common import solve_or_fail
    run_one(solve_or_fail(reduced(problem, (wrt, answer))), wrt, answer, as_json, sign)
