"""Which connection fetches which bytes of a download.

A file is fetched by one connection until it proves slow (a CDN caps each connection); then
the bytes still missing are split evenly between all connections at once, and a connection
that finishes its share takes over the second half of the one expected to finish last. So
every connection stays busy until the end, and each one makes few requests (a connection that
read its body straight off the socket is not reused, see models/transport.py).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

MiB = 1 << 20
# A share smaller than this is not worth a connection of its own.
MIN_SHARE = 2 * MiB
# Take over part of another connection's share only when it would still need this long for
# the rest, and leave it at least STEAL_MIN_BYTES: a new request costs a round trip or more.
STEAL_AFTER_S = 0.5
STEAL_MIN_BYTES = MiB
MEASURE_S = 0.2  # a connection's speed means something after this long


@dataclass(eq=False)
class Piece:
    """Bytes [start, end) for one connection; ``pos`` is the next byte it will write. ``end``
    is None when the size is unknown (until the body ends), and may move down while the piece
    is being fetched, when another connection takes over its tail."""

    start: int
    end: int | None
    pos: int = -1
    reserved: int = -1  # pos plus the read in flight: a takeover never cuts below this
    began: float = field(default_factory=time.monotonic)  # when its current answer began
    base: int = -1  # pos at that moment

    def __post_init__(self) -> None:
        if self.pos < 0:
            self.pos = self.start
        self.reserved = max(self.reserved, self.pos)
        self.base = self.pos

    def answered(self) -> None:
        """A response for the rest of the piece has begun: its speed is measured from here."""
        self.began = time.monotonic()
        self.base = self.pos

    def rate(self, now: float) -> float:
        """Bytes per second the current answer has been arriving at."""
        return (self.pos - self.base) / max(1e-3, now - self.began)


class Plan:
    """The pieces waiting for a connection, and those being fetched (thread-safe)."""

    def __init__(self, pieces: list[Piece] | None = None) -> None:
        self._lock = threading.Lock()
        self._waiting: collections.deque[Piece] = collections.deque(pieces or [])
        self._active: list[Piece] = []
        self.steals = 0

    def start(self, piece: Piece) -> Piece:
        """Count ``piece`` (fetched by a connection already open) as active."""
        with self._lock:
            self._active.append(piece)
        return piece

    def take(self) -> Piece | None:
        """The next piece for a free connection: a waiting one, else the tail of the active
        piece expected to finish last. None when nothing is left worth taking."""
        with self._lock:
            if self._waiting:
                piece = self._waiting.popleft()
                piece.answered()
                self._active.append(piece)
                return piece
            return self._steal()

    def _steal(self) -> Piece | None:
        now = time.monotonic()
        best: Piece | None = None
        best_eta = STEAL_AFTER_S
        for piece in self._active:
            if piece.end is None or piece.end - piece.reserved < 2 * STEAL_MIN_BYTES:
                continue
            if now - piece.began < MEASURE_S:  # too early to tell its speed
                continue
            rate = piece.rate(now)
            eta = (piece.end - piece.pos) / rate if rate > 0 else float("inf")
            if eta > best_eta:
                best, best_eta = piece, eta
        if best is None or best.end is None:
            return None
        cut = best.reserved + (best.end - best.reserved) // 2
        tail = Piece(cut, best.end)
        best.end = cut
        self._active.append(tail)
        self.steals += 1
        return tail

    def done(self, piece: Piece) -> None:
        with self._lock:
            if piece in self._active:
                self._active.remove(piece)

    def reserve(self, piece: Piece, want: int) -> int:
        """How many bytes ``piece``'s connection may read now (at most ``want``); 0 when the
        piece is complete (its tail may have been taken over)."""
        with self._lock:
            n = want if piece.end is None else max(0, min(want, piece.end - piece.pos))
            piece.reserved = piece.pos + n
            return n

    def advance(self, piece: Piece, n: int) -> None:
        with self._lock:
            piece.pos += n

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def solo(self, piece: Piece) -> None:
        """One connection is fast enough: let ``piece`` run on into the waiting pieces that
        follow it, as one request."""
        with self._lock:
            while self._waiting and piece.end is not None and self._waiting[0].start == piece.end:
                piece.end = self._waiting.popleft().end

    def spread(self, connections: int) -> int:
        """Split every byte not yet taken (the tails of the active pieces and the waiting
        pieces) evenly: each active piece keeps one share from where it is, the rest wait in
        shares for the connections about to open. Returns the number of shares: how many
        connections have work."""
        with self._lock:
            spans = [(p.start, p.end) for p in self._waiting if p.end is not None]
            for piece in self._active:
                if piece.end is not None and piece.end > piece.reserved:
                    spans.append((piece.reserved, piece.end))
            spans.sort()
            total = sum(end - start for start, end in spans)
            count = max(1, min(connections, total // MIN_SHARE))
            share = -(-total // count)  # ceiling: no byte left over
            active = [p for p in self._active if p.end is not None]
            for piece in active:  # each active connection keeps the next `share` bytes of its own
                assert piece.end is not None
                piece.end = min(piece.end, piece.reserved + share)
            kept = [(p.reserved, p.end) for p in active if p.end is not None]
            rest = _subtract(spans, kept)
            self._waiting = collections.deque(_cut(rest, share))
            return count


def _subtract(spans: list[tuple[int, int]], taken: list[tuple[int, int]]
              ) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        pieces = [(start, end)]
        for t_start, t_end in taken:
            nxt = []
            for a, b in pieces:
                if t_end <= a or t_start >= b:
                    nxt.append((a, b))
                    continue
                if a < t_start:
                    nxt.append((a, t_start))
                if t_end < b:
                    nxt.append((t_end, b))
            pieces = nxt
        out.extend(pieces)
    return [(a, b) for a, b in sorted(out) if b > a]


def _cut(spans: list[tuple[int, int]], share: int) -> list[Piece]:
    """``spans`` (sorted, disjoint) in consecutive groups of ``share`` bytes; a group that
    crosses a gap between spans becomes one piece per span."""
    pieces: list[Piece] = []
    room = share
    for start, end in spans:
        pos = start
        while pos < end:
            n = min(end - pos, room)
            pieces.append(Piece(pos, pos + n))
            pos += n
            room -= n
            if room == 0:
                room = share
    return pieces

