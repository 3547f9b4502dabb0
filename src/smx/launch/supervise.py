"""The small process that keeps watch over a web UI started with `smx launch --background`.

``python -I -m smx.launch.supervise STATUS -- ARGV…`` runs ARGV as its child (same working
folder, environment and log), writes ``{"ui_pid": …}`` to STATUS, passes TERM/INT/HUP on to the
child, and when the child ends writes its exit code and the time. That file is how `smx ps`
can tell a web UI that crashed (and with which code) from one that was stopped, long after the
`smx launch` that started it has returned. Standard library only, nothing from smx: it must
start fast and live as long as the web UI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP")


def write_status(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main(args: list[str]) -> int:
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m smx.launch.supervise STATUS -- ARGV...", file=sys.stderr)
        return 2
    status, argv = Path(args[0]), args[2:]
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"smx: could not start {argv[0]}: {exc.strerror}", file=sys.stderr, flush=True)
        write_status(status, {"ui_pid": None, "exit_code": 127, "ended": time.time()})
        return 127
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    for name in _FORWARDED:
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, forward)
    write_status(status, {"ui_pid": child.pid})
    while True:
        try:
            code = child.wait()
            break
        except KeyboardInterrupt:  # pragma: no cover - SIGINT is forwarded above
            continue
    code = code if code >= 0 else 128 - code  # killed by signal N: the shell's 128 + N
    write_status(status, {"ui_pid": child.pid, "exit_code": code, "ended": time.time(),
                          "signalled": bool(stopping)})
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
