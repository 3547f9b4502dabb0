"""Is a TCP port free, and if not, which process holds it (best effort, no network)."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_IN_USE = {errno.EADDRINUSE, 10048}  # 10048: WSAEADDRINUSE
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def port_in_use(host: str, port: int) -> bool:
    """True when binding ``host:port`` fails because something already listens there.

    Binding (not connecting) is the same test the UI's server will face; SO_REUSEADDR on POSIX
    ignores sockets in TIME_WAIT, like servers do. Unresolvable or foreign hosts and privileged
    ports count as free here: the UI reports those itself.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.errno in _IN_USE or getattr(exc, "winerror", None) in _IN_USE
    return False


def port_holder(port: int, proc: Path = Path("/proc")) -> Holder | None:
    """The process listening on ``port``: /proc on Linux, lsof on macOS; None if unknown
    (another user's process, another network namespace, no tool)."""
    if (proc / "net" / "tcp").exists():
        return _from_proc(port, proc)
    if sys.platform == "darwin":
        return _from_lsof(port)
    return None


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            try:
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
            except (IndexError, ValueError):
                continue
    return inodes


def _from_proc(port: int, proc: Path) -> Holder | None:
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port, proc)}
    if not targets:
        return None
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(os.path.join(entry.path, "fd")):
                if os.readlink(fd.path) in targets:
                    return Holder(int(entry.name), _cmdline(Path(entry.path)))
        except OSError:  # gone, or another user's process
            continue
    return None


def _cmdline(pid_dir: Path) -> str:
    from smx.redact import redact

    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    text = redact(text)
    return text if len(text) <= 120 else text[:117] + "..."


def _from_lsof(port: int) -> Holder | None:
    try:
        done = subprocess.run(["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
                              capture_output=True, text=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return None
    pid, command = None, ""
    for line in done.stdout.splitlines():
        if line.startswith("p") and pid is None:
            pid = int(line[1:]) if line[1:].isdigit() else None
        elif line.startswith("c") and pid is not None and not command:
            command = line[1:]
    return Holder(pid, command) if pid is not None else None
