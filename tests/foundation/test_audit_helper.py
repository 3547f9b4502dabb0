"""The audit recorder that no-op tests rely on really sees processes and connections."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys

from helpers.audit import recording


def test_recording_sees_a_process_and_a_connection_and_nothing_after() -> None:
    with recording() as rec:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.connect(("127.0.0.1", 9))
    assert len(rec.spawned) == 1
    assert any("socket.connect" in entry for entry in rec.network)
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert len(rec.spawned) == 1
