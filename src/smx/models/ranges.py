"""Which connection fetches which bytes of a download.

A file is fetched by one connection until it proves slow (a CDN caps each connection); then
every byte still missing is split into equal pieces in file order and all connections start
together, each taking the next piece when it finishes one (on the same kept-alive connection).
File order keeps the hashed prefix moving while the rest arrives, so hashing ends with the
transfer and the page cache holds only the pieces in flight. When no piece is left, a free
connection takes over the second half of the piece expected to finish last.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

MiB = 1 << 20
# Take over part of another connection's piece only when it would still need this long for
# the rest, and leave it at least STEAL_MIN_BYTES: a new request costs a round trip or more.
STEAL_AFTER_S = 0.3
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
    cpu: float = 0.0  # CPU seconds its connection's thread has spent on that answer

    def __post_init__(self) -> None:
        if self.pos < 0:
            self.pos = self.start
        self.reserved = max(self.reserved, self.pos)
        self.base = self.pos

    def answered(self) -> None:
        """A response for the rest of the piece has begun: its speed is measured from here."""
        self.began = time.monotonic()
        self.base = self.pos
        self.cpu = 0.0

    def rate(self, now: float) -> float:
        """Bytes per second the current answer has been arriving at."""
        return (self.pos - self.base) / max(1e-3, now - self.began)


class Plan:
    """The pieces waiting for a connection, in file order, and those being fetched
    (thread-safe)."""

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
        """The next piece for a free connection: the first waiting one, else the tail of the
        active piece expected to finish last. None when nothing is left worth taking."""
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

    def active(self) -> list[Piece]:
        with self._lock:
            return list(self._active)

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
            piece.reserved = max(piece.reserved, piece.pos)

    def split(self, piece_size: int) -> int:
        """Cut every byte not yet taken - the rest of the active pieces beyond their next
        ``piece_size`` bytes, and the waiting pieces - into pieces of ``piece_size`` in file
        order. Returns how many pieces there are now, active ones included."""
        with self._lock:
            spans = [(p.start, p.end) for p in self._waiting if p.end is not None]
            for piece in self._active:
                if piece.end is None:
                    continue
                keep = min(piece.end, piece.reserved + piece_size)
                if keep < piece.end:
                    spans.append((keep, piece.end))
                    piece.end = keep
            pieces = []
            for start, end in sorted(spans):
                for pos in range(start, end, piece_size):
                    pieces.append(Piece(pos, min(end, pos + piece_size)))
            self._waiting = collections.deque(pieces)
            return len(pieces) + len(self._active)
