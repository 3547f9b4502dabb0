"""The rich implementation of the core's Reporter: progress lines, warnings, info."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from smx.reporter import _NullTask

if TYPE_CHECKING:
    from smx.cli.output import Output


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._id, amount)

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        kwargs: dict[str, Any] = {}
        if completed is not None:
            kwargs["completed"] = completed
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = description
        self._progress.update(self._id, **kwargs)


class RichReporter:
    """Progress on a live TTY; plain one-line-per-step messages in logs and pipes."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def info(self, message: str) -> None:
        self.out.info(message)

    def warn(self, message: str) -> None:
        self.out.warn(message)

    @contextmanager
    def task(self, description: str, *, total: float | None = None,
             unit: str = "step") -> Iterator[Any]:
        if not self.out.interactive:
            self.out.info(f"· {description}")
            yield _NullTask(total=total, description=description)
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns: tuple[ProgressColumn, ...]
        if unit == "bytes":
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn())
        else:
            columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=self.out.err_console, transient=False) as progress:
            task_id = progress.add_task(description, total=total)
            yield _RichTask(progress, task_id)
            if total is None:
                progress.update(task_id, total=1, completed=1)
