"""One object through which every command talks to the terminal.

Errors and warnings go to stderr; results to stdout. ``-q`` keeps only errors, ``--json``
replaces human output with one versioned JSON document, and NO_COLOR / a non-TTY stdout turn off
colour and spinners. rich is imported on first use, not at start-up.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

RESULT_VERSION = "1"


@dataclass
class Output:
    quiet: bool = False
    verbose: int = 0
    debug: bool = False
    json_mode: bool = False
    _console: Any = field(default=None, repr=False)
    _err_console: Any = field(default=None, repr=False)

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=True,
                                    no_color=bool(os.environ.get("NO_COLOR")) or None)
        return self._console

    @property
    def err_console(self) -> Any:
        if self._err_console is None:
            from rich.console import Console

            self._err_console = Console(stderr=True, highlight=False, soft_wrap=True,
                                        no_color=bool(os.environ.get("NO_COLOR")) or None)
        return self._err_console

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty() and not self.json_mode and not self.quiet

    # --- human output ----------------------------------------------------------------------
    def print(self, message: str = "", **kwargs: Any) -> None:
        if self.quiet or self.json_mode:
            return
        self.console.print(message, **kwargs)

    def info(self, message: str) -> None:
        if self.quiet or self.json_mode:
            return
        self.err_console.print(message, markup=False)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet and not self.json_mode:
            self.err_console.print(message, style="dim", markup=False)

    def success(self, message: str) -> None:
        if self.quiet or self.json_mode:
            return
        self.console.print(f"[green]✓[/green] {_escape(message)}")

    def warn(self, message: str) -> None:
        if self.quiet or self.json_mode:
            return
        self.err_console.print(f"[yellow]warning:[/yellow] {_escape(message)}")

    def error(self, message: str, hint: str | None = None) -> None:
        self.err_console.print(f"[bold red]error:[/bold red] {_escape(message)}")
        if hint:
            self.err_console.print(f"[dim]hint:[/dim] {_escape(hint)}")

    def table(self, table: Any) -> None:
        if self.quiet or self.json_mode:
            return
        if self.console.is_terminal:
            self.console.print(table)
            return
        # piped (grep, a log file): rich pads every row to the full width; drop what only
        # lines the columns up on a screen
        with self.console.capture() as captured:
            self.console.print(table)
        lines = [line.rstrip() for line in captured.get().splitlines()]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    # --- JSON ------------------------------------------------------------------------------
    def emit_json(self, command: str, data: Any, *, exit_code: int = 0,
                  errors: list[dict[str, str]] | None = None) -> None:
        document = {
            "smx_result_version": RESULT_VERSION,
            "command": command,
            "status": "ok" if exit_code == 0 else "error",
            "exit_code": exit_code,
            "data": data,
            "errors": errors or [],
        }
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        sys.stdout.flush()

    # --- progress ---------------------------------------------------------------------------
    def reporter(self) -> Any:
        from smx.cli.progress import RichReporter

        return RichReporter(self)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextmanager
def nothing() -> Iterator[None]:
    yield
