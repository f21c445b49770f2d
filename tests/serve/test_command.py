"""`derive serve`: one command, loopback by default, the URL printed, a clean stop on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from derive.cli.serve import _loopback

from .conftest import free_port


def _serve(*args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "derive", "serve", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_starts_prints_url_answers_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    p = _serve("--port", str(port), "--db", str(tmp_path / "a.sqlite"), cwd=tmp_path)
    try:
        line = p.stdout.readline()
        assert line.strip().startswith(f"derive: practice page at http://127.0.0.1:{port}/"), line
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/api/verify", timeout=60,
                               json={"problem": "circuit", "wrt": "x", "answer": "z", "student": "ann"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and p.poll() is None, "the server did not come up"
                time.sleep(0.3)
        assert r.json()["correct"] is True, r.json()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert "Traceback" not in err and "stopped" in out
    assert (tmp_path / "a.sqlite").exists()


def test_a_bad_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[graph]\nf = \"x +\"\n[values]\nx = 1\n", encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "derive", "serve", str(bad), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "bad.toml" in p.stderr


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                           ("example.org", False)])
def test_only_loopback_is_quiet(host, loop):
    assert _loopback(host) is loop


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "derive", "serve", "--port", str(port), "--db",
                            str(tmp_path / "a.sqlite")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [f"derive: error: cannot listen on 127.0.0.1 port {port}: "
                                             "Address already in use"]
