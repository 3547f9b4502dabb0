"""The one way a command changes an environment: edit smx.toml, then sync.

    result = apply(env, change, SyncOptions(only={"comfyui"}), reporter)

``change`` edits the smx.toml document (tomlkit: the user's comments and ordering stay). The
edited text is validated before anything runs, and the sync plans against it in memory. It is
written only once the work it asks for is done: by the step that finishes it (a removal: just
before the step starts), before that step's smx.lock is saved, or at the end when nothing
needed doing. So a run killed with -9 in the middle of a download or a pip install leaves
smx.toml as it was, never naming what is not there; and smx.toml is never behind smx.lock.

All or nothing: any failure (a bad ref, a network drop, Ctrl-C) puts smx.toml and smx.lock
back byte for byte (smx.transaction). `smx sync` itself, which edits nothing, keeps each step
it completed instead (``atomic=False``): running it again resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from smx.environment.env import Env
from smx.environment.manifest import ManifestEdit
from smx.reporter import Reporter
from smx.steps import SyncOptions
from smx.sync import SyncResult, sync
from smx.transaction import env_transaction

Change = Callable[[Any], None]  # edits a tomlkit document of smx.toml in place


def apply(env: Env, change: Change | None, options: SyncOptions, reporter: Reporter, *,
          atomic: bool = True) -> SyncResult:
    """Edit smx.toml with ``change`` (None: no edit), then sync with ``options``."""
    guard: AbstractContextManager[Any] = env_transaction(env) if atomic else nullcontext()
    with guard:
        edit = None
        if change is not None:
            edit = ManifestEdit.prepare(env.layout.manifest, change)
            env.manifest = edit.manifest
        result = sync(env, options, reporter, edit=edit)
        if edit is not None and not options.dry_run:
            edit.write()  # no step finished any work (it was all there): record the edit now
    return result
