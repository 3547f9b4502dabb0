"""The transfer engine: one for every source (Civitai, Hugging Face, plain URLs).

A download streams into ``Data/Cache/downloads/<key>.part`` with its resume state next to it
(``<key>.part.json``: size, ETag, the byte ranges already written; models/partfile.py). What
it guarantees:

- disk speed: large bodies come straight off the socket into a few reused 1 MiB buffers per
  connection (models/transport.py), are written with ``os.pwrite`` and hashed in a thread of
  their own; memory stays constant whatever the file size;
- SHA-256 while writing, no second pass (bytes that arrive out of order are hashed from the
  page cache as soon as the hashed prefix reaches them);
- resume after any interruption, kill -9 included: the ranges in the state file are only ever
  ones whose bytes were written; the next run asks for the rest with ``Range`` (and
  ``If-Range``) and starts over when the ETag or the size changed or the server ignores Range;
- parallel ranges where they pay (models/ranges.py): one connection first; when it runs
  slower than FAST_ENOUGH_BPS after ADAPT_AFTER_S (a CDN's per-connection cap), the missing
  bytes are split into equal pieces in file order, all connections start together on them
  (kept alive from piece to piece), and at the end a free connection takes over the tail of
  the slowest. A fast stream stays one connection, a server without ranges one stream;
- bounded bodies: no more is read than the size announced (by the source or by the server)
  plus a small margin, and without any announced size no more than 90 % of the free disk;
- bounded retries with backoff on resets, stalls, short bodies, 5xx and 429 (Retry-After),
  each failing piece within the client's retry budget (models/http.py);
- verification of size and SHA-256 before the caller may place the file; a mismatch is
  deleted and reported with both digests. A failure before any byte arrived leaves nothing
  behind in the cache.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from smx.errors import ChecksumMismatch, DiskSpaceError, NetworkError, RemoteError, SmxError
from smx.models.http import (
    RETRYABLE_ERRORS,
    BodyCutShort,
    Hop,
    HttpClient,
    Response,
    Streak,
    parse_retry_after,
    retryable_status,
)
from smx.models.partfile import Buffer, Hasher, PartFile, PartState
from smx.models.ranges import Piece, Plan
from smx.redact import redact
from smx.reporter import NullReporter, Reporter
from smx.words import human_bytes

MiB = 1 << 20
DEFAULT_CONNECTIONS = 8
MAX_CONNECTIONS = 32
PARALLEL_MIN_SIZE = 16 * MiB  # below this one stream is as fast and simpler
# Parallel pieces: a few per connection (the hashed prefix keeps moving, a slow piece delays
# little), not so small that requests cost more than they carry.
MIN_PIECE = 2 * MiB
MAX_PIECE = 64 * MiB
PIECES_PER_CONNECTION = 4
# Default connections: whether the first connection is fast enough alone (more connections
# then add memory and CPU, not speed). One clearly slow, as a CDN's per-connection cap makes
# it, is judged after ADAPT_AFTER_S; one in between gets until ADAPT_CONFIRM_S to show its
# speed (a busy CPU or TCP's slow start can hold the first moments back).
ADAPT_AFTER_S = 0.1
ADAPT_CONFIRM_S = 0.5
FAST_ENOUGH_BPS = 128 * MiB
CLEARLY_SLOW = 0.25  # of FAST_ENOUGH_BPS
# ... unless smx itself is what holds it back: the connection's thread spent this share of
# the time waiting for a free buffer (SHA-256 or the disk slower than the connection) or
# working on the CPU (a busy machine), not waiting for the network.
LOCAL_LIMIT_SHARE = 0.2
# Buffers per connection: one being read while the hasher takes another. The first
# connection, alone on a fast link, gets more: they absorb the moments the hasher or the
# network thread is not scheduled (measured on a busy 2-core VM, 1 GiB on loopback: 3 buffers
# 1.07 GB/s, 8 buffers 1.45 GB/s, 16 buffers 1.52 GB/s). Slow parallel connections need few.
BUFFERS_PER_CONNECTION = 3
FIRST_CONNECTION_BUFFERS = 16
# Buffers of 1 MiB: the bytes recv_into wrote are still in the CPU cache when pwrite and the
# hasher read them (measured on loopback: 4 MiB buffers are ~25% slower).
BUFFER_SIZE = MiB
STATE_FLUSH_S = 0.01  # how much progress a kill -9 can lose (plus the buffers in flight)
# Ctrl-C waits this long for the connections to stop; one still inside a connect or a retry
# pause is left behind (a daemon thread) rather than keeping the user waiting.
STOP_GRACE_S = 2.0
# A read fills a slice of its buffer sized so that it takes about 5-25 ms: whole buffers when
# the stream is fast, small slices when it is slow (a kill -9 loses what is in flight).
SLICE_FAST_S = 0.005
SLICE_SLOW_S = 0.025
# A body may run this far past the size announced for it (Civitai's sizes are rounded KB).
OVERRUN_MARGIN = 64 * 1024
# Without an announced size, a body may fill at most this share of the disk's free space.
UNKNOWN_SIZE_DISK_SHARE = 0.9
UNKNOWN_SIZE = "unknown size"  # how messages show a size the server did not announce
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass
class DownloadSpec:
    url: str
    key: str  # name of the .part in the cache: the expected SHA-256 when known
    label: str  # what the user calls it, for progress and messages
    size: int | None = None
    sha256: str | None = None
    size_exact: bool = True  # False: `size` is approximate (Civitai's sizeKB)
    connections: int | None = None  # None: one, then DEFAULT_CONNECTIONS when it is slow
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
    steals: int = 0  # piece tails a faster connection took over from a slower one


@dataclass(frozen=True)
class _Fetched:
    """What the connections of one attempt did."""

    connections: int
    sha256: str  # of the whole file, hashed in file order as it arrived
    steals: int


def free_space(path: Path) -> int:
    """Free bytes on the file system holding ``path``."""
    return shutil.disk_usage(path).free


# --- the transfer ----------------------------------------------------------------------------
class _Restart(Exception):
    """The remote file changed (ETag/size) or stopped honouring ranges: start over.
    ``cut_at``: the connection dropped there and the server cannot resume."""

    def __init__(self, why: str, *, cut_at: int | None = None) -> None:
        super().__init__(why)
        self.cut_at = cut_at


class _Stopped(Exception):
    pass


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
        self._active: set[Response] = set()
        self._active_lock = threading.Lock()
        self._free_at_start = 0
        self._worthless = False  # the bytes on disk must not be resumed (an overrun body)
        self._parallel = False  # more than one connection: keep them alive between pieces
        self._stragglers = False  # a connection still running after Ctrl-C: keep the fd open
        self.waited_for_buffers = 0.0  # seconds connections waited for the hasher to free one

    # -- entry point --
    def run(self) -> Downloaded:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        state = PartState.load(self.state_path)
        if not self.part.exists() or (self.spec.sha256 and state.sha256
                                      and state.sha256 != self.spec.sha256):
            state = PartState()
        if state.complete and state.digest and self.part.exists() and (
                self.part.stat().st_size == state.size):
            return self._finish_verified(state, resumed_from=state.size or 0, connections=0)
        state.complete, state.digest = False, None
        state.sha256 = self.spec.sha256
        restarts: list[_Restart] = []
        for _ in range(3):
            try:
                return self._attempt(state)
            except _Restart as why:
                restarts.append(why)
                self.reporter.warn(f"{self.spec.label}: {why}; starting over")
                state = PartState(sha256=self.spec.sha256)
                self._discard()
        cuts = [r.cut_at for r in restarts if r.cut_at is not None]
        if len(cuts) == len(restarts):
            raise NetworkError(
                f"{self.spec.label}: the connection dropped before the end on each of "
                f"{len(cuts)} tries (the last at {human_bytes(cuts[-1])} of "
                f"{human_bytes(state.size or self.spec.size, UNKNOWN_SIZE)}), and this server "
                "cannot resume a download (it ignores Range), so every try started from zero",
                hint="run the same command again on a steadier connection, or use a mirror "
                     "of the file that supports resuming")
        raise NetworkError(f"{self.spec.label}: the server kept changing the file while it "
                           f"was downloading ({restarts[-1]})", hint="try again later")

    def _attempt(self, state: PartState) -> Downloaded:
        self.stop.clear()
        on_disk = self.part.stat().st_size if self.part.exists() else 0
        ends = [end for _start, end in state.extents.snapshot()]
        if not state.size or (ends and max(ends) > on_disk):  # state and .part disagree
            state.extents.clear()
        resumed_from = state.extents.total()
        self._free_at_start = free_space(self.cache_dir)
        self._check_disk((self.spec.size or 0) - resumed_from)
        try:
            file = PartFile(self.part)
            try:
                if not state.extents.total():
                    file.truncate(0)
                probe, piece, size, ranges_ok = self._probe(state, file)
                if resumed_from and ranges_ok:
                    self.reporter.info(f"{self.spec.label}: resuming at "
                                       f"{100 * resumed_from // max(1, size or 1)}% "
                                       f"({human_bytes(resumed_from)} already downloaded)")
                elif not ranges_ok:
                    resumed_from = 0
                self._check_disk((size or 0) - state.extents.total())
                state.save(self.state_path)
                fetched = self._run_workers(state, file, probe, piece, size, ranges_ok)
                os.fsync(file.fd)
            finally:
                if not self._stragglers:  # else a late pwrite could land in a reused fd
                    file.close()
        except BaseException:
            if self._worthless or not state.extents.total():
                self._discard()  # nothing worth resuming: leave nothing behind
            raise
        return self._finish_verified(state, resumed_from=resumed_from,
                                     connections=fetched.connections, digest=fetched.sha256,
                                     steals=fetched.steals)

    # -- the first request decides everything: size, ranges, ETag, final URL --
    def _probe(self, state: PartState, file: PartFile
               ) -> tuple[Response, Piece, int | None, bool]:
        known = state.size or (self.spec.size if self.spec.size_exact else None)
        if known:
            gaps = state.extents.missing(known)
            if not gaps:  # every byte is on disk: ask for the last one to confirm the ETag
                gaps = [(known - 1, known)]
            start, end = gaps[0]
            wanted = self._connections(known)
            if self.spec.connections is not None and wanted > 1:
                # A fixed number of connections: the first one asks for its first piece only.
                missing = sum(b - a for a, b in gaps)
                end = min(end, start + self._piece_size(missing, wanted))
            headers = {"Range": f"bytes={start}-{end - 1}"}
        else:  # size unknown (plain URL): the answer's Content-Range tells it
            start = 0
            headers = {"Range": "bytes=0-"}
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
                return response, Piece(start, cr[1] + 1), state.size, True
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
            return response, Piece(0, state.size), state.size, False
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

    @staticmethod
    def _piece_size(missing: int, connections: int) -> int:
        """Equal pieces, a multiple of ``connections`` of them, so that every round of
        pieces keeps every connection busy."""
        target = max(MIN_PIECE, min(MAX_PIECE, missing // (connections * PIECES_PER_CONNECTION)))
        rounds = max(1, -(-missing // (connections * target)))
        return max(1, -(-missing // (connections * rounds)))

    def _connections(self, size: int | None) -> int:
        wanted = self.spec.connections or DEFAULT_CONNECTIONS
        wanted = max(1, min(MAX_CONNECTIONS, wanted))
        if size is None or size < PARALLEL_MIN_SIZE:
            return 1
        return wanted

    def _check_disk(self, need: int) -> None:
        if need <= 0:
            return
        free = self._free_at_start
        if free < need:
            raise DiskSpaceError(
                f"not enough free disk space for {self.spec.label}: it needs "
                f"{human_bytes(need)}, {human_bytes(free)} free in {self.cache_dir}",
                hint="free some space (or move the environment to a bigger disk), then run "
                     "the same command again")

    def _body_cap(self, state: PartState) -> tuple[int, int | None]:
        """How far a body of unannounced length may go: (the last allowed end, the size that
        was announced, if any)."""
        announced = state.size or self.spec.size
        if announced:
            return announced + OVERRUN_MARGIN, announced
        return int(self._free_at_start * UNKNOWN_SIZE_DISK_SHARE), None

    def _overrun(self, state: PartState, at: int) -> SmxError:
        self._worthless = True
        _cap, announced = self._body_cap(state)
        if announced is not None:
            return RemoteError(
                f"{self.spec.label}: the server sent more than announced ({human_bytes(at)} "
                f"and counting, for a file of {human_bytes(announced, UNKNOWN_SIZE)}); smx stopped "
                "reading, deleted the download and placed nothing",
                hint="the URL or the server is wrong (it sends something else, or without "
                     "end); check the URL or try again later", code="remote.oversized")
        return RemoteError(
            f"{self.spec.label}: the server sent {human_bytes(at)} without saying how large the "
            "file is, and more would nearly fill the disk; smx stopped reading, deleted the "
            "download and placed nothing",
            hint="check the URL; if the file really is that large, free some space and run "
                 "the same command again", code="remote.oversized")

    # -- workers --
    def _run_workers(self, state: PartState, file: PartFile, probe: Response, first: Piece,
                     size: int | None, ranges_ok: bool) -> _Fetched:
        plan = Plan()
        plan.start(first)
        count = 1
        if ranges_ok and size:
            first_end = first.end if first.end is not None else size
            plan = Plan([Piece(a, b) for a, b in _without(state.extents.missing(size),
                                                          (first.start, first_end))])
            plan.start(first)
            count = self._connections(size)
        # Default (no --connections): one connection first; the others join together when it
        # turns out slow, as a CDN's per-connection cap makes it. A fast link stays one stream.
        adaptive = self.spec.connections is None and count > 1
        self._parallel = count > 1 and not adaptive
        if self._parallel and size:
            probe.keep_connection()
            plan.split(self._piece_size(size - state.extents.total(), count))
        hasher = Hasher(file, state.extents)
        hasher.start()
        errors: list[BaseException] = []

        def worker(initial: Response | None, piece: Piece | None, done: threading.Event
                   ) -> None:
            free: queue.SimpleQueue[Buffer] = queue.SimpleQueue()
            buffers = FIRST_CONNECTION_BUFFERS if initial is not None else BUFFERS_PER_CONNECTION
            for _ in range(buffers):
                free.put(Buffer(BUFFER_SIZE, free))
            try:
                if initial is not None and piece is not None:
                    self._fetch(plan, piece, file, state, hasher, free, initial, ranges_ok)
                while not self.stop.is_set():
                    piece = plan.take()
                    if piece is None:
                        return
                    self._fetch(plan, piece, file, state, hasher, free, None, ranges_ok)
            except _Stopped:
                pass
            except BaseException as exc:  # surfaced by the main thread
                errors.append(exc)
                self.stop.set()
            finally:
                done.set()

        def spawn(index: int, initial: Response | None = None,
                  piece: Piece | None = None) -> threading.Thread:
            done = threading.Event()
            thread = threading.Thread(target=worker, args=(initial, piece, done), daemon=True,
                                      name=f"smx-download-{index}")
            thread.start()
            threads.append(thread)
            finished.append(done)
            return thread

        threads: list[threading.Thread] = []
        # Set by each worker as it ends: after Ctrl-C interrupts a join(), Python (3.11) can
        # report a thread that still runs as stopped, so is_alive() cannot tell.
        finished: list[threading.Event] = []
        used = 1 if adaptive else count
        deciding = adaptive
        last_flush = 0.0
        flushed_version = -1
        try:
            with self.reporter.task(self.spec.label, total=size, unit="bytes") as task:
                task.update(completed=state.extents.total())
                spawn(0, probe, first)
                for index in range(1, used):
                    spawn(index)
                while alive := [t for t in threads if t.is_alive()]:
                    if hasher.error is not None and not self.stop.is_set():
                        # The hasher is gone: nothing frees the buffers the connections wait for.
                        errors.append(hasher.error)
                        self.stop.set()
                    if self.stop.is_set():
                        self._abort_active()
                    alive[0].join(STATE_FLUSH_S)
                    now = time.monotonic()
                    # Judged on one answer that has run long enough: a run of short answers
                    # (the gaps of a resumed download) is quick whatever the connection.
                    timed = [p for p in plan.active() if now - p.began >= ADAPT_AFTER_S
                             ] if deciding else []
                    if timed:
                        window = now - timed[0].began
                        rate = timed[0].rate(now)
                        slow = rate < FAST_ENOUGH_BPS * (CLEARLY_SLOW if window < ADAPT_CONFIRM_S
                                                         else 1)
                        deciding = not slow and window < ADAPT_CONFIRM_S
                        if slow and not self.stop.is_set() and not self._local_limit(
                                window, timed[0].cpu):
                            assert size is not None
                            self._parallel = True
                            missing = size - state.extents.total()
                            pieces = plan.split(self._piece_size(missing, count))
                            used = min(count, pieces)
                            for index in range(1, used):  # all together
                                spawn(index)
                    task.update(completed=state.extents.total())
                    hasher.flush_behind()
                    if now - last_flush >= STATE_FLUSH_S and (
                            state.extents.version != flushed_version):
                        flushed_version = state.extents.version
                        state.save(self.state_path)
                        last_flush = now
                task.update(completed=state.extents.total())
        except BaseException:  # Ctrl-C: stop the workers, keep what was written
            self.stop.set()
            self._abort_active()
            deadline = time.monotonic() + STOP_GRACE_S
            for done in finished:
                done.wait(max(0.0, deadline - time.monotonic()))
            self._stragglers = not all(done.is_set() for done in finished)
            hasher.abort()
            hasher.join()
            if not self._worthless:
                state.save(self.state_path)
            raise
        if errors:
            hasher.abort()
            hasher.join()
            if not self._worthless:
                state.save(self.state_path)
            raise errors[0]
        state.save(self.state_path)
        if size is None:  # learnt from the end of the body
            state.size = state.extents.total()
        hasher.finish()
        hasher.join()
        if hasher.error is not None:
            raise hasher.error
        if hasher.done != state.size:
            raise NetworkError(f"{self.spec.label}: the download ended at {hasher.done} of "
                               f"{state.size} bytes", hint="run the same command again")
        return _Fetched(connections=used, sha256=hasher.sha.hexdigest(), steals=plan.steals)

    def _fetch(self, plan: Plan, piece: Piece, file: PartFile, state: PartState,
               hasher: Hasher, free: queue.SimpleQueue[Buffer], response: Response | None,
               ranges_ok: bool) -> None:
        """Fetch one piece, resuming it on the same worker after drops and stalls (within the
        retry budget)."""
        streak = Streak(self.client.retry)
        asked_end = piece.end  # where the current answer's body ends
        try:
            while piece.end is None or piece.pos < piece.end:
                if self.stop.is_set():
                    if response is not None:
                        response.close()
                    raise _Stopped
                if response is None:
                    asked_end = piece.end
                    response = self._open_range(piece, asked_end, state, streak)
                    if response is None:
                        continue
                    piece.answered()
                    if self._parallel:
                        response.keep_connection()
                before = piece.pos
                with self._active_lock:
                    self._active.add(response)
                try:
                    self._pump(plan, response, piece, file, state, hasher, free)
                    if piece.end is None:
                        return
                    if piece.end == asked_end:  # all it asked for: the connection can go on
                        response.finish()
                except RETRYABLE_ERRORS as exc:
                    if self.stop.is_set():
                        raise _Stopped from None
                    if not ranges_ok:  # no ranges: the only way on is from zero
                        raise _Restart(f"{self._why(exc)} at {human_bytes(piece.pos)} and this "
                                       "server cannot resume", cut_at=piece.pos) from None
                    if piece.pos > before:
                        streak.restart()
                    streak.fail()
                    # The first retry after progress is immediate; repeated failures back off.
                    wait = 0.0 if streak.failures == 1 else self.client.retry.backoff(
                        streak.failures - 1)
                    if not streak.allows(wait):
                        raise self.client.error(exc, self.final_url, self.spec.label,
                                                streak=streak, body=True) from None
                    self.client.pause(wait, f"{self.spec.label}: {self._why(exc)} at "
                                            f"{human_bytes(piece.pos)}", streak)
                finally:
                    with self._active_lock:
                        self._active.discard(response)
                    response.close()
                    response = None
        finally:
            plan.done(piece)

    def _local_limit(self, window: float, cpu: float) -> bool:
        """Whether the one connection so far was held back on smx's own side during
        ``window``: waiting for the hasher to free a buffer (SHA-256 or the disk is slower),
        or busy on the CPU itself (a capped connection leaves its thread idle, waiting for
        bytes). More connections would then not be faster."""
        return (self.waited_for_buffers > LOCAL_LIMIT_SHARE * window
                or cpu > LOCAL_LIMIT_SHARE * window)

    def _why(self, exc: BaseException) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return self.client.describe(exc, self.final_url, body=True)
        return "connection dropped"

    def _open_range(self, piece: Piece, end: int | None, state: PartState, streak: Streak
                    ) -> Response | None:
        """A 206 for [piece.pos, end) on the final URL, or None after a wait."""
        headers = {"Range": f"bytes={piece.pos}-{'' if end is None else end - 1}"}
        response = self._request(self.final_url, headers)
        if response.status == 206:
            cr = _content_range(response)
            etag = _etag(response)
            if cr is None or cr[0] != piece.pos or (cr[2] is not None and cr[2] != state.size):
                response.close()
                raise _Restart("the server answered a different byte range than asked")
            if state.etag and etag and etag != state.etag:
                response.close()
                raise _Restart("the file on the server changed while downloading")
            return response
        if response.status == 200:
            response.close()
            raise _Restart("the server stopped honouring byte ranges")
        if not retryable_status(response.status):
            raise self._http_error(response)
        streak.fail()
        wait = self.client.wait_for(response, streak.failures)
        asked = parse_retry_after(response.header("Retry-After")) is not None
        if wait is None or not streak.allows(wait, asked=asked):
            raise self._http_error(response)
        response.discard()
        self.client.pause(wait, f"HTTP {response.status} during {self.spec.label}", streak,
                          asked=asked)
        return None

    def _pump(self, plan: Plan, response: Response, piece: Piece, file: PartFile,
              state: PartState, hasher: Hasher, free: queue.SimpleQueue[Buffer]) -> None:
        """Read the body into reused buffers, pwrite them, hand them to the hasher. Stops at
        the piece's end, which another connection may have moved down meanwhile."""
        cap = self._body_cap(state)[0] if piece.end is None else None
        # Small slices while the stream is slow (a kill loses little), whole buffers when fast.
        slice_size = BUFFER_SIZE if response.direct else 256 * 1024
        cpu_began = time.thread_time() - piece.cpu
        while True:
            pos = piece.pos
            buf = self._take_buffer(free)
            room = len(buf.mv) if cap is None else min(len(buf.mv), cap + 1 - pos)
            want = plan.reserve(piece, min(slice_size, room))
            if want <= 0:
                buf.release()
                return
            started = time.monotonic()
            try:
                n = response.readinto(buf.mv[:want])
            except BaseException:
                buf.release()
                raise
            if n == 0:
                buf.release()
                if piece.end is None:
                    return
                raise BodyCutShort(f"the body ended {piece.end - pos} bytes early")
            if cap is not None and pos + n > cap:
                buf.release()
                raise self._overrun(state, pos + n)
            try:
                file.pwrite(buf.mv[:n], pos)
            except OSError as exc:
                buf.release()
                state.extents.add(pos, pos + getattr(exc, "written", 0))  # keep what landed
                if exc.errno in _DISK_FULL:
                    raise DiskSpaceError(
                        f"the disk filled up while downloading {self.spec.label} "
                        f"({human_bytes(state.extents.total())} of "
                        f"{human_bytes(state.size, UNKNOWN_SIZE)} done)",
                        hint="the partial download is kept in Data/Cache/downloads; free some "
                             "space and run the same command again to resume") from None
                raise
            state.extents.add(pos, pos + n)
            hasher.submit(pos, buf, n)
            with self._fetched_lock:
                self.fetched += n
            plan.advance(piece, n)
            piece.cpu = time.thread_time() - cpu_began
            took = time.monotonic() - started
            if took < SLICE_FAST_S and n == want:
                slice_size = min(len(buf.mv), slice_size * 2)
            elif took > SLICE_SLOW_S:
                slice_size = max(64 * 1024, slice_size // 2)

    def _abort_active(self) -> None:
        """Unblock workers stuck in a read: shut their sockets down."""
        with self._active_lock:
            active = list(self._active)
        for response in active:
            response.abort()

    def _take_buffer(self, free: queue.SimpleQueue[Buffer]) -> Buffer:
        with contextlib.suppress(queue.Empty):
            return free.get_nowait()
        began = time.monotonic()
        try:
            while True:
                try:
                    return free.get(timeout=0.5)
                except queue.Empty:
                    if self.stop.is_set():
                        raise _Stopped from None
        finally:
            with self._fetched_lock:
                self.waited_for_buffers += time.monotonic() - began

    # -- the end: verify, record --
    def _finish_verified(self, state: PartState, *, resumed_from: int, connections: int,
                         digest: str | None = None, steals: int = 0) -> Downloaded:
        digest = digest or state.digest
        assert digest is not None
        size = state.size if state.size is not None else 0
        actual = self.part.stat().st_size
        announced = self.spec.size
        if announced and announced - size > (0 if self.spec.size_exact else 1024):
            # Only a body without Content-Length can end early unnoticed: closing the
            # connection was its only end.
            self._discard()
            raise NetworkError(
                f"{self.spec.label}: the server ended the download after {size} of the "
                f"{announced} bytes announced (it gave no length, so the cut looked like the "
                "end); the download was deleted and nothing was placed",
                hint="run the same command again; if it happens again, the connection or the "
                     "server drops long downloads (a mirror that supports resuming helps)")
        if actual != size or (announced and self.spec.size_exact and size != announced):
            self._discard()
            raise ChecksumMismatch(f"{self.spec.label}: size mismatch (expected "
                                   f"{announced or size} bytes, got {actual}); the download was "
                                   "deleted", hint="run the same command again")
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
                          connections=connections, steals=steals)

    def _discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)
        self.state_path.with_name(self.state_path.name + ".tmp").unlink(missing_ok=True)


def _without(gaps: list[tuple[int, int]], taken: tuple[int, int]) -> list[tuple[int, int]]:
    """``gaps`` minus the range ``taken`` (the first connection's)."""
    out: list[tuple[int, int]] = []
    for start, end in gaps:
        if taken[1] <= start or taken[0] >= end:
            out.append((start, end))
            continue
        if start < taken[0]:
            out.append((start, taken[0]))
        if taken[1] < end:
            out.append((taken[1], end))
    return out


def download(spec: DownloadSpec, cache_dir: Path, client: HttpClient,
             reporter: Reporter | None = None) -> Downloaded:
    """Fetch ``spec`` into ``cache_dir`` (resuming what is there) and verify it."""
    return Transfer(spec, cache_dir, client, reporter).run()


def discard_partial(cache_dir: Path, key: str) -> None:
    for suffix in (".part", ".part.json"):
        (cache_dir / f"{key}{suffix}").unlink(missing_ok=True)
