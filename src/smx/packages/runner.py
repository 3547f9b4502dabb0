"""Run an install subprocess (pip, uv, a package's own installer) with its output in a log file.

The whole output goes to the log (redacted); the user sees one progress line whose text follows
the latest output line. On failure the error names the step, quotes the most telling line
(``ERROR: …`` from pip, ``ModuleNotFoundError: …`` from Python), shows the tail and points at
the log, which is kept in ``Data/Logs/``.

A child never outlives smx: on Linux it gets SIGKILL when smx dies (even by kill -9), so a
rerun never races an orphaned pip writing into the same venv; on Ctrl-C it is stopped before
the interrupt propagates.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.errors import SubprocessFailed
from smx.redact import redact

TAIL_LINES = 15
_TELLING = ("ERROR:", "error:", "ModuleNotFoundError", "ImportError", "No module named",
            "× ", "Because ", "fatal:", "RuntimeError", "AssertionError", "Traceback")


@dataclass
class StepLog:
    """One log file per install attempt; each command appends to it under a header."""

    path: Path

    @classmethod
    def create(cls, logs_dir: Path, name: str, action: str) -> StepLog:
        logs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = logs_dir / f"{name}-{action}-{stamp}.log"
        counter = 1
        while path.exists():
            counter += 1
            path = logs_dir / f"{name}-{action}-{stamp}-{counter}.log"
        path.touch()
        return cls(path)

    def note(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(redact(text).rstrip("\n") + "\n")


def child_env(overrides: Mapping[str, str] | None = None, *, venv: Path | None = None,
              ) -> dict[str, str]:
    """The environment for a package subprocess: the user's, minus what would make Python
    pick up smx's own interpreter state, plus the package venv on PATH."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__",
                "PYTHONSTARTUP", "CONDA_PREFIX"):
        env.pop(var, None)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    if venv is not None:
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = str(bindir) + os.pathsep + env.get("PATH", "")
    if overrides:
        env.update(overrides)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux's libc: the child outlives a killed smx
        pass


def run_logged(argv: Sequence[str | os.PathLike[str]], *, log: StepLog, what: str,
               cwd: Path | None = None, env: Mapping[str, str] | None = None,
               task: Any = None, timeout: float | None = None) -> str:
    """Run ``argv``; append its output to ``log``; raise SubprocessFailed on a non-zero exit.

    ``what`` names the step for messages ("installing requirements of a1111"). ``task`` (a
    reporter task) gets the latest output line as its description. ``timeout``: seconds after
    which the command is stopped and counts as failed. Returns the output (its first 2000
    non-blank lines, for small commands).
    """
    args = [os.fspath(a) for a in argv]
    started = time.monotonic()
    log.note(f"\n[{time.strftime('%H:%M:%S')}] $ {shlex.join(args)}"
             + (f"    (in {cwd})" if cwd else ""))
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    captured: list[str] = []
    kwargs: dict[str, Any] = {}
    if sys.platform.startswith("linux"):
        kwargs["preexec_fn"] = _die_with_parent
    try:
        proc = subprocess.Popen(args, cwd=cwd, env=dict(env) if env is not None else None,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                errors="replace", bufsize=1, **kwargs)
    except OSError as exc:
        log.note(f"could not start: {exc}")
        raise SubprocessFailed(f"{what}: could not start {args[0]} ({exc.strerror})",
                               hint=f"full log: {show_path(log.path)}") from None
    assert proc.stdout is not None
    timer = None
    timed_out: list[bool] = []
    if timeout is not None:
        import threading

        def expire() -> None:
            timed_out.append(True)
            _stop(proc)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    try:
        with log.path.open("a", encoding="utf-8") as handle:
            for line in proc.stdout:
                clean = redact(line.rstrip("\r\n"))
                handle.write(clean + "\n")
                if clean.strip():
                    tail.append(clean)
                    if len(captured) < 2000:
                        captured.append(clean)
                    if task is not None:
                        with contextlib.suppress(Exception):
                            task.update(description=f"{what}: {clean.strip()[:70]}")
        code = proc.wait()
    except BaseException:  # Ctrl-C or an error while reading: never leave the child running
        _stop(proc)
        log.note("(interrupted)")
        raise
    finally:
        if timer is not None:
            timer.cancel()
    log.note(f"(exit {code} after {time.monotonic() - started:.1f} s)")
    if timed_out:
        raise SubprocessFailed(f"{what} did not finish within {timeout:.0f} s and was stopped",
                               hint=f"full log: {show_path(log.path)}")
    if code != 0:
        raise SubprocessFailed(failure_message(what, code, list(tail)),
                               hint=f"full log: {show_path(log.path)}")
    return "\n".join(captured)


def failure_message(what: str, code: int, tail: list[str]) -> str:
    telling = telling_line(tail)
    head = f"{what} failed (exit {code})" + (f": {telling}" if telling else "")
    shown = [line for line in tail if line != telling][-8:]
    return head + "".join(f"\n  | {line}" for line in shown)


def telling_line(lines: Sequence[str]) -> str | None:
    """The line that says what went wrong: the last pip ERROR / Python exception line."""
    for line in reversed(lines):
        stripped = line.strip()
        if stripped.startswith(_TELLING) or ("Error:" in stripped and ":" in stripped[:60]):
            if stripped.startswith("Traceback"):
                continue
            return stripped
    return None


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(Exception):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def show_path(path: Path) -> str:
    """A path for messages: relative to the current folder when inside it, else absolute."""
    with contextlib.suppress(ValueError):
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            return rel
    return str(path)
