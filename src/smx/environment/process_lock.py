"""One smx process at a time per environment.

A second process waits (telling the user why) and fails clearly after a timeout instead of
interleaving writes to smx.toml, smx.lock or a package's venv.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from smx.errors import EnvBusy

DEFAULT_TIMEOUT_S = float(os.environ.get("SMX_LOCK_TIMEOUT", "600"))


@contextmanager
def env_lock(lock_path: Path, *, timeout: float | None = None,
             on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    from filelock import FileLock, Timeout

    timeout = DEFAULT_TIMEOUT_S if timeout is None else timeout
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"another smx process is working in this environment; waiting up to "
                    f"{timeout:.0f} s for it to finish")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise EnvBusy(f"another smx process held {lock_path} for more than {timeout:.0f} s",
                          hint="wait for it to finish, or stop it; set SMX_LOCK_TIMEOUT to "
                               "wait longer") from None
    try:
        yield
    finally:
        lock.release()
