"""Every attempt of the practice page in SQLite (stdlib sqlite3, WAL mode), and the teacher's views of it.

    store = Store("attempts.sqlite")       # ":memory:" is not allowed: workers and threads share a file
    store.add(student, exercise, wrt, answer, verdict_json, lang, ms)
    store.summary()      # per student and exercise: attempts, correct, last verdict
    store.rows()         # every attempt, oldest first (the CSV export)

One connection shared by the server's threads under a lock (writes are serialized anyway), WAL journal
so other readers (a second server, the sqlite3 shell) never block it, and a busy timeout so 50 students
submitting at once all get written.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at REAL NOT NULL,
  student TEXT NOT NULL,
  exercise TEXT NOT NULL,
  wrt TEXT NOT NULL,
  answer TEXT NOT NULL,
  correct INTEGER,            -- 1, 0, or NULL when the answer could not be checked
  diagnosis TEXT NOT NULL,    -- the diagnoses joined by "; ", or the error
  verdict TEXT NOT NULL,      -- the verdict JSON as `derive verify --json` prints it
  lang TEXT NOT NULL,
  ms REAL NOT NULL            -- how long the check took
);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts (student, exercise);
"""
COLUMNS = ("id", "at", "student", "exercise", "wrt", "answer", "correct", "diagnosis", "lang", "ms")


class Store:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()  # one statement at a time on the shared connection
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the server
        self._db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        """The connection, alone, in one transaction (committed on success, rolled back on error).
        One connection for the server's life: opening one per write made each write cost ~25 ms."""
        with self._lock, self._db:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, student: str, exercise: str, wrt: str, answer: str, verdict: dict, lang: str,
            ms: float) -> int:
        correct = verdict.get("correct")
        diag = verdict.get("error") or "; ".join(verdict.get("diagnosis") or ())
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO attempts (at, student, exercise, wrt, answer, correct, diagnosis, verdict, lang, ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), student, exercise, wrt, answer, None if correct is None else int(bool(correct)),
                 diag, json.dumps(verdict, ensure_ascii=False), lang, ms))
            return int(cur.lastrowid)

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def summary(self) -> list[dict]:
        """Per student and exercise: attempts, how many correct, and the last attempt."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT student, exercise, COUNT(*), SUM(correct = 1), MAX(id) FROM attempts "
                "GROUP BY student, exercise ORDER BY student, exercise").fetchall()
            out = []
            for student, exercise, n, ok, last in rows:
                wrt, answer, correct, diag = db.execute(
                    "SELECT wrt, answer, correct, diagnosis FROM attempts WHERE id = ?", (last,)).fetchone()
                out.append({"student": student, "exercise": exercise, "attempts": n, "correct": int(ok or 0),
                            "last_wrt": wrt, "last_answer": answer, "last_correct": correct, "last_diagnosis": diag})
            return out

    def rows(self) -> list[tuple]:
        with self._connect() as db:
            return db.execute(f"SELECT {', '.join(COLUMNS)} FROM attempts ORDER BY id").fetchall()

    def csv(self) -> str:
        """Every attempt as CSV; a cell that a spreadsheet would run as a formula is quoted with '."""
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(COLUMNS)
        for row in self.rows():
            w.writerow([_cell(v) for v in row])
        return out.getvalue()


def _cell(v):
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v  # CSV injection: =HYPERLINK(...) typed as a name stays text
    if isinstance(v, float):
        return round(v, 3)
    return v
