"""Plain https:// URLs: the URL is the identity (it is what smx.lock records).

Nothing is asked before the download: the size comes from the server and the file name from
Content-Disposition or the URL's last segment. ``--sha256`` makes the download verified; without
it smx records the digest it computed, and every later sync checks against that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from smx.errors import UsageError
from smx.models.refs import UrlRef
from smx.models.sources import ResolvedFile

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel

# Query keys that carry credentials or expiring signatures: such a URL must not be recorded.
SECRET_KEYS = ("token", "access_token", "api_key", "apikey", "key", "signature",
               "x-amz-signature", "x-amz-credential", "sig", "se", "expires", "policy",
               "key-pair-id")


def check_recordable(url: str) -> None:
    query = {k.lower() for k in parse_qs(urlsplit(url).query)}
    found = sorted(query & set(SECRET_KEYS))
    if found or urlsplit(url).username:
        what = "credentials" if urlsplit(url).username else f"{', '.join(found)}="
        raise UsageError(
            f"the URL carries {what}: smx records a plain URL in smx.toml and smx.lock, and "
            "will not store secrets or expiring signed links there",
            hint="use the file's stable URL (Civitai and Hugging Face links are understood "
                 "directly; their tokens come from CIVITAI_API_TOKEN / HF_TOKEN)",
            code="model.secret_in_url")


def resolve(ref: UrlRef, *, sha256: str | None = None) -> ResolvedFile:
    check_recordable(ref.url)
    name = unquote(urlsplit(ref.url).path.rstrip("/").rsplit("/", 1)[-1]) or "download"
    return ResolvedFile(service="url", source=ref.url, url=ref.url, filename=name,
                        title=name, sha256=sha256.lower() if sha256 else None,
                        plain_url=ref.url, model_name=name.rsplit(".", 1)[0])


def from_lock(locked: LockedModel, **common: Any) -> ResolvedFile:
    assert locked.url is not None
    return ResolvedFile(service="url", source=locked.source, url=locked.url,
                        title=locked.filename, plain_url=locked.url, **common)
