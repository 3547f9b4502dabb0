"""A failed install leaves smx.toml and smx.lock as they were, says what failed and where the
log is, and a rerun finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pkgfakes import SLOW_SIGNAL_ENV, a1111_files, comfyui_files, pins_of, read_toml


def test_a_missing_ref_fails_cleanly(smx, pkg_env: Path, upstream, snapshot_files,
                                     fast_installer: None) -> None:
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--ref", "v9.9.9")

    assert result.exit_code == 2, result.output
    assert "ref 'v9.9.9' not found" in result.output
    assert snapshot_files(pkg_env) == before
    listing = smx("--env", str(pkg_env), "list", "--json")
    assert '"packages": []' in listing.stdout


def test_a_requirement_that_cannot_be_resolved_names_it_and_keeps_the_log(
        smx, pkg_env: Path, upstream, snapshot_files, installer: str) -> None:
    upstream.a1111.branch("broken", switch=True)
    upstream.a1111.commit(a1111_files(pins_of(upstream),
                                      requirements="smx-fake-dep==1.0\nsmx-missing-dep==9.9\n"),
                          "needs a package nobody has")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "a1111", "--ref", "broken")

    assert result.exit_code == 5, result.output
    assert "installing the requirements of a1111 failed" in result.output
    assert "smx-missing-dep" in result.output
    log = result.output.split("full log: ", 1)[1].split()[0]
    assert Path(log).is_file() and "smx-missing-dep" in Path(log).read_text()
    assert Path(log).resolve().parent == (pkg_env / "Data" / "Logs").resolve()
    assert snapshot_files(pkg_env) == before


def test_a_missing_module_is_caught_by_the_load_check_at_install_time(
        smx, pkg_env: Path, upstream, snapshot_files, fast_installer: None) -> None:
    upstream.comfyui.commit(comfyui_files(imports="torch, smx_fake_dep, smx_extra_dep"),
                            "imports a module its requirements forgot")
    upstream.comfyui.tag("v0.3.65")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--ref", "v0.3.65")

    assert result.exit_code == 5, result.output
    assert "comfyui does not load: ComfyUI did not start" in result.output
    assert "No module named 'smx_extra_dep'" in result.output
    assert snapshot_files(pkg_env) == before


def test_killed_during_requirements_then_rerun_completes(smx, pkg_env: Path, upstream,
                                                         snapshot_files, tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.setenv("SMX_INSTALLER", "pip")
    upstream.comfyui.commit(comfyui_files(requirements="torch\nsmx-fake-dep\nsmx-slow-build\n"),
                            "a requirement that takes a while to build")
    upstream.comfyui.tag("slow")
    before = snapshot_files(pkg_env)
    started = tmp_path / "build-started"
    env = {**os.environ, SLOW_SIGNAL_ENV: str(started)}
    proc = subprocess.Popen([sys.executable, "-m", "smx", "--env", str(pkg_env), "install",
                             "comfyui", "--ref", "slow"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the requirements step never started"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)

    assert snapshot_files(pkg_env) == before  # kill -9: nothing could clean up, nothing to clean
    listing = smx("--env", str(pkg_env), "list", "--json")
    assert '"packages": []' in listing.stdout  # the half-made folder does not count

    rerun = smx("--env", str(pkg_env), "install", "comfyui", "--ref", "slow")

    assert rerun.exit_code == 0, rerun.output
    locked = read_toml(pkg_env / "smx.lock")["packages"]["comfyui"]
    assert locked["commit"] == upstream.comfyui.head
    assert "smx-slow-build==1.0" in locked["freeze"]


def test_not_enough_disk_space_is_checked_before_anything_starts(
        smx, pkg_env: Path, upstream, snapshot_files, monkeypatch) -> None:
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(2 * 1000**3))
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "a1111")

    assert result.exit_code == 5, result.output
    assert "not enough disk space for a1111" in result.output
    assert snapshot_files(pkg_env) == before
    assert not (pkg_env / "Data" / "Packages" / "a1111").exists()


def test_no_matching_python_says_which_and_how_to_get_one(smx, pkg_env: Path, upstream,
                                                          snapshot_files) -> None:
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--python", "3.99")

    assert result.exit_code == 5, result.output
    assert "needs Python 3.99" in result.output
    assert "uv python install 3.99" in result.output
    assert snapshot_files(pkg_env) == before
