"""`smx ext add`: the extension is cloned, pinned, its requirements installed the web UI's way,
and it sees the shared model store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from extfakes import ADE_URL, ANIMATEDIFF_URL, Installed, venv_has

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_add_animatediff_to_a1111_pins_it_runs_install_py_and_wires_motion_modules(
        smx, a1111: Installed, repos, spawned) -> None:
    result = smx("--env", str(a1111.env), "ext", "add", "animatediff")

    assert result.exit_code == 0, result.output
    assert "third-party code" in result.output and "user's rights" in result.output
    ext = a1111.ext_dir("sd-webui-animatediff")
    assert (ext / "scripts" / "animatediff.py").is_file()
    head = repos.repo("sd-webui-animatediff").head
    locked = _toml(a1111.env / "smx.lock")["packages"]["a1111"]
    assert locked["extensions"]["animatediff"]["commit"] == head
    assert "smx-ext-dep==1.0" in locked["freeze"]  # the venv's new package list
    entry = _toml(a1111.env / "smx.toml")["packages"]["a1111"]["extensions"]["animatediff"]
    assert entry == {"git": "https://github.com/continue-revolution/sd-webui-animatediff.git"}
    # install.py ran as A1111 runs it: venv python, web UI folder as cwd and PYTHONPATH
    ran = json.loads((ext / "install-ran.json").read_text())
    assert Path(ran["cwd"]).resolve() == a1111.checkout.resolve()
    assert Path(ran["pythonpath"].split(os.pathsep)[0]).resolve() == a1111.checkout.resolve()
    assert Path(ran["python"]).parent.parent.resolve() == (a1111.checkout / "venv").resolve()
    assert venv_has(a1111.python, "smx_ext_dep")
    # motion modules: the extension's own setting points at the shared store, relative
    settings = json.loads((a1111.checkout / "config.json").read_text())
    assert settings["animatediff_model_path"] == "../../Models/AnimateDiff"
    store_file = a1111.env / "Data" / "Models" / "AnimateDiff" / "mm_sd_v15_v2.ckpt"
    store_file.write_bytes(b"motion")
    seen = a1111.checkout / settings["animatediff_model_path"] / "mm_sd_v15_v2.ckpt"
    assert os.path.samefile(seen, store_file)

    spawned.clear()
    again = smx("--env", str(a1111.env), "sync")
    assert again.exit_code == 0 and "nothing to do" in again.output, again.output
    assert spawned == []  # no git, no pip: a no-op plan reads files only


def test_the_first_launch_after_add_installs_nothing_and_sees_the_store(
        smx, a1111: Installed, repos) -> None:
    assert smx("--env", str(a1111.env), "ext", "add", "animatediff").exit_code == 0
    assert smx("--env", str(a1111.env), "ext", "add", "controlnet").exit_code == 0

    plan = smx("--env", str(a1111.env), "launch", "--dry-run", "--json")

    assert plan.exit_code == 0, plan.output
    data = json.loads(plan.stdout)["data"]
    argv = data["argv"]
    controlnet_dir = argv[argv.index("--controlnet-dir") + 1]
    assert os.path.samefile(controlnet_dir, a1111.env / "Data" / "Models" / "ControlNet")
    # install.py checks with launch.is_installed and finds its dependency: nothing to install
    import subprocess

    ext = a1111.ext_dir("sd-webui-animatediff")
    (ext / "install-ran.json").unlink()
    done = subprocess.run([str(a1111.python), str(ext / "install.py")], cwd=a1111.checkout,
                          env={**os.environ, "PYTHONPATH": str(a1111.checkout),
                               "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/nonexistent"},
                          capture_output=True, text=True)
    assert done.returncode == 0 and "Installing" not in done.stdout, done.stdout + done.stderr


def test_model_files_left_in_the_extension_folder_move_into_the_store(
        smx, a1111: Installed, repos) -> None:
    from helpers.hostile import call_pickle, checkpoint, state_dict_pickle

    assert smx("--env", str(a1111.env), "ext", "add", "animatediff").exit_code == 0
    mine = a1111.ext_dir("sd-webui-animatediff") / "model" / "my_motion.ckpt"
    module = checkpoint(state_dict_pickle("down.weight"))
    mine.write_bytes(module)
    # one that would run code when loaded: it stays where it is, out of the store
    hostile = mine.with_name("bad_motion.ckpt")
    hostile.write_bytes(checkpoint(call_pickle("os", "system")))

    result = smx("--env", str(a1111.env), "ext", "update", "animatediff")

    assert result.exit_code == 0, result.output
    stored = a1111.env / "Data" / "Models" / "AnimateDiff" / "my_motion.ckpt"
    assert stored.read_bytes() == module and not mine.exists()
    assert "moved 1 file" in result.output
    assert hostile.is_file()
    assert not (stored.parent / "bad_motion.ckpt").exists()
    assert "left bad_motion.ckpt in" in result.output and "pickle scan refuses it" \
        in result.output
    assert (mine.parent / ".gitkeep").is_file()  # the folder itself is left alone


def test_add_a_comfyui_node_pack_by_url_installs_requirements_then_install_py(
        smx, comfyui: Installed, repos) -> None:
    result = smx("--env", str(comfyui.env), "ext", "add", ADE_URL)

    assert result.exit_code == 0, result.output
    node = comfyui.ext_dir("ComfyUI-AnimateDiff-Evolved")
    assert venv_has(comfyui.python, "smx_node_dep")
    assert Path((node / "install-ran.txt").read_text()).resolve() == node.resolve()
    # the node pack declares requires-comfyui >= 0.3.68; this ComfyUI is 0.3.64
    assert "requires-comfyui" in result.output and "0.3.64" in result.output
    entry = _toml(comfyui.env / "smx.toml")["packages"]["comfyui"]["extensions"]
    assert entry == {"ComfyUI-AnimateDiff-Evolved": {"git": ADE_URL}}
    # motion modules: ComfyUI's extra_model_paths key, in the yaml smx launch writes
    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan

    plan = build_plan(Env.open(comfyui.env), LaunchRequest())
    yaml = next(f for f in plan.files if f.path.name == "extra_model_paths.smx.yaml")
    assert 'animatediff_models: "../../Models/AnimateDiff"' in yaml.new


def test_known_name_resolves_per_package_kind(smx, comfyui: Installed, repos) -> None:
    result = smx("--env", str(comfyui.env), "ext", "add", "animatediff")

    assert result.exit_code == 0, result.output
    assert comfyui.ext_dir("ComfyUI-AnimateDiff-Evolved").is_dir()


def test_controlnet_on_forge_is_built_in_and_nothing_is_cloned(
        smx, env_dir: Path, install_package) -> None:
    forge = install_package(env_dir, "forge")
    before = (env_dir / "smx.toml").read_bytes()

    result = smx("--env", str(env_dir), "ext", "add", "controlnet")

    assert result.exit_code == 0, result.output
    assert "built in" in result.output and "sd_forge_controlnet" in result.output
    assert (env_dir / "smx.toml").read_bytes() == before
    assert not forge.ext_dir("sd-webui-controlnet").exists()


def test_with_several_packages_the_package_must_be_named(
        smx, env_dir: Path, install_package, repos) -> None:
    install_package(env_dir, "a1111")
    install_package(env_dir, "comfyui")

    unnamed = smx("--env", str(env_dir), "ext", "add", "animatediff")
    named = smx("--env", str(env_dir), "ext", "add", "animatediff", "--package", "comfyui")

    assert unnamed.exit_code == 2 and "--package" in unnamed.output
    assert named.exit_code == 0, named.output


def test_allow_unsafe_pickle_writes_the_launch_setting_and_says_so(
        smx, a1111: Installed, repos) -> None:
    result = smx("--env", str(a1111.env), "ext", "add", ANIMATEDIFF_URL, "--name",
                 "animatediff", "--allow-unsafe-pickle")

    assert result.exit_code == 0, result.output
    assert _toml(a1111.env / "smx.toml")["launch"]["unsafe-pickle-ok"] is True
    assert "--disable-safe-unpickle" in result.output


def test_add_works_when_the_package_is_an_inline_table(smx, a1111: Installed, repos) -> None:
    manifest = a1111.env / "smx.toml"
    text = manifest.read_text()
    block = f'[packages.a1111]\nsource = "a1111"\nref = "{a1111.commit}"\n'
    assert block in text
    manifest.write_text(text.replace(block, f'a1111 = {{ source = "a1111", ref = '
                                            f'"{a1111.commit}" }}\n'))

    result = smx("--env", str(a1111.env), "ext", "add", "animatediff")

    assert result.exit_code == 0, result.output
    package = _toml(manifest)["packages"]["a1111"]
    assert package["extensions"] == {"animatediff": {
        "git": "https://github.com/continue-revolution/sd-webui-animatediff.git"}}
    assert 'a1111 = { source = "a1111"' in manifest.read_text()  # still the user's inline form
