"""How a download's bytes are shared between connections (models/ranges.py): every missing
byte exactly once, equal pieces in file order, and the tail of a slow piece taken over by a
free connection without cutting into what is already being read."""

from __future__ import annotations

import time

from smx.models import ranges
from smx.models.ranges import Piece, Plan

MiB = 1 << 20


def covered(pieces: list[Piece]) -> list[tuple[int, int]]:
    spans = sorted((p.start, p.end) for p in pieces if p.end is not None)
    merged: list[list[int]] = []
    for start, end in spans:
        assert not merged or start >= merged[-1][1], "a byte given out twice"
        if merged and start == merged[-1][1]:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def drain(plan: Plan) -> list[Piece]:
    taken = []
    while (piece := plan.take()) is not None:
        taken.append(piece)
    return taken


def test_a_slow_first_connection_keeps_one_piece_and_the_rest_is_cut_evenly_in_order() -> None:
    first = Piece(0, 96 * MiB)
    plan = Plan()
    plan.start(first)
    plan.advance(first, MiB)  # it got this far before it was found slow
    assert plan.split(4 * MiB) == 24
    assert (first.pos, first.end) == (MiB, 5 * MiB)
    rest = drain(plan)
    assert [p.end - p.start for p in rest] == [4 * MiB] * 22 + [3 * MiB]
    assert [p.start for p in rest] == sorted(p.start for p in rest)  # file order
    assert covered([first, *rest]) == [(0, 96 * MiB)]


def test_the_gaps_of_a_resumed_download_are_split_without_refetching_anything() -> None:
    gaps = [Piece(0, 3 * MiB), Piece(10 * MiB, 11 * MiB), Piece(20 * MiB, 30 * MiB)]
    plan = Plan(gaps[1:])
    plan.start(gaps[0])
    plan.split(2 * MiB)
    pieces = [gaps[0], *drain(plan)]
    assert covered(pieces) == [(0, 3 * MiB), (10 * MiB, 11 * MiB), (20 * MiB, 30 * MiB)]
    assert max(p.end - p.start for p in pieces if p.end is not None) <= 2 * MiB


def test_a_free_connection_takes_over_the_tail_of_the_slowest_piece(monkeypatch) -> None:
    monkeypatch.setattr(ranges, "MEASURE_S", 0.0)
    fast, slow = Piece(0, 8 * MiB), Piece(8 * MiB, 16 * MiB)
    plan = Plan()
    plan.start(fast)
    plan.start(slow)
    fast.began = slow.began = time.monotonic() - 1.0
    plan.advance(fast, 7 * MiB)  # 7 MiB/s, 1 MiB to go
    plan.advance(slow, MiB)  # 1 MiB/s, 7 MiB to go
    assert plan.reserve(slow, MiB) == MiB  # a read of 1 MiB is in flight
    tail = plan.take()
    assert tail is not None and plan.steals == 1
    assert tail.end == 16 * MiB and slow.end == tail.start
    assert slow.reserved == 10 * MiB  # never cut below the read in flight:
    assert tail.start == 10 * MiB + (6 * MiB) // 2  # half of what is beyond it


def test_a_cut_piece_stops_reading_at_its_new_end() -> None:
    piece = Piece(0, 4 * MiB)
    plan = Plan()
    plan.start(piece)
    plan.advance(piece, 3 * MiB)
    piece.end = 3 * MiB + 1000  # the rest was taken over
    assert plan.reserve(piece, MiB) == 1000
    plan.advance(piece, 1000)
    assert plan.reserve(piece, MiB) == 0


def test_nothing_is_taken_over_when_every_piece_is_about_to_finish(monkeypatch) -> None:
    monkeypatch.setattr(ranges, "MEASURE_S", 0.0)
    piece = Piece(0, 8 * MiB)
    plan = Plan()
    plan.start(piece)
    piece.began = time.monotonic() - 1.0
    plan.advance(piece, 7 * MiB)  # fast: 1 MiB left, done in a fraction of a second
    assert plan.take() is None and plan.steals == 0
