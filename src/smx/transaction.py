"""All-or-nothing changes to an environment.

A mutating command (install, ext add, model pull, remove) edits smx.toml and then syncs. If
anything fails — a bad ref, a network drop, Ctrl-C — smx.toml and smx.lock must be exactly as
they were before the command. ``env_transaction`` snapshots both files' bytes and puts them back
on any exception (atomically), then re-raises. A kill -9 cannot run this code, which is why
executors also never register half-done work in the lock (see sync.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from smx.environment.env import Env
from smx.fsutil import atomic_write_bytes


@contextmanager
def env_transaction(env: Env) -> Iterator[Env]:
    manifest_path = env.layout.manifest
    lock_path = env.layout.lockfile
    manifest_before = manifest_path.read_bytes()
    lock_before = lock_path.read_bytes() if lock_path.exists() else None
    try:
        yield env
    except BaseException:
        if manifest_path.read_bytes() != manifest_before:
            atomic_write_bytes(manifest_path, manifest_before)
        if lock_before is None:
            lock_path.unlink(missing_ok=True)
        elif not lock_path.exists() or lock_path.read_bytes() != lock_before:
            atomic_write_bytes(lock_path, lock_before)
        env.reload_manifest()
        from smx.environment import lock as lockfile

        env.lock = lockfile.load(lock_path)
        raise
