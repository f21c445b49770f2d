"""Command line: one click group; each command lives in its own small module.

    derive list | show FILE | check FILE [--json]      (show.py)
    derive report FILE... -o PATH                       (report.py)
    derive worksheet FILE... --versions N -o DIR        (worksheet.py)
    derive verify FILE --wrt NAME --answer TEXT         (verify.py)
"""
from __future__ import annotations

import click

from . import report, show, verify, worksheet


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="derive")
def main():
    """Step-by-step chain-rule derivations, proven numerically.

    FILE is a problem file (TOML) or the name of a built-in problem (see `derive list`).
    """


for command in (show.list_cmd, show.show, show.check, report.report, worksheet.worksheet,
                verify.verify_cmd):
    main.add_command(command)
