"""A package's state before a sync changed it, kept until its load check has passed.

Before the first change a sync makes to an installed package (its update, or any extension
added, updated or enabled), the guard keeps:

- the venv, as a hard-link copy (``Data/Packages/P/venv.smx-guard``; pip and uv replace files
  rather than rewrite them, so the copy keeps the old contents at no extra space);
- the lock entry, the checkout's commit, and per extension folder whether it existed and at
  which commit (``Data/.smx/packages/P.guard.json``).

After the package's steps the load check runs (smx.packages.loadcheck). If what the sync
installed does not load, :func:`rollback` puts all of that back. Both files live on disk, so a
sync killed between the change and its check is checked (and if need be rolled back) by the
next one; :func:`unchecked` finds such a guard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smx.environment.env import Env
from smx.environment.layout import VENV_CHECK_COPY, EnvLayout
from smx.environment.lock import LockedExtension, LockedPackage
from smx.errors import SmxError
from smx.fsutil import atomic_write_text, remove_path
from smx.packages import git
from smx.packages.venvcopy import VenvCopy
from smx.reporter import Reporter


@dataclass
class FolderBefore:
    existed: bool
    commit: str | None = None
    enabled: bool | None = None


@dataclass
class PackageGuard:
    package: str
    locked: dict[str, Any] | None  # the lock entry before (asdict of LockedPackage)
    head: str | None  # the checkout's commit before
    folders: dict[str, FolderBefore] = field(default_factory=dict)  # extension folder -> before
    package_changed: bool = False
    base_existed: bool = True  # the package's extension folder (extensions/, custom_nodes/)

    # -- where it lives --------------------------------------------------------------------
    @staticmethod
    def state_file(layout: EnvLayout, package: str) -> Path:
        return layout.check_record(package)

    @staticmethod
    def venv_copy(layout: EnvLayout, package: str) -> VenvCopy:
        return VenvCopy.of(layout, package, VENV_CHECK_COPY)

    def save(self, layout: EnvLayout) -> None:
        data = asdict(self)
        atomic_write_text(self.state_file(layout, self.package), json.dumps(data, indent=1))

    @classmethod
    def load(cls, layout: EnvLayout, package: str) -> PackageGuard | None:
        try:
            data = json.loads(cls.state_file(layout, package).read_text(encoding="utf-8"))
            folders = {k: FolderBefore(**v) for k, v in (data.get("folders") or {}).items()}
            return cls(package=package, locked=data.get("locked"), head=data.get("head"),
                       folders=folders, package_changed=bool(data.get("package_changed")),
                       base_existed=bool(data.get("base_existed", True)))
        except (OSError, ValueError, TypeError):
            return None

    # -- recording -------------------------------------------------------------------------
    def note_folder(self, layout: EnvLayout, folder: str, path: Path | None,
                    enabled: bool | None) -> None:
        """Before an extension step touches ``folder`` (``path``: where it is now, if any)."""
        if folder in self.folders:
            return
        self.folders[folder] = FolderBefore(existed=path is not None,
                                            commit=git.head_commit(path) if path else None,
                                            enabled=enabled)
        self.save(layout)


def begin(env: Env, package: str, reporter: Reporter) -> PackageGuard:
    """The guard of ``package`` in this sync (created, with its venv copy, on first use)."""
    layout = env.layout
    existing = PackageGuard.load(layout, package)
    if existing is not None:
        return existing
    locked = env.lock.packages.get(package)
    spec = env.manifest.packages.get(package)
    base = _extensions_base(layout, spec.source if spec else locked.source if locked else None,
                            package)
    guard = PackageGuard(package=package, locked=_plain(locked) if locked else None,
                         head=git.head_commit(layout.package_dir(package)),
                         base_existed=base is None or base.is_dir())
    PackageGuard.venv_copy(layout, package).take(
        reporter, f"{package}: keep the current venv until the load check passes")
    guard.save(layout)
    return guard


def unchecked(layout: EnvLayout, package: str) -> bool:
    """A guard left by a sync that did not get to its load check."""
    return PackageGuard.state_file(layout, package).is_file()


def close(layout: EnvLayout, package: str) -> None:
    """The check passed (or the change is kept): drop the copy and the record."""
    PackageGuard.venv_copy(layout, package).drop()
    PackageGuard.state_file(layout, package).unlink(missing_ok=True)


def rollback(env: Env, package: str, reporter: Reporter) -> str:
    """Put the package back as the guard found it; returns what was undone (for the error).
    What could not be undone is named there too, and the guard then stays: the next sync
    checks the package again and retries."""
    from smx.catalog.packages import get_package

    layout = env.layout
    guard = PackageGuard.load(layout, package)
    if guard is None:
        return "nothing to roll back"
    undone: list[str] = []
    failed: list[str] = []
    pkg_dir = layout.package_dir(package)
    spec = env.manifest.packages.get(package)
    source = spec.source if spec else (guard.locked or {}).get("source")
    catalog = get_package(source) if source else None
    base = pkg_dir / (catalog.extensions_dir if catalog else "extensions")
    for folder, before in guard.folders.items():
        paths = [base / folder, base / f"{folder}.disabled"]
        if not before.existed:
            with _attempt(failed, f"remove {folder}"):
                for path in paths:
                    remove_path(path)
                undone.append(f"removed {folder}")
        elif before.commit:
            for path in paths:
                if path.exists() and git.head_commit(path) != before.commit:
                    with _attempt(failed, f"put {folder} back to {before.commit[:12]}"):
                        git.checkout(path, git.origin_url(path) or "", before.commit,
                                     force=True, branch=git.PINNED_BRANCH)
                        undone.append(f"{folder} back to {before.commit[:12]}")
    if not guard.base_existed and base.is_dir() and not any(base.iterdir()):
        base.rmdir()
    if guard.package_changed and guard.head and git.head_commit(pkg_dir) != guard.head:
        with _attempt(failed, f"put {package} back to {guard.head[:12]}"):
            git.checkout(pkg_dir, git.origin_url(pkg_dir) or "", guard.head, force=True)
            undone.append(f"{package} back to {guard.head[:12]}")
    copy = PackageGuard.venv_copy(layout, package)
    if copy.exists():
        with _attempt(failed, "put the venv back"), \
                reporter.task(f"{package}: put the venv back"):
            copy.put_back()
            undone.append("venv put back")
    if guard.locked is not None:
        env.lock.packages[package] = _unplain(guard.locked)
    if catalog is not None and catalog.extension_style == "comfyui":
        with _attempt(failed, "enable/disable its extensions as before"):
            _restore_renames(base, guard)
    else:
        _restore_toggles(env, package, guard)
    said = "rolled back: " + ", ".join(undone) if undone else "nothing needed rolling back"
    if failed:
        return (f"{said}; could not {', '.join(failed)}; the next `smx sync` checks "
                f"{package} again")
    close(layout, package)
    return said


@contextmanager
def _attempt(failed: list[str], what: str) -> Iterator[None]:
    """One undo step: a failure is recorded (and the rollback goes on with the others)."""
    try:
        yield
    except (SmxError, OSError) as exc:
        failed.append(f"{what} ({exc})")


def _restore_renames(base: Path, guard: PackageGuard) -> None:
    """ComfyUI disables a node pack by renaming it ``X.disabled``: rename it back."""
    for folder, before in guard.folders.items():
        if not before.existed or before.enabled is None:
            continue
        on, off = base / folder, base / f"{folder}.disabled"
        if before.enabled and off.exists() and not on.exists():
            os.replace(off, on)
        elif not before.enabled and on.exists() and not off.exists():
            os.replace(on, off)


def _restore_toggles(env: Env, package: str, guard: PackageGuard) -> None:
    """A1111 keeps disabled extensions in config.json; put their entries back as they were."""
    from smx.extensions import toggle

    pkg_dir = env.layout.package_dir(package)
    if not (pkg_dir / toggle.SETTINGS_FILE).is_file():
        return
    wanted_off = {f for f, b in guard.folders.items() if b.existed and b.enabled is False}
    wanted_on = {f for f, b in guard.folders.items() if b.existed and b.enabled is True}
    if not wanted_off and not wanted_on:
        return

    def change(data: dict[str, Any]) -> None:
        listed = data.get("disabled_extensions")
        current = list(listed) if isinstance(listed, list) else []
        current = [x for x in current if x not in wanted_on]
        current += [x for x in sorted(wanted_off) if x not in current]
        data["disabled_extensions"] = current

    try:
        toggle.update_settings(pkg_dir, change)
    except (SmxError, OSError):  # an unreadable config.json: the web UI rewrites it with defaults
        return


def _extensions_base(layout: EnvLayout, source: str | None, package: str) -> Path | None:
    from smx.catalog.packages import PACKAGES

    catalog = PACKAGES.get(source or "")
    if catalog is None or not catalog.extensions_dir:
        return None
    return layout.package_dir(package) / catalog.extensions_dir


def _plain(locked: LockedPackage) -> dict[str, Any]:
    return asdict(locked)


def _unplain(data: dict[str, Any]) -> LockedPackage:
    extensions = {k: LockedExtension(**v) for k, v in (data.get("extensions") or {}).items()}
    fields = {k: v for k, v in data.items() if k != "extensions"}
    return LockedPackage(**fields, extensions=extensions)
