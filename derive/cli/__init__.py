"""Command line: one click group; each command lives in its own small module.

    derive list | show FILE | check FILE [--json]      (show.py)
    derive report FILE... -o PATH                       (report.py)
    derive worksheet FILE... --versions N -o DIR        (worksheet.py)
    derive verify FILE --wrt NAME --answer TEXT         (verify.py)

One guard around every command: a DeriveError is one line and exit 2; anything unexpected is
one line naming the command, a hint to report it, and exit 3 (the traceback only with --debug).
A command's module is imported when that command runs (or for --help), so `derive verify` does not
pay for the report's LaTeX machinery at start-up.
"""
from __future__ import annotations

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
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as e:
        _silence_stdout()
        _say(f"error: cannot write the output: {getattr(e, 'strerror', None) or e}")
        ctx.exit(2)


def _say(message: str) -> None:
    with contextlib.suppress(Exception):
        click.echo(f"derive: {message}", err=True)


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
        try:
            result = super().invoke(ctx)
            _flush(ctx)
            return result
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            _flush(ctx)
            raise
        except SystemExit:
            _flush(ctx)
            raise
        except DeriveError as e:
            _say(f"error: {e}")
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
            _say(f"error: cannot write{where}: {e.strerror or e}")
            ctx.exit(2)
        except (RecursionError, MemoryError) as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            kind = "nested too deeply" if isinstance(e, RecursionError) else "too large"
            _say(f"error: the input is {kind} to process (Python's "
                 f"{'recursion' if isinstance(e, RecursionError) else 'memory'} limit was reached)")
            ctx.exit(2)
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            command = " ".join(["derive", *sys.argv[1:]])[:200]
            _say(f"internal error in `{command}`: {type(e).__name__}: {str(e)[:200]}; "
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
