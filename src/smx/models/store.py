"""The one shared model store: ``Data/Models/<Folder>/<file>`` (Stability Matrix's folder names).

Every web UI of the environment reads these folders (flags, extra_model_paths.yaml, links), so a
model is stored once however many UIs use it. A file whose SHA-256 is already in the store under
another name or kind is hard-linked, not downloaded again. Placement is an atomic rename from
``Data/Cache/downloads`` (same filesystem), so a reader never sees half a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from smx.environment.env import Env
from smx.environment.layout import EnvLayout
from smx.environment.lock import Lock, LockedModel
from smx.environment.names import sanitize_filename as sanitize_filename  # where callers look
from smx.fsutil import fsync_dir
from smx.reporter import NullReporter, Reporter


def model_path(layout: EnvLayout, kind: str, filename: str) -> Path:
    return layout.model_file(kind, filename)


def locked_path(layout: EnvLayout, locked: LockedModel) -> Path | None:
    return layout.locked_model_file(locked)


def present(layout: EnvLayout, locked: LockedModel) -> bool:
    """The cheap check a no-op sync relies on: the file is there with the locked size."""
    path = locked_path(layout, locked)
    try:
        return path is not None and path.is_file() and path.stat().st_size == locked.size
    except OSError:
        return False


def users_of(lock: Lock, layout: EnvLayout, path: Path, *, exclude: str | None = None
             ) -> list[str]:
    """Names of the lock's models stored at ``path``."""
    return [name for name, locked in lock.models.items()
            if name != exclude and locked_path(layout, locked) == path]


def find_same_content(env: Env, sha256: str, *, exclude: str | None = None) -> Path | None:
    """A file already in the store with this SHA-256 (per smx.lock, checked by size)."""
    for name, locked in env.lock.models.items():
        if name != exclude and locked.sha256 == sha256 and present(env.layout, locked):
            return locked_path(env.layout, locked)
    return None


def place(part: Path, target: Path) -> None:
    """Move a verified download into the store atomically (copy+rename across filesystems)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(part, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: Data/Models on another disk than Data/Cache
            raise
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, part.open("rb") as src:
                shutil.copyfileobj(src, out, 8 * 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        part.unlink()
    fsync_dir(target.parent)


def link_same(existing: Path, target: Path) -> str:
    """Make ``target`` the same stored file as ``existing``: a hard link when the filesystem
    has them, else a relative symlink, else (last resort) a copy. Returns which."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(existing, tmp)
        how = "hard link"
    except OSError:
        try:
            os.symlink(os.path.relpath(existing, target.parent), tmp)
            how = "symlink"
        except OSError:
            shutil.copy2(existing, tmp)
            how = "copy"
    os.replace(tmp, target)
    return how


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def hash_file(path: Path, reporter: Reporter | None = None, label: str | None = None) -> str:
    """SHA-256 of a stored file, with a byte progress line for big ones."""
    reporter = reporter or NullReporter()
    sha = hashlib.sha256()
    buffer = memoryview(bytearray(4 * 1024 * 1024))
    size = path.stat().st_size
    with reporter.task(label or f"checking {path.name}", total=size, unit="bytes") as task, \
            path.open("rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            sha.update(buffer[:n])
            task.advance(n)
    return sha.hexdigest()


def remove_stored(env: Env, name: str) -> Path | None:
    """Delete ``name``'s file unless another model entry still uses that path. Returns the
    path deleted, or None when it was kept (shared) or already gone."""
    locked = env.lock.models.get(name)
    if locked is None:
        return None
    path = locked_path(env.layout, locked)
    if path is None or users_of(env.lock, env.layout, path, exclude=name):
        return None
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


@dataclass
class ModelRow:
    """One line of `smx model list` (and its --json, documented in docs/json/model-list.md)."""

    name: str
    kind: str | None
    base_model: str | None
    size_bytes: int | None
    source: str  # as smx.toml says it (smx.lock's for entries smx.toml no longer has)
    locked: str | None  # the exact pin in smx.lock ("civitai:261336@597138")
    sha256: str | None
    path: str | None  # relative to the env
    state: str  # ok | missing | corrupt | not-locked | not-in-toml: `smx status`'s words
    used_by: list[str]
    trigger_words: list[str] = field(default_factory=list)  # Civitai's trainedWords


def packages_using(env: Env, kind: str | None) -> list[str]:
    """The environment's web UIs that see ``kind``'s store folder (flag, config key, link)."""
    if kind is None:
        return []
    from smx.catalog.packages import PACKAGES

    names = []
    for pname, spec in env.manifest.packages.items():
        pkg = PACKAGES.get(spec.source)
        if pkg is None:
            continue
        if kind in pkg.model_flags or kind in pkg.model_config_keys:
            names.append(pname)
        elif kind in ("motion-module", "motion-lora") and any(
                "animatediff" in (e.name + (e.git or "")).lower()
                for e in spec.extensions.values()):
            names.append(pname)  # AnimateDiff extension folder, linked to the store
    return names


def list_models(env: Env) -> list[ModelRow]:
    rows = []
    names = list(env.manifest.models) + [n for n in env.lock.models
                                         if n not in env.manifest.models]
    for name in names:
        spec = env.manifest.models.get(name)
        locked = env.lock.models.get(name)
        if locked is None:
            assert spec is not None
            rows.append(ModelRow(name, spec.kind, None, None, spec.source, None, None, None,
                                 "not-locked", packages_using(env, spec.kind)))
            continue
        path = locked_path(env.layout, locked)
        status = "ok"
        if spec is None:
            status = "not-in-toml"
        elif path is None or not path.is_file():
            status = "missing"
        elif path.stat().st_size != locked.size:
            status = "corrupt"
        rel = env.layout.relative(path) if path is not None and path.exists() else (
            path.relative_to(env.root).as_posix() if path is not None else None)
        rows.append(ModelRow(name, locked.kind, locked.base_model, locked.size,
                             spec.source if spec else locked.source, locked.source,
                             locked.sha256, rel, status, packages_using(env, locked.kind),
                             list(locked.trigger_words)))
    return rows


@dataclass
class VerifyRow:
    name: str
    path: str | None
    status: str  # ok | missing | corrupt
    detail: str = ""


def verify(env: Env, names: list[str] | None = None, reporter: Reporter | None = None
           ) -> list[VerifyRow]:
    """Re-hash stored files against smx.lock."""
    rows = []
    for name, locked in sorted(env.lock.models.items()):
        if names and name not in names:
            continue
        path = locked_path(env.layout, locked)
        rel = path.relative_to(env.root).as_posix() if path is not None else None
        if path is None or not path.is_file():
            rows.append(VerifyRow(name, rel, "missing", "the file is not in the store"))
            continue
        size = path.stat().st_size
        if size != locked.size:
            rows.append(VerifyRow(name, rel, "corrupt",
                                  f"size {size} bytes, smx.lock says {locked.size}"))
            continue
        digest = hash_file(path, reporter, f"verifying {name}")
        if digest != locked.sha256:
            rows.append(VerifyRow(name, rel, "corrupt",
                                  f"sha256 {digest}, smx.lock says {locked.sha256}"))
        else:
            rows.append(VerifyRow(name, rel, "ok"))
            from smx import diskstate

            diskstate.remember(env.layout, name, locked)  # a later sync trusts it again
    return rows
