"""`smx lock`: resolve smx.toml into smx.lock without installing anything.

- packages and extensions: ``git ls-remote`` of the ref -> the commit it names;
- models: the source's API -> version / revision, file, size, SHA-256 (no download).

What smx.lock already pins and smx.toml still asks for is kept as it is, unless upgraded:
``upgrade`` = None (keep), an empty set (everything) or names of packages, extensions and
models, which are re-resolved to what their ref names now (a branch's head, a model's newest
version). Entries smx.toml no longer lists are dropped (what is still on disk is left for the
next sync to remove, see smx.leftovers).

``freeze`` (the Python packages of a venv) can only be known after an install. So when a
package's commit moves, or one of its extensions is added or moves, its ``freeze`` and
requirements hash are cleared: the next `smx sync` installs that commit and records them,
and until then `smx sync --frozen` refuses the package with a clear message (lock.incomplete).
A plain URL model (and any file whose source announces no exact size and SHA-256) cannot be
pinned without downloading it: it is left for `smx sync`, which records what it downloaded.

All or nothing: if anything cannot be resolved, smx.lock is not written.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.environment.env import Env
from smx.environment.lock import Lock, LockedExtension, LockedModel, LockedPackage
from smx.environment.manifest import ModelSpec, PackageSpec
from smx.errors import ChecksumMismatch, NotFound, UsageError
from smx.leftovers import Injected
from smx.redact import redact
from smx.reporter import NullReporter, Reporter


@dataclass
class LockChange:
    area: str  # package | extension | model
    name: str
    action: str  # added | updated | removed | unpinned
    before: str | None = None
    after: str | None = None
    package: str | None = None  # the package of an extension
    note: str = ""

    def describe(self) -> str:
        subject = f"{self.area} {self.name}" + (f" ({self.package})" if self.package else "")
        if self.action == "added":
            return f"+ {subject}: {self.after}"
        if self.action == "removed":
            return f"- {subject}: {self.before}" + (f" ({self.note})" if self.note else "")
        if self.action == "unpinned":
            return f"? {subject}: {self.note}"
        return f"~ {subject}: {self.before} -> {self.after}"


@dataclass
class LockResult:
    changes: list[LockChange] = field(default_factory=list)
    written: bool = False


def lock(env: Env, *, upgrade: set[str] | None = None, reporter: Reporter | None = None,
         write: bool = True) -> LockResult:
    """Resolve what smx.lock does not pin yet (and ``upgrade``); write smx.lock."""
    reporter = reporter or NullReporter()
    if upgrade:
        _check_names(env, upgrade)
    locker = _Locker(env, copy.deepcopy(env.lock), upgrade, reporter)
    locker.run()
    result = LockResult(changes=locker.changes)
    # a fresh env gets its (empty) smx.lock too: after `smx lock` there is a file to commit
    if write and (locker.changes or not env.layout.lockfile.exists()):
        from smx import leftovers
        from smx.environment import lock as lockfile

        lockfile.save(env.layout.lockfile, locker.new)
        env.lock = locker.new
        if locker.on_disk:
            leftovers.add(env.layout, locker.dropped, locker.on_disk)
        result.written = True
    return result


def _check_names(env: Env, names: set[str]) -> None:
    known = set(env.manifest.packages) | set(env.manifest.models) | {
        e for p in env.manifest.packages.values() for e in p.extensions}
    for name in sorted(names - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        raise NotFound(f"no package, extension or model named {name!r} in smx.toml",
                       hint=f"did you mean {close[0]!r}?" if close else
                       "name what smx.toml lists, or give no name to upgrade everything")


def _short(commit: str | None) -> str:
    return (commit or "-")[:12]


class _Locker:
    def __init__(self, env: Env, new: Lock, upgrade: set[str] | None,
                 reporter: Reporter) -> None:
        self.env = env
        self.new = new
        self.upgrade = upgrade
        self.reporter = reporter
        self.changes: list[LockChange] = []
        self.dropped = Lock()  # entries removed from smx.lock
        self.on_disk = Injected()  # ... whose files are still there
        self._client: Any = None
        self._services: Any = None

    def wants_upgrade(self, name: str) -> bool:
        return self.upgrade is not None and (not self.upgrade or name in self.upgrade)

    def run(self) -> None:
        try:
            for name, spec in self.env.manifest.packages.items():
                self._package(name, spec)
            for name in sorted(set(self.new.packages) - set(self.env.manifest.packages)):
                self._drop_package(name)
            for name, model in self.env.manifest.models.items():
                self._model(name, model)
            for name in sorted(set(self.new.models) - set(self.env.manifest.models)):
                self._drop_model(name)
        finally:
            if self._client is not None:
                self._client.close()

    # --- packages and extensions --------------------------------------------------------------
    def _package(self, name: str, spec: PackageSpec) -> None:
        from smx.agreement import package_fits
        from smx.packages.target import Target

        target = Target.of(spec)
        locked = self.new.packages.get(name)
        git_url = redact(target.git_url)
        same = locked is not None and package_fits(target, locked)
        if locked is None or not same or self.wants_upgrade(name):
            commit = self._commit(target.git_url, target.ref, self.env.layout.package_dir(name),
                                  f"{name} ({target.ref})")
            if locked is None:
                locked = LockedPackage(name=name, source=spec.source, git=git_url,
                                       commit=commit, ref=target.ref)
                self.new.packages[name] = locked
                self.changes.append(LockChange("package", name, "added",
                                               after=f"{target.ref} @ {_short(commit)}"))
            elif not same or commit != locked.commit:
                before = f"{locked.ref} @ {_short(locked.commit)}"
                if commit != locked.commit:
                    _not_installed_yet(locked)
                locked.source, locked.git, locked.ref, locked.commit = (
                    spec.source, git_url, target.ref, commit)
                self.changes.append(LockChange("package", name, "updated", before=before,
                                               after=f"{target.ref} @ {_short(commit)}"))
        self._extensions(name, spec, locked)

    def _extensions(self, pname: str, spec: PackageSpec, pkg: LockedPackage) -> None:
        from smx.agreement import extension_fits
        from smx.extensions.targets import resolve

        for ename, espec in spec.extensions.items():
            ext = resolve(spec, espec)
            if ext.builtin:
                continue
            if ext.registry is not None:
                self._registry_extension(pname, pkg, ext)
                continue
            assert ext.git_url is not None
            locked = pkg.extensions.get(ename)
            same = locked is not None and extension_fits(ext, locked)
            if locked is not None and same and not self.wants_upgrade(ename):
                if locked.enabled != espec.enabled:
                    self.changes.append(LockChange(
                        "extension", ename, "updated", package=pname,
                        before="enabled" if locked.enabled else "disabled",
                        after="enabled" if espec.enabled else "disabled"))
                    locked.enabled = espec.enabled
                continue
            commit = self._commit(ext.git_url, ext.want_ref, ext.present_dir(self.env.layout),
                                  f"{pname}/{ename} ({ext.want_ref})")
            entry = LockedExtension(name=ename, git=ext.locked_git, commit=commit, ref=ext.ref,
                                    enabled=espec.enabled)
            if locked is None:
                self.changes.append(LockChange("extension", ename, "added", package=pname,
                                               after=f"{ext.want_ref} @ {_short(commit)}"))
            elif not same or commit != locked.commit or locked.enabled != espec.enabled:
                self.changes.append(LockChange(
                    "extension", ename, "updated", package=pname,
                    before=f"{locked.ref or 'HEAD'} @ {_short(locked.commit)}",
                    after=f"{ext.want_ref} @ {_short(commit)}"))
            else:
                continue
            if locked is None or commit != locked.commit:
                _not_installed_yet(pkg)  # its requirements may change the venv
            pkg.extensions[ename] = entry
        for ename in sorted(set(pkg.extensions) - set(spec.extensions)):
            gone = pkg.extensions.pop(ename)
            holder = self.dropped.packages.setdefault(
                pname, LockedPackage(name=pname, source=pkg.source, git=pkg.git, commit=""))
            holder.extensions[ename] = gone
            present = _extension_on_disk(self.env, spec.source, pname, gone)
            if present:
                self.on_disk.extensions.add((pname, ename))
            self.changes.append(LockChange("extension", ename, "removed", package=pname,
                                           before=_short(gone.commit),
                                           note="the next `smx sync` deletes its folder"
                                           if present else ""))

    def _registry_extension(self, pname: str, pkg: LockedPackage, ext: Any) -> None:
        """A Comfy Registry pack: the Registry picks the version (smx.toml's, the one pinned,
        or with --upgrade the newest active one); its commit, or its archive's SHA-256 (the
        archive is downloaded to hash it: the Registry publishes no digest)."""
        from smx.agreement import extension_fits
        from smx.extensions.registry_source import pick

        locked = pkg.extensions.get(ext.name)
        same = locked is not None and extension_fits(ext, locked)
        if locked is not None and same and not self.wants_upgrade(ext.name):
            if locked.enabled != ext.spec.enabled:
                self.changes.append(LockChange(
                    "extension", ext.name, "updated", package=pname,
                    before="enabled" if locked.enabled else "disabled",
                    after="enabled" if ext.spec.enabled else "disabled"))
                locked.enabled = ext.spec.enabled
            return
        chosen = pick(self.env, ext, locked=locked if same else None,
                      upgrade=self.wants_upgrade(ext.name), reporter=self.reporter)
        version = chosen.version.version
        entry = LockedExtension(name=ext.name, registry=ext.registry, version=version,
                                enabled=ext.spec.enabled)
        if chosen.git_url is not None and chosen.commit is not None:
            entry.git, entry.commit = redact(chosen.git_url), chosen.commit
        elif locked is not None and locked.version == version and locked.archive_sha256:
            entry.archive_sha256 = locked.archive_sha256
        else:
            entry.archive_sha256 = self._archive_sha256(ext.registry, version,
                                                        chosen.archive_url or "")
        after = f"{ext.registry} {version} @ {entry.identity[:12]}"
        if locked is None:
            self.changes.append(LockChange("extension", ext.name, "added", package=pname,
                                           after=after))
        elif (locked.registry, locked.version, locked.identity, locked.enabled) != (
                entry.registry, entry.version, entry.identity, entry.enabled):
            before = f"{locked.registry or locked.git} {locked.version or ''} @ " \
                     f"{locked.identity[:12]}".replace("  ", " ")
            self.changes.append(LockChange("extension", ext.name, "updated", package=pname,
                                           before=before, after=after))
        else:
            return
        if locked is None or locked.identity != entry.identity:
            _not_installed_yet(pkg)
        pkg.extensions[ext.name] = entry

    def _archive_sha256(self, node: str, version: str, url: str) -> str:
        from smx.extensions import archive

        dest = self.env.layout.registry_archive(node, version, for_lock=True)
        try:
            return archive.download(url, dest, what=f"{node} {version}",
                                    reporter=self.reporter).sha256
        finally:
            dest.unlink(missing_ok=True)

    def _drop_package(self, name: str) -> None:
        gone = self.new.packages.pop(name)
        self.dropped.packages[name] = gone
        present = self.env.layout.package_dir(name).exists()
        if present:
            self.on_disk.packages.add(name)
        self.changes.append(LockChange("package", name, "removed",
                                       before=f"{gone.ref} @ {_short(gone.commit)}",
                                       note="the next `smx sync` deletes its folder"
                                       if present else ""))

    def _commit(self, url: str, ref: str, checkout: Path | None, what: str) -> str:
        from smx.packages import git

        self.reporter.info(f"resolving {what} …")
        cwd = checkout if checkout is not None and checkout.is_dir() else None
        resolved = git.resolve(url, ref, cwd=cwd)
        if resolved.commit is not None:
            return resolved.commit
        # a short SHA: the remote does not advertise commits; the checkout may have it
        head = git.head_commit(checkout) if checkout is not None else None
        if head is not None and head.startswith(resolved.ref):
            return head
        raise UsageError(f"{what}: {ref!r} is a short commit SHA, which `smx lock` cannot "
                         "resolve without cloning",
                         hint="write the full 40-character SHA (or a tag or branch) in "
                              "smx.toml, or run `smx sync`, which fetches it and locks it")

    # --- models ---------------------------------------------------------------------------------
    def _model(self, name: str, spec: ModelSpec) -> None:
        from smx.agreement import model_fits
        from smx.models.refs import LocalRef, UrlRef, parse_model_ref

        locked = self.new.models.get(name)
        matches = locked is not None and model_fits(spec, locked)
        if matches and not self.wants_upgrade(name):
            return
        ref = parse_model_ref(spec.source)
        if isinstance(ref, LocalRef | UrlRef):
            if matches:
                return  # nothing to upgrade: the path or URL is the identity
            self._unpin(name, locked, "a local file is recorded by `smx sync`"
                        if isinstance(ref, LocalRef) else
                        "a plain URL's size and SHA-256 are known only after the download; "
                        "the next `smx sync` records them")
            return
        entry = self._resolve_model(name, spec, ref)
        if entry is None:
            self._unpin(name, locked, "the source announces no exact size and SHA-256 for "
                        "this file; the next `smx sync` records them after the download")
            return
        if locked is not None and (locked.source, locked.sha256, locked.filename,
                                   locked.kind) == (entry.source, entry.sha256,
                                                    entry.filename, entry.kind):
            return  # the same file: keep the entry as it is
        self.new.models[name] = entry
        if locked is None:
            self.changes.append(LockChange("model", name, "added", after=entry.source))
        else:
            self.changes.append(LockChange("model", name, "updated", before=locked.source,
                                           after=entry.source))

    def _resolve_model(self, name: str, spec: ModelSpec, ref: Any) -> LockedModel | None:
        from smx.models.classify import decide_kind
        from smx.models.kinds import family_from_filename
        from smx.models.peek import classify_remote
        from smx.models.settings import told
        from smx.models.sources import resolve
        from smx.models.store import sanitize_filename

        if self._client is None:
            self._services = told(self.env.manifest.sources, self.reporter.warn)
            self._client = self._services.client(on_retry=self.reporter.info)
        self.reporter.info(f"resolving {spec.source} …")
        resolved = resolve(ref, services=self._services, client=self._client, file=spec.file,
                           sha256=spec.sha256)
        if spec.sha256 and resolved.sha256 and spec.sha256 != resolved.sha256:
            raise ChecksumMismatch(
                f"{name}: smx.toml pins sha256 {spec.sha256} but the source announces "
                f"{resolved.sha256}",
                hint="update or drop sha256 in smx.toml if the new file is the one you want")
        if not resolved.sha256 or resolved.size is None or not resolved.size_exact:
            return None
        filename = sanitize_filename(spec.filename or resolved.filename, f"{name}.bin")
        client = self._client
        kind = decide_kind(spec.kind, resolved.kind, filename, resolved.title,
                           header=lambda: classify_remote(client, resolved, filename)).kind
        return LockedModel(name=name, source=resolved.source, kind=kind, filename=filename,
                           size=resolved.size, sha256=resolved.sha256,
                           base_model=resolved.base_model or family_from_filename(filename),
                           civitai=dict(resolved.civitai), hf=dict(resolved.hf),
                           url=resolved.plain_url, trigger_words=list(resolved.trigger_words))

    def _unpin(self, name: str, locked: LockedModel | None, why: str) -> None:
        if locked is not None:
            self._drop_model(name, quiet=True)
        self.changes.append(LockChange("model", name, "unpinned", note=why))

    def _drop_model(self, name: str, quiet: bool = False) -> None:
        from smx.models.store import locked_path

        gone = self.new.models.pop(name)
        path = locked_path(self.env.layout, gone)
        present = path is not None and path.is_file()
        if name not in self.env.manifest.models:
            self.dropped.models[name] = gone
            if present:
                self.on_disk.models.add(name)
        if not quiet:
            self.changes.append(LockChange("model", name, "removed", before=gone.source,
                                           note="the next `smx sync` deletes its file"
                                           if present else ""))


def _not_installed_yet(pkg: LockedPackage) -> None:
    """The venv's packages at the new pins are unknown until the next sync installs them."""
    pkg.freeze = []
    pkg.requirements_sha256 = None


def _extension_on_disk(env: Env, source: str, package: str, locked: LockedExtension) -> bool:
    from smx.catalog.packages import get_package
    from smx.extensions.targets import DISABLED_SUFFIX, locked_folder

    folder = locked_folder(locked)
    base = env.layout.package_dir(package) / get_package(source).extensions_dir
    return (base / folder).exists() or (base / (folder + DISABLED_SUFFIX)).exists()
