"""Model references: what users type after `smx model pull` and in smx.toml `source = ...`.

Accepted forms:
    civitai:261336                civitai:261336@597138
    https://civitai.com/models/261336/slug?modelVersionId=597138
    https://civitai.com/api/download/models/597138
    hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt[@REVISION]
    https://huggingface.co/OWNER/REPO/blob/REV/PATH   (or /resolve/REV/PATH)
    https://example.org/any/file.safetensors
    local:Lora/my-lora.safetensors   a file that exists only on disk (e.g. adopted from a
                                     Stability Matrix Data/ folder): its path under
                                     Data/Models/; never downloaded
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from smx.errors import UsageError

CIVITAI_HOSTS = ("civitai.com", "www.civitai.com", "civitai.green", "www.civitai.green")
HF_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")

EXAMPLES = (
    "civitai:261336, civitai:261336@597138, hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt, "
    "an https:// URL, or local:FOLDER/FILE for a file already in Data/Models"
)


@dataclass(frozen=True)
class CivitaiRef:
    model_id: int | None  # None when only a version is known (download URLs)
    version_id: int | None = None

    def __str__(self) -> str:
        if self.model_id is None:
            return f"civitai:@{self.version_id}"
        suffix = f"@{self.version_id}" if self.version_id is not None else ""
        return f"civitai:{self.model_id}{suffix}"


@dataclass(frozen=True)
class HfRef:
    repo: str  # owner/name
    path: str
    revision: str | None = None  # None = the repo's default branch ("main")

    def __str__(self) -> str:
        suffix = f"@{self.revision}" if self.revision else ""
        return f"hf:{self.repo}/{self.path}{suffix}"


@dataclass(frozen=True)
class UrlRef:
    url: str

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class LocalRef:
    """A model with no remote source: ``path`` is relative to Data/Models (``Lora/x.safetensors``).

    Its identity is the sha256 in smx.toml/smx.lock; sync checks the file, never downloads it.
    """

    path: str

    @property
    def folder(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"local:{self.path}"


ModelRef = CivitaiRef | HfRef | UrlRef | LocalRef

_POSITIVE_INT = re.compile(r"^[1-9][0-9]{0,9}$")


def _malformed(text: str, why: str) -> UsageError:
    return UsageError(
        f"malformed model reference {text!r}: {why}",
        hint=f"use a form such as {EXAMPLES}",
        code="model.bad_reference",
    )


def _int_id(text: str, value: str, what: str) -> int:
    if not _POSITIVE_INT.match(value) or int(value) > 2**31 - 1:
        raise _malformed(text, f"{what} must be a positive number, got {value!r}")
    return int(value)


def parse_model_ref(text: str) -> ModelRef:
    raw = text.strip()
    if not raw:
        raise _malformed(text, "it is empty")
    lower = raw.lower()
    if lower.startswith("civitai:"):
        body = raw[len("civitai:"):]
        model, at, version = body.partition("@")
        if at and not version:
            raise _malformed(raw, "nothing follows '@': write civitai:MODEL@VERSION with the "
                                  "version id, or civitai:MODEL for the newest version")
        if not model and version:
            return CivitaiRef(None, _int_id(raw, version, "the version id"))
        model_id = _int_id(raw, model, "the model id")
        version_id = _int_id(raw, version, "the version id") if version else None
        return CivitaiRef(model_id, version_id)
    if lower.startswith("hf:"):
        body = raw[3:]
        body, at, revision = body.partition("@")
        if at and not revision:
            raise _malformed(raw, "nothing follows '@': write hf:OWNER/REPO/PATH@REVISION, or "
                                  "leave out '@' for the main branch")
        parts = [p for p in body.split("/")]
        if len(parts) < 3 or any(not p for p in parts):
            raise _malformed(raw, "expected hf:OWNER/REPO/PATH")
        if any(p in (".", "..") for p in parts):
            raise _malformed(raw, "the path may not contain '.' or '..'")
        return HfRef("/".join(parts[:2]), "/".join(parts[2:]), revision or None)
    if lower.startswith(("https://", "http://")):
        return _parse_url(raw)
    if lower.startswith("local:"):
        return _parse_local(raw)
    raise _malformed(raw, "unknown scheme")


def _parse_local(raw: str) -> LocalRef:
    path = raw[len("local:"):]
    parts = path.split("/")
    if "\\" in path or path.startswith("/") or ":" in path:
        raise _malformed(raw, "expected local:FOLDER/FILE, a path under Data/Models with '/'")
    if len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
        raise _malformed(raw, "expected local:FOLDER/FILE (e.g. local:Lora/x.safetensors)")
    if len(parts) > 2:
        # the store keeps each model directly in its kind's folder (and the lock records only
        # kind + file name), so a file in a sub-folder could never be found again
        raise _malformed(raw, "local: files must sit directly in a store folder "
                              "(local:FOLDER/FILE, no sub-folders)")
    return LocalRef(path)


def _parse_url(raw: str) -> ModelRef:
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host in CIVITAI_HOSTS:
        query = parse_qs(parts.query)
        if segments[:3] == ["api", "download", "models"] and len(segments) == 4:
            return CivitaiRef(None, _int_id(raw, segments[3], "the version id"))
        if len(segments) >= 2 and segments[0] == "models":
            model_id = _int_id(raw, segments[1], "the model id")
            version = query.get("modelVersionId", [None])[0]
            version_id = _int_id(raw, version, "modelVersionId") if version else None
            return CivitaiRef(model_id, version_id)
        raise _malformed(raw, "not a Civitai model page or download URL")
    if host in HF_HOSTS:
        if len(segments) >= 5 and segments[2] in ("blob", "resolve"):
            repo = "/".join(segments[:2])
            return HfRef(repo, "/".join(segments[4:]), segments[3])
        raise _malformed(raw, "not a Hugging Face file URL (…/OWNER/REPO/blob/REV/PATH)")
    if not host:
        raise _malformed(raw, "the URL has no host")
    return UrlRef(raw)
