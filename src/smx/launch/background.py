"""Web UIs as services: `smx launch --background`, `smx ps`, `smx stop`, `smx logs`.

A background launch starts the planned command under a small supervisor
(smx.launch.supervise) in a session of its own, detached from the terminal, with stdout and
stderr going to ``Data/Logs/<name>.log`` (the previous log kept as ``<name>.1.log``). smx
records the run in ``Data/.smx/run/<name>.json``: the supervisor's PID (which is also the
process group), the port, the URL, the health URL, the log and when it started; the supervisor
adds the web UI's PID and, when it ends, its exit code (``<name>.status.json``). A run is told
from a recycled PID by the process's start time (Linux: /proc/<pid>/stat).

Health is the package's own endpoint answering (catalog ``health_path``: ComfyUI's
/system_stats, A1111's /internal/ping): the same URL the exported image's HEALTHCHECK and the
Kubernetes probes use. `smx stop` sends TERM to the group, then KILL after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from smx.environment.env import Env
from smx.environment.layout import EnvLayout
from smx.errors import NotFound, SubprocessFailed, UsageError
from smx.fsutil import atomic_write_text
from smx.launch.argv import LaunchPlan


@dataclass
class RunRecord:
    name: str
    pid: int  # the supervisor: process group leader
    port: int
    url: str
    health_url: str
    log: str  # relative to the env folder
    started: float  # epoch seconds
    command: str  # what runs (secrets masked)
    proc_start: str | None = None  # the supervisor's start time, against recycled PIDs


@dataclass(frozen=True)
class RunState:
    record: RunRecord
    running: bool
    ui_pid: int | None
    exit_code: int | None
    stopped: bool  # it ended because it was asked to (smx stop, a signal)
    health: str  # up | starting | not answering | stopped | crashed | exited

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.record.started) if self.running else 0.0

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        if self.exit_code is None or self.stopped:
            return "stopped"
        return "exited" if self.exit_code == 0 else "crashed"


# --- start ------------------------------------------------------------------------------------
def start(env: Env, plan: LaunchPlan) -> RunRecord:
    """Start ``plan`` detached under the supervisor; return its record (does not wait)."""
    from smx.launch.execute import prepare

    layout = env.layout
    refuse_if_running(layout, plan.name)
    forget(layout, plan.name)
    prepare(plan)
    log = layout.run_log(plan.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        os.replace(log, log.with_name(f"{plan.name}.1.log"))
    status = layout.run_status(plan.name)
    status.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-I", "-m", "smx.launch.supervise", str(status), "--", *plan.argv]
    with open(log, "ab") as handle:
        handle.write(f"$ {plan.command()}\n".encode())
        handle.flush()
        try:
            proc = subprocess.Popen(argv, cwd=plan.cwd, env=dict(plan.environ.full),
                                    stdin=subprocess.DEVNULL, stdout=handle,
                                    stderr=subprocess.STDOUT, creationflags=_new_group(),
                                    start_new_session=os.name != "nt")
        except OSError as exc:
            raise SubprocessFailed(f"could not start {plan.name}: {exc.strerror}",
                                   code="launch.exec_failed") from None
    record = RunRecord(name=plan.name, pid=proc.pid, port=plan.port, url=plan.url,
                       health_url=health_url(plan), log=layout.relative(log),
                       started=time.time(), command=plan.command(),
                       proc_start=_proc_start(proc.pid))
    atomic_write_text(layout.run_record(plan.name),
                      json.dumps(asdict(record), indent=2) + "\n")
    return record


def refuse_if_running(layout: EnvLayout, name: str) -> None:
    current = state_of(layout, name, probe=False)
    if current is not None and current.running:
        raise UsageError(f"{name} is already running in the background (pid "
                         f"{current.record.pid}, {current.record.url})",
                         hint=f"stop it first: smx stop {name}", code="launch.already_running")


def _new_group() -> int:
    """Windows: the flags that detach the supervisor from this console (POSIX: a new
    session does, ``start_new_session``)."""
    if os.name == "nt":  # pragma: no cover - Windows
        flags: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | \
            getattr(subprocess, "DETACHED_PROCESS", 0)
        return flags
    return 0


def health_url(plan: LaunchPlan) -> str:
    return plan.url.rstrip("/") + plan.package.health_path


def wait_until_up(layout: EnvLayout, record: RunRecord, timeout: float, *,
                  tick: Callable[[float], None] | None = None) -> None:
    """Return once the health URL answers; raise when the web UI ends first or ``timeout``
    seconds pass (it is left running then)."""
    deadline = time.monotonic() + timeout
    while True:
        now = state_of(layout, record.name, probe=False)
        if now is None or not now.running:
            code = now.exit_code if now is not None else None
            raise SubprocessFailed(
                f"{record.name} exited with code {code} before {record.health_url} answered"
                + _tail(layout, record),
                hint=f"the whole log: smx logs {record.name}", code="launch.crashed")
        if probe(record.health_url, 2.0) == "up":
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise SubprocessFailed(
                f"{record.name} did not answer at {record.health_url} within {timeout:.0f} s; "
                f"it is still starting (pid {record.pid})",
                hint=f"watch it with `smx logs {record.name} -f`, stop it with `smx stop "
                     f"{record.name}`, or wait longer with --timeout", code="launch.timeout")
        if tick is not None:
            tick(timeout - left)
        time.sleep(min(0.5, left))


def _tail(layout: EnvLayout, record: RunRecord, lines: int = 8) -> str:
    text = read_log(layout, record.name, lines=lines).strip()
    return f"; its log ends with:\n{text}" if text else ""


# --- state --------------------------------------------------------------------------------
def records(layout: EnvLayout) -> list[str]:
    folder = layout.runs
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".json") for p in folder.glob("*.json")
                  if not p.name.endswith(".status.json"))


def state_of(layout: EnvLayout, name: str, *, probe: bool = True) -> RunState | None:
    try:
        data = json.loads(layout.run_record(name).read_text(encoding="utf-8"))
        record = RunRecord(**data)
    except (OSError, ValueError, TypeError):
        return None
    status = _read_status(layout, name)
    exit_code = status.get("exit_code")
    ui_pid = status.get("ui_pid")
    running = exit_code is None and _alive(record.pid, record.proc_start)
    if running:
        health = _health(record, probe)
    elif exit_code is None or status.get("signalled"):
        health = "stopped"
    else:
        health = "exited" if exit_code == 0 else "crashed"
    return RunState(record, running, ui_pid if isinstance(ui_pid, int) else None,
                    exit_code if isinstance(exit_code, int) else None,
                    bool(status.get("signalled")) or (exit_code is None and not running),
                    health)


def _health(record: RunRecord, check: bool) -> str:
    if not check:
        return "starting"
    answer = probe(record.health_url, 1.0)
    if answer == "up":
        return "up"
    return "starting" if time.time() - record.started < 300 else "not answering"


def probe(url: str, timeout: float) -> str:
    """``up`` when ``url`` answers with a status below 500, else ``down``."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
    except (httpx.HTTPError, OSError):
        return "down"
    return "up" if response.status_code < 500 else "down"


