"""A node pack from its Comfy Registry archive: download, check, unpack.

The Registry keeps each version as a zip (``downloadUrl``; what `comfy node pack` made: the
pack's files at the top level, or under one folder for archives made by other tools). smx
downloads it into ``Data/Cache/downloads``, hashing while it writes, checks the SHA-256 against
smx.lock when the lock pins one, and unpacks it into a staging folder, refusing members that
would land outside it (absolute paths, ``..``, links). The unpacked folder gets a small marker
(:data:`MARKER`) with the archive's SHA-256, so a later sync can tell which version is there
without a git checkout to read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from smx.errors import ChecksumMismatch, NetworkError, RemoteError, UnsafeFile
from smx.redact import redact
from smx.reporter import Reporter

MARKER = ".smx-archive.json"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    size: int


def download(url: str, dest: Path, *, what: str, reporter: Reporter) -> Downloaded:
    """Fetch ``url`` to ``dest`` (through a ``.part`` file), hashing as it goes."""
    from smx.models.http import HttpClient, body_errors, network_error

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    client = HttpClient(on_retry=reporter.info)
    digest = hashlib.sha256()
    size = 0
    try:
        response = client.request(url, what=what)
        with response:
            if response.status != 200:
                raise RemoteError(f"{what}: HTTP {response.status} from {redact(url)}",
                                  hint="try again later; the Registry may be moving the file",
                                  code="registry.archive_http")
            total = response.header("Content-Length")
            with reporter.task(f"download {what}", total=float(total) if total and
                               total.isdigit() else None, unit="bytes") as task, \
                    open(part, "wb") as handle:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except body_errors() as exc:
                        raise network_error(exc, url, what) from exc
                    if not chunk:
                        break
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    task.update(completed=float(size))
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    finally:
        client.close()
    return Downloaded(dest, digest.hexdigest(), size)


def check_sha256(got: Downloaded, expected: str | None, what: str) -> None:
    if expected is not None and got.sha256 != expected:
        with contextlib.suppress(OSError):
            got.path.unlink()
        raise ChecksumMismatch(
            f"{what}: the archive's SHA-256 is {got.sha256}, smx.lock pins {expected}",
            hint="the Registry serves other bytes for this version than when it was locked; "
                 "if that is expected, run `smx lock --upgrade NAME` to pin what it serves now",
            code="registry.archive_checksum")


def unpack(archive: Path, into: Path, sha256: str, *, what: str) -> None:
    """Unpack the zip ``archive`` into the (new) folder ``into`` and write the marker."""
    import zipfile

    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            strip = _common_top(members)
            for member in members:
                rel = _safe_member(member, strip, what)
                if rel is None:
                    continue
                target = into.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                mode = (member.external_attr >> 16) & 0o777
                if mode & 0o111:
                    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(into, ignore_errors=True)
        raise NetworkError(f"{what}: the download is not a zip archive ({exc})",
                           hint="run the command again; if it repeats, the Registry's file "
                                "is broken", code="registry.archive_broken") from None
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise
    (into / MARKER).write_text(json.dumps({"sha256": sha256}) + "\n", encoding="utf-8")


def unpacked_sha256(folder: Path) -> str | None:
    """The SHA-256 of the archive ``folder`` was unpacked from (its marker), or None."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("sha256") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _common_top(members: Sequence[object]) -> str | None:
    """The one folder every member is under (GitHub-style archives), or None."""
    tops = set()
    for member in members:
        parts = PurePosixPath(getattr(member, "filename", "")).parts
        if len(parts) < 2:
            return None
        tops.add(parts[0])
    return tops.pop() if len(tops) == 1 else None


def _safe_member(member: object, strip: str | None, what: str) -> PurePosixPath | None:
    name = str(getattr(member, "filename", "")).replace("\\", "/")
    path = PurePosixPath(name)
    mode = (int(getattr(member, "external_attr", 0)) >> 16)
    if path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise UnsafeFile(f"{what}: the archive has a member outside its folder ({name!r})",
                         hint="nothing was installed; report it to the node pack's publisher",
                         code="registry.archive_unsafe")
    if stat.S_ISLNK(mode):
        raise UnsafeFile(f"{what}: the archive has a link ({name!r}), which smx does not "
                         "unpack", hint="nothing was installed", code="registry.archive_unsafe")
    if strip is not None:
        path = PurePosixPath(*path.parts[1:])
    if not path.parts or path.name == MARKER:
        return None
    return path
