"""Worker processes for the practice page: derive's math runs here, never on the server's threads.

    pool = Pool(sources, workers=2, timeout=10.0)
    pool.call("verify", eid, wrt, answer, lang, student, key=...)   # -> serve.work.verify's result
    pool.close()

derive is not thread-safe yet, so each worker process answers one task at a time. A task that takes
longer than `timeout` seconds gets its worker killed and replaced (TaskTimeout): one slow answer never
blocks the others for long. A worker that dies is replaced too (WorkerDied). A call goes to the first
free worker, preferring one that has its `key` (a student's variant) cached; `spread` solves that
variant in the other workers in the background when the page opens, so every later check of the
student finds it cached wherever it lands. `call` is blocking and thread-safe.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import threading
import time

TASKS = ("exercises", "page", "prepare", "verify", "read", "warm")
STARTUP = 120.0  # seconds a new worker may take to import derive and solve every exercise once


class TaskTimeout(Exception):
    """The task ran past the time limit (its worker was replaced), or no worker was free in time."""


class WorkerDied(Exception):
    """The worker ended without an answer (killed, out of memory); it was replaced."""


class TaskFailed(Exception):
    """The task raised an exception that is not a DeriveError: a bug (one line, no traceback)."""


def _serve(conn, sources: list[str]) -> None:
    """A worker's loop: (name, args) in, ("ok", result) or ("error", one line) out."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle; it ends us
    from . import work
    work.setup(sources)
    with contextlib.suppress(Exception):  # a problem that cannot be solved says so when asked for
        work.warm()  # solve every exercise once: the first student waits no longer than the rest
    conn.send(("ready", None))
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if name not in TASKS:
                raise ValueError(f"unknown task {name!r}")
            conn.send(("ok", getattr(work, name)(*args)))
        except Exception as e:  # a bug in derive: one line back; the server shows no traceback
            conn.send(("error", f"{type(e).__name__}: {str(e)[:300]}"))


class _Slot:
    """One worker process; `busy` while it holds a task, `warm` the keys whose data it has cached."""

    def __init__(self, ctx, sources, changed):
        self.ctx, self.sources, self.changed = ctx, sources, changed
        self.busy = False
        self.warm: set[str] = set()
        self.ready = threading.Event()
        self.conn = self.process = None
        self.start()

    def start(self) -> None:
        self.ready.clear()
        self.warm = set()
        self.conn, child = self.ctx.Pipe()
        self.process = self.ctx.Process(target=_serve, args=(child, self.sources), daemon=True)
        self.process.start()
        child.close()
        threading.Thread(target=self._wait_ready, args=(self.conn,), daemon=True).start()

    def _wait_ready(self, conn) -> None:
        with contextlib.suppress(EOFError, OSError):
            if conn.poll(STARTUP) and conn.recv()[0] == "ready":
                self.ready.set()
                with self.changed:
                    self.changed.notify_all()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class Pool:
    """`workers` processes, each answering one task at a time, with a per-task time limit."""

    def __init__(self, sources: list[str], workers: int = 2, timeout: float = 10.0, wait: float = 180.0):
        self.timeout = timeout
        self.wait = wait  # how long a call waits for a worker to be free (and started)
        ctx = mp.get_context("spawn")  # never fork a threaded server
        self._changed = threading.Condition()  # a worker became free or ready
        self._slots = [_Slot(ctx, list(sources), self._changed) for _ in range(max(1, workers))]
        self._closed = False

    def ready(self, timeout: float = STARTUP) -> bool:
        """Wait until every worker takes tasks."""
        return all(s.ready.wait(timeout) for s in self._slots)

    def _take(self, key: str | None, only: int | None) -> _Slot:
        """A free, started worker: `only` that one, else one that has `key` cached, else any."""
        deadline = time.monotonic() + self.wait
        with self._changed:
            while True:
                free = [s for i, s in enumerate(self._slots)
                        if not s.busy and s.ready.is_set() and only in (None, i)]
                if free:
                    slot = next((s for s in free if key in s.warm), free[0])
                    slot.busy = True
                    return slot
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TaskTimeout(f"no worker was free within {self.wait:g} s")
                self._changed.wait(left)

    def _give(self, slot: _Slot) -> None:
        with self._changed:
            slot.busy = False
            self._changed.notify_all()

    def call(self, name: str, *args, key: str | None = None, timeout: float | None = None,
             only: int | None = None):
        """Run `name` (a function of serve.work) in a worker and return its result. `key` names what the
        task caches in its worker (a student's variant): a later call with that key prefers that worker."""
        if self._closed:
            raise WorkerDied("the server is stopping")
        slot = self._take(key, only)
        limit = self.timeout if timeout is None else timeout
        try:
            try:
                slot.conn.send((name, args))
                if not slot.conn.poll(limit):
                    self._restart(slot)
                    raise TaskTimeout(f"the task took longer than {limit:g} s")
                reply = slot.conn.recv()
            except (EOFError, OSError):
                self._restart(slot)
                raise WorkerDied("a worker process ended unexpectedly") from None
            if key is not None:
                slot.warm.add(key)
        finally:
            self._give(slot)
        if reply[0] == "error":
            raise TaskFailed(reply[1])
        return reply[1]

    def spread(self, name: str, *args, key: str) -> None:
        """Run `name` in every worker that has not cached `key` yet, in the background (a student's variant
        solved everywhere once their page is open: their checks then go to whichever worker is free)."""
        def run(i):
            with contextlib.suppress(TaskTimeout, WorkerDied, TaskFailed):
                self.call(name, *args, key=key, only=i)
        for i, s in enumerate(self._slots):
            if key not in s.warm:
                threading.Thread(target=run, args=(i,), daemon=True).start()

    def _restart(self, slot: _Slot) -> None:
        slot.stop()
        if not self._closed:
            slot.start()

    def close(self) -> None:
        self._closed = True
        for s in self._slots:
            s.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
