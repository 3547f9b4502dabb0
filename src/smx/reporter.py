"""The channel through which the core tells the user what it is doing.

The core never prints: it calls a :class:`Reporter`. The CLI implements one with rich
(progress lines, warnings), tests use :class:`RecordingReporter`, and ``--json``/``-q`` use
:class:`NullReporter`-like variants. Keeping this tiny means the core imports neither rich nor
typer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Task(Protocol):
    """One progress line: a step (clone, pip install) or a transfer (bytes)."""

    def advance(self, amount: float = 1) -> None: ...

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None: ...


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def task(self, description: str, *, total: float | None = None,
             unit: str = "step") -> AbstractContextManager[Task]: ...


@dataclass
class _NullTask:
    completed: float = 0
    total: float | None = None
    description: str = ""

    def advance(self, amount: float = 1) -> None:
        self.completed += amount

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description


class NullReporter:
    """Says nothing. Used by ``--json``, ``-q`` and library callers."""

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    @contextmanager
    def task(self, description: str, *, total: float | None = None,
             unit: str = "step") -> Iterator[_NullTask]:
        yield _NullTask(total=total, description=description)


@dataclass
class RecordingReporter:
    """Keeps every message; tests assert on what a user would have seen."""

    infos: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    @contextmanager
    def task(self, description: str, *, total: float | None = None,
             unit: str = "step") -> Iterator[_NullTask]:
        self.tasks.append(description)
        yield _NullTask(total=total, description=description)
