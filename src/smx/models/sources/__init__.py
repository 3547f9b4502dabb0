"""Model sources: a reference -> the exact file to fetch (:class:`ResolvedFile`).

Each source module turns its reference into a ResolvedFile with the download URL, file name,
size, SHA-256, kind, base model and the ids smx.lock records. ``from_lock`` rebuilds one from
smx.lock alone (no network): the URL is derived from the configured endpoint, since the lock
never holds URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smx.errors import SmxError, UsageError
from smx.models.refs import CivitaiRef, HfRef, LocalRef, ModelRef, UrlRef

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel
    from smx.models.http import Hop, HttpClient, Response
    from smx.models.settings import Services


@dataclass
class ResolvedFile:
    service: str  # civitai | huggingface | url
    source: str  # the normalised reference smx.lock records ("civitai:261336@597138")
    url: str  # where the bytes come from (it may redirect to a CDN)
    filename: str  # the name the source gives the file (sanitised later)
    title: str  # for messages: "anima_pencil-XL v5.0.0"
    size: int | None = None
    sha256: str | None = None  # lower-case hex, None when the source does not say
    kind: str | None = None  # from the source; None = the user or a file-name rule decides
    base_model: str | None = None
    size_exact: bool = True
    civitai: dict[str, int] = field(default_factory=dict)
    hf: dict[str, str] = field(default_factory=dict)
    plain_url: str | None = None
    model_name: str | None = None  # the source's name for the model (default smx.toml name)
    version_name: str | None = None  # the source's name for this version ("v5.0.0", "7")
    trigger_words: list[str] = field(default_factory=list)  # Civitai's trainedWords
    source_scan: str | None = None  # Civitai's own pickle scan verdict for this file
    on_http_error: Callable[[Response, bytes], SmxError] | None = field(default=None,
                                                                          repr=False)
    check_hops: Callable[[Hop], None] | None = field(default=None, repr=False)


def resolve(ref: ModelRef, *, services: Services, client: HttpClient, file: str | None = None,
            sha256: str | None = None) -> ResolvedFile:
    """Ask the source which exact file ``ref`` means today (network)."""
    if isinstance(ref, CivitaiRef):
        from smx.models.sources import civitai

        return civitai.resolve(ref, services=services, client=client, file=file)
    if file is not None:
        raise UsageError("--file picks one file of a Civitai version; other sources name "
                         "exactly one file already", hint="drop --file")
    if isinstance(ref, HfRef):
        from smx.models.sources import huggingface

        return huggingface.resolve(ref, services=services, client=client)
    if isinstance(ref, UrlRef):
        from smx.models.sources import url

        return url.resolve(ref, sha256=sha256)
    if isinstance(ref, LocalRef):
        raise UsageError(f"{ref} names a file in Data/Models; it is never downloaded",
                         hint="`smx model pull local:FOLDER/FILE` registers such a file; "
                              "`smx sync` checks it")
    raise AssertionError(ref)  # pragma: no cover


def from_lock(locked: LockedModel, *, services: Services) -> ResolvedFile:
    """The locked file, with its URL derived from the endpoints in use (no network)."""
    common = {"filename": locked.filename, "size": locked.size, "sha256": locked.sha256,
              "kind": locked.kind, "base_model": locked.base_model,
              "trigger_words": list(locked.trigger_words)}
    if locked.civitai:
        from smx.models.sources import civitai

        return civitai.from_lock(locked, services=services, **common)
    if locked.hf:
        from smx.models.sources import huggingface

        return huggingface.from_lock(locked, services=services, **common)
    if locked.url:
        from smx.models.sources import url

        return url.from_lock(locked, **common)
    raise UsageError(f"smx.lock entry {locked.name!r} has no source identity",
                     hint="delete the entry from smx.lock and run `smx sync`")
