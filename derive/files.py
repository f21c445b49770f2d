"""Writing outputs safely: every file goes through a unique temporary name in its own directory
and an atomic replace, so a reader never sees half a file and concurrent runs never splice two.
A target that is a symbolic link is replaced by the new file: the file it pointed to is never
written. The files of one output (a PDF and its .tex, a Markdown report and its figures) are put
in place together under a lock on their folder (`write_unit`, `locked`), so two runs writing the
same report leave all of one run's files, never a mix. Unusable paths (a parent that is a file, a
read-only directory, a full device, a target that is a directory) become one-line OutputErrors
naming the path; earlier outputs stay untouched.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path

from .errors import DeriveError


class OutputError(DeriveError):
    """An output path that cannot be written (exit code 2)."""


def _why(e: OSError, path: Path) -> str:
    code = e.errno
    if code in (errno.ENOTDIR, errno.EEXIST) and not path.is_dir():
        parent = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        return f"cannot write {path}: {parent} is a file, not a directory"
    if code == errno.EISDIR or (code == errno.EEXIST and path.is_dir()):
        return f"cannot write {path}: it is a directory"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: permission denied"
    if code == errno.EROFS:
        return f"cannot write {path}: the file system is read-only"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {path}: no space left on the device"
    if code == errno.ENAMETOOLONG:
        return f"cannot write {path}: the name is too long"
    return f"cannot write {path}: {e.strerror or e}"


def ensure_dir(path) -> Path:
    """`path` as an existing directory (created with its parents), or an OutputError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot use {path} as the output directory: it is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(_why(e, path)) from None
    return path


def check_target(path) -> Path:
    """A file path whose directory exists (created) and that is not itself a directory."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    if path.exists() and not path.is_file():
        raise OutputError(f"cannot write {path}: it is not a regular file (a device, a pipe or a socket)")
    ensure_dir(path.parent)
    return path


def _mode_for(path: Path) -> int:
    """The permissions a plain open() would give: the old file's, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _staged(path: Path, data: str | bytes) -> str:
    """`data` written and synced to a unique temporary file next to `path`; its name."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(_why(e, path)) from None
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        _unlink(tmp)
        raise OutputError(_why(e, path)) from None
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(*names) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(name)


def write_atomic(path, data: str | bytes) -> Path:
    """Write `data` to `path` through a unique temporary file and an atomic replace (a symbolic
    link at `path` is replaced, the file it points to is left alone)."""
    path = check_target(path)
    tmp = _staged(path, data)
    try:
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        raise OutputError(_why(e, path)) from None
    return path


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on `folder` while the block runs: an flock on the directory itself,
    so no lock file is left behind; waits for another run that holds it."""
    folder = ensure_dir(folder)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise OutputError(_why(e, folder)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_unit(contents: dict, moves: dict | None = None) -> list[Path]:
    """Write {path: text or bytes} and move {finished file: path} as one unit, whole or not at all:
    every path is checked and every file written to a temporary name first (a full disk stops
    here, with the old files untouched), then all are renamed into place under a lock on each
    folder (taken in sorted order, so two runs never wait on each other in a circle)."""
    paths = {check_target(p): data for p, data in contents.items()}
    moves = {Path(src): check_target(dst) for src, dst in (moves or {}).items()}
    staged: dict[Path, str] = {}
    try:
        for path, data in paths.items():
            staged[path] = _staged(path, data)
        with contextlib.ExitStack() as stack:
            for folder in sorted({p.parent.resolve() for p in [*paths, *moves.values()]}):
                stack.enter_context(locked(folder))
            placed = [move_into_place(src, dst) for src, dst in moves.items()]
            for path in list(staged):
                try:
                    os.replace(staged[path], path)
                except OSError as e:
                    raise OutputError(_why(e, path)) from None
                del staged[path]
                placed.append(path)
        return placed
    finally:
        _unlink(*staged.values())


def move_into_place(src, path) -> Path:
    """Atomically move a finished file (written in the same directory tree) to `path`."""
    path = check_target(path)
    try:
        os.replace(src, path)
    except OSError as e:
        raise OutputError(_why(e, path)) from None
    return path
