"""The one rule for a model's file name in the store, whoever proposes it (a server's
Content-Disposition, a URL, smx.toml's ``filename``, a shared smx.lock)."""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
MAX_NAME = 200


def sanitize_filename(name: str | None, fallback: str) -> str:
    """A file name safe to create inside a store folder: no separators, no ``..``, no control
    characters, no leading dot (hidden files), nothing Windows refuses."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable())
    text = _FORBIDDEN.sub("_", text).strip().lstrip(".").rstrip(". ")
    if not text:
        text = fallback
    if _WINDOWS_RESERVED.match(text):
        text = f"_{text}"
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        text = (stem if dot else text)[:MAX_NAME - len(ext) - 1] + (f".{ext}" if ext else "")
    return text


def is_store_filename(name: object) -> bool:
    """True when ``name`` is already a plain file name the store would use unchanged."""
    return isinstance(name, str) and bool(name) and sanitize_filename(name, "") == name
