"""Short-lived answers of the model services, kept in the user's cache folder.

`smx model outdated` asks each source once per model; asked again within minutes it answers
from here instead of repeating the requests. Civitai's "no file with this hash" is kept longer,
so commands that identify files by the way (`init --adopt`, `model pull local:`) say it once,
not on every run. Answers are keyed by what was asked (a URL, a hash), never hold a token, and a
broken or foreign file is simply a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from smx.fsutil import atomic_write_text
from smx.userdirs import cache_dir

VERSION = 1


def _path(namespace: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir() / "api" / namespace / f"{digest}.json"


def load(namespace: str, key: str, max_age_s: float) -> Any | None:
    """The value stored for ``key`` less than ``max_age_s`` ago, else None."""
    try:
        data = json.loads(_path(namespace, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("key") != key:
        return None
    at = data.get("at")
    if not isinstance(at, int | float) or not 0 <= time.time() - at <= max_age_s:
        return None
    return data.get("value")


def store(namespace: str, key: str, value: Any) -> None:
    path = _path(namespace, key)
    with contextlib.suppress(OSError):  # a read-only cache folder only costs a request later
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"version": VERSION, "key": key, "at": time.time(),
                                            "value": value}))
