"""`smx model pull` / `smx model remove` as core operations: edit smx.toml, then sync that model.

Both run inside :func:`smx.transaction.env_transaction`: when anything fails (a 401, a checksum
mismatch, Ctrl-C) smx.toml and smx.lock are restored byte for byte; a partial download stays in
Data/Cache/downloads and the next attempt resumes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smx.catalog.model_kinds import KIND_NAMES
from smx.environment import manifest
from smx.environment.env import Env
from smx.environment.manifest import NAME_RE, SHA256_RE, ModelSpec
from smx.errors import NotFound, UsageError
from smx.models.executor import (
    ALLOW_UNSAFE,
    CONNECTIONS,
    OUTCOMES,
    RESOLVED,
    PullOutcome,
)
from smx.models.refs import CivitaiRef, HfRef, LocalRef, ModelRef, UrlRef, parse_model_ref
from smx.models.settings import services
from smx.models.sources import ResolvedFile, resolve
from smx.reporter import Reporter
from smx.sync import SyncOptions, sync
from smx.transaction import env_transaction


@dataclass
class PullRequest:
    ref: str
    name: str | None = None
    kind: str | None = None
    file: str | None = None
    sha256: str | None = None
    connections: int | None = None
    allow_unsafe: bool = False


def _check(req: PullRequest) -> ModelRef:
    ref = parse_model_ref(req.ref)
    if req.kind is not None and req.kind not in KIND_NAMES:
        import difflib

        close = difflib.get_close_matches(req.kind, KIND_NAMES, n=1)
        raise UsageError(f"unknown model kind {req.kind!r}",
                         hint=f"did you mean {close[0]!r}?" if close else
                         "one of: " + ", ".join(KIND_NAMES))
    if req.sha256 is not None and not SHA256_RE.match(req.sha256):
        raise UsageError(f"--sha256 {req.sha256!r} is not a SHA-256",
                         hint="64 hexadecimal characters, e.g. from the model page")
    if req.sha256 is not None and not isinstance(ref, UrlRef):
        raise UsageError("--sha256 is for plain URLs; Civitai and Hugging Face give the file's "
                         "SHA-256 themselves", hint="drop --sha256")
    if req.file is not None and not isinstance(ref, CivitaiRef):
        raise UsageError("--file picks one file of a Civitai model version",
                         hint="drop --file; this reference names one file already")
    if req.name is not None and not NAME_RE.match(req.name):
        raise UsageError(f"invalid model name {req.name!r}",
                         hint="letters, digits, '.', '_' and '-' (at most 64)")
    if req.connections is not None and not 1 <= req.connections <= 32:
        raise UsageError("--connections must be between 1 and 32")
    return ref


def default_name(text: str | None) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", (text or "").lower()).strip("-._")[:64]
    return slug.strip("-._") or "model"


def manifest_source(ref: ModelRef, resolved: ResolvedFile | None) -> str:
    """What smx.toml records: what the user asked for, in reference form (URLs of Civitai and
    Hugging Face pages become civitai:/hf: references; an unpinned version stays unpinned)."""
    if isinstance(ref, CivitaiRef) and resolved is not None:
        model_id = resolved.civitai.get("model_id", ref.model_id)
        if ref.version_id is not None:
            return f"civitai:{model_id}@{ref.version_id}"
        return f"civitai:{model_id}"
    return str(ref)


def _same_source(a: ModelRef, b: ModelRef) -> bool:
    if isinstance(a, CivitaiRef) and isinstance(b, CivitaiRef):
        return (a.model_id, a.version_id) == (b.model_id, b.version_id)
    if isinstance(a, HfRef) and isinstance(b, HfRef):
        return (a.repo, a.path, a.revision or "main") == (b.repo, b.path, b.revision or "main")
    return str(a) == str(b)


def _existing_name(env: Env, source: str) -> str | None:
    wanted = parse_model_ref(source)
    for name, spec in env.manifest.models.items():
        try:
            if _same_source(parse_model_ref(spec.source), wanted):
                return name
        except UsageError:
            continue
    return None


def pull(env: Env, req: PullRequest, reporter: Reporter) -> PullOutcome:
    ref = _check(req)
    if isinstance(ref, LocalRef):
        raise UsageError(f"{ref} is a file already in Data/Models; there is nothing to pull",
                         hint="add it to smx.toml [models] and run `smx sync` to record it")
    svc = services(env.manifest.sources)
    client = svc.client(on_retry=reporter.info)
    try:
        reporter.info(f"resolving {req.ref} …")
        resolved = resolve(ref, services=svc, client=client, file=req.file, sha256=req.sha256)
    finally:
        client.close()
    source = manifest_source(ref, resolved)
    name = req.name or _existing_name(env, source) or default_name(resolved.model_name)
    current = env.manifest.models.get(name)
    if current is not None and not _same_source(parse_model_ref(current.source),
                                                parse_model_ref(source)):
        raise UsageError(f"smx.toml already has a model named {name!r} "
                         f"(source = {current.source!r})",
                         hint="pass --name to add this one under another name, or "
                              f"`smx model remove {name}` first")
    entry = _entry(source, req, resolved, current)
    with env_transaction(env):
        if current is None or _differs(current, entry):
            def change(doc: object) -> None:
                models = manifest.table_for(doc, "models")
                models[name] = manifest.inline(entry)

            env.manifest = manifest.edit(env.layout.manifest, change)
        options = SyncOptions(only={name}, areas={"model"}, prune=False, extra={
            RESOLVED: {name: resolved}, ALLOW_UNSAFE: req.allow_unsafe,
            CONNECTIONS: req.connections})
        sync(env, options, reporter)
    outcome = options.extra.get(OUTCOMES, {}).get(name)
    if outcome is None:  # the lock already had it and the file is in place
        locked = env.lock.models[name]
        outcome = PullOutcome(name, "present", None, kind=locked.kind,
                              base_model=locked.base_model, size=locked.size,
                              sha256=locked.sha256, source=locked.source)
    return outcome


def _entry(source: str, req: PullRequest, resolved: ResolvedFile,
           current: ModelSpec | None) -> dict[str, str | None]:
    kind = req.kind or (current.kind if current else None)
    if kind is None and resolved.service != "civitai":
        # Record the kind of a Hugging Face / URL file: later syncs must not depend on
        # re-guessing it from the name.
        from smx.models.pulling import decide_kind
        from smx.models.store import sanitize_filename

        kind = decide_kind(None, resolved.kind, sanitize_filename(resolved.filename, "model"),
                           resolved.title)
    return {"source": source, "kind": kind,
            "file": req.file or (current.file if current else None),
            "sha256": (req.sha256.lower() if req.sha256 else None) or (
                current.sha256 if current else None),
            "filename": current.filename if current else None}


def _differs(current: ModelSpec, entry: dict[str, str | None]) -> bool:
    return any(getattr(current, key) != value for key, value in entry.items())


def remove(env: Env, names: list[str], reporter: Reporter) -> list[PullOutcome]:
    missing = [n for n in names if n not in env.manifest.models and n not in env.lock.models]
    if missing:
        import difflib

        close = difflib.get_close_matches(missing[0], list(env.manifest.models), n=1)
        raise NotFound(f"no model named {missing[0]!r} in smx.toml",
                       hint=f"did you mean {close[0]!r}?" if close else
                       "see `smx model list`", code="model.unknown")
    with env_transaction(env):
        def change(doc: object) -> None:
            models = manifest.table_for(doc, "models")
            for name in names:
                if name in models:
                    del models[name]

        env.manifest = manifest.edit(env.layout.manifest, change)
        options = SyncOptions(only=set(names), areas={"model"}, prune=True)
        sync(env, options, reporter)
    outcomes = options.extra.get(OUTCOMES, {})
    return [outcomes.get(n, PullOutcome(n, "removed", None)) for n in names]
