"""Pickle scan verdicts by SHA-256, in ``<user cache>/pickle-scans.json``: the same bytes are
walked once per user, whatever name, kind or environment they are placed under.

In the user's cache, not in the environment's Data/.smx: an environment folder someone hands
over could carry a cache that calls its own bad bytes clean. A verdict is only looked up with
a SHA-256 smx computed or verified for the bytes it is about to place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smx.models import pickles
from smx.models.pickles import PickleScan

CACHE_NAME = "pickle-scans.json"
SCANNER_VERSION = 1  # bump when the scan's rules change: older verdicts are then ignored


def _cache_path() -> Path:
    from smx.userdirs import cache_dir

    return cache_dir() / CACHE_NAME


def _cache_load() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("scanner") != SCANNER_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _key(sha256: str, pickle_suffix: bool) -> str:
    # the reading depends on the name too: under a torch.load suffix a tar or a protocol 0/1
    # stream is a pickle container, under any other it is not
    return f"{sha256.lower()}:{'pickle-name' if pickle_suffix else 'other-name'}"


def cached_scan(sha256: str, *, pickle_suffix: bool) -> PickleScan | None:
    return PickleScan.from_json(_cache_load().get(_key(sha256, pickle_suffix)))


def scan(path: Path, sha256: str | None, *, pickle_suffix: bool) -> PickleScan:
    """The scan of ``path``'s bytes, from the cache when ``sha256`` was scanned before."""
    if sha256:
        known = cached_scan(sha256, pickle_suffix=pickle_suffix)
        if known is not None:
            return known
    result = pickles.scan(path, pickle_suffix=pickle_suffix)
    if sha256:
        _cache_store(_key(sha256, pickle_suffix), result)
    return result


def _cache_store(key: str, result: PickleScan) -> None:
    import contextlib

    from smx.fsutil import atomic_write_text

    files = _cache_load()
    files[key] = result.to_json()
    with contextlib.suppress(OSError):  # a read-only cache only costs a second scan
        atomic_write_text(_cache_path(), json.dumps({"scanner": SCANNER_VERSION,
                                                      "files": files}, indent=1) + "\n")
