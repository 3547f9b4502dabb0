"""Web UIs as services: `smx launch --background [--wait]`, `smx ps`, `smx logs`, `smx stop`,
with the test web UI (tests/launch/testui) started for real, detached."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import InstallUi, free_port, read_record

pytestmark = pytest.mark.skipif(os.name == "nt", reason="process groups and signals: POSIX")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def _ps(smx, env: Path) -> list[dict]:
    """`smx ps --json`, checked against docs/json/ps.md."""
    from helpers.jsondocs import check

    result = smx("--env", str(env), "ps", "--json")
    assert result.exit_code == 0, result.output
    return check(result.stdout, result.exit_code, "ps.md", "ps")["data"]["runs"]


def test_background_wait_ps_logs_stop(smx, env_dir: Path, install_ui: InstallUi,
                                      record_file: Path) -> None:
    install_ui(env_dir, "webui", "a1111", pkg_env={"SMX_TEST_SERVE": "1"})
    port = free_port()

    started = smx("--env", str(env_dir), "launch", "webui", "--port", str(port),
                  "--background", "--wait", "--timeout", "60")

    assert started.exit_code == 0, started.output
    url = f"http://127.0.0.1:{port}/"
    assert started.stdout.strip().endswith(url)  # the URL, last, for scripts
    assert "log: Data/Logs/webui.log" in started.output
    ui = read_record(record_file)
    with urllib.request.urlopen(url + "internal/ping", timeout=5) as answer:  # A1111's health
        assert answer.status == 200
    (run,) = _ps(smx, env_dir)
    assert (run["name"], run["port"], run["url"], run["state"], run["health"]) == (
        "webui", port, url, "running", "up")
    assert run["ui_pid"] == ui["pid"] and run["health_url"] == url + "internal/ping"
    assert json.loads((env_dir / "Data/.smx/run/webui.json").read_text())["pid"] == run["pid"]
    table = smx("--env", str(env_dir), "ps")
    assert "webui" in table.output and str(ui["pid"]) in table.output and "up" in table.output

    logs = smx("--env", str(env_dir), "logs", "webui")
    assert logs.exit_code == 0
    assert f"Running on local URL:  http://127.0.0.1:{port}" in logs.stdout
    assert logs.stdout.startswith("$ ") and "launch.py" in logs.stdout.splitlines()[0]

    again = smx("--env", str(env_dir), "launch", "webui", "--port", str(port), "--background")
    assert again.exit_code == 2 and "already running" in again.output

    stopped = smx("--env", str(env_dir), "stop", "webui")
    assert stopped.exit_code == 0 and "webui stopped" in stopped.output, stopped.output
    assert not _alive(ui["pid"]) and not _alive(run["pid"])
    assert _ps(smx, env_dir) == []
    assert (env_dir / "Data/Logs/webui.log").is_file()  # the log stays


def test_a_child_that_crashes_is_reported_as_such(smx, env_dir: Path, install_ui: InstallUi,
                                                  record_file: Path) -> None:
    install_ui(env_dir, "comfyui", "comfyui", pkg_env={"SMX_TEST_EXIT": "3"})

    started = smx("--env", str(env_dir), "launch", "--background", "--wait", "--timeout", "60")

    assert started.exit_code == 5, started.output
    assert "comfyui exited with code 3 before http://127.0.0.1:8188/system_stats answered" \
        in started.output
    assert "failing on purpose with exit code 3" in started.output  # the log's last lines
    (run,) = _ps(smx, env_dir)
    assert (run["state"], run["health"], run["exit_code"]) == ("crashed", "crashed", 3)
    table = smx("--env", str(env_dir), "ps")
    assert "crashed (exit 3)" in table.output and "smx logs comfyui" in table.output
    stopped = smx("--env", str(env_dir), "stop")
    assert "comfyui had crashed (exit 3)" in stopped.output
    assert _ps(smx, env_dir) == []


def test_without_wait_it_returns_at_once_and_ps_says_when_it_answers(
        smx, env_dir: Path, install_ui: InstallUi, record_file: Path) -> None:
    install_ui(env_dir, "webui", "a1111", pkg_env={"SMX_TEST_SERVE": "1"})
    port = free_port()

    started = smx("--env", str(env_dir), "launch", "--port", str(port), "--background")

    assert started.exit_code == 0, started.output
    deadline = time.monotonic() + 60
    while _ps(smx, env_dir)[0]["health"] != "up":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert smx("--env", str(env_dir), "stop").exit_code == 0


def test_a_ui_that_ignores_term_is_killed_after_the_grace_period(
        smx, env_dir: Path, install_ui: InstallUi, record_file: Path) -> None:
    install_ui(env_dir, "webui", "a1111",
               pkg_env={"SMX_TEST_SERVE": "1", "SMX_TEST_IGNORE_TERM": "1"})
    port = free_port()
    assert smx("--env", str(env_dir), "launch", "--port", str(port), "--background",
               "--wait").exit_code == 0
    ui = read_record(record_file)

    stopped = smx("--env", str(env_dir), "stop", "webui", "--grace", "1")

    assert stopped.exit_code == 0
    assert "did not end within 1 s of TERM: killed" in stopped.output
    assert not _alive(ui["pid"])


def test_logs_follow_prints_until_the_ui_ends(smx, env_dir: Path, install_ui: InstallUi,
                                              record_file: Path) -> None:
    install_ui(env_dir, "webui", "a1111", pkg_env={"SMX_TEST_SERVE": "1"})
    port = free_port()
    assert smx("--env", str(env_dir), "launch", "--port", str(port), "--background",
               "--wait").exit_code == 0

    def shut_down() -> None:
        time.sleep(1.0)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/shutdown", timeout=5).close()

    threading.Thread(target=shut_down, daemon=True).start()
    followed = smx("--env", str(env_dir), "logs", "webui", "-f")

    assert followed.exit_code == 0
    assert "Running on local URL" in followed.stdout
    (run,) = _ps(smx, env_dir)
    assert (run["state"], run["exit_code"]) == ("exited", 0)


def test_wait_needs_background_and_ps_logs_stop_name_what_is_unknown(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "webui", "a1111")
    assert smx("--env", str(env_dir), "launch", "--wait").exit_code == 2
    assert "nothing runs" in smx("--env", str(env_dir), "ps").output
    missing = smx("--env", str(env_dir), "stop", "webui")
    assert missing.exit_code == 2 and "not running in the background" in missing.output
    unknown = smx("--env", str(env_dir), "logs", "nope")
    assert unknown.exit_code == 2 and "no package 'nope'" in unknown.output
