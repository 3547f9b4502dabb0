"""Before starting anything, `smx launch` checks the package, its commit, its venv, the models
and the port, and says how to fix what is wrong."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers.gitrepo import git
from smx.environment import lock as lockfile

from .conftest import InstallUi, add_model


def launch(smx, env: Path, *args: str):
    return smx("--env", str(env), "launch", "--dry-run", *args)


def test_a_package_smx_toml_lists_but_never_installed(smx, env_dir: Path,
                                                      install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    lock = lockfile.load(env_dir / "smx.lock")
    del lock.packages["a1111"]
    lockfile.save(env_dir / "smx.lock", lock)
    result = launch(smx, env_dir)
    assert result.exit_code == 2
    assert "a1111 is not installed (smx.lock has no entry for it)" in result.stderr
    assert "smx sync" in result.stderr


def test_a_package_whose_checkout_or_venv_is_gone(smx, env_dir: Path,
                                                  install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "comfyui", "comfyui")
    shutil.rmtree(ui.venv)
    result = launch(smx, env_dir)
    assert result.exit_code == 2
    assert "comfyui's venv is missing: no Data/Packages/comfyui/venv/bin/python" in result.stderr
    shutil.rmtree(ui.checkout)
    result = launch(smx, env_dir)
    assert result.exit_code == 2 and "Data/Packages/comfyui is missing" in result.stderr


def test_unknown_package_name(smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    result = launch(smx, env_dir, "forge")
    assert result.exit_code == 2
    assert "no package 'forge' in smx.toml" in result.stderr


def test_a_checkout_moved_off_the_locked_commit(smx, env_dir: Path,
                                                install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "a1111", "a1111")
    (ui.checkout / "local-change.txt").write_text("edited by hand\n")
    git("add", "local-change.txt", cwd=ui.checkout)
    git("commit", "-q", "-m", "a local commit", cwd=ui.checkout)
    moved = git("rev-parse", "HEAD", cwd=ui.checkout)
    result = launch(smx, env_dir, "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)["errors"][0]
    assert error["code"] == "launch.commit_mismatch"
    assert error["message"] == (f"a1111 is at commit {moved[:12]}, but smx.lock pins "
                                f"{ui.commit[:12]}")
    assert "smx sync" in error["hint"] and "smx update a1111" in error["hint"]


def test_a_venv_whose_python_no_longer_runs(smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "a1111", "a1111")
    ui.python.unlink()
    ui.python.write_text("#!/bin/sh\necho 'cannot execute: base interpreter removed' >&2\n"
                         "exit 127\n")
    ui.python.chmod(0o755)
    result = launch(smx, env_dir)
    assert result.exit_code == 5
    assert "a1111's venv Python does not run: cannot execute: base interpreter removed" in \
        result.stderr
    assert "rebuild the venv" in result.stderr


def test_models_smx_toml_lists_must_be_in_the_store(smx, env_dir: Path,
                                                    install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    add_model(env_dir, "animapencil-xl", "checkpoint", "StableDiffusion",
              "animaPencilXL_v500.safetensors")
    assert launch(smx, env_dir).exit_code == 0

    missing = add_model(env_dir, "openpose-xl", "controlnet", "ControlNet",
                        "thibaud_xl_openpose.safetensors", write=False)
    result = launch(smx, env_dir)
    assert result.exit_code == 2
    assert ("a model smx.toml lists is missing: openpose-xl (no Data/Models/ControlNet/"
            "thibaud_xl_openpose.safetensors)") in result.stderr
    assert "run `smx sync`" in result.stderr

    missing.parent.mkdir(parents=True, exist_ok=True)
    missing.write_bytes(b"trunc")  # an interrupted copy: shorter than smx.lock says
    result = launch(smx, env_dir)
    assert result.exit_code == 2 and "is 5 bytes, smx.lock says 7" in result.stderr


def test_a_port_in_use_names_the_process_that_holds_it(smx, env_dir: Path,
                                                       install_ui: InstallUi,
                                                       busy_port: int) -> None:
    install_ui(env_dir, "a1111", "a1111")
    result = launch(smx, env_dir, "--port", str(busy_port))
    assert result.exit_code == 2
    assert f"port {busy_port} is already in use" in result.stderr
    if Path("/proc/net/tcp").exists():  # Linux: found through /proc/net/tcp + /proc/*/fd
        assert f"by pid {os.getpid()} (" in result.stderr
    assert f"--port {busy_port + 1}" in result.stderr


def test_a_busy_default_port_is_a_warning_for_uis_that_take_the_next_one(
        smx, env_dir: Path, install_ui: InstallUi, busy_port: int) -> None:
    from smx.environment.env import Env
    from smx.errors import UsageError
    from smx.launch.argv import LaunchRequest, build_plan
    from smx.launch.preflight import run_preflight

    install_ui(env_dir, "a1111", "a1111")
    install_ui(env_dir, "comfy", "comfyui", args=["--port", str(busy_port)])
    env = Env.open(env_dir)

    a1111 = build_plan(env, LaunchRequest(package="a1111"))
    assert not a1111.port_explicit
    a1111.port = busy_port  # as if its default port 7860 were busy
    run_preflight(env, a1111)
    assert any("will take the next free port" in w for w in a1111.warnings)

    comfy = build_plan(env, LaunchRequest(package="comfy"))
    assert comfy.port_explicit  # a port from smx.toml args is the user's choice too
    comfy.port_explicit = False  # and ComfyUI cannot move off even its default port
    with pytest.raises(UsageError) as failure:
        run_preflight(env, comfy)
    assert failure.value.code == "launch.port_in_use"
