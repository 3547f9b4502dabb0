"""Keep secrets out of everything smx shows or writes."""

from __future__ import annotations

import os
import re

SECRET_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CIVITAI_API_TOKEN")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:token|access_token|api_key|apikey|key|x-amz-signature|signature)=)[^&#\s]+"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{8,}\b")
# Tokens smx loaded from elsewhere than the environment (the `smx auth` store).
_REGISTERED: set[str] = set()


def register_secret(value: str) -> None:
    """Make ``redact`` hide ``value`` from now on (tokens read from smx's auth store)."""
    if value and len(value) >= 6:
        _REGISTERED.add(value)


def known_secrets(extra: tuple[str, ...] = ()) -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
    return [v for v in (*values, *_REGISTERED, *extra) if v and len(v) >= 6]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace tokens, passwords in URLs and signed-URL signatures with ``***``."""
    for secret in known_secrets(secrets):
        text = text.replace(secret, "***")
    text = _QUERY_SECRET.sub(r"\1***", text)
    text = _USERINFO.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1***", text)
    return _HF_TOKEN.sub("hf_***", text)


def short_url(url: str) -> str:
    """A git URL as messages show it: redacted, and OWNER/REPO for GitHub."""
    text = redact(url).removesuffix(".git")
    return text.split("github.com/", 1)[1] if "github.com/" in text else text
