"""Fixtures of the practice page tests: one app (TestClient) and one real server on loopback per module."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from derive.serve.app import Config, make_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from starlette.testclient import TestClient
    app = make_app(Config(db=str(tmp_path_factory.mktemp("db") / "attempts.sqlite")))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert app.state.site.pool.ready(120), "no worker started"
        c.site = app.state.site
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn on 127.0.0.1 in a thread, stopped at the end of the module."""

    def __init__(self, config: Config):
        import uvicorn
        self.app = make_app(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        assert self.app.state.site.pool.ready(120), "no worker started"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "attempts.sqlite"
    with Server(Config(db=str(db))) as s:
        yield s
