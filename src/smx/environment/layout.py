"""Where everything lives inside an environment folder.

Only relative paths are ever written inside the env (smx.toml, smx.lock, generated configs use
paths relative to the env or the package), so the folder can be moved and still works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smx.catalog.model_kinds import KINDS_BY_NAME, STORE_FOLDERS
from smx.errors import ConfigError

MANIFEST_NAME = "smx.toml"
LOCK_NAME = "smx.lock"


def contained(path: Path, folder: Path, *, what: str = "path") -> Path:
    """``path`` when it lies inside ``folder``; else a ConfigError, before anything is touched.

    Every path smx deletes, links or places into an environment goes through here. ``..`` and
    symlinks of the *parents* are resolved (a store folder that is itself a link to another
    disk is fine: it is resolved on both sides); the last component is not followed, so a link
    that smx removes is the link, never what it points to.
    """
    parent = Path(os.path.realpath(Path(path).parent))
    base = Path(os.path.realpath(folder))
    candidate = parent / Path(path).name
    if Path(path).name in ("", ".", "..") or base not in candidate.parents:
        raise ConfigError(f"refusing to touch {path}: the {what} lies outside {folder}",
                          hint="smx.lock or smx.toml names a path outside the environment; "
                               "restore them from version control, or delete smx.lock and "
                               "run `smx lock`", code="env.path_outside")
    return Path(path)


@dataclass(frozen=True)
class EnvLayout:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def lockfile(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def data(self) -> Path:
        return self.root / "Data"

    @property
    def packages(self) -> Path:
        return self.data / "Packages"

    @property
    def models(self) -> Path:
        return self.data / "Models"

    @property
    def cache(self) -> Path:
        return self.data / "Cache"

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

    @property
    def logs(self) -> Path:
        return self.data / "Logs"

    @property
    def state(self) -> Path:
        """smx's private bookkeeping (process lock, disk-state cache); never user data."""
        return self.data / ".smx"

    @property
    def process_lock(self) -> Path:
        return self.state / "env.lock"

    def package_dir(self, name: str) -> Path:
        return self.inside(self.packages / name, self.packages, what="package folder")

    def venv_dir(self, name: str) -> Path:
        return self.package_dir(name) / "venv"

    def constraints_file(self, name: str) -> Path:
        """The protected pins of a package's venv (smx.packages.protect)."""
        return self.state / "packages" / f"{name}.constraints.txt"

    def model_folder(self, kind: str) -> Path:
        return self.models / KINDS_BY_NAME[kind].folder

    def model_file(self, kind: str, filename: str) -> Path:
        """A stored model's path: directly inside its kind's folder, never anywhere else."""
        folder = self.model_folder(kind)
        return self.inside(folder / filename, folder, what="model file")

    def inside(self, path: Path, folder: Path | None = None, *, what: str = "path") -> Path:
        """``path``, checked to lie inside ``folder`` (default: the environment)."""
        return contained(path, folder if folder is not None else self.root, what=what)

    def relative(self, path: Path) -> str:
        """A path as it may be written inside the env: relative, POSIX separators."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def create(self) -> None:
        for folder in (self.packages, self.downloads, self.logs, self.state):
            folder.mkdir(parents=True, exist_ok=True)
        for name in STORE_FOLDERS:
            (self.models / name).mkdir(parents=True, exist_ok=True)
