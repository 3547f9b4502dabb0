"""A remote that accepts the connection and then says nothing: smx gives up within the
documented bound (SMX_RETRY_BUDGET + SMX_HTTP_TIMEOUT), says what it waited for, and leaves the
environment free for the next command. git remotes stall the same way and are reported the
same way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smx.environment.layout import EnvLayout
from smx.errors import NetworkError

STALL_S = 0.5
BUDGET_S = 2.0
# Start-up, the last pause's jitter and a loaded CI machine; the bound itself is documented
# as SMX_RETRY_BUDGET + SMX_HTTP_TIMEOUT (README, docs/guides/proxies-mirrors-offline.md).
SLACK_S = 5.0


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback TCP server that accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_model_server_that_never_answers_fails_within_the_budget(
        silent_server: str, env_dir: Path, smx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMX_CIVITAI_ENDPOINT", silent_server)
    monkeypatch.setenv("SMX_HTTP_TIMEOUT", str(STALL_S))
    monkeypatch.setenv("SMX_RETRY_BUDGET", str(BUDGET_S))
    began = time.monotonic()
    result = smx("--env", str(env_dir), "model", "pull", "civitai:261336")
    took = time.monotonic() - began
    assert result.exit_code == 3, result.output
    assert took < BUDGET_S + STALL_S + SLACK_S
    host = silent_server.removeprefix("http://")
    assert f"{host} accepted the connection but sent no answer for 0.5 s; retrying in" in (
        result.stderr)  # each retry says why
    error = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert "sent no answer for 0.5 s (gave up after" in error
    assert "SMX_HTTP_TIMEOUT" in result.stderr and "SMX_RETRY_BUDGET" in result.stderr
    # the environment is free again: another process takes its lock at once
    lock = EnvLayout(env_dir).process_lock
    probe = subprocess.run([sys.executable, "-c", "import sys; from filelock import FileLock; "
                            "FileLock(sys.argv[1]).acquire(timeout=0)", str(lock)],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert not list((env_dir / "Data" / "Cache" / "downloads").iterdir())


def test_a_git_mirror_that_never_answers_is_reported_as_stalled(
        silent_server: str, isolated_user: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smx.packages import git

    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(gitconfig.read_text() + f'[url "{silent_server}/"]\n'
                         '\tinsteadOf = https://github.com/\n')  # the user's mirror
    monkeypatch.setenv("SMX_HTTP_TIMEOUT", "1")
    began = time.monotonic()
    with pytest.raises(NetworkError) as caught:
        git.resolve("https://github.com/comfyanonymous/ComfyUI.git", "master")
    assert time.monotonic() - began < 1 + SLACK_S
    assert "the remote sent (almost) nothing for 1 s" in caught.value.message
    assert caught.value.hint and "SMX_HTTP_TIMEOUT" in caught.value.hint
