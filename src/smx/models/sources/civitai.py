"""Civitai: REST v1 ``models/{id}`` and ``model-versions/{id}`` -> one file of one version.

The newest published version unless the reference pins one; the primary file unless ``--file``
names another (by name, id or Civitai file type). The kind comes from the model's ``type`` (or
the file's own type: a VAE shipped with a checkpoint), the base model is kept as Civitai says
it. Downloads go to the ``downloadUrl`` the API returns, which redirects (307) to a signed
storage URL on another host: the token goes to the API host only (models/http.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from smx.errors import (
    AccessDenied,
    AuthRequired,
    NotFound,
    RateLimited,
    RemoteError,
    SmxError,
    UsageError,
)
from smx.models.http import body_of, looks_like_html
from smx.models.kinds import kind_from_civitai
from smx.models.refs import CIVITAI_HOSTS, CivitaiRef
from smx.models.sources import ResolvedFile

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel
    from smx.models.http import HttpClient, Response
    from smx.models.settings import Services

TOKEN_HINT = ("create an API key at https://civitai.com/user/account (API Keys) and set "
              "CIVITAI_API_TOKEN, or run `smx auth login civitai`")


def resolve(ref: CivitaiRef, *, services: Services, client: HttpClient,
            file: str | None = None) -> ResolvedFile:
    endpoint = services.civitai
    if ref.version_id is not None:
        version = _get(client, f"{endpoint}/api/v1/model-versions/{ref.version_id}",
                       what=f"Civitai model version {ref.version_id}",
                       not_found=lambda: NotFound(
                           f"Civitai has no published model version {ref.version_id}",
                           hint="check the modelVersionId in the model page's URL",
                           code="model.not_found"))
        model_id = int(version.get("modelId") or 0)
        model = version.get("model") or {}
        model_name, model_type = model.get("name"), model.get("type")
        if ref.model_id is not None and model_id and model_id != ref.model_id:
            raise NotFound(f"Civitai version {ref.version_id} belongs to model {model_id}, "
                           f"not {ref.model_id}",
                           hint=f"use civitai:{model_id}@{ref.version_id}",
                           code="model.not_found")
    else:
        assert ref.model_id is not None
        data = _get(client, f"{endpoint}/api/v1/models/{ref.model_id}",
                    what=f"Civitai model {ref.model_id}",
                    not_found=lambda: NotFound(
                        f"Civitai has no model {ref.model_id}",
                        hint="check the number in the model page's URL "
                             "(https://civitai.com/models/<id>)",
                        code="model.not_found"))
        model_id, model_name, model_type = ref.model_id, data.get("name"), data.get("type")
        newest = newest_version(data)
        if newest is None:
            raise NotFound(f"Civitai model {ref.model_id} ({model_name}) has no published "
                           "version with files", code="model.not_found")
        version = newest
    return _to_resolved(version, model_id, model_name, model_type, file, endpoint, services)


def newest_version(model: dict[str, Any]) -> dict[str, Any] | None:
    """The newest published version in a ``GET /api/v1/models/{id}`` body."""
    versions = [v for v in model.get("modelVersions") or []
                if isinstance(v, dict) and v.get("status", "Published") == "Published"]
    return max(versions, key=_published) if versions else None


def get_json(client: HttpClient, url: str, what: str) -> dict[str, Any]:
    """A Civitai API object, or the error that says why not (404: ``what`` is gone)."""
    return _get(client, url, what=what,
                not_found=lambda: NotFound(f"{what} is gone (Civitai answers 404)",
                                           hint="its author deleted or hid it",
                                           code="model.not_found"))


class _NotOnCivitai(Exception):
    pass


def version_by_hash(client: HttpClient, services: Services, sha256: str
                    ) -> dict[str, Any] | None:
    """``GET /api/v1/model-versions/by-hash/{sha256}``: the published version one of whose
    files has these bytes; None when Civitai has no such file (404)."""
    def missing() -> Exception:
        return _NotOnCivitai()

    try:
        return _get(client, f"{services.civitai}/api/v1/model-versions/by-hash/{sha256}",
                    what="Civitai (lookup by SHA-256)", not_found=missing)
    except _NotOnCivitai:
        return None


def _published(version: dict[str, Any]) -> tuple[datetime, int]:
    stamp = version.get("publishedAt") or version.get("createdAt") or ""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        when = datetime.min
    if when.tzinfo is not None:
        when = when.replace(tzinfo=None)
    return when, -int(version.get("index", 0))


def _to_resolved(version: dict[str, Any], model_id: int, model_name: str | None,
                 model_type: str | None, selector: str | None, endpoint: str,
                 services: Services) -> ResolvedFile:
    version_id = int(version["id"])
    title = f"{model_name or f'civitai:{model_id}'} {version.get('name', '')}".strip()
    chosen = pick_file(version.get("files") or [], selector, title)
    hashes = {k.upper(): v for k, v in (chosen.get("hashes") or {}).items()}
    sha256 = (hashes.get("SHA256") or "").lower() or None
    size_kb = chosen.get("sizeKB")
    size = round(float(size_kb) * 1024) if size_kb is not None else None
    exact = size_kb is not None and float(size_kb * 1024).is_integer()
    url = chosen.get("downloadUrl") or version.get("downloadUrl") or (
        f"{endpoint}/api/download/models/{version_id}")
    url = _on_endpoint(url, endpoint)
    resolved = ResolvedFile(
        service="civitai",
        source=f"civitai:{model_id}@{version_id}",
        url=url,
        filename=str(chosen.get("name") or f"civitai_{version_id}.safetensors"),
        title=title,
        size=size,
        sha256=sha256,
        kind=kind_from_civitai(model_type, chosen.get("type")),
        base_model=version.get("baseModel"),
        size_exact=exact,
        civitai={"model_id": model_id, "version_id": version_id,
                 "file_id": int(chosen.get("id") or 0)},
        model_name=model_name,
        version_name=str(version.get("name") or "") or None,
        trigger_words=trigger_words(version),
        source_scan=chosen.get("pickleScanResult"),
    )
    _attach_errors(resolved, services)
    return resolved


def trigger_words(version: dict[str, Any]) -> list[str]:
    """A version's ``trainedWords``: the prompts that call up what a LoRA or embedding learnt,
    as the author wrote them (an entry may hold several comma-separated words)."""
    words: list[str] = []
    for entry in version.get("trainedWords") or []:
        word = str(entry).strip()
        if word and word not in words:
            words.append(word)
    return words


def pick_file(files: list[dict[str, Any]], selector: str | None, title: str) -> dict[str, Any]:
    if not files:
        raise NotFound(f"Civitai lists no downloadable file for {title}",
                       code="model.not_found")
    if selector is None:
        primary = [f for f in files if f.get("primary")]
        if primary:
            return primary[0]
        models = [f for f in files if f.get("type") in ("Model", "Pruned Model")]
        if len(models) == 1 or (models and len(files) == 1):
            return models[0]
        raise UsageError(f"{title} has several files and none is marked primary",
                         hint="pick one with --file NAME: " + _file_list(files))
    wanted = selector.strip().lower()
    for f in files:
        if wanted in (str(f.get("name", "")).lower(), str(f.get("id", ""))):
            return f
    by_type = [f for f in files if str(f.get("type", "")).lower() == wanted]
    if len(by_type) == 1:
        return by_type[0]
    raise NotFound(f"{title} has no file {selector!r}",
                   hint="its files: " + _file_list(files), code="model.not_found")


def _file_list(files: list[dict[str, Any]]) -> str:
    return ", ".join(f"{f.get('name')} (id {f.get('id')}, {f.get('type')})" for f in files)


def _on_endpoint(url: str, endpoint: str) -> str:
    """Civitai writes its own host into downloadUrl; behind a mirror endpoint, use the mirror
    (so the token, bound to the endpoint, still reaches the download route)."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in CIVITAI_HOSTS:
        ep = urlsplit(endpoint)
        return urlunsplit((ep.scheme, ep.netloc, parts.path, parts.query, ""))
    return url