def _read_status(layout: EnvLayout, name: str) -> dict[str, object]:
    try:
        data = json.loads(layout.run_status(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def forget(layout: EnvLayout, name: str) -> None:
    for path in (layout.run_record(name), layout.run_status(name)):
        with contextlib.suppress(OSError):
            path.unlink()


# --- stop -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stopped:
    name: str
    how: str  # stopped | killed | was not running | had crashed (exit N) | had exited
    seconds: float = 0.0


def stop(layout: EnvLayout, name: str, *, grace: float = 10.0) -> Stopped:
    """TERM the run's process group; KILL it after ``grace`` seconds; forget the run."""
    current = state_of(layout, name, probe=False)
    if current is None:
        raise NotFound(f"{name} is not running in the background",
                       hint="see `smx ps`", code="launch.not_running")
    if not current.running:
        forget(layout, name)
        how = {"crashed": f"had crashed (exit {current.exit_code})",
               "exited": "had exited"}.get(current.health, "was not running")
        return Stopped(name, how)
    began = time.monotonic()
    pid = current.record.pid
    _signal_group(pid, signal.SIGTERM)
    how = "stopped"
    while _alive(pid, current.record.proc_start):
        if time.monotonic() - began > grace:
            _signal_group(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            how = "killed"
            _wait_gone(pid, current.record.proc_start, 10.0)
            break
        time.sleep(0.1)
    forget(layout, name)
    return Stopped(name, how, time.monotonic() - began)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "nt":  # pragma: no cover - Windows: no process groups to signal
            os.kill(pid, signum)
        else:
            os.killpg(pid, signum)


def _wait_gone(pid: int, proc_start: str | None, seconds: float) -> None:
    end = time.monotonic() + seconds
    while _alive(pid, proc_start) and time.monotonic() < end:
        time.sleep(0.05)


def _alive(pid: int, proc_start: str | None) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: trust the signal check
    state, start = stat
    if state == "Z":
        return False
    return proc_start is None or start == proc_start


def _proc_stat(pid: int) -> tuple[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _proc_start(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


# --- logs -------------------------------------------------------------------------------------
def read_log(layout: EnvLayout, name: str, *, lines: int | None = None) -> str:
    path = layout.run_log(name)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFound(f"no log for {name} in {layout.relative(layout.logs)}",
                       hint="it has not been started with `smx launch --background`",
                       code="launch.no_log") from None
    if lines is not None:
        text = "\n".join(text.splitlines()[-lines:]) + ("\n" if text.endswith("\n") else "")
    return text


def follow_log(layout: EnvLayout, name: str, *, lines: int | None = None,
               poll: float = 0.25) -> Iterator[str]:
    """The log's text so far, then what the web UI writes, until it ends."""
    path = layout.run_log(name)
    text = read_log(layout, name, lines=lines)
    yield text
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                yield chunk.decode("utf-8", errors="replace")
                continue
            current = state_of(layout, name, probe=False)
            if current is None or not current.running:
                rest = handle.read()
                if rest:
                    yield rest.decode("utf-8", errors="replace")
                return
            time.sleep(poll)


def check_name(env: Env, name: str | None) -> list[str]:
    """The runs a command acts on: ``name``, or every recorded run of the env."""
    known = records(env.layout)
    if name is None:
        return known
    if name not in known:
        if name not in env.manifest.packages:
            raise NotFound(f"no package {name!r} in smx.toml", hint="see `smx ps`",
                           code="launch.unknown_package")
        raise NotFound(f"{name} is not running in the background", hint="see `smx ps`",
                       code="launch.not_running")
    return [name]


def describe_exit(state: RunState) -> str:
    if state.running:
        return "running"
    if state.health == "crashed":
        return f"crashed (exit {state.exit_code})"
    return state.health

