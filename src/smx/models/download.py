"""The transfer engine: one for every source (Civitai, Hugging Face, plain URLs).

A download streams into ``Data/Cache/downloads/<key>.part`` with its resume state next to it
(``<key>.part.json``: size, ETag, the byte ranges already written). What it guarantees:

- constant memory: each connection reads into a few reused buffers (``readinto``) and writes
  them with ``os.pwrite``; nothing grows with the file size;
- SHA-256 while writing, no second pass: a hashing thread takes the buffers that extend the
  contiguous hashed prefix straight from memory. With parallel ranges, data beyond the prefix is
  written and released at once; when the prefix reaches it, the hasher reads it back from the
  page cache (``pread``), overlapping the rest of the transfer. After a resume the bytes already
  on disk are hashed the same way while the rest downloads (hashlib state cannot be saved);
- resume after any interruption, kill -9 included: the ranges in the state file are only ever
  ones whose bytes were written; the next run asks for the rest with ``Range`` (and
  ``If-Range``) and starts over when the ETag or the size changed or the server ignores Range;
- parallel ranged connections for large files (CDNs cap each connection), one stream when the
  server refuses ranges;
- bounded retries with backoff on resets, timeouts, short bodies, 5xx and 429 (Retry-After);
- verification of size and SHA-256 before the caller may place the file; a mismatch is
  deleted and reported with both digests.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.errors import ChecksumMismatch, DiskSpaceError, NetworkError, RemoteError, SmxError
from smx.models.http import (
    RETRYABLE_ERRORS,
    BodyCutShort,
    Hop,
    HttpClient,
    Response,
    network_error,
    retryable_status,
)
from smx.redact import redact
from smx.reporter import NullReporter, Reporter

MiB = 1 << 20
DEFAULT_CONNECTIONS = 8
MAX_CONNECTIONS = 32
PARALLEL_MIN_SIZE = 16 * MiB  # below this one stream is as fast and simpler
UNKNOWN_SIZE_PROBE = 16 * MiB  # first range asked when the source does not give a size
MIN_PIECE = 4 * MiB
MAX_PIECE = 64 * MiB
# Default connections: decide after this long whether the first connection is fast enough
# alone (more connections then add memory and CPU, not speed).
ADAPT_AFTER_S = 0.5
FAST_ENOUGH_BPS = 128 * MiB
# Buffers per connection: one being read while the hasher takes another (6 measured no better).
BUFFERS_PER_CONNECTION = 3
FLUSH_BEHIND = 64 * MiB  # hashed bytes handed to the kernel's writeback in steps of this
STATE_FLUSH_S = 0.05  # how much progress a kill -9 can lose (plus the buffers in flight)
STATE_VERSION = 1
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass
class DownloadSpec:
    url: str
    key: str  # name of the .part in the cache: the expected SHA-256 when known
    label: str  # what the user calls it, for progress and messages
    size: int | None = None
    sha256: str | None = None
    size_exact: bool = True  # False: `size` is approximate (Civitai's sizeKB), for display only
    connections: int | None = None  # None: DEFAULT_CONNECTIONS for large files
    # Turns a final non-2xx answer into the source's own error (Civitai 401, HF GatedRepo…).
    on_http_error: Callable[[Response, bytes], SmxError] | None = None
    # Checks facts announced on a redirect (HF X-Linked-Size/Etag) before it is followed.
    check_hops: Callable[[Hop], None] | None = None


@dataclass
class Downloaded:
    path: Path  # the verified file, still in the cache; the caller places it
    size: int
    sha256: str
    filename: str | None  # from Content-Disposition, NOT sanitised
    fetched: int  # body bytes received by this run
    resumed_from: int  # bytes that were already on disk
    connections: int


# --- resume state ----------------------------------------------------------------------------
class _Extents:
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
class _State:
    size: int | None = None
    etag: str | None = None
    sha256: str | None = None  # the expected digest this .part belongs to
    complete: bool = False
    digest: str | None = None  # the verified digest once complete
    filename: str | None = None
    extents: _Extents = field(default_factory=_Extents)

    @classmethod
    def load(cls, path: Path) -> _State:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != STATE_VERSION:
                return cls()
            return cls(size=raw.get("size"), etag=raw.get("etag"), sha256=raw.get("sha256"),
                       complete=bool(raw.get("complete")), digest=raw.get("digest"),
                       filename=raw.get("filename"), extents=_Extents(raw.get("extents")))
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
class _File:
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
class _Buffer:
    __slots__ = ("home", "mv")

    def __init__(self, size: int, home: queue.SimpleQueue[_Buffer]) -> None:
        self.mv = memoryview(bytearray(size))
        self.home = home

    def release(self) -> None:
        self.home.put(self)


class _Hasher(threading.Thread):
    """Hashes bytes in file order. In-order buffers are hashed from memory; anything it finds
    already written beyond that (parallel ranges, a resumed .part) is read back with pread."""

    _STOP = object()

    def __init__(self, file: _File, extents: _Extents) -> None:
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

    def submit(self, pos: int, buf: _Buffer, n: int) -> None:
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

    def _take(self, pos: int, buf: _Buffer, n: int) -> None:
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


# --- the transfer ----------------------------------------------------------------------------
class _Restart(Exception):
    """The remote file changed (ETag/size) or stopped honouring ranges: start over."""


class _Stopped(Exception):
    pass


@dataclass
class _Cursor:
    pos: int


@dataclass
class _Piece:
    start: int
    end: int | None  # None: until the end of the body (size unknown)


def _content_range(response: Response) -> tuple[int, int, int | None] | None:
    match = _CONTENT_RANGE.search(response.header("Content-Range") or "")
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _etag(response: Response) -> str | None:
    value = response.header("ETag")
    return value.strip() if value else None


def content_disposition_name(value: str | None) -> str | None:
    """The file name a Content-Disposition header proposes (RFC 6266 / 5987), unsanitised."""
    if not value:
        return None
    from email.message import Message

    msg = Message()
    msg["content-disposition"] = value
    name = msg.get_filename()
    return name or None


def human_size(n: float | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Transfer:
    def __init__(self, spec: DownloadSpec, cache_dir: Path, client: HttpClient,
                 reporter: Reporter | None = None) -> None:
        self.spec = spec
        self.client = client
        self.reporter = reporter or NullReporter()
        self.part = cache_dir / f"{spec.key}.part"
        self.state_path = cache_dir / f"{spec.key}.part.json"
        self.cache_dir = cache_dir
        self.fetched = 0
        self._fetched_lock = threading.Lock()
        self.stop = threading.Event()
        self.final_url = spec.url
        self._url_lock = threading.Lock()
        self._refreshed_at = 0.0
        # Buffers of 1 MiB: the bytes recv wrote are still in the CPU cache when pwrite and
        # the hasher read them (measured on loopback: 4 MiB buffers are ~25% slower).
        self.slice_max = MiB
        self._active: set[Response] = set()
        self._active_lock = threading.Lock()

    # -- entry point --
    def run(self) -> Downloaded:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        state = _State.load(self.state_path)
        if not self.part.exists() or (self.spec.sha256 and state.sha256
                                      and state.sha256 != self.spec.sha256):
            state = _State()
        if state.complete and state.digest and self.part.exists() and (
                self.part.stat().st_size == state.size):
            return self._finish_verified(state, resumed_from=state.size or 0, connections=0)
        state.complete, state.digest = False, None
        state.sha256 = self.spec.sha256
        for _ in range(3):
            try:
                return self._attempt(state)
            except _Restart as why:
                self.reporter.warn(f"{self.spec.label}: {why}; starting over")
                state = _State(sha256=self.spec.sha256)
                with contextlib.suppress(FileNotFoundError):
                    self.part.unlink()
                self.state_path.unlink(missing_ok=True)
        raise NetworkError(f"{self.spec.label}: the server kept changing the file while it "
                           "was downloading", hint="try again later")

    def _attempt(self, state: _State) -> Downloaded:
        self.stop.clear()
        on_disk = self.part.stat().st_size if self.part.exists() else 0
        ends = [end for _start, end in state.extents.snapshot()]
        if not state.size or (ends and max(ends) > on_disk):  # state and .part disagree
            state.extents.clear()
        resumed_from = state.extents.total()
        self._check_disk((self.spec.size or 0) - resumed_from)
        file = _File(self.part)
        try:
            if not state.extents.total():
                file.truncate(0)
            probe, piece, size, ranges_ok = self._probe(state, file)
            if resumed_from and ranges_ok:
                self.reporter.info(f"{self.spec.label}: resuming at "
                                   f"{100 * resumed_from // max(1, size or 1)}% "
                                   f"({human_size(resumed_from)} already downloaded)")
            elif not ranges_ok:
                resumed_from = 0
            self._check_disk((size or 0) - state.extents.total())
            state.save(self.state_path)
            connections = self._run_workers(state, file, probe, piece, size, ranges_ok)
            os.fsync(file.fd)
        finally:
            file.close()
        return self._finish_verified(state, resumed_from=resumed_from, connections=connections,
                                     digest=self._digest)

    # -- the first request decides everything: size, ranges, ETag, final URL --
    def _probe(self, state: _State, file: _File) -> tuple[Response, _Piece, int | None, bool]:
        known = state.size or (self.spec.size if self.spec.size_exact else None)
        if known:
            gaps = state.extents.missing(known)
            if not gaps:  # every byte is on disk: ask for the last one to confirm the ETag
                gaps = [(known - 1, known)]
            start = gaps[0][0]
            end = min(gaps[0][1], start + self._piece_size(known))
        else:  # size unknown (plain URL): a bounded first range still tells the total
            start, end = 0, UNKNOWN_SIZE_PROBE
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if state.etag and state.extents.total() and not state.etag.startswith("W/"):
            headers["If-Range"] = state.etag
        response = self.client.request(self.spec.url, headers=headers, what=self.spec.label,
                                       on_redirect=self.spec.check_hops)
        self.final_url = response.url
        name = content_disposition_name(response.header("Content-Disposition"))
        for hop in response.history:
            name = name or content_disposition_name(hop.headers.get("Content-Disposition"))
        state.filename = name or state.filename
        etag = _etag(response)
        if response.status == 206:
            cr = _content_range(response)
            if cr is None or cr[0] != start:
                response.close()
                raise _Restart("the server answered a different byte range than asked")
            total = cr[2]
            if total is None and not state.size:
                # "bytes a-b/*": a length the server will not say. Without it ranges cannot
                # be planned; take the whole body in one stream instead.
                response.close()
                response = self.client.request(self.spec.url, what=self.spec.label,
                                               on_redirect=self.spec.check_hops)
                self.final_url = response.url
                etag = _etag(response)
                if response.status != 200:
                    raise self._http_error(response)
            elif state.size and total is not None and total != state.size:
                response.close()
                raise _Restart("the file on the server changed size")
            if state.etag and etag and etag != state.etag and state.extents.total():
                response.close()
                raise _Restart("the file on the server changed (new ETag)")
            if response.status == 206:
                state.size = total or state.size
                state.etag = etag
                self._check_expected_size(state.size, response)
                return response, _Piece(start, cr[1] + 1), state.size, True
        if response.status == 200:
            # Range ignored (or If-Range said the file changed): the body is the whole file.
            if state.extents.total():
                self.reporter.warn(f"{self.spec.label}: the server does not resume downloads "
                                   "(it ignored Range); starting from zero")
            state.extents.clear()
            file.truncate(0)
            length = response.header("Content-Length")
            state.size = int(length) if length and length.isdigit() else None
            state.etag = etag
            self._check_expected_size(state.size, response)
            return response, _Piece(0, state.size), state.size, False
        if response.status == 416 and state.extents.total():
            response.close()
            raise _Restart("the server rejected the resume point")
        raise self._http_error(response)

    def _check_expected_size(self, size: int | None, response: Response) -> None:
        expected = self.spec.size
        if size is None or expected is None:
            return
        if (self.spec.size_exact and size != expected) or abs(size - expected) > 1024:
            response.close()
            raise ChecksumMismatch(
                f"{self.spec.label}: the server offers {size} bytes but the source says "
                f"{expected}; nothing was placed",
                hint="the published file changed; run `smx model pull` again to re-resolve it")

    def _http_error(self, response: Response) -> SmxError:
        body = b""
        with contextlib.suppress(*RETRYABLE_ERRORS, OSError):
            body = response.read(64 * 1024)
        response.close()
        if self.spec.on_http_error is not None:
            return self.spec.on_http_error(response, body)
        return RemoteError(f"{self.spec.label}: HTTP {response.status} "
                           f"{response.reason} from {redact(response.url.split('?')[0])}",
                           hint="check the URL; run the command again later if the server is "
                                "busy")

    def _request(self, url: str, headers: dict[str, str]) -> Response:
        response = self.client.request(url, headers=headers, what=self.spec.label)
        if response.status in (401, 403, 410) and url != self.spec.url:
            # A signed CDN URL expired mid-download: ask the source for a fresh one.
            response.discard()
            self._refresh_url()
            response = self.client.request(self.final_url, headers=headers, what=self.spec.label)
        return response

    def _refresh_url(self) -> None:
        with self._url_lock:
            if time.monotonic() - self._refreshed_at < 5:
                return
            self._refreshed_at = time.monotonic()
            response = self.client.request(self.spec.url, headers={"Range": "bytes=0-0"},
                                           what=self.spec.label)
            self.final_url = response.url
            response.discard()

    def _piece_size(self, size: int) -> int:
        conns = self._connections(size)
        if conns == 1:  # one stream: ask for each gap whole, like curl
            return size
        return max(MIN_PIECE, min(MAX_PIECE, size // max(1, conns * 4)))

    def _connections(self, size: int | None) -> int:
        wanted = self.spec.connections or DEFAULT_CONNECTIONS
        wanted = max(1, min(MAX_CONNECTIONS, wanted))
        if size is None or size < PARALLEL_MIN_SIZE:
            return 1
        return wanted

    def _check_disk(self, need: int) -> None:
        if need <= 0:
            return
        free = shutil.disk_usage(self.cache_dir).free
        if free < need:
            raise DiskSpaceError(
                f"not enough free disk space for {self.spec.label}: it needs "
                f"{human_size(need)}, {human_size(free)} free in {self.cache_dir}",
                hint="free some space (or move the environment to a bigger disk), then run "
                     "the same command again")

    # -- workers --
    def _run_workers(self, state: _State, file: _File, probe: Response, first: _Piece,
                     size: int | None, ranges_ok: bool) -> int:
        pieces: list[_Piece] = []
        if ranges_ok and size:
            pieces = _plan_pieces(first, state.extents.missing(size), self._piece_size(size))
        count = min(self._connections(size), 1 + len(pieces)) if ranges_ok else 1
        work = _Work(pieces)
        # Default (no --connections): one connection first; the others only join when it
        # turns out slow, as a CDN's per-connection cap makes it. A fast link stays one stream.
        adaptive = self.spec.connections is None and count > 1
        hasher = _Hasher(file, state.extents)
        hasher.start()
        errors: list[BaseException] = []

        def worker(initial: Response | None, initial_piece: _Piece | None,
                   buffer_size: int) -> None:
            free: queue.SimpleQueue[_Buffer] = queue.SimpleQueue()
            for _ in range(BUFFERS_PER_CONNECTION):
                free.put(_Buffer(buffer_size, free))
            try:
                if initial is not None and initial_piece is not None:
                    self._fetch(initial_piece, file, state, hasher, free, initial, ranges_ok)
                while not self.stop.is_set():
                    piece = work.take()
                    if piece is None:
                        return
                    self._fetch(piece, file, state, hasher, free, None, ranges_ok)
            except _Stopped:
                pass
            except BaseException as exc:  # surfaced by the main thread
                errors.append(exc)
                self.stop.set()

        threads = [threading.Thread(target=worker, args=(probe, first, self.slice_max),
                                    daemon=True, name="smx-download-0")]
        threads += [threading.Thread(target=worker, args=(None, None, self.slice_max),
                                     daemon=True, name=f"smx-download-{i}")
                    for i in range(1, count)]
        waiting = threads[1:] if adaptive else []
        began = time.monotonic()
        used = 1 if adaptive else count
        last_flush = 0.0
        flushed_version = -1
        try:
            with self.reporter.task(self.spec.label, total=size, unit="bytes") as task:
                task.update(completed=state.extents.total())
                for thread in threads:
                    if thread not in waiting:
                        thread.start()
                while alive := [t for t in threads if t.is_alive()]:
                    if self.stop.is_set():
                        self._abort_active()
                    alive[0].join(0.05)
                    if waiting and time.monotonic() - began >= ADAPT_AFTER_S:
                        rate = self.fetched / (time.monotonic() - began)
                        if rate < FAST_ENOUGH_BPS:
                            for thread in waiting:
                                thread.start()
                            used = count
                        else:
                            work.solo = True  # one fast stream: ask for the rest in one go
                        waiting = []
                    task.update(completed=state.extents.total())
                    hasher.flush_behind()
                    now = time.monotonic()
                    if now - last_flush >= STATE_FLUSH_S and (
                            state.extents.version != flushed_version):
                        flushed_version = state.extents.version
                        state.save(self.state_path)
                        last_flush = now
                task.update(completed=state.extents.total())
        except BaseException:  # Ctrl-C: stop the workers, keep what was written
            self.stop.set()
            self._abort_active()
            for thread in threads:
                thread.join()
            hasher.abort()
            hasher.join()
            state.save(self.state_path)
            raise
        state.save(self.state_path)
        if errors:
            hasher.abort()
            hasher.join()
            raise errors[0]
        if size is None:  # learnt from the end of the body
            state.size = state.extents.total()
        hasher.finish()
        hasher.join()
        if hasher.error is not None:
            raise hasher.error
        if hasher.done != state.size:
            raise NetworkError(f"{self.spec.label}: the download ended at {hasher.done} of "
                               f"{state.size} bytes", hint="run the same command again")
        self._digest = hasher.sha.hexdigest()
        self.reread = hasher.reread
        return used

    def _fetch(self, piece: _Piece, file: _File, state: _State, hasher: _Hasher,
               free: queue.SimpleQueue[_Buffer], response: Response | None,
               ranges_ok: bool) -> None:
        """Fetch one piece, resuming it on the same worker after drops (bounded retries)."""
        cursor = _Cursor(piece.start)
        failures = 0
        while piece.end is None or cursor.pos < piece.end:
            if self.stop.is_set():
                if response is not None:
                    response.close()
                raise _Stopped
            if response is None:
                if not ranges_ok:  # no ranges: the only way on is from zero
                    raise _Restart("the connection dropped and this server cannot resume")
                response, failures = self._open_range(cursor.pos, piece.end, state, failures)
                if response is None:
                    continue
            before = cursor.pos
            with self._active_lock:
                self._active.add(response)
            try:
                self._pump(response, cursor, piece.end, file, state, hasher, free)
                if piece.end is None:
                    return
            except RETRYABLE_ERRORS as exc:
                if self.stop.is_set():
                    raise _Stopped from None
                failures = 1 if cursor.pos > before else failures + 1
                if failures >= self.client.retry.attempts:
                    raise network_error(exc, self.final_url, self.spec.label) from None
                # The first retry after progress is immediate; repeated failures back off.
                self.client.pause(self.client.retry.backoff(failures - 1) if failures > 1 else 0,
                                  f"{self.spec.label}: connection dropped at "
                                  f"{human_size(cursor.pos)}")
            finally:
                with self._active_lock:
                    self._active.discard(response)
                response.close()
                response = None

    def _open_range(self, pos: int, end: int | None, state: _State, failures: int
                    ) -> tuple[Response | None, int]:
        """A 206 for [pos, end) on the final URL, or (None, failures) after a wait."""
        headers = {"Range": f"bytes={pos}-{'' if end is None else end - 1}"}
        response = self._request(self.final_url, headers)
        if response.status == 206:
            cr = _content_range(response)
            etag = _etag(response)
            if cr is None or cr[0] != pos or (cr[2] is not None and cr[2] != state.size):
                response.close()
                raise _Restart("the server answered a different byte range than asked")
            if state.etag and etag and etag != state.etag:
                response.close()
                raise _Restart("the file on the server changed while downloading")
            return response, failures
        if response.status == 200:
            response.close()
            raise _Restart("the server stopped honouring byte ranges")
        if not retryable_status(response.status):
            raise self._http_error(response)
        failures += 1
        wait = self.client.wait_for(response, failures)
        if failures >= self.client.retry.attempts or wait is None:
            raise self._http_error(response)
        response.discard()
        self.client.pause(wait, f"HTTP {response.status} during {self.spec.label}")
        return None, failures

    def _pump(self, response: Response, cursor: _Cursor, end: int | None, file: _File,
              state: _State, hasher: _Hasher, free: queue.SimpleQueue[_Buffer]) -> None:
        """Read the body into reused buffers, pwrite them, hand them to the hasher."""
        slice_size = 256 * 1024
        while end is None or cursor.pos < end:
            pos = cursor.pos
            buf = self._take_buffer(free)
            limit = len(buf.mv) if end is None else min(len(buf.mv), end - pos)
            want = min(slice_size, limit)
            started = time.monotonic()
            try:
                n = response.readinto(buf.mv[:want])
            except BaseException:
                buf.release()
                raise
            if n == 0:
                buf.release()
                if end is None:
                    return
                raise BodyCutShort(f"the body ended {end - pos} bytes early")
            try:
                file.pwrite(buf.mv[:n], pos)
            except OSError as exc:
                buf.release()
                state.extents.add(pos, pos + getattr(exc, "written", 0))  # keep what landed
                if exc.errno in _DISK_FULL:
                    raise DiskSpaceError(
                        f"the disk filled up while downloading {self.spec.label} "
                        f"({human_size(state.extents.total())} of "
                        f"{human_size(state.size)} done)",
                        hint="the partial download is kept in Data/Cache/downloads; free some "
                             "space and run the same command again to resume") from None
                raise
            state.extents.add(pos, pos + n)
            hasher.submit(pos, buf, n)
            with self._fetched_lock:
                self.fetched += n
            cursor.pos = pos + n
            # Small slices while the stream is slow (a kill loses little), big ones when fast.
            took = time.monotonic() - started
            if took < 0.01 and n == want:
                slice_size = min(len(buf.mv), slice_size * 2)
            elif took > 0.05:
                slice_size = max(64 * 1024, slice_size // 2)

    def _abort_active(self) -> None:
        """Unblock workers stuck in a read: shut their sockets down."""
        with self._active_lock:
            active = list(self._active)
        for response in active:
            response.abort()

    def _take_buffer(self, free: queue.SimpleQueue[_Buffer]) -> _Buffer:
        while True:
            try:
                return free.get(timeout=0.5)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stopped from None

    # -- the end: verify, record --
    def _finish_verified(self, state: _State, *, resumed_from: int, connections: int,
                         digest: str | None = None) -> Downloaded:
        digest = digest or state.digest
        assert digest is not None
        size = state.size if state.size is not None else 0
        actual = self.part.stat().st_size
        if actual != size:
            self._discard()
            raise ChecksumMismatch(f"{self.spec.label}: size mismatch (expected {size} bytes, "
                                   f"got {actual}); the download was deleted",
                                   hint="run the same command again")
        expected = self.spec.sha256
        if expected and digest != expected.lower():
            self._discard()
            raise ChecksumMismatch(
                f"{self.spec.label}: SHA-256 mismatch (expected {expected.lower()}, got "
                f"{digest}); the download was deleted and nothing was placed",
                hint="run the same command again; if it happens again the server is sending a "
                     "different file than the source announces")
        state.complete, state.digest = True, digest
        state.save(self.state_path)
        return Downloaded(path=self.part, size=size, sha256=digest, filename=state.filename,
                          fetched=self.fetched, resumed_from=resumed_from,
                          connections=connections)

    def _discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)

    _digest: str | None = None
    reread: int = 0


class _Work:
    """Pieces in file order. A lone fast connection takes runs of adjacent pieces as one
    request (no round trip per piece)."""

    def __init__(self, pieces: list[_Piece]) -> None:
        self._pieces = collections.deque(pieces)
        self._lock = threading.Lock()
        self.solo = False

    def take(self) -> _Piece | None:
        with self._lock:
            if not self._pieces:
                return None
            piece = self._pieces.popleft()
            while self.solo and self._pieces and self._pieces[0].start == piece.end:
                piece = _Piece(piece.start, self._pieces.popleft().end)
            return piece


def _plan_pieces(first: _Piece, gaps: list[tuple[int, int]], piece_size: int) -> list[_Piece]:
    """Every missing byte outside the probe's piece, in file order, in pieces of at most
    ``piece_size`` (small enough that the hashed prefix keeps moving)."""
    out: list[_Piece] = []
    first_end = first.end if first.end is not None else first.start
    for gap_start, gap_end in gaps:
        segments = [(gap_start, gap_end)]
        if first.start < gap_end and first_end > gap_start:  # cut the probe's piece out
            segments = [(gap_start, first.start), (first_end, gap_end)]
        for seg_start, seg_end in segments:
            pos = seg_start
            while pos < seg_end:
                end = min(seg_end, pos + piece_size)
                out.append(_Piece(pos, end))
                pos = end
    return out


def download(spec: DownloadSpec, cache_dir: Path, client: HttpClient,
             reporter: Reporter | None = None) -> Downloaded:
    """Fetch ``spec`` into ``cache_dir`` (resuming what is there) and verify it."""
    return Transfer(spec, cache_dir, client, reporter).run()


def discard_partial(cache_dir: Path, key: str) -> None:
    for suffix in (".part", ".part.json"):
        (cache_dir / f"{key}{suffix}").unlink(missing_ok=True)
