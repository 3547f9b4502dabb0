"""`smx model pull` / `smx model remove` as core operations: edit smx.toml, then sync that model
(smx.apply).

All or nothing: when anything fails (a 401, a checksum mismatch, Ctrl-C) smx.toml and smx.lock
are as they were; a partial download stays in Data/Cache/downloads and the next attempt resumes
it. The new entry is written only once its file is in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smx.apply import apply
from smx.catalog.model_kinds import KIND_NAMES
from smx.environment import manifest
from smx.environment.env import Env
from smx.environment.manifest import NAME_RE, SHA256_RE, ModelSpec
from smx.errors import NotFound, UsageError
from smx.models.outcome import PullOutcome
from smx.models.refs import CivitaiRef, HfRef, LocalRef, ModelRef, UrlRef, parse_model_ref
from smx.models.settings import told
from smx.models.sources import ResolvedFile, resolve
from smx.reporter import Reporter
from smx.steps import SyncOptions

if TYPE_CHECKING:
    from smx.models.http import HttpClient


@dataclass
class PullRequest:
    ref: str
    name: str | None = None
    kind: str | None = None
    file: str | None = None
    sha256: str | None = None
    connections: int | None = None
    allow_unsafe: bool = False
    replace: bool = False  # move the entry holding another version of the model to this one


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


@dataclass
class _Placement:
    """Where a pulled model goes in smx.toml."""

    name: str
    current: ModelSpec | None  # the entry under that name today
    beside: str | None = None  # another version of the same model stays under this name
    replacing: bool = False  # --replace: ``current`` moves to the new version


def pull(env: Env, req: PullRequest, reporter: Reporter) -> PullOutcome:
    ref = _check(req)
    if isinstance(ref, LocalRef):
        from smx.models.local import register

        return register(env, ref, name=req.name, kind=req.kind, reporter=reporter,
                        default_name=default_name(ref.filename.rsplit(".", 1)[0]),
                        allow_unsafe=req.allow_unsafe)
    if isinstance(ref, UrlRef) and ref.url.lower().startswith("http://"):
        reporter.warn(f"{ref.url} is plain http://: the download is unencrypted, so anyone on "
                      "the way can read or alter it; use https:// if the server offers it")
    svc = told(env.manifest.sources, reporter.warn)
    client = svc.client(on_retry=reporter.info)
    try:
        reporter.info(f"resolving {req.ref} …")
        resolved = resolve(ref, services=svc, client=client, file=req.file, sha256=req.sha256)
        source = manifest_source(ref, resolved)
        place = _placement(env, req, source, resolved)
        kind = _kind(req, place, resolved, client, reporter)
    finally:
        client.close()
    entry = _entry(source, req, resolved, place, kind)
    if place.beside is not None:
        entry["filename"] = _beside_filename(env, place, kind, resolved) or entry["filename"]
    name, current = place.name, place.current

    def change(doc: object) -> None:
        manifest.table_for(doc, "models")[name] = manifest.inline(entry)

    result = apply(env, change if current is None or _differs(current, entry) else None,
                   SyncOptions(only={name}, areas={"model"}, prune=False,
                               resolved={name: resolved}, allow_unsafe=req.allow_unsafe,
                               connections=req.connections, services=svc), reporter)
    outcome = result.outcomes.models.get(name)
    if outcome is None:  # the lock already had it and the file is in place
        locked = env.lock.models[name]
        outcome = PullOutcome(name, "present", None, kind=locked.kind,
                              base_model=locked.base_model, size=locked.size,
                              sha256=locked.sha256, source=locked.source)
    outcome.beside = place.beside
    if place.replacing and current is not None:
        outcome.replaced = current.source
    return outcome


# --- which entry ---------------------------------------------------------------------------------
def _same_model(a: ModelRef, b: ModelRef) -> bool:
    """Two references to versions of one model: a Civitai model, or one path of a Hugging Face
    repo at any revision."""
    if isinstance(a, CivitaiRef) and isinstance(b, CivitaiRef):
        return a.model_id is not None and a.model_id == b.model_id
    if isinstance(a, HfRef) and isinstance(b, HfRef):
        return (a.repo, a.path) == (b.repo, b.path)
    return False


def _versions_of(env: Env, source: str) -> list[str]:
    """Entries of smx.toml that hold another version of ``source``'s model."""
    wanted = parse_model_ref(source)
    names = []
    for name, spec in env.manifest.models.items():
        try:
            ref = parse_model_ref(spec.source)
        except UsageError:
            continue
        if _same_model(ref, wanted) and not _same_source(ref, wanted):
            names.append(name)
    return names


def _holding(env: Env, names: list[str], resolved: ResolvedFile) -> str | None:
    """The entry whose lock already pins exactly the resolved file (an unpinned entry locked
    at the version now asked for by number)."""
    for name in names:
        locked = env.lock.models.get(name)
        if locked is not None and locked.source == resolved.source and (
                locked.sha256 == resolved.sha256 or resolved.sha256 is None):
            return name
    return None


