"""`smx status`: where the disk, smx.lock and smx.toml disagree (drift). Read-only, offline.

Three comparisons, each issue with a ``state``:

smx.toml vs smx.lock (smx.agreement):
  ``not-locked``   listed in smx.toml, not pinned in smx.lock (`smx lock` or `smx sync` pins it)
  ``not-in-toml``  pinned in smx.lock, no longer in smx.toml (the next sync removes it)
  ``lock-differs`` smx.toml asks for another source/ref/git URL/kind than smx.lock pins
smx.lock vs the disk:
  ``missing``      pinned but not on disk (never synced, deleted)
  ``incomplete``   a package whose install did not finish (no venv, interrupted run)
  ``wrong-commit`` a checkout at another commit than smx.lock pins
  ``dirty``        a checkout whose tracked files were edited
  ``toggled``      an extension enabled/disabled on disk unlike smx.lock
  ``corrupt``      a model file whose size is not the locked size (`smx model verify`'s word)
  ``modified``     a model file changed since smx last checked it (mtime or size; the full
                   check is `smx model verify`)
  ``outdated``     a model file with the bytes of an earlier pin (same name and size; after
                   `smx lock --upgrade`, before the sync)
the disk alone:
  ``extra``        a package folder, extension folder or model file (weights: .safetensors,
                   .ckpt, .pt, …; not sidecars) in the store that neither smx.lock nor smx.toml
                   knows (installed by hand, or by a web UI itself). A model file directly in
                   a kind's store folder gets a ``local:`` entry to keep it; one elsewhere (a
                   folder with no smx kind such as ``Karlo``, a sub-folder) gets none, since
                   sync could not manage it

Cost: file reads and stats, plus one ``git diff`` per checkout for ``dirty``; no network, no
hashing.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smx.environment.env import Env
from smx.environment.lock import LockedExtension, LockedPackage

if TYPE_CHECKING:
    from smx.agreement import Disagreement

STATES = ("not-locked", "not-in-toml", "lock-differs", "missing", "incomplete", "wrong-commit",
          "dirty", "toggled", "corrupt", "modified", "outdated", "extra")
_AGREEMENT = {"toml-only": "not-locked", "lock-only": "not-in-toml", "changed": "lock-differs"}


@dataclass
class Issue:
    area: str  # package | extension | model
    name: str
    state: str  # one of STATES
    detail: str
    package: str | None = None  # an extension's package
    path: str | None = None  # relative to the environment, POSIX


@dataclass
class Status:
    packages: int = 0  # entries in smx.toml
    extensions: int = 0
    models: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not self.issues

    def to_json(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync,
                "counts": {"packages": self.packages, "extensions": self.extensions,
                           "models": self.models, "issues": len(self.issues)},
                "issues": [asdict(i) for i in self.issues]}


def status(env: Env) -> Status:
    from smx import agreement

    report = Status(packages=len(env.manifest.packages),
                    extensions=sum(len(p.extensions) for p in env.manifest.packages.values()),
                    models=len(env.manifest.models))
    report.issues += [Issue(d.area, d.name, _AGREEMENT[d.state],
                            _agreement_detail(env, d), package=d.package)
                      for d in agreement.compare(env)]
    flagged = {(i.area, i.package, i.name) for i in report.issues
               if i.state in ("not-locked", "not-in-toml")}
    for name, locked in env.lock.packages.items():
        if ("package", None, name) not in flagged:  # (a package leaving takes its extensions)
            report.issues += _package_disk(env, locked)
            report.issues += _extensions_disk(env, locked, flagged)
    report.issues += _extra_packages(env)
    report.issues += _models_disk(env, flagged)
    return report


def _rel(env: Env, path: Path) -> str:
    return Path(os.path.relpath(path, env.root)).as_posix()


def _agreement_detail(env: Env, d: Disagreement) -> str:
    if d.state == "toml-only":
        return "not pinned in smx.lock yet (`smx sync` installs and pins it; `smx lock` pins it)"
    if d.state == "lock-only":
        return "no longer in smx.toml; the next `smx sync` removes it from the disk and smx.lock"
    return d.detail


# --- packages ---------------------------------------------------------------------------------
def package_state(env: Env, name: str) -> tuple[str, str]:
    """One package's state as `smx list` shows it: (words for people, the code for scripts,
    in this module's words, or ``installed``)."""
    from smx.packages import git
    from smx.packages.marker import Marker
    from smx.packages.venv import Venv

    layout = env.layout
    locked = env.lock.packages.get(name)
    if name not in env.manifest.packages:
        return "not in smx.toml (removed by the next sync)", "not-in-toml"
    if Marker.of(layout, name).exists():
        return "incomplete (run `smx sync`)", "incomplete"
    if locked is None:
        return "not installed", "not-locked"
    folder = layout.package_dir(name)
    if git.head_commit(folder) != locked.commit:
        return ("differs from smx.lock (run `smx sync`)",
                "wrong-commit" if folder.exists() else "missing")
    if not Venv(layout.venv_dir(name)).exists():
        return "differs from smx.lock (run `smx sync`)", "incomplete"
    return "installed", "installed"


