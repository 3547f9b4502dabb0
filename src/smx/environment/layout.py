"""Where everything lives inside an environment folder: every path smx itself reads or writes
under ``Data/`` is named here, so one look shows what an environment holds.

Only relative paths are ever written inside the env (smx.toml, smx.lock, generated configs use
paths relative to the env or the package), so the folder can be moved and still works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smx.catalog.model_kinds import KINDS_BY_NAME, STORE_FOLDERS
from smx.errors import ConfigError

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel

MANIFEST_NAME = "smx.toml"
LOCK_NAME = "smx.lock"
VENV = "venv"
# The hard-link copies of a package's venv (smx.packages.venvcopy): one kept through an
# install step (put back when the step fails), one kept until the sync's load check passes.
VENV_STEP_COPY = "venv.smx-prev"
VENV_CHECK_COPY = "venv.smx-guard"
PARTIAL = ".partial"  # a copy being made; never trusted
REMOVING = ".removing"  # a folder renamed aside before it is deleted


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
    def data_gitignore(self) -> Path:
        """Keeps Data/ (web UIs, venvs, models) out of the user's git repository."""
        return self.data / ".gitignore"

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
        return self.package_dir(name) / VENV

    def venv_copy(self, name: str, which: str) -> Path:
        """A hard-link copy of package ``name``'s venv: ``which`` is :data:`VENV_STEP_COPY`
        or :data:`VENV_CHECK_COPY`."""
        return self.package_dir(name) / which

    @staticmethod
    def partial(path: Path) -> Path:
        """Where ``path`` is built before it is renamed into place."""
        return path.with_name(path.name + PARTIAL)

    def package_trash(self, name: str) -> Path:
        """Where a package folder is renamed to before it is deleted."""
        return self.inside(self.packages / f".{name}{REMOVING}", self.packages)

    def package_trash_names(self) -> set[str]:
        """Packages whose removal was interrupted (their folder is still renamed aside)."""
        if not self.packages.is_dir():
            return set()
        return {p.name[1:-len(REMOVING)] for p in self.packages.iterdir()
                if p.name.startswith(".") and p.name.endswith(REMOVING)}

    # -- smx's bookkeeping per package (Data/.smx/packages) ------------------------------------
    @property
    def package_state(self) -> Path:
        return self.state / "packages"

    def install_marker(self, name: str) -> Path:
        """Present while smx installs or updates package ``name`` (smx.packages.marker)."""
        return self.package_state / f"{name}.pending"

    def constraints_file(self, name: str) -> Path:
        """The protected pins of a package's venv (smx.packages.protect)."""
        return self.package_state / f"{name}.constraints.txt"

    def check_record(self, name: str) -> Path:
        """What a package was before a sync changed it, until the load check passes
        (smx.packages.guard)."""
        return self.package_state / f"{name}.guard.json"

    def frozen_requirements(self, name: str) -> Path:
        """The package list smx.lock pins, as the requirements file `--frozen` installs."""
        return self.package_state / f"{name}.frozen.txt"

    def extension_requirements(self, package: str, folder: str) -> Path:
        """An extension's requirements.txt without the lines that would move protected pins."""
        return self.package_state / f"{package}.{folder}.requirements.txt"

    # -- extensions on their way in or out (Data/.smx/extensions) ------------------------------
    @property
    def extension_staging_root(self) -> Path:
        return self.state / "extensions"

    def extension_staging(self, package: str, folder: str) -> Path:
        """Where a new extension is cloned before it may enter the package. Not under the
        extension folder: A1111 and ComfyUI load every folder there, hidden ones too."""
        return self.extension_staging_root / package / folder

    def extension_trash(self, package: str, folder: str) -> Path:
        return self.extension_staging_root / package / f"{folder}{REMOVING}"

    # -- other bookkeeping ---------------------------------------------------------------------
    @property
    def model_records(self) -> Path:
        """What smx last checked of each stored model (smx.diskstate)."""
        return self.state / "models.json"

    @property
    def leftovers(self) -> Path:
        """Entries `smx lock` dropped while they are still on disk (smx.leftovers)."""
        return self.state / "leftovers.lock"

    @property
    def runs(self) -> Path:
        """Records of web UIs started with `smx launch --background`."""
        return self.state / "run"

    def run_record(self, name: str) -> Path:
        return self.runs / f"{name}.json"

    def run_status(self, name: str) -> Path:
        """Written by the supervisor when the web UI exits (its exit code)."""
        return self.runs / f"{name}.status.json"

    def run_log(self, name: str) -> Path:
        """The output of package ``name`` started in the background."""
        return self.logs / f"{name}.log"

    # -- caches --------------------------------------------------------------------------------
    def git_archive_clone(self, git_url: str, commit: str) -> Path:
        """smx's git clone of a pip package a web UI would download as an archive (shared by
        every package of the env: A1111 and Forge pin the same CLIP)."""
        repo = git_url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
        return self.cache / "git" / f"{repo}-{commit[:12]}"

    def registry_history(self, node_id: str) -> Path:
        """A bare clone of a Comfy Registry pack's repository, to find a version's commit."""
        return self.cache / "registry" / f"{node_id}.git"

    def registry_archive(self, folder: str, version: str, *, for_lock: bool = False) -> Path:
        """A Comfy Registry archive while it is downloaded (deleted once unpacked or hashed)."""
        return self.downloads / f"registry-{folder}-{version}{'.lock' if for_lock else ''}.zip"

    # -- models --------------------------------------------------------------------------------
    def model_folder(self, kind: str) -> Path:
        return self.models / KINDS_BY_NAME[kind].folder

    def model_file(self, kind: str, filename: str) -> Path:
        """A stored model's path: directly inside its kind's folder, never anywhere else."""
        folder = self.model_folder(kind)
        return self.inside(folder / filename, folder, what="model file")

    def locked_model_file(self, locked: LockedModel) -> Path | None:
        """Where smx.lock's model is stored (None: a kind this smx does not know)."""
        if locked.kind not in KINDS_BY_NAME:
            return None
        return self.model_file(locked.kind, locked.filename)

    def store_file(self, rel: str) -> Path:
        """``rel`` (a path relative to Data/Models, as a ``local:`` source names it), checked
        to lie inside the store."""
        return self.inside(self.models / rel, self.models, what="local: model file")

    # -- checks and conversions ----------------------------------------------------------------
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
