"""Small filesystem helpers with the guarantees smx promises: atomic, never half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader (or a kill -9) sees the old or the new file.

    The temp file lives in the same folder so ``os.replace`` is a rename on one filesystem; the
    fsync before the rename makes the new content durable before it becomes visible.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp_name, _mode_for(path))
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _mode_for(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (POSIX; best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def rmtree(path: Path) -> None:
    """Delete a folder tree, read-only files included (git's objects are read-only)."""
    import shutil
    import sys

    def onerror(func: Any, target: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(target, 0o700)
            func(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=onerror)
    else:  # pragma: no cover - 3.10/3.11
        shutil.rmtree(path, onerror=onerror)


def remove_path(path: Path) -> None:
    """Delete ``path`` whatever it is: a link (never what it points to), a folder, or nothing."""
    if path.is_symlink():
        path.unlink()
    elif path.is_dir():
        rmtree(path)
    elif path.exists():
        path.unlink()


def rmdir_empty(path: Path) -> None:
    """Remove ``path`` if it is an empty folder; anything else stays."""
    with contextlib.suppress(OSError):
        path.rmdir()


def link_or_copy(src: str, dst: str) -> None:
    """A hard link where the file system allows one, else a copy (``shutil.copytree``'s
    ``copy_function``)."""
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def hardlink_tree(src: Path, dst: Path) -> None:
    """A copy of the tree ``src`` at ``dst`` made of hard links (instant, no extra space);
    symlinks stay symlinks."""
    import shutil

    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)