def _package_disk(env: Env, locked: LockedPackage) -> list[Issue]:
    from smx.packages import git
    from smx.packages.marker import Marker
    from smx.packages.venv import Venv

    layout, name = env.layout, locked.name
    folder = layout.package_dir(name)
    where = _rel(env, folder)
    if not folder.exists():
        return [Issue("package", name, "missing", f"{where} is not there", path=where)]
    head = git.head_commit(folder)
    issues = []
    if head != locked.commit:
        issues.append(Issue("package", name, "wrong-commit",
                            f"checkout at {(head or 'no commit')[:12]}, smx.lock pins "
                            f"{locked.commit[:12]}", path=where))
    if Marker.of(layout, name).exists():
        issues.append(Issue("package", name, "incomplete",
                            "an install or update did not finish (`smx sync` finishes it)",
                            path=where))
    elif not Venv(layout.venv_dir(name)).exists():
        issues.append(Issue("package", name, "incomplete", "its venv is missing", path=where))
    else:
        from smx.packages.guard import unchecked

        if unchecked(layout, name):
            issues.append(Issue("package", name, "incomplete",
                                "a change was not load-checked yet (interrupted): `smx sync` "
                                "checks it and rolls it back if it does not load", path=where))
    issues += _dirty("package", name, None, folder, where)
    return issues


def _dirty(area: str, name: str, package: str | None, folder: Path, where: str
           ) -> list[Issue]:
    from smx.errors import SmxError
    from smx.packages import git

    try:
        dirty = git.is_dirty(folder)
    except SmxError:
        return []
    if not dirty:
        return []
    files = git.changed_files(folder, limit=5)
    return [Issue(area, name, "dirty", f"local edits: {', '.join(files)}", package=package,
                  path=where)]


def _extra_packages(env: Env) -> list[Issue]:
    folder = env.layout.packages
    if not folder.is_dir():
        return []
    from smx.packages.marker import Marker

    known = set(env.lock.packages) | set(env.manifest.packages)
    issues = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name.startswith(".") or entry.name in known:
            continue
        marker = Marker.of(env.layout, entry.name)
        if marker.exists() and marker.read().get("action") == "install":
            detail = (f"an `smx install` that did not finish: run it again to finish "
                      f"(it reuses what was fetched), or delete {_rel(env, entry)}")
        else:
            detail = "a folder in Data/Packages that neither smx.lock nor smx.toml lists"
        issues.append(Issue("package", entry.name, "extra", detail, path=_rel(env, entry)))
    return issues


# --- extensions -------------------------------------------------------------------------------
def _extensions_disk(env: Env, locked: LockedPackage, flagged: set[Any]) -> list[Issue]:
    from smx.catalog.packages import PACKAGES
    from smx.extensions.targets import DISABLED_SUFFIX

    catalog = PACKAGES.get(locked.source)
    checkout = env.layout.package_dir(locked.name)
    if catalog is None or not checkout.is_dir():
        return []
    base = checkout / catalog.extensions_dir
    issues: list[Issue] = []
    known_folders = set()
    spec = env.manifest.packages.get(locked.name)
    for ename, ext in locked.extensions.items():
        folder = _folder(ext)
        known_folders.add(folder)
        if ("extension", locked.name, ename) in flagged:
            continue
        issues += _extension_disk(env, locked, ename, ext, base / folder,
                                  base / (folder + DISABLED_SUFFIX),
                                  spec.extensions.get(ename) if spec else None)
    if spec is not None:
        from smx.extensions.targets import resolve

        for espec in spec.extensions.values():
            target = resolve(spec, espec)
            known_folders.add(target.folder)
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            plain = entry.name.removesuffix(DISABLED_SUFFIX)
            if entry.is_dir() and not entry.name.startswith((".", "__")) and \
                    plain not in known_folders:
                issues.append(Issue("extension", plain, "extra",
                                    f"a folder in {locked.name}'s {catalog.extensions_dir} "
                                    "that smx.lock does not list (installed by hand or by the "
                                    "web UI?)", package=locked.name, path=_rel(env, entry)))
    return issues


def _folder(ext: LockedExtension) -> str:
    from smx.extensions.targets import locked_folder

    return locked_folder(ext)


