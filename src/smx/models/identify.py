"""Identity by hash: files that arrived by hand, looked up on Civitai by their SHA-256.

``GET /api/v1/model-versions/by-hash/{sha256}`` names the model version one of whose files has
exactly these bytes. A ``local:`` entry found there becomes ``civitai:MODEL@VERSION`` (with the
file id, and its own file name when it differs from Civitai's), and gets the version's base
model and trigger words: the file stays where it is, and another machine can now download it.
A 404 means "not on Civitai"; commands that identify by the way (`smx init --adopt`, `smx model
pull local:`) remember that answer for a while and do not say it again. `smx model identify`
always asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from smx import diskstate
from smx.environment import manifest
from smx.environment.lock import LockedModel
from smx.errors import NetworkError, NotFound
from smx.models import apicache
from smx.models.kinds import kind_from_civitai
from smx.reporter import Reporter

if TYPE_CHECKING:
    from smx.environment.env import Env
    from smx.models.http import HttpClient
    from smx.models.settings import Services

MISSES = "civitai-by-hash-misses"
MISS_MEMORY_S = 30 * 24 * 3600  # how long "not on Civitai" is believed by the way


@dataclass(frozen=True)
class CivitaiMatch:
    source: str  # civitai:MODEL@VERSION
    model_id: int
    version_id: int
    file_id: int | None
    title: str  # "anima_pencil-XL v5.0.0"
    kind: str | None  # from Civitai's type
    base_model: str | None
    trigger_words: list[str]
    filename: str | None  # Civitai's name for the file


@dataclass
class IdentifyRow:
    """One line of `smx model identify` (docs/json/model-identify.md)."""

    name: str
    sha256: str | None
    status: str  # identified | not-on-civitai | skipped | unreachable
    source: str | None  # the entry's source after this run
    title: str | None = None
    base_model: str | None = None
    trigger_words: list[str] = field(default_factory=list)
    detail: str = ""


def match_of(version: dict[str, Any], sha256: str) -> CivitaiMatch:
    from smx.models.sources.civitai import trigger_words

    files = [f for f in version.get("files") or [] if isinstance(f, dict)]
    mine = next((f for f in files if str((f.get("hashes") or {}).get("SHA256", "")).lower()
                 == sha256), None) or next((f for f in files if f.get("primary")), None)
    model = version.get("model") or {}
    model_id, version_id = int(version.get("modelId") or 0), int(version.get("id") or 0)
    title = f"{model.get('name') or f'civitai:{model_id}'} {version.get('name') or ''}".strip()
    return CivitaiMatch(
        source=f"civitai:{model_id}@{version_id}", model_id=model_id, version_id=version_id,
        file_id=int(mine["id"]) if mine and mine.get("id") else None, title=title,
        kind=kind_from_civitai(model.get("type"), mine.get("type") if mine else None),
        base_model=version.get("baseModel"), trigger_words=trigger_words(version),
        filename=str(mine["name"]) if mine and mine.get("name") else None)


class Identifier:
    """Asks Civitai about hashes with one client; after the first failure to reach it, it
    stops asking (one message, not one per file)."""

    def __init__(self, services: Services, reporter: Reporter, *, explicit: bool) -> None:
        self.services = services
        self.reporter = reporter
        self.explicit = explicit  # asked for by the user: errors are errors, misses re-asked
        self.unreachable: str | None = None
        self._client: HttpClient | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Identifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known_miss(self, sha256: str) -> bool:
        return not self.explicit and bool(apicache.load(MISSES, sha256, MISS_MEMORY_S))

    def lookup(self, sha256: str) -> CivitaiMatch | None:
        """The match, or None when Civitai has no such file; raises NetworkError only when
        ``explicit`` (otherwise ``unreachable`` says why and later lookups return None)."""
        from smx.models.sources.civitai import version_by_hash

        if self.unreachable is not None:
            return None
        if self._client is None:
            self._client = self.services.client()
            if not self.explicit:  # a lookup by the way must not hold a command for minutes
                self._client.retry.attempts = min(self._client.retry.attempts, 2)
        try:
            version = version_by_hash(self._client, self.services, sha256.lower())
        except NetworkError as exc:
            if self.explicit:
                raise
            self.unreachable = exc.message
            return None
        if version is None:
            apicache.store(MISSES, sha256, True)
            return None
        return match_of(version, sha256.lower())

    def report_misses(self, names: list[str]) -> None:
        if names:
            self.reporter.info("not on Civitai (no published file has these bytes): "
                               + ", ".join(names))

    def report_unreachable(self) -> None:
        if self.unreachable is not None:
            self.reporter.info(f"Civitai could not be reached to identify files by hash "
                               f"({self.unreachable}); run `smx model identify` when online")


def identify(env: Env, names: list[str] | None, reporter: Reporter, *, explicit: bool = True
             ) -> list[IdentifyRow]:
    """Look ``names`` (default: every ``local:`` model of smx.lock) up on Civitai and turn the
    ones found into Civitai entries. Changes smx.toml and smx.lock; the caller holds the env
    lock."""
    from smx.models.settings import services

    rows: list[IdentifyRow] = []
    wanted = names or [n for n, m in env.lock.models.items()
                       if m.source.startswith("local:") and n in env.manifest.models]
    unknown = [n for n in wanted if n not in env.manifest.models and n not in env.lock.models]
    if unknown:
        raise NotFound(f"no model named {unknown[0]!r} in smx.toml",
                       hint="see `smx model list`", code="model.unknown")
    found: dict[str, CivitaiMatch] = {}
    misses: list[str] = []
    with Identifier(services(env.manifest.sources), reporter, explicit=explicit) as who:
        for name in wanted:
            locked = env.lock.models.get(name)
            if locked is None:
                rows.append(IdentifyRow(name, None, "skipped", env.manifest.models[name].source,
                                        detail="not synced yet: run `smx sync` first"))
                continue
            if not locked.source.startswith("local:"):
                rows.append(IdentifyRow(name, locked.sha256, "skipped", locked.source,
                                        base_model=locked.base_model,
                                        trigger_words=list(locked.trigger_words),
                                        detail=f"its source is already {locked.source}"))
                continue
            if who.known_miss(locked.sha256):
                continue  # said before: not on Civitai
            match = who.lookup(locked.sha256)
            if who.unreachable is not None:
                rows.append(IdentifyRow(name, locked.sha256, "unreachable", locked.source,
                                        detail=who.unreachable))
            elif match is None:
                misses.append(name)
                rows.append(IdentifyRow(name, locked.sha256, "not-on-civitai", locked.source))
            else:
                found[name] = match
                rows.append(IdentifyRow(name, locked.sha256, "identified", match.source,
                                        title=match.title, base_model=match.base_model,
                                        trigger_words=list(match.trigger_words)))
        who.report_misses(misses)
        who.report_unreachable()
    if found:
        attach(env, found, reporter)
    return rows


def attach(env: Env, found: dict[str, CivitaiMatch], reporter: Reporter) -> None:
    """Rewrite the entries ``found`` as the Civitai versions they are (smx.toml + smx.lock)."""
    from smx.transaction import env_transaction

    entries = {name: entry_for(env.lock.models[name], match) for name, match in found.items()}
    with env_transaction(env):
        def change(doc: object) -> None:
            models = manifest.table_for(doc, "models")
            for name, entry in entries.items():
                models[name] = manifest.inline(entry)

        env.manifest = manifest.edit(env.layout.manifest, change)
        for name, match in found.items():
            locked = env.lock.models[name]
            env.lock.models[name] = locked_for(locked, match)
            diskstate.remember(env.layout, name, env.lock.models[name])
        env.save_lock()
    for name, match in found.items():
        reporter.info(f"{name}: on Civitai as {match.title} ({match.source}"
                      + (f", {match.base_model}" if match.base_model else "")
                      + "); smx.toml now names that source")


def entry_for(locked: LockedModel, match: CivitaiMatch) -> dict[str, str | None]:
    """The smx.toml entry of a stored file that is ``match``: the file stays where it is (its
    kind's folder, its own name), so both are written when Civitai's differ."""
    return {"source": match.source,
            "kind": None if match.kind == locked.kind else locked.kind,
            "file": str(match.file_id) if match.file_id else None,
            "filename": None if match.filename == locked.filename else locked.filename}


def locked_for(locked: LockedModel, match: CivitaiMatch) -> LockedModel:
    civitai = {"model_id": match.model_id, "version_id": match.version_id}
    if match.file_id:
        civitai["file_id"] = match.file_id
    return LockedModel(name=locked.name, source=match.source, kind=locked.kind,
                       filename=locked.filename, size=locked.size, sha256=locked.sha256,
                       base_model=match.base_model or locked.base_model, civitai=civitai,
                       trigger_words=list(match.trigger_words))
