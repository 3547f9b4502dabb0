"""`smx update` and `smx remove`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pkgfakes import a1111_files, comfyui_files, pins_of, read_toml


def _lock(env: Path) -> dict:
    return read_toml(env / "smx.lock")


def _installed_version(env: Path, name: str, dist: str) -> str:
    python = env / "Data" / "Packages" / name / "venv" / "bin" / "python"
    return subprocess.run([python, "-c", f"import importlib.metadata as m; "
                                         f"print(m.version({dist!r}))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_update_to_a_new_tag_reinstalls_changed_requirements(smx, pkg_env: Path, upstream,
                                                             fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "a1111").exit_code == 0
    new = upstream.a1111.commit(a1111_files(pins_of(upstream),
                                            requirements="smx-fake-dep==2.0\n"), "v1.10.2")
    upstream.a1111.tag("v1.10.2")

    result = smx("--env", str(pkg_env), "update", "a1111", "--ref", "v1.10.2")

    assert result.exit_code == 0, result.output
    assert "updated a1111" in result.output
    locked = _lock(pkg_env)["packages"]["a1111"]
    assert (locked["commit"], locked["ref"]) == (new, "v1.10.2")
    assert "smx-fake-dep==2.0" in locked["freeze"]
    assert _installed_version(pkg_env, "a1111", "smx-fake-dep") == "2.0"
    assert read_toml(pkg_env / "smx.toml")["packages"]["a1111"]["ref"] \
        == "v1.10.2"


def test_update_follows_a_branch_and_skips_unchanged_requirements(smx, pkg_env: Path, upstream,
                                                                  fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui", "--ref", "main").exit_code == 0
    new = upstream.comfyui.commit({"NEWS.md": "new node\n"}, "new node")

    result = smx("--env", str(pkg_env), "update", "comfyui")

    assert result.exit_code == 0, result.output
    assert _lock(pkg_env)["packages"]["comfyui"]["commit"] == new
    assert "requirements" not in result.output  # same requirements: no pip run
    logs = sorted((pkg_env / "Data" / "Logs").glob("comfyui-update-*.log"))
    assert logs and "-r requirements.txt" not in logs[-1].read_text()


def test_update_with_nothing_new_says_so(smx, pkg_env: Path, upstream,
                                         fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui", "--ref", "main").exit_code == 0

    result = smx("--env", str(pkg_env), "update", "comfyui")

    assert result.exit_code == 0, result.output
    assert "comfyui is up to date" in result.output


def test_update_refuses_to_overwrite_local_edits(smx, pkg_env: Path, upstream, snapshot_files,
                                                 fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui", "--ref", "main").exit_code == 0
    upstream.comfyui.commit({"NEWS.md": "new\n"}, "new")
    edited = pkg_env / "Data" / "Packages" / "comfyui" / "main.py"
    edited.write_text("# my local fix\n")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "update", "comfyui")

    assert result.exit_code == 5, result.output
    assert "local edits" in result.output and "main.py" in result.output
    assert "stash" in result.output
    assert edited.read_text() == "# my local fix\n"
    assert snapshot_files(pkg_env) == before


def test_a_failed_update_puts_the_previous_commit_and_venv_back(smx, pkg_env: Path, upstream,
                                                                snapshot_files,
                                                                fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "a1111").exit_code == 0
    old = upstream.a1111.head
    upstream.a1111.commit(a1111_files(pins_of(upstream),
                                      requirements="smx-fake-dep==2.0\nsmx-missing-dep==1.0\n"),
                          "broken release")
    upstream.a1111.tag("v1.10.3")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "update", "a1111", "--ref", "v1.10.3")

    assert result.exit_code == 5, result.output
    assert "smx-missing-dep" in result.output
    assert snapshot_files(pkg_env) == before
    pkg = pkg_env / "Data" / "Packages" / "a1111"
    head = subprocess.run(["git", "-C", pkg, "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert head == old
    assert _installed_version(pkg_env, "a1111", "smx-fake-dep") == "1.0"
    assert not (pkg / "venv.smx-prev").exists()
    list_json = smx("--env", str(pkg_env), "list", "--json").stdout
    assert '"state": "installed"' in list_json


def test_remove_deletes_checkout_and_venv_but_never_models(smx, pkg_env: Path, upstream,
                                                           fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    model = pkg_env / "Data" / "Models" / "StableDiffusion" / "model.safetensors"
    model.write_bytes(b"weights")

    result = smx("--env", str(pkg_env), "remove", "comfyui", "--yes")

    assert result.exit_code == 0, result.output
    assert not (pkg_env / "Data" / "Packages" / "comfyui").exists()
    assert "comfyui" not in read_toml(pkg_env / "smx.toml").get("packages", {})
    assert "comfyui" not in _lock(pkg_env).get("packages", {})
    assert model.read_bytes() == b"weights"


def test_remove_asks_first_unless_yes(smx, pkg_env: Path, upstream, snapshot_files,
                                      fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "remove", "comfyui")  # no terminal to ask on

    assert result.exit_code == 2, result.output
    assert "--yes" in result.output
    assert snapshot_files(pkg_env) == before
    assert (pkg_env / "Data" / "Packages" / "comfyui" / "main.py").is_file()


def test_removing_from_smx_toml_by_hand_is_applied_by_sync(smx, pkg_env: Path, upstream,
                                                           fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    manifest = pkg_env / "smx.toml"
    text = manifest.read_text()
    manifest.write_text(text[:text.index("[packages.comfyui]")])

    result = smx("--env", str(pkg_env), "sync")

    assert result.exit_code == 0, result.output
    assert not (pkg_env / "Data" / "Packages" / "comfyui").exists()
    assert "comfyui" not in _lock(pkg_env).get("packages", {})


def test_an_unknown_package_name_suggests_the_close_one(smx, pkg_env: Path) -> None:
    result = smx("--env", str(pkg_env), "install", "comfyiu")

    assert result.exit_code == 2
    assert "did you mean 'comfyui'" in result.output


def test_comfyui_fake_is_installable_at_a_commit_sha(smx, pkg_env: Path, upstream,
                                                     fast_installer: None) -> None:
    sha = upstream.comfyui.commit(comfyui_files(), "same files")
    upstream.comfyui.commit({"LATER.md": "later\n"}, "later")

    result = smx("--env", str(pkg_env), "install", "comfyui", "--ref", sha[:10])

    assert result.exit_code == 0, result.output
    assert _lock(pkg_env)["packages"]["comfyui"]["commit"] == sha


def test_changed_requirements_are_reinstalled_by_sync_keeping_local_edits(
        smx, pkg_env: Path, upstream, fast_installer: None) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    requirements = pkg_env / "Data" / "Packages" / "comfyui" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "smx-extra-dep\n")

    plan = smx("--env", str(pkg_env), "sync", "--dry-run")
    result = smx("--env", str(pkg_env), "sync")

    assert "requirements changed" in plan.output
    assert result.exit_code == 0, result.output
    assert "smx-extra-dep==1.0" in _lock(pkg_env)["packages"]["comfyui"]["freeze"]
    assert "smx-extra-dep" in requirements.read_text()  # the user's edit stays
    assert "nothing to do" in smx("--env", str(pkg_env), "sync").output
