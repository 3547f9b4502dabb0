"""An opened environment: its layout, its manifest and its lock, read once per command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smx.environment import lock as lockfile
from smx.environment import manifest as manifest_mod
from smx.environment.layout import EnvLayout
from smx.environment.lock import Lock
from smx.environment.manifest import Manifest


@dataclass
class RunNotes:
    """What one smx command has learnt and said already (so it is said once per run)."""

    index_without_times: bool = False  # the package index gave no upload times
    undated_sources_said: bool = False  # local wheel folders / file:// indexes were named


@dataclass
class Env:
    layout: EnvLayout
    manifest: Manifest
    lock: Lock
    notes: RunNotes = field(default_factory=RunNotes)

    @property
    def root(self) -> Path:
        return self.layout.root

    @classmethod
    def open(cls, root: Path) -> Env:
        layout = EnvLayout(root)
        return cls(layout, manifest_mod.load(layout.manifest), lockfile.load(layout.lockfile))

    def reload_manifest(self) -> None:
        self.manifest = manifest_mod.load(self.layout.manifest)

    def save_lock(self) -> None:
        lockfile.save(self.layout.lockfile, self.lock)


def init_env(root: Path, name: str | None = None) -> Env:
    """Create smx.toml (if absent) and the Data/ layout. Idempotent, never overwrites."""
    layout = EnvLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    layout.create()
    if not layout.manifest.exists():
        from smx.fsutil import atomic_write_text

        atomic_write_text(layout.manifest, manifest_mod.render_default(name or root.resolve().name))
    return Env.open(root)
