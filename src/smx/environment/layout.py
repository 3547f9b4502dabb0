"""Where everything lives inside an environment folder.

Only relative paths are ever written inside the env (smx.toml, smx.lock, generated configs use
paths relative to the env or the package), so the folder can be moved and still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smx.catalog.model_kinds import KINDS_BY_NAME, STORE_FOLDERS

MANIFEST_NAME = "smx.toml"
LOCK_NAME = "smx.lock"


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
        return self.packages / name

    def venv_dir(self, name: str) -> Path:
        return self.package_dir(name) / "venv"

    def constraints_file(self, name: str) -> Path:
        """The protected pins of a package's venv (smx.packages.protect)."""
        return self.state / "packages" / f"{name}.constraints.txt"

    def model_folder(self, kind: str) -> Path:
        return self.models / KINDS_BY_NAME[kind].folder

    def relative(self, path: Path) -> str:
        """A path as it may be written inside the env: relative, POSIX separators."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def create(self) -> None:
        for folder in (self.packages, self.downloads, self.logs, self.state):
            folder.mkdir(parents=True, exist_ok=True)
        for name in STORE_FOLDERS:
            (self.models / name).mkdir(parents=True, exist_ok=True)
