"""A download's partial file in the cache: the bytes, their resume state, their hash.

- ``Extents``: the byte ranges written so far; ``PartState``: what ``<key>.part.json`` keeps
  (size, ETag, extents, the expected and the verified digest). The state is only ever written
  with ranges whose bytes are on disk, so a kill -9 loses at most what was in flight;
- ``PartFile``: ``pwrite``/``pread`` on one descriptor that every connection shares;
- ``Hasher``: SHA-256 in file order, in its own thread, while the bytes arrive. Buffers that
  extend the hashed prefix are hashed from memory; bytes written beyond it (parallel ranges, a
  resumed .part) are read back from the page cache when the prefix reaches them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 1 << 20
FLUSH_BEHIND = 64 * MiB  # hashed bytes handed to the kernel's writeback in steps of this
STATE_VERSION = 1


# --- resume state ----------------------------------------------------------------------------
class Extents:
    """The byte ranges written so far: a sorted list of disjoint [start, end)."""

    def __init__(self, ranges: list[list[int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._ranges: list[list[int]] = []
        self.version = 0
        for start, end in ranges or []:
            self.add(int(start), int(end))

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        with self._lock:
            merged: list[list[int]] = []
            placed = False
            for r in self._ranges:
                if r[1] < start:
                    merged.append(r)
                elif end < r[0]:
                    if not placed:
                        merged.append([start, end])
                        placed = True
                    merged.append(r)
                else:
                    start, end = min(start, r[0]), max(end, r[1])
            if not placed:
                merged.append([start, end])
            merged.sort()
            self._ranges = merged
            self.version += 1

    def contiguous_end(self, pos: int) -> int:
        with self._lock:
            for start, end in self._ranges:
                if start <= pos < end:
                    return end
        return pos

    def total(self) -> int:
        with self._lock:
            return sum(end - start for start, end in self._ranges)

    def missing(self, size: int) -> list[tuple[int, int]]:
        with self._lock:
            gaps, pos = [], 0
            for start, end in self._ranges:
                if start > pos:
                    gaps.append((pos, min(start, size)))
                pos = max(pos, end)
            if pos < size:
                gaps.append((pos, size))
            return [(a, b) for a, b in gaps if b > a]

    def snapshot(self) -> list[list[int]]:
        with self._lock:
            return [list(r) for r in self._ranges]

    def clear(self) -> None:
        with self._lock:
            self._ranges = []
            self.version += 1


@dataclass
class PartState:
    size: int | None = None
    etag: str | None = None
    sha256: str | None = None  # the expected digest this .part belongs to
    complete: bool = False
    digest: str | None = None  # the verified digest once complete
    filename: str | None = None
    extents: Extents = field(default_factory=Extents)

    @classmethod
    def load(cls, path: Path) -> PartState:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != STATE_VERSION:
                return cls()
            return cls(size=raw.get("size"), etag=raw.get("etag"), sha256=raw.get("sha256"),
                       complete=bool(raw.get("complete")), digest=raw.get("digest"),
                       filename=raw.get("filename"), extents=Extents(raw.get("extents")))
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def save(self, path: Path) -> None:
        # No fsync: the state only has to survive the process (kill -9), and a stale state
        # after a power cut is caught by the final SHA-256 check.
        data = {"version": STATE_VERSION, "size": self.size, "etag": self.etag,
                "sha256": self.sha256, "complete": self.complete, "digest": self.digest,
                "filename": self.filename, "extents": self.extents.snapshot()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)


# --- positional file I/O ---------------------------------------------------------------------
class PartFile:
    """pwrite/pread on one descriptor shared by every thread (a lock on platforms without)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        self._seek_lock = threading.Lock()

    def pwrite(self, data: memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset``; on failure ``exc.written`` says how much did."""
        written = 0
        while written < len(data):
            try:
                if hasattr(os, "pwrite"):
                    n = os.pwrite(self.fd, data[written:], offset + written)
                else:  # pragma: no cover - Windows
                    with self._seek_lock:
                        os.lseek(self.fd, offset + written, os.SEEK_SET)
                        n = os.write(self.fd, data[written:])
            except OSError as exc:
                exc.written = written  # type: ignore[attr-defined]
                raise
            written += n

    def pread_into(self, buffer: memoryview, offset: int) -> int:
        if hasattr(os, "preadv"):
            return os.preadv(self.fd, [buffer], offset)
        with self._seek_lock:  # pragma: no cover - Windows / old macOS
            os.lseek(self.fd, offset, os.SEEK_SET)
            chunk = os.read(self.fd, len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)

    def truncate(self, size: int = 0) -> None:
        os.ftruncate(self.fd, size)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


# --- buffers and the hashing thread ---------------------------------------------------------
class Buffer:
    __slots__ = ("home", "mv")

    def __init__(self, size: int, home: queue.SimpleQueue[Buffer]) -> None:
        self.mv = memoryview(bytearray(size))
        self.home = home

    def release(self) -> None:
        self.home.put(self)


class Hasher(threading.Thread):
    """Hashes bytes in file order. In-order buffers are hashed from memory; anything it finds
    already written beyond that (parallel ranges, a resumed .part) is read back with pread."""

    _STOP = object()

    def __init__(self, file: PartFile, extents: Extents) -> None:
        super().__init__(name="smx-sha256", daemon=True)
        self.file = file
        self.extents = extents
        self.sha = hashlib.sha256()
        self.done = 0
        self.reread = 0  # bytes that had to come back from the page cache
        self._advised = 0
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._abort = False
        self._scratch = memoryview(bytearray(MiB))

    def submit(self, pos: int, buf: Buffer, n: int) -> None:
        self.inbox.put((pos, buf, n))

    def finish(self) -> None:
        self.inbox.put(self._STOP)

    def abort(self) -> None:
        self._abort = True
        self.inbox.put(self._STOP)

    def run(self) -> None:
        try:
            while True:
                while self.inbox.empty() and not self._abort and self._catch_up():
                    pass
                item = self.inbox.get()
                if item is self._STOP:
                    break
                self._take(*item)
            while not self._abort and self._catch_up():
                pass
        except BaseException as exc:  # reported by the transfer
            self.error = exc
        finally:  # hand every queued buffer back so no worker waits for one
            while not self.inbox.empty():
                item = self.inbox.get()
                if item is not self._STOP:
                    item[1].release()

    def _take(self, pos: int, buf: Buffer, n: int) -> None:
        try:
            if not self._abort and pos <= self.done < pos + n:
                self.sha.update(buf.mv[self.done - pos:n])
                self.done = pos + n
        finally:
            buf.release()

    def flush_behind(self) -> None:
        """Start writing hashed bytes to disk now (and let the page cache drop them), so the
        fsync before placing has little left to do and a 7 GB model does not fill the cache.
        Called from the monitoring thread: submitting writeback can block, and this thread
        (the hasher) is the one the transfer waits for."""
        done = self.done
        if done - self._advised >= FLUSH_BEHIND and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(self.file.fd, self._advised, done - self._advised,
                                 os.POSIX_FADV_DONTNEED)
            self._advised = done

    def _catch_up(self) -> bool:
        end = self.extents.contiguous_end(self.done)
        if end <= self.done:
            return False
        want = min(end - self.done, len(self._scratch))
        got = self.file.pread_into(self._scratch[:want], self.done)
        if got <= 0:
            raise OSError(errno.EIO, "the partial download is shorter than its resume state")
        self.sha.update(self._scratch[:got])
        self.done += got
        self.reread += got
        return True
