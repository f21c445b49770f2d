"""Command line: one click group; each command lives in its own small module.

    derive list | show FILE | check FILE [--json]      (show.py)
    derive report FILE... -o PATH                       (report.py)
    derive worksheet FILE... --versions N -o DIR        (worksheet.py)
    derive verify FILE --wrt NAME --answer TEXT         (verify.py)
    derive serve [FILES...] [--host] [--port]           (serve.py: the practice page, derive.serve)

One guard around every command: a DeriveError is one line and exit 2; anything unexpected is
one line naming the command, a hint to report it, and exit 3 (the traceback only with --debug).
A command's module is imported when that command runs (or for --help), so `derive verify` does not
pay for the report's LaTeX machinery at start-up.
"""
from __future__ import annotations

import codecs
import contextlib
import importlib
import os
import sys

import click

from ..errors import DeriveError

# command name -> (module in derive.cli, attribute), in the order --help lists them
COMMANDS = {
    "list": ("show", "list_cmd"), "show": ("show", "show"), "check": ("show", "check"),
    "report": ("report", "report"), "worksheet": ("worksheet", "worksheet"), "verify": ("verify", "verify_cmd"),
    "serve": ("serve", "serve"),
}

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  a numeric check failed, or the answer is wrong
  2  bad input or environment (the message names the file, the key, what was expected)
  3  an internal error: a bug in derive (rerun with --debug and report it)"""


def _silence_stdout() -> None:
    """After stdout failed (a full device, a closed pipe), stop Python from failing again at exit."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _flush(ctx) -> None:
    """Make sure what a command printed reached stdout; a full device is an error (exit 2)."""
    if sys.stdout is None:  # closed: said by _streams
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as e:
        _silence_stdout()
        _say(f"error: cannot write the output: {getattr(e, 'strerror', None) or e}")
        ctx.exit(2)


def _json_escape(err: UnicodeEncodeError):
    """A character the output's encoding lacks, as \\uXXXX (a surrogate pair beyond U+FFFF): the
    same text in JSON, readable in plain text."""
    def units(ch):
        code = ord(ch)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return "".join(units(ch) for ch in err.object[err.start:err.end]), err.end


codecs.register_error("derive-escape", _json_escape)


def _streams(ctx) -> None:
    """Standard streams a command can use: a character the terminal's encoding lacks (latin-1,
    ascii) is written as \\uXXXX (valid inside JSON strings), never an error; a closed stdout is
    exit 2 and a closed stderr (messages nobody reads) is /dev/null."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (for the process's life)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.reconfigure(errors="derive-escape")
    if sys.stdout is None:
        _say("error: standard output is closed; nothing can be printed")
        ctx.exit(2)


def _say(message: str) -> None:
    with contextlib.suppress(Exception):
        click.echo(f"derive: {message}", err=True)


def _error(ctx, message: str) -> None:
    """An error: one line on stderr, and with --json also one JSON object on stdout (common.json_error)."""
    from .common import json_error
    _say(message if message.startswith("internal error") else f"error: {message}")
    json_error(ctx, message)


class GuardedGroup(click.Group):
    """Runs a command; turns every way it can end into one line and a documented exit code.
    Commands are imported by name when needed (`COMMANDS`)."""

    def list_commands(self, ctx):
        return list(COMMANDS) + [c for c in super().list_commands(ctx) if c not in COMMANDS]

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def invoke(self, ctx):
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        ctx.meta["derive.json"] = "--json" in args[:args.index("--")] if "--" in args else "--json" in args
        if args[:1] == ["verify"]:  # as verify's own JSON says it: no verdict
            ctx.meta["derive.json.extra"] = {"correct": None}
        try:
            result = super().invoke(ctx)
            _flush(ctx)
            return result
        except click.ClickException as e:  # a usage error: click prints it; --json also gets the object
            from .common import json_error
            json_error(ctx, e.format_message())
            _flush(ctx)
            raise
        except (click.exceptions.Exit, click.Abort):
            _flush(ctx)
            raise
        except SystemExit:
            _flush(ctx)
            raise
        except DeriveError as e:
            _error(ctx, str(e))
            ctx.exit(2)
        except KeyboardInterrupt:
            _say("interrupted")
            ctx.exit(130)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(2)
        except OSError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _silence_stdout()
            where = f" {e.filename}" if e.filename else " the output"
            _error(ctx, f"cannot write{where}: {e.strerror or e}")
            ctx.exit(2)
        except (RecursionError, MemoryError) as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            kind = "nested too deeply" if isinstance(e, RecursionError) else "too large"
            _error(ctx, f"the input is {kind} to process (Python's "
                   f"{'recursion' if isinstance(e, RecursionError) else 'memory'} limit was reached)")
            ctx.exit(2)
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            command = " ".join(["derive", *sys.argv[1:]])[:200]
            _error(ctx, f"internal error in `{command}`: {type(e).__name__}: {str(e)[:200]}; "
                   "this is a bug in derive: please report it with the input (rerun with --debug "
                   "for the traceback)")
            ctx.exit(3)


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.version_option(package_name="derive")
@click.option("--debug", is_flag=True, envvar="DERIVE_DEBUG",
              help="Show the Python traceback of an internal error.")
@click.pass_context
def main(ctx, debug):
    """Step-by-step chain-rule derivations, proven numerically.

    FILE is a problem file (TOML) or the name of a built-in problem (see `derive list`).
    """
    ctx.obj = {"debug": debug}
    _streams(ctx)
