"""What smx last checked on this disk: each stored model's size, mtime and SHA-256.

``Data/.smx/models.json`` (smx's private bookkeeping; machine-specific, never committed) lets a
sync with nothing to do trust a model file without hashing it: the file is taken as the locked
bytes when its size and mtime are the ones recorded when smx placed or verified it, under the
SHA-256 smx.lock pins now. Anything else (touched or rewritten, or smx.lock moved to other
bytes of the same size) is hashed again before it is trusted. A file smx has no record of (a
store whose bookkeeping was deleted or never written) is trusted on its size alone;
``smx model verify`` re-hashes everything and records what passed. `smx init --adopt` records
the files it hashed.

The records also name the model a file was stored for, so when a model moves to another file
(``smx lock --upgrade`` then ``smx sync``) the previous file can be recognised as smx's own,
unchanged, and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.environment.layout import EnvLayout
from smx.environment.lock import Lock, LockedModel
from smx.errors import ConfigError

VERSION = 1


@dataclass(frozen=True)
class Record:
    name: str  # the model (smx.toml name) the file was stored for
    size: int
    mtime_ns: int
    sha256: str


def load(layout: EnvLayout) -> dict[str, Record]:
    """Records by store path (relative to Data/Models, POSIX); {} when there are none."""
    try:
        data = json.loads(layout.model_records.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    records: dict[str, Record] = {}
    for rel, raw in (data.get("files") or {}).items():
        with contextlib.suppress(KeyError, TypeError, ValueError):
            records[str(rel)] = Record(str(raw["name"]), int(raw["size"]),
                                       int(raw["mtime_ns"]), str(raw["sha256"]))
    return records


def save(layout: EnvLayout, records: dict[str, Record]) -> None:
    from smx.fsutil import atomic_write_text

    data: dict[str, Any] = {"version": VERSION, "files": {
        rel: {"name": r.name, "size": r.size, "mtime_ns": r.mtime_ns, "sha256": r.sha256}
        for rel, r in sorted(records.items())}}
    atomic_write_text(layout.model_records, json.dumps(data, indent=1) + "\n")


def store_key(layout: EnvLayout, path: Path) -> str:
    return path.relative_to(layout.models).as_posix()


def distrust(layout: EnvLayout, locked: LockedModel, records: dict[str, Record]
             ) -> str | None:
    """Why a present file (right size) may not be taken as the locked bytes without hashing
    it: "relocked" (unchanged since smx checked it, but smx.lock now pins other bytes),
    "changed" (rewritten or touched since), or None (trusted)."""
    path = layout.locked_model_file(locked)
    if path is None:
        return "changed"
    record = records.get(store_key(layout, path))
    if record is None:
        return None  # no record of this file: the size check is all there is
    try:
        stat = path.stat()
    except OSError:
        return "changed"
    if record.size != stat.st_size or record.mtime_ns != stat.st_mtime_ns:
        return "changed"
    return None if record.sha256 == locked.sha256 else "relocked"


def trust(layout: EnvLayout, locked: LockedModel, records: dict[str, Record]) -> bool:
    return distrust(layout, locked, records) is None


def remember(layout: EnvLayout, name: str, locked: LockedModel) -> None:
    """Record ``locked``'s file as checked now (after a download, a reuse or a re-hash)."""
    remember_all(layout, [(name, locked, None)])


def remember_all(layout: EnvLayout, checked: list[tuple[str, LockedModel, int | None]]
                 ) -> None:
    """Record several files in one write: (model name, its lock entry, the mtime_ns the file
    had when it was hashed, or None when it was hashed just now). A file whose mtime moved
    since it was hashed is left unrecorded: its bytes may not be the hashed ones."""
    records = {k: r for k, r in load(layout).items()
               if os.path.lexists(layout.models / k)}  # files that are gone: forgotten
    for name, locked, hashed_mtime_ns in checked:
        path = layout.locked_model_file(locked)
        if path is None:
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        if hashed_mtime_ns is not None and stat.st_mtime_ns != hashed_mtime_ns:
            continue
        records[store_key(layout, path)] = Record(name, stat.st_size, stat.st_mtime_ns,
                                                  locked.sha256)
    save(layout, records)


def previous_files(layout: EnvLayout, name: str, lock: Lock) -> list[Path]:
    """Files once stored for ``name`` that no locked model uses now and that nobody changed
    since smx recorded them: smx's own leftovers after the model moved to another file."""
    records = load(layout)
    in_use = {store_key(layout, p) for m in lock.models.values()
              if (p := layout.locked_model_file(m)) is not None}
    found = []
    for rel, record in records.items():
        if record.name != name or rel in in_use:
            continue
        path = layout.models / rel
        try:
            layout.inside(path, layout.models, what="recorded model file")
            stat = path.stat()
        except (OSError, ConfigError):
            continue  # gone, or a record naming a path outside the store: never deleted
        if stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns:
            found.append(path)
    return found


def forget(layout: EnvLayout, paths: list[Path]) -> None:
    records = load(layout)
    keys = {store_key(layout, p) for p in paths}
    if keys & set(records):
        save(layout, {k: r for k, r in records.items() if k not in keys})


def forget_missing(layout: EnvLayout) -> None:
    """Drop records of files that are gone (removed models), so the file stays small."""
    records = load(layout)
    kept = {k: r for k, r in records.items() if os.path.lexists(layout.models / k)}
    if len(kept) != len(records):
        save(layout, kept)