def _placement(env: Env, req: PullRequest, source: str, resolved: ResolvedFile
               ) -> _Placement:
    existing = _existing_name(env, source)
    siblings = _versions_of(env, source)
    if req.replace and not (existing is not None and req.name in (None, existing)):
        target = req.name
        if target is None:
            if len(siblings) > 1:
                raise UsageError(f"several entries hold versions of this model: "
                                 f"{', '.join(siblings)}",
                                 hint="say which one moves to the new version with --name NAME "
                                      "--replace")
            target = siblings[0] if siblings else None
        if target is not None and target in env.manifest.models:
            return _Placement(target, env.manifest.models[target], replacing=True)
        name = target or default_name(resolved.model_name)
        return _Placement(name, _free(env, name, source))
    if req.name:
        return _Placement(req.name, _free(env, req.name, source))
    if existing is not None:
        return _Placement(existing, env.manifest.models[existing])
    held = _holding(env, siblings, resolved)
    if held is not None:
        return _Placement(held, env.manifest.models[held])
    base = default_name(resolved.model_name)
    if not siblings:
        return _Placement(base, _free(env, base, source))
    for name in (default_name(f"{base}-{_version_label(resolved)}"),
                 default_name(f"{base}-{_version_id(resolved)}")):
        if name not in env.manifest.models:
            return _Placement(name, None, beside=siblings[0])
    raise UsageError(f"smx.toml already has entries named after this version of {base}",
                     hint="pass --name to add it under another name")


def _free(env: Env, name: str, source: str) -> ModelSpec | None:
    """The entry ``name`` when it holds ``source`` already; an error when it holds another."""
    current = env.manifest.models.get(name)
    if current is None or _same_source(parse_model_ref(current.source),
                                       parse_model_ref(source)):
        return current
    same_model = _same_model(parse_model_ref(current.source), parse_model_ref(source))
    raise UsageError(f"smx.toml already has a model named {name!r} "
                     f"(source = {current.source!r})",
                     hint=(f"add --replace to move {name} to this version, " if same_model
                           else "") + "pass --name to add this one under another name, or "
                                      f"`smx model remove {name}` first")


def _version_label(resolved: ResolvedFile) -> str:
    if resolved.version_name:
        return resolved.version_name
    return _version_id(resolved)


def _version_id(resolved: ResolvedFile) -> str:
    if resolved.civitai:
        return str(resolved.civitai.get("version_id"))
    if resolved.hf:
        return resolved.hf.get("ref") or resolved.hf.get("revision", "")[:7]
    return "2"


def _beside_filename(env: Env, place: _Placement, kind: str, resolved: ResolvedFile
                     ) -> str | None:
    """Another version often ships under the same file name: give the new one its own."""
    from smx.models.store import locked_path, model_path, sanitize_filename

    filename = sanitize_filename(resolved.filename, f"{place.name}.bin")
    target = model_path(env.layout, kind, filename)
    taken = any(locked_path(env.layout, m) == target and m.sha256 != resolved.sha256
                for m in env.lock.models.values())
    if not taken:
        return None
    stem, dot, ext = filename.rpartition(".")
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", _version_label(resolved)).strip("-.") or "new"
    return f"{stem}-{label}.{ext}" if dot else f"{filename}-{label}"


# --- which kind ----------------------------------------------------------------------------------
def _kind(req: PullRequest, place: _Placement, resolved: ResolvedFile, client: HttpClient,
          reporter: Reporter) -> str:
    from smx.models.classify import decide_kind
    from smx.models.peek import classify_remote
    from smx.models.store import sanitize_filename

    filename = sanitize_filename(resolved.filename, "model")
    declared = req.kind or (place.current.kind if place.current else None)
    decision = decide_kind(declared, resolved.kind, filename, resolved.title,
                           header=lambda: classify_remote(client, resolved, filename))
    if decision.how == "header" and decision.verdict is not None:
        reporter.info(f"{filename}: {decision.verdict.describe()}, read from its header "
                      f"({decision.verdict.evidence})")
    elif decision.how == "name":
        reporter.info(f"{filename}: {decision.kind}, from its file name")
    return decision.kind


def _entry(source: str, req: PullRequest, resolved: ResolvedFile, place: _Placement,
           kind: str) -> dict[str, str | None]:
    # A moved entry keeps its kind; its file selector, pinned hash and file name belonged to
    # the previous version.
    current = None if place.replacing else place.current
    recorded = req.kind or (place.current.kind if place.current else None)
    if recorded is None and resolved.kind is None:
        # Record what the header or name said: later syncs must not depend on reading it again.
        recorded = kind
    return {"source": source, "kind": recorded,
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

    def change(doc: object) -> None:
        models = manifest.table_for(doc, "models")
        for name in names:
            if name in models:
                del models[name]

    result = apply(env, change, SyncOptions(only=set(names), areas={"model"}, prune=True),
                   reporter)
    outcomes = result.outcomes.models
    return [outcomes.get(n, PullOutcome(n, "removed", None)) for n in names]