def _extension_disk(env: Env, pkg: LockedPackage, name: str, ext: LockedExtension,
                    enabled_dir: Path, disabled_dir: Path, spec: Any) -> list[Issue]:
    from smx.extensions.targets import present_identity

    present = enabled_dir if enabled_dir.exists() else (
        disabled_dir if disabled_dir.exists() else None)
    where = _rel(env, enabled_dir)
    if present is None:
        return [Issue("extension", name, "missing", f"{where} is not there",
                      package=pkg.name, path=where)]
    where = _rel(env, present)
    issues = []
    head = present_identity(present)
    if head != ext.identity:
        what = "archive" if ext.archive_sha256 else "checkout"
        issues.append(Issue("extension", name, "wrong-commit",
                            f"{what} at {(head or 'no commit')[:12]}, smx.lock pins "
                            f"{ext.identity[:12]}", package=pkg.name, path=where))
    if spec is not None:
        from smx.errors import SmxError
        from smx.extensions import toggle
        from smx.extensions.targets import resolve

        try:
            on_disk = toggle.is_enabled(env.layout, resolve(env.manifest.packages[pkg.name],
                                                            spec))
        except SmxError:
            on_disk = ext.enabled
        if on_disk != ext.enabled:
            issues.append(Issue("extension", name, "toggled",
                                f"{'enabled' if on_disk else 'disabled'} on disk, "
                                f"{'enabled' if ext.enabled else 'disabled'} in smx.lock",
                                package=pkg.name, path=where))
    issues += _dirty("extension", name, pkg.name, present, where)
    return issues


# --- models -----------------------------------------------------------------------------------
def _models_disk(env: Env, flagged: set[Any]) -> list[Issue]:
    from smx import diskstate
    from smx.models.store import locked_path

    records = diskstate.load(env.layout)
    issues = []
    stored: set[Path] = set()
    for name, locked in env.lock.models.items():
        path = locked_path(env.layout, locked)
        if path is None:
            continue
        stored.add(path)
        if ("model", None, name) in flagged:
            continue
        where = _rel(env, path)
        try:
            size = path.stat().st_size
        except OSError:
            issues.append(Issue("model", name, "missing", f"{where} is not there", path=where))
            continue
        if size != locked.size:
            issues.append(Issue("model", name, "corrupt",
                                f"{size} bytes, smx.lock says {locked.size}", path=where))
            continue
        why = diskstate.distrust(env.layout, locked, records)
        if why == "changed":
            issues.append(Issue("model", name, "modified",
                                "changed since smx checked it (its time stamp moved); "
                                "`smx model verify` re-hashes it", path=where))
        elif why == "relocked":
            issues.append(Issue("model", name, "outdated",
                                "the stored file holds the bytes of an earlier pin; smx.lock "
                                f"pins {locked.source} now", path=where))
    stored |= _declared_local(env)
    taken = set(env.manifest.models) | set(env.lock.models)
    for path in _store_files(env):
        if path not in stored:
            issues.append(Issue("model", path.name, "extra", _extra_model_detail(env, path, taken),
                                path=_rel(env, path)))
    return issues


def _declared_local(env: Env) -> set[Path]:
    """Files smx.toml already declares as ``local:`` (not locked yet: `not-locked` says so)."""
    from smx.errors import SmxError
    from smx.models.refs import LocalRef, parse_model_ref

    paths = set()
    for spec in env.manifest.models.values():
        try:
            ref = parse_model_ref(spec.source)
        except SmxError:
            continue
        if isinstance(ref, LocalRef):
            paths.add(env.layout.models / ref.path)
    return paths


def _extra_model_detail(env: Env, path: Path, taken: set[str]) -> str:
    """Why the file is extra, and the smx.toml entry that keeps it when sync would accept one.

    Sync accepts ``local:FOLDER/FILE`` only for a file directly in a kind's store folder (the
    lock records kind + file name, so a sub-folder's file would be looked for in the wrong
    place); anything else gets no suggestion rather than one sync rejects.
    """
    import json

    from smx.adopt import model_name
    from smx.catalog.model_kinds import kind_for_folder
    from smx.errors import SmxError
    from smx.models.refs import parse_model_ref

    local = path.relative_to(env.layout.models).as_posix()
    parts = local.split("/")
    if len(parts) != 2:
        where = "directly in Data/Models" if len(parts) == 1 else "in a sub-folder"
        return (f"a file {where}, which smx.lock does not list; smx tracks only files directly "
                "in a store folder (Data/Models/<Folder>/FILE)")
    if kind_for_folder(parts[0]) is None:
        return (f"a file in Data/Models/{parts[0]}, a folder with no smx model kind; smx cannot "
                "track it (the web UIs may still use it)")
    try:
        source = str(parse_model_ref(f"local:{local}"))
    except SmxError:
        return "a file in the store that smx.lock does not list; its name cannot be a local: source"
    name = model_name(path.name[: -len(path.suffix)], taken)
    key = name if name.replace("-", "").replace("_", "").isalnum() else json.dumps(name)
    return ("a file in the store that smx.lock does not list (keep it with "
            f"`{key} = {{ source = {json.dumps(source)} }}` in [models], or delete it)")


def _store_files(env: Env) -> list[Path]:
    from smx.catalog.model_kinds import is_model_file

    root = env.layout.models
    if not root.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if is_model_file(name):
                found.append(Path(folder) / name)
    return found
