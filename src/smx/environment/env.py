"""An opened environment: its layout, its manifest and its lock, read once per command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smx.environment import lock as lockfile
from smx.environment import manifest as manifest_mod
from smx.environment.layout import MANIFEST_NAME, EnvLayout
from smx.environment.lock import Lock
from smx.environment.manifest import Manifest
from smx.errors import UsageError


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


DATA_GITIGNORE = """\
# Written by smx: Data/ (web UIs, venvs, models, caches, logs) is rebuilt from smx.toml and
# smx.lock by `smx sync`; commit those two files, not this folder.
*
"""


def init_env(root: Path, name: str | None = None) -> Env:
    """Create smx.toml (if absent) and the Data/ layout. Idempotent, never overwrites.

    A Data/ made here gets a ``.gitignore`` (``*``, as a virtualenv does), so committing the
    folder commits smx.toml and smx.lock but never the gigabytes under Data/; an existing
    Data/ (a Stability Matrix library being adopted) is left as it is.
    """
    layout = EnvLayout(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is a file, not a folder",
                         hint="name a new or existing folder for the environment")
    new = not layout.manifest.exists()
    if new:
        _refuse_inside_data(root)
    fresh_data = not layout.data.exists()  # an adopted library's Data/ is not ours to add to
    root.mkdir(parents=True, exist_ok=True)
    layout.create()
    if new:
        from smx.fsutil import atomic_write_text

        if fresh_data:
            atomic_write_text(layout.data_gitignore, DATA_GITIGNORE)
        atomic_write_text(layout.manifest, manifest_mod.render_default(name or root.resolve().name))
    return Env.open(root)


def rename_env(env: Env, name: str) -> bool:
    """Set ``[env] name`` (comments kept). False when it already had that name."""
    if env.manifest.name == name:
        return False

    def change(doc: object) -> None:
        manifest_mod.table_for(doc, "env")["name"] = name

    env.manifest = manifest_mod.edit(env.layout.manifest, change)
    return True


def _refuse_inside_data(root: Path) -> None:
    """An environment inside another one's Data/ (its web UIs, its model store) would be
    synced, pruned and scanned by both: refuse it, and a Stability Matrix library's Data/ too."""
    target = root.expanduser().absolute()
    for folder in (target, *target.parents):
        if folder.name != "Data":
            continue
        owner = folder.parent
        where = "is" if folder == target else "is inside"
        if (owner / MANIFEST_NAME).is_file():
            raise UsageError(f"{root} {where} {folder}, the Data/ folder of the environment "
                             f"{owner}", hint=f"make the new environment in a folder of its "
                             f"own, outside {folder}", code="env.nested")
        if (folder / "Models").is_dir() and (folder / "Packages").is_dir():
            raise UsageError(f"{root} {where} {folder}, the Data/ folder of a Stability "
                             "Matrix library", hint=f"make that library an smx environment "
                             f"in place: smx init --adopt {owner}", code="env.nested")
