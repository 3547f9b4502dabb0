"""One audit hook for the whole test session: which processes a test started, which
connections it opened (a no-op sync must do neither).

The hook is installed once (audit hooks cannot be removed) and records only while a fixture
has a recording open.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SPAWN_EVENTS = ("subprocess.Popen", "os.posix_spawn", "os.exec")
NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo")


@dataclass
class Recording:
    spawned: list[list[str]] = field(default_factory=list)  # argv[:2] of each process started
    network: list[str] = field(default_factory=list)


_current: Recording | None = None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _current is None:
        return
    if event in SPAWN_EVENTS:
        _current.spawned.append([str(a) for a in args[:2]])
    elif event in NETWORK_EVENTS:
        _current.network.append(f"{event} {args[1:2]}")


sys.addaudithook(_hook)


@contextmanager
def recording() -> Iterator[Recording]:
    global _current
    _current = Recording()
    try:
        yield _current
    finally:
        _current = None
