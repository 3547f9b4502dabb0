"""One model's pull step: resolve -> reuse what the store has -> download -> check -> place ->
record in smx.lock. Used by `smx model pull` and `smx sync` alike (models/executor.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from smx import diskstate
from smx.agreement import model_fits
from smx.environment.lock import LockedModel
from smx.errors import ChecksumMismatch, IntegrityError, UnsafeFile, UsageError
from smx.models import safety, store
from smx.models.classify import Verdict, decide_kind
from smx.models.download import DownloadSpec, discard_partial, download
from smx.models.kinds import base_family, family_from_filename
from smx.models.outcome import PullOutcome
from smx.models.refs import parse_model_ref
from smx.models.sources import ResolvedFile, from_lock, resolve
from smx.steps import SyncContext
from smx.words import human_bytes


def cache_key(source: str, sha256: str | None) -> str:
    """The .part name: the SHA-256 when known (any source of the same bytes resumes it)."""
    if sha256:
        return sha256
    return "url-" + hashlib.sha256(source.encode()).hexdigest()[:32]


class Puller:
    def __init__(self, ctx: SyncContext, name: str) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.spec = ctx.env.manifest.models[name]
        self.locked = ctx.env.lock.models.get(name)
        self.options = ctx.options
        self.reporter = ctx.reporter
        self.services = ctx.services()
        self.warnings: list[str] = []

    # --- which file --------------------------------------------------------------------------
    def _resolved(self) -> ResolvedFile:
        given = self.options.resolved.get(self.name)
        if given is not None:
            return given
        upgrade = self.options.upgrade
        wants_upgrade = upgrade is not None and (not upgrade or self.name in upgrade)
        if self.locked is not None and model_fits(self.spec, self.locked) and not wants_upgrade:
            return from_lock(self.locked, services=self.services)
        self.reporter.info(f"resolving {self.spec.source} …")
        return resolve(parse_model_ref(self.spec.source), services=self.services,
                       client=self.client, file=self.spec.file, sha256=self.spec.sha256)

    def run(self) -> None:
        self.client = self.services.client(on_retry=self.reporter.info)
        try:
            self._run()
        finally:
            self.client.close()

    def _run(self) -> None:
        resolved = self._resolved()
        if self.spec.sha256 and resolved.sha256 and self.spec.sha256 != resolved.sha256:
            raise ChecksumMismatch(
                f"{self.name}: smx.toml pins sha256 {self.spec.sha256} but the source "
                f"announces {resolved.sha256}; nothing was downloaded",
                hint="update or drop sha256 in smx.toml if the new file is the one you want")
        resolved.sha256 = resolved.sha256 or self.spec.sha256
        allow_unsafe = self.options.allow_unsafe
        if resolved.source_scan == "Danger" and not allow_unsafe:
            raise UnsafeFile(f"Civitai's own scan flags {resolved.title} as dangerous; it was "
                             "not downloaded",
                             hint="prefer a .safetensors file of this model; if you trust the "
                                  "author, run again with --allow-unsafe")
        filename = store.sanitize_filename(self.spec.filename or resolved.filename,
                                           f"{self.name}.bin")
        kind = decide_kind(self.spec.kind, resolved.kind, filename, resolved.title,
                           header=lambda: self._header(resolved, filename)).kind
        if resolved.sha256 and self._reuse(resolved, kind, filename):
            return
        spec = DownloadSpec(url=resolved.url, key=cache_key(resolved.source, resolved.sha256),
                            label=f"{self.name} ({filename})", size=resolved.size,
                            sha256=resolved.sha256, size_exact=resolved.size_exact,
                            connections=self.options.connections,
                            on_http_error=resolved.on_http_error,
                            check_hops=resolved.check_hops)
        if resolved.size:
            self.reporter.info(f"downloading {resolved.title} ({kind}, "
                               f"{human_bytes(resolved.size)})")
        got = download(spec, self.env.layout.downloads, self.client, self.reporter)
        if resolved.service == "url" and not self.spec.filename and got.filename:
            filename = store.sanitize_filename(got.filename, filename)
        if not resolved.sha256:
            resolved.sha256 = got.sha256
            if resolved.service == "url":
                why = ("no --sha256 was given, so this download was verified only by its size; "
                       "pass --sha256 with the publisher's hash to verify the bytes too")
            else:
                why = "the source gives no SHA-256, so this download was verified by its size"
            self.warnings.append(f"{self.name}: {why}. smx recorded the file's SHA-256 "
                                 f"({got.sha256[:12]}…) in smx.lock; every later sync checks it")
            if self._reuse(resolved, kind, filename, part=got.path):
                return
        try:
            facts = self._inspect(got.path, filename, got.sha256)
        except BaseException:
            discard_partial(self.env.layout.downloads, spec.key)
            raise
        target = self._target(kind, filename)
        store.place(got.path, target)
        discard_partial(self.env.layout.downloads, spec.key)
        self._record(resolved, kind, filename, got.size, got.sha256, facts.family)
        self._outcome("downloaded", target, fetched=got.fetched, resumed_from=got.resumed_from)

    def _header(self, resolved: ResolvedFile, filename: str) -> Verdict | None:
        from smx.models.peek import classify_remote

        return classify_remote(self.client, resolved, filename)

    # --- reuse -------------------------------------------------------------------------------
    def _reuse(self, resolved: ResolvedFile, kind: str, filename: str,
               part: Path | None = None) -> bool:
        """Place the model without downloading when the store already has its bytes."""
        sha = resolved.sha256
        assert sha is not None
        target = store.model_path(self.env.layout, kind, filename)
        same = store.find_same_content(self.env, sha, exclude=self.name)
        if self.locked is not None and self.locked.sha256 == sha and store.present(
                self.env.layout, self.locked) and store.locked_path(
                self.env.layout, self.locked) == target and diskstate.trust(
                self.env.layout, self.locked, diskstate.load(self.env.layout)):
            same = target  # (a file changed since smx checked it is hashed below instead)
        if (same is None and target.is_file()
                and resolved.size in (None, target.stat().st_size)
                and store.hash_file(target, self.reporter, f"checking {target.name}") == sha):
            # A file of the right size already sits there (copied by hand, a lost lock)
            # and its bytes are the ones asked for: adopt it.
            same = target
        if same is None:
            return False
        # the bytes already here get the same checks as a download: placing them under a new
        # name, kind or model is a placement too
        facts = self._inspect(same, filename, sha)
        if part is not None:
            discard_partial(self.env.layout.downloads, part.name.removesuffix(".part"))
        size = same.stat().st_size
        if same == target:
            action, linked = "present", None
            self.reporter.info(f"{self.name}: already in the store "
                               f"({target.relative_to(self.env.root).as_posix()})")
        else:
            self._target(kind, filename)
            how = store.link_same(same, target)
            action, linked = "linked", same.relative_to(self.env.root).as_posix()
            self.reporter.info(f"{self.name}: same file as {linked} (sha256 {sha[:12]}…); "
                               f"{how} instead of a second download")
        self._record(resolved, kind, filename, size, sha, facts.family)
        self._outcome(action, target, linked_to=linked)
        return True

    # --- placing -----------------------------------------------------------------------------
    def _inspect(self, path: Path, filename: str, sha256: str) -> safety.FileFacts:
        """What may enter the store (safety.inspect), for every way a file gets there. A file
        the checks cannot make sense of still goes in when the user vouched for its exact
        bytes: --allow-unsafe together with a matching --sha256."""
        allow_unsafe = self.options.allow_unsafe
        try:
            facts = safety.inspect(path, filename, allow_unsafe=allow_unsafe, sha256=sha256)
        except UnsafeFile:
            raise
        except IntegrityError as exc:
            pinned = self.spec.sha256
            if not (allow_unsafe and pinned and pinned.lower() == sha256):
                raise
            why = exc.message.split(";", 1)[0]
            self.warnings.append(f"{self.name}: placed although {why}, because --allow-unsafe "
                                 "and a matching --sha256 name these exact bytes")
            return safety.FileFacts()
        if facts.dangerous:
            self.warnings.append(f"{self.name}: placed despite what the pickle scan refuses "
                                 f"({', '.join(facts.dangerous[:3])}) because of --allow-unsafe")
        return facts

    def _target(self, kind: str, filename: str) -> Path:
        """The store path, refusing to overwrite another model's different file."""
        target = store.model_path(self.env.layout, kind, filename)
        if not target.exists() and not target.is_symlink():
            return target
        owners = store.users_of(self.env.lock, self.env.layout, target, exclude=self.name)
        mine = self.locked is not None and store.locked_path(self.env.layout,
                                                             self.locked) == target
        if owners:
            raise UsageError(f"{target.relative_to(self.env.root).as_posix()} already holds "
                             f"model {owners[0]!r}, a different file",
                             hint=f'give {self.name} another name: filename = "..." in '
                                  "smx.toml")
        if not mine:
            raise UsageError(f"{target.relative_to(self.env.root).as_posix()} exists and is "
                             "not the file smx is placing (not recorded in smx.lock)",
                             hint="move that file away, or set filename = \"...\" for "
                                  f"{self.name} in smx.toml")
        return target  # this model's previous file: replaced atomically

    def _record(self, resolved: ResolvedFile, kind: str, filename: str, size: int, sha256: str,
                file_family: str | None) -> None:
        base = resolved.base_model or file_family or family_from_filename(filename)
        declared = base_family(resolved.base_model)
        if declared and file_family and declared != file_family:
            self.warnings.append(f"{self.name}: Civitai lists it as {resolved.base_model}, but "
                                 f"the file's header says {file_family}")
        checkpoints = [(n, m.base_model) for n, m in self.env.lock.models.items()
                       if m.kind == "checkpoint" and n != self.name]
        mismatch = safety.base_mismatch(self.name, kind, base_family(base), checkpoints)
        if mismatch:
            self.warnings.append(mismatch)
        previous = self.locked
        self.env.lock.models[self.name] = LockedModel(
            name=self.name, source=resolved.source, kind=kind, filename=filename, size=size,
            sha256=sha256, base_model=base, civitai=dict(resolved.civitai),
            hf=dict(resolved.hf), url=resolved.plain_url,
            trigger_words=list(resolved.trigger_words))
        if previous is not None:  # an upgrade: drop the old file unless someone shares it
            old = store.locked_path(self.env.layout, previous)
            new = store.model_path(self.env.layout, kind, filename)
            if old is not None and old != new and not store.users_of(
                    self.env.lock, self.env.layout, old) and old.is_file():
                old.unlink()
                self.reporter.info(f"{self.name}: removed the previous file "
                                   f"{old.relative_to(self.env.root).as_posix()}")
        for message in self.warnings:
            self.reporter.warn(message)

    def _outcome(self, action: str, target: Path, **more: object) -> None:
        locked = self.env.lock.models[self.name]
        self.ctx.outcomes.models[self.name] = PullOutcome(
            name=self.name, action=action,
            path=target.relative_to(self.env.root).as_posix(), kind=locked.kind,
            base_model=locked.base_model, size=locked.size, sha256=locked.sha256,
            source=locked.source, warnings=list(self.warnings), **more)  # type: ignore[arg-type]
