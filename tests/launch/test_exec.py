"""`smx launch` for real: smx becomes the web UI (same process), which runs from its venv in
its checkout, answers HTTP, and whose exit code is smx's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import InstallUi, add_model, free_port, read_record

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX exec; Windows runs a child")


def test_the_web_ui_gets_argv_env_and_folder_and_its_exit_code_is_smx_exit_code(
        smx_process, env_dir: Path, install_ui: InstallUi, record_file: Path) -> None:
    ui = install_ui(env_dir, "a1111", "a1111", pkg_env={"SMX_TEST_EXIT": "7"})
    done = smx_process("--env", str(env_dir), "launch", "--", "--theme", "dark")
    assert done.returncode == 7, done.stderr
    assert f"$ {ui.python} launch.py --ckpt-dir" in done.stderr

    record = read_record(record_file)
    assert record["argv"][0] == "launch.py"  # sys.argv: the script and what follows
    assert record["argv"][-2:] == ["--theme", "dark"]
    assert record["argv"][record["argv"].index("--ckpt-dir") + 1] == \
        str(env_dir / "Data" / "Models" / "StableDiffusion")
    assert record["cwd"] == str(ui.checkout)
    assert record["executable"] == str(ui.python)  # started by its venv path
    assert Path(record["prefix"]) == ui.venv  # so Python runs in the package venv
    env = record["env"]
    assert env["VIRTUAL_ENV"] == str(ui.venv)
    assert env["PATH"].split(os.pathsep)[0] == str(ui.venv / "bin")
    assert env["NO_PROXY"] == "127.0.0.1,localhost"  # the user's proxy settings pass through


def test_a_real_a1111_shaped_ui_answers_http_in_the_process_smx_started_as(
        env_dir: Path, install_ui: InstallUi, tmp_path: Path) -> None:
    install_ui(env_dir, "webui", "a1111")
    add_model(env_dir, "animapencil-xl", "checkpoint", "StableDiffusion",
              "animaPencilXL_v500.safetensors")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smx", "--env", str(env_dir), "launch", "webui", "--port",
         str(port)], env={**os.environ, "SMX_TEST_SERVE": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        record = _get_json(f"http://127.0.0.1:{port}/", proc)
        assert record["pid"] == proc.pid  # smx replaced itself: no extra process
        assert record["argv"][record["argv"].index("--port") + 1] == str(port)
        _get_json(f"http://127.0.0.1:{port}/shutdown", proc)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    assert f"Running on local URL:  http://127.0.0.1:{port}" in out
    assert f"starting webui in Data/Packages/webui (http://127.0.0.1:{port}/)" in err


def _get_json(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return json.loads(reply.read())
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"smx launch exited early: {proc.communicate()}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_comfyui_starts_with_its_generated_yaml(smx_process, env_dir: Path,
                                                install_ui: InstallUi, record_file: Path) -> None:
    ui = install_ui(env_dir, "comfyui", "comfyui")
    done = smx_process("--env", str(env_dir), "launch")
    assert done.returncode == 0, done.stderr
    argv = read_record(record_file)["argv"]
    assert argv[0] == "main.py"
    config = ui.checkout / argv[argv.index("--extra-model-paths-config") + 1]
    assert yaml.safe_load(config.read_text())["smx"]["checkpoints"] == \
        "../../Models/StableDiffusion"


def test_a_failed_preflight_starts_nothing(smx_process, env_dir: Path, install_ui: InstallUi,
                                           record_file: Path) -> None:
    install_ui(env_dir, "comfyui", "comfyui")
    add_model(env_dir, "depth-xl", "controlnet", "ControlNet",
              "diffusers_xl_depth_full.safetensors", write=False)
    done = smx_process("--env", str(env_dir), "launch")
    assert done.returncode == 2
    assert "run `smx sync`" in done.stderr
    assert not record_file.exists()
    assert not (env_dir / "Data" / "Packages" / "comfyui" / "extra_model_paths.smx.yaml").exists()


def test_the_child_mode_passes_exit_codes_and_signals_through(tmp_path: Path) -> None:
    # The Windows path (no exec there), run here on POSIX.
    from smx.launch.execute import run_child

    assert run_child([sys.executable, "-c", "raise SystemExit(9)"], os.environ, tmp_path) == 9
    code = run_child([sys.executable, "-c", "import os, signal; "
                      "os.kill(os.getpid(), signal.SIGTERM)"], os.environ, tmp_path)
    assert code == 128 + signal.SIGTERM


def test_the_child_mode_forwards_a_termination_request_to_the_web_ui(tmp_path: Path) -> None:
    import threading

    from smx.launch.execute import run_child

    ready = tmp_path / "ready"
    script = ("import pathlib, signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *_: sys.exit(42))\n"
              f"pathlib.Path({str(ready)!r}).touch()\n"
              "time.sleep(60)\n")

    def stop_smx() -> None:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)  # to smx (this process), not to the UI

    threading.Thread(target=stop_smx, daemon=True).start()
    assert run_child([sys.executable, "-c", script], os.environ, tmp_path) == 42
    # smx's own handler is back once the UI has exited
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
