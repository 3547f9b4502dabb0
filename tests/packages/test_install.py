"""`smx install`: a web UI that starts, or nothing at all."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pkgfakes import comfyui_files, read_toml

from helpers.gitrepo import GitRepo, map_url


def _lock(env: Path) -> dict:
    return read_toml(env / "smx.lock")


def _venv_python(env: Path, name: str) -> Path:
    return env / "Data" / "Packages" / name / "venv" / "bin" / "python"


def test_install_a1111_runs_its_own_installer_offline_and_records_the_result(
        smx, pkg_env: Path, upstream, installer: str) -> None:
    result = smx("--env", str(pkg_env), "install", "a1111")

    assert result.exit_code == 0, result.output
    pkg = pkg_env / "Data" / "Packages" / "a1111"
    # launch.py --exit found torch, CLIP, open_clip, its repositories/ at their pinned commits
    # and its requirements, so it downloaded nothing (the fake fails on any download)
    assert (pkg / "launch-ran.txt").is_file()
    for folder in ("stable-diffusion-webui-assets", "stable-diffusion-stability-ai",
                   "generative-models", "BLIP"):
        assert (pkg / "repositories" / folder / "README.md").is_file(), folder
    assert not (pkg / "repositories" / "k-diffusion").exists()  # its pin is commented out
    locked = _lock(pkg_env)["packages"]["a1111"]
    assert locked["commit"] == upstream.a1111.head
    assert locked["ref"] == "v1.10.1"
    assert locked["backend"] == "cpu"
    assert locked["python"].startswith("3.")
    assert {"smx-fake-dep==1.0", "torch==2.1.2", "torchvision==0.16.2"} <= set(locked["freeze"])
    assert not any("file:" in line or line.split("==")[0] == "clip"
                   for line in locked["freeze"])  # local clones: no machine paths in the lock
    manifest = read_toml(pkg_env / "smx.toml")
    assert manifest["packages"]["a1111"] == {"source": "a1111", "ref": "v1.10.1"}
    # the fake torch from the test's wheel folder, never a real one
    check = subprocess.run([_venv_python(pkg_env, "a1111"), "-c",
                            "import torch; print(torch.FAKE)"], capture_output=True, text=True)
    assert check.stdout.strip() == "True", check.stderr


def test_install_comfyui_with_requirements_only_and_its_quick_test(smx, pkg_env: Path, upstream,
                                                                   fast_installer: None) -> None:
    result = smx("--env", str(pkg_env), "install", "comfyui")

    assert result.exit_code == 0, result.output
    assert "comfyui: load check" in result.output
    locked = _lock(pkg_env)["packages"]["comfyui"]
    assert locked["commit"] == upstream.comfyui.head
    assert {"torchaudio==2.1.2", "smx-fake-dep==2.0"} <= set(locked["freeze"])


def test_running_install_again_does_nothing_and_spawns_nothing(smx, pkg_env: Path, upstream,
                                                               fast_installer: None,
                                                               spawned) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    before = (pkg_env / "smx.lock").read_bytes()
    spawned.clear()

    again = smx("--env", str(pkg_env), "install", "comfyui")
    sync = smx("--env", str(pkg_env), "sync")

    assert again.exit_code == 0, again.output
    assert "already installed" in again.output
    assert sync.exit_code == 0 and "nothing to do" in sync.output
    assert spawned == []  # no git, no pip, no python: HEAD and the venv are read from files
    assert (pkg_env / "smx.lock").read_bytes() == before


def test_first_install_in_a_folder_without_smx_toml_creates_the_environment(
        smx, tmp_path: Path, upstream, fast_installer: None) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    os.environ["SMX_TORCH_INDEX"] = "pip"  # no smx.toml to say so yet
    try:
        result = smx("install", "comfyui", "--backend", "cpu", cwd=folder)
    finally:
        del os.environ["SMX_TORCH_INDEX"]

    assert result.exit_code == 0, result.output
    assert "created a new environment" in result.output
    manifest = read_toml(folder / "smx.toml")
    assert manifest["packages"]["comfyui"]["backend"] == "cpu"
    assert (folder / "Data" / "Packages" / "comfyui" / "main.py").is_file()


def test_two_installs_of_one_package_under_different_names(smx, pkg_env: Path, upstream,
                                                           fast_installer: None) -> None:
    first = upstream.comfyui.head
    second = upstream.comfyui.commit({"NEWS.md": "dev\n"}, "dev work")

    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    dev = smx("--env", str(pkg_env), "install", "comfyui", "--name", "comfy-dev",
              "--ref", second)

    assert dev.exit_code == 0, dev.output
    packages = _lock(pkg_env)["packages"]
    assert packages["comfyui"]["commit"] == first
    assert packages["comfy-dev"]["commit"] == second
    assert (pkg_env / "Data" / "Packages" / "comfy-dev" / "NEWS.md").is_file()
    assert not (pkg_env / "Data" / "Packages" / "comfyui" / "NEWS.md").exists()


def test_a_fork_installs_from_its_own_url(smx, pkg_env: Path, upstream, tmp_path: Path,
                                          fast_installer: None) -> None:
    fork = GitRepo.create(tmp_path / "fork", comfyui_files(), tag="my-release")
    fork.commit({"FORK.md": "mine\n"}, "fork change")
    fork.tag("my-release-2")
    fork_url = "https://github.com/someone/ComfyUI-fork.git"
    map_url(fork_url, fork)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--git", fork_url,
                 "--ref", "my-release-2")

    assert result.exit_code == 0, result.output
    locked = _lock(pkg_env)["packages"]["comfyui"]
    assert (locked["git"], locked["commit"]) == (fork_url, fork.head)
    assert read_toml(pkg_env / "smx.toml")["packages"]["comfyui"]["git"] \
        == fork_url


def test_list_shows_ref_commit_backend_size_and_local_edits(smx, pkg_env: Path, upstream,
                                                            fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    (pkg_env / "Data" / "Packages" / "comfyui" / "main.py").write_text("# my edit\n")

    human = smx("--env", str(pkg_env), "list")
    machine = smx("--env", str(pkg_env), "list", "--json")

    assert human.exit_code == 0, human.output
    assert "comfyui" in human.stdout and "local edits" in human.stdout
    rows = json.loads(machine.stdout)["data"]["packages"]
    assert rows[0]["name"] == "comfyui"
    assert rows[0]["commit"] == upstream.comfyui.head
    assert rows[0]["ref"] == "v0.3.64"
    assert rows[0]["backend"] == "cpu"
    assert rows[0]["dirty"] is True
    assert rows[0]["state"] == "installed"
    assert rows[0]["state_code"] == "installed"  # local edits are `dirty`, not a state
    assert rows[0]["size_bytes"] > 0


def test_frozen_sync_reinstalls_exactly_the_locked_commit_and_packages(
        smx, pkg_env: Path, upstream, fast_installer: None) -> None:
    import shutil

    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    locked = _lock(pkg_env)["packages"]["comfyui"]
    upstream.comfyui.commit({"LATER.md": "x\n"}, "later")  # the remote moved on
    shutil.rmtree(pkg_env / "Data" / "Packages" / "comfyui")

    result = smx("--env", str(pkg_env), "sync", "--frozen")

    assert result.exit_code == 0, result.output
    again = _lock(pkg_env)["packages"]["comfyui"]
    assert again["commit"] == locked["commit"]
    assert again["freeze"] == locked["freeze"]
    assert not (pkg_env / "Data" / "Packages" / "comfyui" / "LATER.md").exists()
