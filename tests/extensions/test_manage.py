"""`smx ext list/update/remove/enable/disable`, and `smx sync` keeping extensions as locked."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from extfakes import ADE_URL, Installed, state_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json"


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _locked(env: Path, package: str, name: str) -> dict:
    return _toml(env / "smx.lock")["packages"][package]["extensions"][name]


def _schema(page: str) -> dict:
    blocks = re.findall(r"```json\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"),
                        re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def test_list_shows_each_extension_and_check_finds_a_new_commit(
        smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    first = repos.repo("sd-webui-animatediff").head
    newer = repos.repo("sd-webui-animatediff").commit({"scripts/more.py": "# v2\n"}, "v2")

    plain = smx("--env", env, "ext", "list", "--json")
    checked = smx("--env", env, "ext", "list", "--check", "--json")
    table = smx("--env", env, "ext", "list", "--check")

    assert plain.exit_code == 0 and checked.exit_code == 0, plain.output + checked.output
    row = json.loads(plain.stdout)["data"]["extensions"][0]
    assert row["name"] == "animatediff" and row["package"] == "a1111"
    assert row["commit"] == first and row["state"] == "installed" and row["enabled"] is True
    assert row["update_available"] is None  # no network without --check
    row = json.loads(checked.stdout)["data"]["extensions"][0]
    assert row["update_available"] is True and row["remote_commit"] == newer
    assert "animatediff" in table.stdout and f"yes ({newer[:12]})" in table.stdout


def test_ext_list_json_matches_its_documented_schema(smx, env_dir: Path, install_package,
                                                    repos) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    install_package(env_dir, "comfyui")
    install_package(env_dir, "forge")
    env = str(env_dir)
    assert smx("--env", env, "ext", "add", ADE_URL, "-p", "comfyui").exit_code == 0
    assert smx("--env", env, "ext", "disable", "ComfyUI-AnimateDiff-Evolved").exit_code == 0
    toml = env_dir / "smx.toml"  # a built-in extension written by hand
    toml.write_text(toml.read_text() + "\n[packages.forge.extensions]\ncontrolnet = {}\n")

    result = smx("--env", env, "ext", "list", "--check", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, _schema("index.md"))
    jsonschema.validate(document["data"], _schema("ext-list.md"))
    rows = {r["name"]: r for r in document["data"]["extensions"]}
    assert rows["ComfyUI-AnimateDiff-Evolved"]["enabled"] is False
    assert rows["controlnet"]["builtin"] is True and rows["controlnet"]["state"] == "built in"


def test_update_to_a_ref_and_back_pins_the_lock_and_writes_the_ref(
        smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    first = repos.repo("sd-webui-animatediff").head
    newer = repos.repo("sd-webui-animatediff").commit({"scripts/more.py": "# v2\n"}, "v2")

    latest = smx("--env", env, "ext", "update")
    assert latest.exit_code == 0, latest.output
    assert f"{first[:12]} -> {newer[:12]}" in latest.output
    assert _locked(a1111.env, "a1111", "animatediff")["commit"] == newer
    assert (a1111.ext_dir("sd-webui-animatediff") / "scripts" / "more.py").is_file()

    back = smx("--env", env, "ext", "update", "animatediff", "--ref", first)
    assert back.exit_code == 0, back.output
    assert _locked(a1111.env, "a1111", "animatediff")["commit"] == first
    entry = _toml(a1111.env / "smx.toml")["packages"]["a1111"]["extensions"]["animatediff"]
    assert entry["ref"] == first
    assert not (a1111.ext_dir("sd-webui-animatediff") / "scripts" / "more.py").exists()

    same = smx("--env", env, "ext", "update", "animatediff")
    assert same.exit_code == 0 and "up to date" in same.output, same.output


def test_a_failed_update_puts_the_previous_commit_and_venv_back(
        smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    first = repos.repo("sd-webui-animatediff").head
    repos.repo("sd-webui-animatediff").commit({
        "install.py": "import launch\nlaunch.run_pip('install smx-ext-dep==2.0', 'dep')\n"
                      "raise SystemExit('install.py: cannot build the thing')\n"}, "broken")
    before = state_of(a1111.env)

    result = smx("--env", env, "ext", "update", "animatediff")

    assert result.exit_code == 5, result.output
    assert "install.py" in result.output and "cannot build the thing" in result.output
    assert state_of(a1111.env) == before  # smx.toml, smx.lock, files, venv as they were
    from smx.packages.git import head_commit

    assert head_commit(a1111.ext_dir("sd-webui-animatediff")) == first
    import subprocess

    version = subprocess.run([str(a1111.python), "-c", "import importlib.metadata as m; "
                              "print(m.version('smx-ext-dep'))"], capture_output=True, text=True)
    assert version.stdout.strip() == "1.0"  # 2.0 was installed, then the venv was put back


def test_remove_asks_then_deletes_folder_and_entries(smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    assert smx("--env", env, "ext", "disable", "animatediff").exit_code == 0
    before = state_of(a1111.env)

    refused = smx("--env", env, "ext", "remove", "animatediff")
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert state_of(a1111.env) == before

    done = smx("--env", env, "ext", "remove", "animatediff", "--yes")
    assert done.exit_code == 0, done.output
    assert not a1111.ext_dir("sd-webui-animatediff").exists()
    assert _toml(a1111.env / "smx.toml")["packages"]["a1111"]["extensions"] == {}
    assert "extensions" not in _toml(a1111.env / "smx.lock")["packages"]["a1111"]
    settings = json.loads((a1111.checkout / "config.json").read_text())
    assert "sd-webui-animatediff" not in settings.get("disabled_extensions", [])


def test_disable_and_enable_the_a1111_way(smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0

    off = smx("--env", env, "ext", "disable", "animatediff")
    assert off.exit_code == 0, off.output
    settings = json.loads((a1111.checkout / "config.json").read_text())
    assert settings["disabled_extensions"] == ["sd-webui-animatediff"]
    assert settings["animatediff_model_path"] == "../../Models/AnimateDiff"  # others kept
    assert _locked(a1111.env, "a1111", "animatediff")["enabled"] is False
    entry = _toml(a1111.env / "smx.toml")["packages"]["a1111"]["extensions"]["animatediff"]
    assert entry["enabled"] is False

    on = smx("--env", env, "ext", "enable", "animatediff")
    assert on.exit_code == 0, on.output
    settings = json.loads((a1111.checkout / "config.json").read_text())
    assert settings["disabled_extensions"] == []
    entry = _toml(a1111.env / "smx.toml")["packages"]["a1111"]["extensions"]["animatediff"]
    assert "enabled" not in entry
    assert _locked(a1111.env, "a1111", "animatediff")["enabled"] is True


def test_disable_and_enable_the_comfyui_way(smx, comfyui: Installed, repos) -> None:
    env = str(comfyui.env)
    assert smx("--env", env, "ext", "add", ADE_URL, "--name", "ade").exit_code == 0
    node = comfyui.ext_dir("ComfyUI-AnimateDiff-Evolved")

    assert smx("--env", env, "ext", "disable", "ade").exit_code == 0
    assert not node.exists() and node.with_name(node.name + ".disabled").is_dir()
    assert smx("--env", env, "sync").output.count("nothing to do") == 1

    assert smx("--env", env, "ext", "enable", "ade").exit_code == 0
    assert node.is_dir() and not node.with_name(node.name + ".disabled").exists()


def test_sync_repairs_a_deleted_extension_at_its_locked_commit_even_frozen(
        smx, a1111: Installed, repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    locked = _locked(a1111.env, "a1111", "animatediff")["commit"]
    repos.repo("sd-webui-animatediff").commit({"scripts/more.py": "# v2\n"}, "v2")
    shutil.rmtree(a1111.ext_dir("sd-webui-animatediff"))
    before = (a1111.env / "smx.lock").read_bytes()

    plan = smx("--env", env, "sync", "--dry-run")
    result = smx("--env", env, "sync", "--frozen")

    assert "install extension animatediff" in plan.output, plan.output
    assert result.exit_code == 0, result.output
    from smx.packages.git import head_commit

    assert head_commit(a1111.ext_dir("sd-webui-animatediff")) == locked  # not the new head
    assert (a1111.env / "smx.lock").read_bytes() == before


def test_frozen_refuses_an_extension_smx_lock_does_not_have(smx, a1111: Installed,
                                                            repos) -> None:
    toml = a1111.env / "smx.toml"
    toml.write_text(toml.read_text() + "\n[packages.a1111.extensions]\nanimatediff = {}\n")

    result = smx("--env", str(a1111.env), "sync", "--frozen")

    assert result.exit_code == 2
    assert "extension 'animatediff'" in result.output and "smx.lock" in result.output


def test_an_extension_written_into_smx_toml_by_hand_is_installed_by_sync(
        smx, a1111: Installed, repos) -> None:
    toml = a1111.env / "smx.toml"
    toml.write_text(toml.read_text() + "\n[packages.a1111.extensions]\nanimatediff = {}\n")

    result = smx("--env", str(a1111.env), "sync")

    assert result.exit_code == 0, result.output
    assert _locked(a1111.env, "a1111", "animatediff")["commit"] == \
        repos.repo("sd-webui-animatediff").head
    # removing it from smx.toml by hand: the next sync removes the folder and the lock entry
    toml.write_text(toml.read_text().replace("animatediff = {}\n", ""))
    again = smx("--env", str(a1111.env), "sync")
    assert again.exit_code == 0, again.output
    assert not a1111.ext_dir("sd-webui-animatediff").exists()


def test_an_update_that_changes_the_packages_own_pins_says_which(smx, a1111: Installed,
                                                                 repos) -> None:
    env = str(a1111.env)
    assert smx("--env", env, "ext", "add", "animatediff").exit_code == 0
    repos.repo("sd-webui-animatediff").commit({
        "install.py": "import launch\nlaunch.run_pip('install smx-ext-dep==2.0', 'dep 2')\n"},
        "wants dep 2")

    result = smx("--env", env, "ext", "update", "animatediff")

    assert result.exit_code == 0, result.output
    assert "animatediff changed packages a1111 already had: smx-ext-dep 1.0 -> 2.0" \
        in result.output
    assert "smx-ext-dep==2.0" in _toml(a1111.env / "smx.lock")["packages"]["a1111"]["freeze"]
