"""What every command shares: one-line errors with an exit code, loading and solving a FILE, and
a progress bar on stderr for long runs."""
from __future__ import annotations

import sys
import time

import click

from .. import i18n
from ..errors import DeriveError

lang_option = click.option(
    "--lang", type=click.Choice(i18n.LANGUAGES), default=None,
    help="The language of the fixed text (headings, sentences, diagnoses): en or ko. Default: the "
         "language the problem files say (lang = \"ko\"), else en. Titles and descriptions come from "
         "a file's [translations.<lang>] where it has one.")


def fail(message: str, code: int = 2, **extra):
    """Print `derive: error: message` on stderr and exit (2: bad input or environment); with --json
    also one JSON object on stdout, {"ok": false, "error": message, **extra}."""
    click.echo(f"derive: error: {message}", err=True)
    json_error(click.get_current_context(silent=True), message, **extra)
    sys.exit(code)


def json_error(ctx, message: str, **extra) -> None:
    """With --json on the command line, the error as one JSON object on stdout (once per run):
    scripts that read stdout get {"ok": false, "error": "..."} rather than nothing."""
    if ctx is None or not ctx.meta.get("derive.json") or ctx.meta.get("derive.json.said"):
        return
    ctx.meta["derive.json.said"] = True
    import contextlib
    import json
    said = {"ok": False, "error": message, **ctx.meta.get("derive.json.extra", {}), **extra}
    with contextlib.suppress(Exception):  # stdout closed or full: the line on stderr said it
        click.echo(json.dumps(said, ensure_ascii=False))


def load_or_fail(path: str):
    from ..problems import load
    try:
        return load(path)
    except DeriveError as e:
        fail(str(e))


def solve_or_fail(file, progress=None):
    """FILE (a path or a built-in name, or a problem already loaded) solved, or one line and exit 2."""
    from ..pipeline import solve
    p = load_or_fail(file) if isinstance(file, str) else file
    try:
        return solve(p, progress) if progress is not None else solve(p)
    except DeriveError as e:
        fail(f"{p.source}: {e}")
    finally:
        if progress is not None:
            progress.close()


class Progress:
    """A progress bar with a rate on stderr, `progress(stage, done, total)`; drawn only after the
    run has taken a second (short runs stay silent). On a terminal it redraws one line; elsewhere
    (a log) it writes a line per finished stage."""

    WIDTH = 24

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.stage, self.stage_start, self.last, self.shown = None, self.start, 0.0, False

    def __call__(self, stage: str, done: int, total: int):
        now = time.monotonic()
        if stage != self.stage:
            self._finish(now)
            self.stage, self.stage_start = stage, now
        if now - self.start < 1.0 or (self.tty and now - self.last < 0.1 and done < total):
            return
        self.last = now
        rate = done / max(now - self.stage_start, 1e-9)
        if self.tty:
            filled = int(self.WIDTH * done / max(total, 1))
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\rderive: {stage:12s} [{bar}] {done:,}/{total:,} ({rate:,.0f}/s)\033[K")
            self.stream.flush()
            self.shown = True
        elif done >= total:
            self.stream.write(f"derive: {stage} {total:,} in {now - self.stage_start:.1f} s ({rate:,.0f}/s)\n")
            self.stage = None

    def _finish(self, now):
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False

    def close(self):
        self._finish(time.monotonic())


def progress_for(as_json: bool):
    """The progress bar for a command: on stderr when it is a terminal, or when the output is not
    JSON (which scripts read); None means quiet."""
    if sys.stderr.isatty() or not as_json:
        return Progress()
    return None