def from_lock(locked: LockedModel, *, services: Services, **common: Any) -> ResolvedFile:
    ids = locked.civitai
    version_id, file_id = int(ids["version_id"]), int(ids.get("file_id") or 0)
    url = f"{services.civitai}/api/download/models/{version_id}"
    if file_id:
        url += f"?fileId={file_id}"  # Civitai's own pin for one file of a version
    resolved = ResolvedFile(service="civitai", source=locked.source, url=url,
                            title=f"{locked.name} (civitai:{ids.get('model_id')}@{version_id})",
                            civitai=dict(ids), **common)
    _attach_errors(resolved, services)
    return resolved


# --- errors ----------------------------------------------------------------------------------
def _get(client: HttpClient, url: str, *, what: str, not_found: Any) -> dict[str, Any]:
    response, data = client.get_json(url, what=what)
    if isinstance(data, dict) and response.status == 200:
        return data
    if looks_like_html(response) or (response.status == 200 and data is None):
        raise outage(response)
    if response.status == 404:
        raise not_found()
    if response.status == 400:
        raise UsageError(f"Civitai rejected the id in {what}: {_message(body_of(response))}",
                         hint="ids are the numbers in the model page's URL")
    if response.status == 429:
        raise RateLimited(f"Civitai is rate-limiting requests ({what})",
                          hint="wait a minute and run the same command again")
    raise RemoteError(f"Civitai answered HTTP {response.status} for {what}: "
                      f"{_message(body_of(response))}",
                      hint="run the same command again later; https://status.civitai.com")


