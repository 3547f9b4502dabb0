"""An smx.toml edit that is written only once the work it asks for is done.

``env_transaction`` puts smx.toml back when a command fails with an exception, but a kill -9
runs no Python: if `smx install` wrote smx.toml first and was then killed during pip, the file
would name a package that was never installed. So the command computes the edited text, syncs
against it in memory, and the step that finishes the work writes it (before sync writes
smx.lock), so smx.toml changes only when the package is really there.

    pending = PendingManifest.prepare(env, lambda doc: ...)   # env.manifest is now the edit
    sync(env, SyncOptions(extra={PENDING_KEY: pending}))       # a step calls pending.write()
    pending.write()                                            # no step ran: write it now

Comments and formatting survive (tomlkit); the new text is validated before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smx.environment.env import Env

PENDING_KEY = "pending_manifest"


@dataclass
class PendingManifest:
    env: Env
    original: str
    text: str
    written: bool = False

    @classmethod
    def prepare(cls, env: Env, change: Callable[[Any], None]) -> PendingManifest:
        import tomlkit

        from smx.environment.manifest import parse_text

        path = env.layout.manifest
        original = path.read_text(encoding="utf-8")
        parse_text(path, original)  # refuse to edit a file that is already invalid
        doc = tomlkit.parse(original)
        change(doc)
        text = tomlkit.dumps(doc)
        env.manifest = parse_text(path, text)
        return cls(env=env, original=original, text=text, written=text == original)

    def write(self) -> None:
        """Write the edited smx.toml (once; later calls do nothing)."""
        if self.written:
            return
        from smx.fsutil import atomic_write_text

        atomic_write_text(self.env.layout.manifest, self.text)
        self.written = True


def write_pending(options_extra: dict[str, Any]) -> None:
    """Called by a step when its work is complete (or, for a removal, before it starts)."""
    pending = options_extra.get(PENDING_KEY)
    if isinstance(pending, PendingManifest):
        pending.write()
