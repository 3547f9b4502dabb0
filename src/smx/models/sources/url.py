"""Plain https:// URLs: the URL is the identity (it is what smx.lock records).

Nothing is asked before the download: the size comes from the server and the file name from
Content-Disposition or the URL's last segment. ``--sha256`` makes the download verified; without
it smx records the digest it computed, and every later sync checks against that.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from smx.errors import UsageError
from smx.models.refs import UrlRef
from smx.models.sources import ResolvedFile

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel

# Query keys that carry credentials or expiring signatures: such a URL must not be recorded.
# Exact names (S3/CloudFront/Azure SAS/Akamai and common API keys), and any key with one of the
# words below as a part or an ending (X-Goog-Signature, X-Amz-Security-Token, auth_token,
# client_secret, accessToken …; not "tokenizer").
SECRET_KEYS = ("token", "access_token", "api_key", "apikey", "key", "signature", "sig", "se",
               "expires", "policy", "key-pair-id", "awsaccesskeyid", "googleaccessid", "hmac",
               "hdnts", "auth", "jwt", "password", "passwd")
SECRET_WORDS = ("signature", "token", "credential", "secret", "password")


def secret_query_keys(url: str) -> list[str]:
    """The query keys of ``url`` that look like a credential or a signature."""
    found = []
    for key in parse_qs(urlsplit(url).query, keep_blank_values=True):
        lower = key.lower()
        parts = re.split(r"[-_.]", lower)
        if lower in SECRET_KEYS or lower.startswith(("x-amz-", "x-goog-")) or any(
                part in SECRET_WORDS or lower.endswith(SECRET_WORDS) for part in parts):
            found.append(key)
    return sorted(found)


def check_recordable(url: str) -> None:
    found = secret_query_keys(url)
    if found or urlsplit(url).username:
        what = "credentials" if urlsplit(url).username else f"{', '.join(found)}="
        raise UsageError(
            f"the URL carries {what}: smx records a plain URL in smx.toml and smx.lock, and "
            "will not store secrets or expiring signed links there",
            hint="use the file's stable URL (Civitai and Hugging Face links are understood "
                 "directly; their tokens come from CIVITAI_API_TOKEN / HF_TOKEN); a signed "
                 "link can be downloaded by hand and added as local:",
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
