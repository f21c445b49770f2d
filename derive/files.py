"""Writing outputs safely: every file goes through a unique temporary name in its own directory
and an atomic replace, so a reader never sees half a file and concurrent runs never splice two.
Unusable paths (a parent that is a file, a read-only directory, a full device, a target that is a
directory) become one-line OutputErrors naming the path; earlier outputs stay untouched.
"""
from __future__ import annotations

import contextlib
import errno
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


def write_atomic(path, data: str | bytes) -> Path:
    """Write `data` to `path` through a unique temporary file and an atomic replace."""
    path = check_target(path)
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
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(_why(e, path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def move_into_place(src, path) -> Path:
    """Atomically move a finished file (written in the same directory tree) to `path`."""
    path = check_target(path)
    try:
        os.replace(src, path)
    except OSError as e:
        raise OutputError(_why(e, path)) from None
    return path
