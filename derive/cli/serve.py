"""`derive serve [FILES...] [--builtin] [--host] [--port] [--lang] [--db]`: the practice page.

Binds to the loopback address unless --host says otherwise (then it warns: anyone who can reach the
address can submit answers and read the attempts), prints the URL, and stops cleanly on Ctrl-C.
"""
from __future__ import annotations

import ipaddress
import socket
import sqlite3

import click

from .common import fail, lang_option

KEEP_ALIVE = 75  # seconds an idle browser connection stays open: longer than a student thinks between checks


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _can_listen(host: str, port: int) -> None:
    """Bind once before starting anything: a port in use is one line and exit 2, not uvicorn's log."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        fail(f"--host {host}: cannot resolve it ({e.strerror or e})")
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            fail(f"cannot listen on {host} port {port}: {e.strerror or e}")


@click.command("serve")
@click.argument("files", nargs=-1)
@click.option("--builtin", is_flag=True, help="Serve the built-in problems (the default when no FILE is given).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; another than loopback makes the page reachable from the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", default="attempts.sqlite", show_default=True, help="The SQLite file of attempts.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32),
              help="Worker processes that check answers.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="Seconds one check may take before it is stopped.")
@lang_option
def serve(files, builtin, host, port, db, workers, timeout, lang):
    """A practice page: students type a derivation and are told which factor is wrong."""
    import uvicorn

    from ..serve.app import Config, make_app
    from .common import load_or_fail
    sources = list(files)
    for f in sources:
        load_or_fail(f)  # a bad file is one line and exit 2 before the server starts
    if builtin or not sources:
        from ..api.problem import builtins
        sources += [b for b in builtins() if b not in sources]
    _can_listen(host, port)
    if not _loopback(host):
        click.echo(f"derive: warning: listening on {host}: anyone who can reach this address can submit "
                   "answers and read every attempt (/teacher)", err=True)
    try:
        app = make_app(Config(sources=sources, db=db, lang=lang or "en", workers=workers, timeout=timeout))
    except (OSError, sqlite3.Error) as e:
        fail(f"cannot open the attempts database {db}: {getattr(e, 'strerror', None) or e}")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"derive: practice page at http://{shown}:{port}/  (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, timeout_graceful_shutdown=5,
                timeout_keep_alive=KEEP_ALIVE)
    click.echo("derive: stopped")