def outage(response: Response) -> RemoteError:
    return RemoteError(
        f"Civitai answered with a web page instead of data (HTTP {response.status}): the site "
        "is down or behind a Cloudflare check",
        hint="try again in a few minutes; see https://status.civitai.com",
        code="remote.outage")


def _message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return body[:200].decode("utf-8", "replace").strip() or "no details"
    if isinstance(data, dict):
        parts = [str(data.get(k)) for k in ("error", "message") if data.get(k)]
        return ": ".join(parts) or "no details"
    return str(data)[:200]


def _attach_errors(resolved: ResolvedFile, services: Services) -> None:
    token = services.civitai_token
    sent_token = token.value is not None and urlsplit(resolved.url).netloc == urlsplit(
        services.civitai).netloc
    model_id = resolved.civitai.get("model_id")
    version_id = resolved.civitai.get("version_id")
    page = f"https://civitai.com/models/{model_id}?modelVersionId={version_id}"

    def on_http_error(response: Response, body: bytes) -> SmxError:
        response.body = body  # type: ignore[attr-defined]
        title = resolved.title
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            if looks_like_html(response):
                return outage(response)
            data = {}
        text = " ".join(str(data.get(k, "")) for k in ("error", "message")).lower()
        status = response.status
        if status == 401 and "disabled downloads" in text:
            return AccessDenied(f"the creator of {title} has disabled downloads",
                                hint=f"see {page}; pick another model or version")
        if status == 401:
            if sent_token:
                return AuthRequired(
                    f"Civitai requires you to be logged in to download {title}, and did not "
                    f"accept the API token from {token.origin}",
                    hint="the key may be revoked or mistyped; " + TOKEN_HINT)
            return AuthRequired(f"Civitai requires you to be logged in to download {title}",
                                hint=TOKEN_HINT)
        if status == 403 and "early access" in text:
            deadline = data.get("deadline")
            until = f" until {str(deadline)[:10]}" if deadline else ""
            return AccessDenied(
                f"{title} is in Early Access{until}",
                hint=f"buy early access on {page} with the account whose API key smx uses, "
                     "wait until it ends, or pin an older version (civitai:"
                     f"{model_id}@<version>)",
                code="auth.early_access")
        if status == 403:
            return AccessDenied(f"Civitai refused the download of {title}: "
                                f"{_message(body)}",
                                hint=f"check access on {page}; " + TOKEN_HINT)
        if status == 404:
            return NotFound(f"Civitai has no downloadable file for {title}",
                            hint="the version may have been removed; run `smx model pull` "
                                 f"civitai:{model_id} for the newest one",
                            code="model.not_found")
        if status == 410:
            return NotFound(f"{title} was archived on Civitai and can no longer be downloaded",
                            hint="pick another version or model", code="model.archived")
        if status == 429:
            return RateLimited(f"Civitai is limiting downloads: {_message(body)}",
                               hint="wait a while and run the same command again; the partial "
                                    "download resumes")
        return RemoteError(f"Civitai answered HTTP {status} for {title}: {_message(body)}",
                           hint="run the same command again later; https://status.civitai.com")

    resolved.on_http_error = on_http_error
