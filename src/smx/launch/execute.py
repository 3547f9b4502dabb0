"""Start the planned command: write the generated files, then become the web UI.

On POSIX smx replaces its own process (``os.execve``): the UI gets smx's PID, terminal, signals
and exit code, and no smx process lingers for hours. Windows has no exec that keeps the PID and
the console, so there smx runs the UI as a child and exits with its code; Ctrl-C reaches the
child from the console it shares, and smx waits for it instead of dying first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smx.errors import SubprocessFailed
from smx.fsutil import atomic_write_text
from smx.launch.argv import LaunchPlan

_FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP")


def prepare(plan: LaunchPlan) -> list[Path]:
    """Create the store folders the UI is pointed at and write changed generated files.
    Returns the files written."""
    for folder in plan.folders:
        folder.mkdir(parents=True, exist_ok=True)
    written = []
    for generated in plan.files:
        if generated.changed:
            atomic_write_text(generated.path, generated.new)
            written.append(generated.path)
    return written


def start(plan: LaunchPlan) -> int:
    """Replace this process with the UI (POSIX; does not return), or run it as a child and
    return its exit code (Windows)."""
    argv, env, cwd = plan.argv, plan.environ.full, plan.cwd
    if os.name == "nt":
        return run_child(argv, env, cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    except OSError as exc:
        raise SubprocessFailed(f"could not start {plan.name}: {argv[0]}: {exc.strerror}",
                               hint="run `smx sync` to repair the package",
                               code="launch.exec_failed") from None
    raise AssertionError("unreachable")  # pragma: no cover


def run_child(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    """Run ``argv`` to completion with exit-code passthrough and signal forwarding.

    On POSIX, SIGINT/SIGTERM/SIGHUP sent to smx are passed on to the child. On Windows a
    console Ctrl-C goes to every process attached to the console, the child included, so smx
    only has to survive it (KeyboardInterrupt) and keep waiting.
    """
    try:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd)
    except OSError as exc:
        raise SubprocessFailed(f"could not start {argv[0]}: {exc.strerror}",
                               code="launch.exec_failed") from None
    previous = _forward_signals(proc) if os.name != "nt" else {}
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # A child killed by a signal: the shell convention 128 + N.
    return code if code >= 0 else 128 - code


def _forward_signals(proc: subprocess.Popen[Any]) -> dict[int, Any]:
    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous: dict[int, Any] = {}
    for name in _FORWARDED:
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, forward)
    return previous
