"""`smx launch --dry-run --json`: the command line, environment and folder each kind of web UI
gets, and the shared model store wired into it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from helpers.gitrepo import git
from smx.environment import lock as lockfile

from .conftest import InstallUi


def plan(smx, env: Path, *args: str) -> dict:
    result = smx("--env", str(env), "launch", "--dry-run", "--json", *args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["command"] == "launch" and document["status"] == "ok"
    return document["data"]


def store(env: Path, folder: str) -> str:
    return str(env / "Data" / "Models" / folder)


def flag_values(argv: list[str]) -> dict[str, str]:
    return {a: argv[i + 1] for i, a in enumerate(argv[:-1]) if a.startswith("--")
            and not argv[i + 1].startswith("--")}


def test_a1111_runs_launch_py_with_the_venv_python_and_the_store_folders(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "a1111", "a1111", args=["--xformers"])
    data = plan(smx, env_dir, "--port", "7870", "--api", "--", "--theme", "dark")

    argv = data["argv"]
    # the venv's python by its venv path (a symlink; never resolved to the base interpreter)
    assert argv[0] == str(ui.python) and Path(argv[0]).is_symlink()
    assert argv[1] == "launch.py"
    flags = flag_values(argv)
    assert flags["--ckpt-dir"] == store(env_dir, "StableDiffusion")
    assert flags["--lora-dir"] == store(env_dir, "Lora")
    assert flags["--lyco-dir-backcompat"] == store(env_dir, "LyCORIS")
    assert flags["--vae-dir"] == store(env_dir, "VAE")
    assert flags["--embeddings-dir"] == store(env_dir, "Embeddings")
    assert flags["--hypernetwork-dir"] == store(env_dir, "Hypernetwork")
    assert flags["--esrgan-models-path"] == store(env_dir, "ESRGAN")
    # sd-webui-controlnet adds --controlnet-dir; it is not installed, so A1111 would refuse it
    assert "--controlnet-dir" not in argv
    assert any("sd-webui-controlnet" in note for note in data["notes"])
    # order: smx.toml args, then the store folders, then command-line flags, then extras
    assert argv.index("--xformers") < argv.index("--ckpt-dir") < argv.index("--port")
    assert argv[-5:] == ["--port", "7870", "--api", "--theme", "dark"]
    assert data["cwd"] == str(ui.checkout)
    assert data["env"]["set"]["VIRTUAL_ENV"] == str(ui.venv)
    assert data["env"]["set"]["PATH"].split(os.pathsep)[0] == str(ui.venv / "bin")
    assert data["url"] == "http://127.0.0.1:7870/" and data["port_explicit"] is True
    assert [c["name"] for c in data["checks"]] == ["installed", "commit", "python", "models",
                                                   "port"]
    assert data["command"].startswith(f"{ui.python} launch.py ")
    assert not data["exposed"] and not data["warnings"]


def _add_extension(checkout: Path, folder: str, origin: str) -> None:
    ext = checkout / "extensions" / folder
    ext.mkdir(parents=True)
    git("init", "-q", cwd=ext)
    git("remote", "add", "origin", origin, cwd=ext)


def test_a1111_gets_the_controlnet_folder_once_the_controlnet_extension_is_there(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "a1111", "a1111")
    # the folder name does not matter: the origin URL names the extension
    _add_extension(ui.checkout, "controlnet", "https://github.com/Mikubill/sd-webui-controlnet.git")
    assert flag_values(plan(smx, env_dir)["argv"])["--controlnet-dir"] == store(env_dir,
                                                                                "ControlNet")

    # disabled in A1111's settings: A1111 skips its preload.py, so the flag would be unknown
    (ui.checkout / "config.json").write_text(json.dumps({"disabled_extensions": ["controlnet"]}))
    assert "--controlnet-dir" not in plan(smx, env_dir)["argv"]


def test_forge_has_controlnet_built_in_and_a_text_encoder_folder(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "forge", "forge")
    flags = flag_values(plan(smx, env_dir)["argv"])
    assert flags["--controlnet-dir"] == store(env_dir, "ControlNet")
    assert flags["--text-encoder-dir"] == store(env_dir, "TextEncoders")
    assert flags["--ckpt-dir"] == store(env_dir, "StableDiffusion")


def test_a_folder_flag_the_user_sets_is_left_to_the_user(
        smx, env_dir: Path, install_ui: InstallUi, tmp_path: Path) -> None:
    install_ui(env_dir, "a1111", "a1111", args=[f"--ckpt-dir={tmp_path}"])
    data = plan(smx, env_dir)
    assert [a for a in data["argv"] if a.startswith("--ckpt-dir")] == [f"--ckpt-dir={tmp_path}"]
    assert "--lora-dir" in data["argv"]


def test_comfyui_reads_the_store_from_a_generated_yaml_with_relative_paths(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "comfyui", "comfyui")
    data = plan(smx, env_dir)
    argv = data["argv"]
    assert argv[1] == "main.py"
    assert flag_values(argv)["--extra-model-paths-config"] == "extra_model_paths.smx.yaml"
    assert data["port"] == 8188
    yaml_file = ui.checkout / "extra_model_paths.smx.yaml"
    assert data["files"] == [{"path": "Data/Packages/comfyui/extra_model_paths.smx.yaml",
                              "what": "ComfyUI model folders", "changed": True}]
    assert not yaml_file.exists()  # a dry run writes nothing

    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan
    from smx.launch.execute import prepare

    prepare(build_plan(Env.open(env_dir), LaunchRequest()))
    config = yaml.safe_load(yaml_file.read_text())
    section = config["smx"]
    assert section["checkpoints"] == "../../Models/StableDiffusion"
    # ComfyUI splits each value on newlines: several folders are one string, not a list
    assert section["loras"].split() == ["../../Models/Lora", "../../Models/LyCORIS"]
    assert section["upscale_models"].split() == ["../../Models/ESRGAN", "../../Models/RealESRGAN",
                                                 "../../Models/SwinIR"]
    assert section["animatediff_models"] == "../../Models/AnimateDiff"
    # relative to the yaml's folder (ComfyUI's rule), they land in the shared store
    for value in section.values():
        for rel in value.split():
            assert (ui.checkout / rel).resolve() == (env_dir / "Data" / "Models" /
                                                     Path(rel).name).resolve()
            assert (ui.checkout / rel).is_dir()
    assert str(env_dir) not in yaml_file.read_text()  # nothing absolute: the env can move
    assert plan(smx, env_dir)["files"][0]["changed"] is False


def test_fooocus_config_txt_gets_relative_path_keys_and_keeps_the_rest(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "fooocus", "fooocus")
    (ui.checkout / "config.txt").write_text(json.dumps(
        {"default_model": "juggernautXL_v8Rundiffusion.safetensors",
         "path_outputs": "/somewhere/outputs"}, indent=4))
    data = plan(smx, env_dir)
    assert data["argv"][1] == "launch.py" and data["port"] == 7865
    assert "--extra-model-paths-config" not in data["argv"]

    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan
    from smx.launch.execute import prepare

    prepare(build_plan(Env.open(env_dir), LaunchRequest()))
    config = json.loads((ui.checkout / "config.txt").read_text())
    assert config["default_model"] == "juggernautXL_v8Rundiffusion.safetensors"
    assert config["path_outputs"] == "/somewhere/outputs"
    # modules/config.py: these two are lists, the others one folder each
    assert config["path_checkpoints"] == ["../../Models/StableDiffusion"]
    assert config["path_loras"] == ["../../Models/Lora"]
    assert config["path_vae"] == "../../Models/VAE"
    assert config["path_controlnet"] == "../../Models/ControlNet"
    assert (ui.checkout / config["path_embeddings"]).resolve() == \
        (env_dir / "Data" / "Models" / "Embeddings").resolve()


def test_a_broken_fooocus_config_is_reported_not_overwritten(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    ui = install_ui(env_dir, "fooocus", "fooocus")
    (ui.checkout / "config.txt").write_text('{"path_checkpoints": [,]}')
    result = smx("--env", str(env_dir), "launch", "--dry-run")
    assert result.exit_code == 2
    assert "config.txt: not valid JSON" in result.stderr
    assert (ui.checkout / "config.txt").read_text() == '{"path_checkpoints": [,]}'


def test_share_warns_and_explains_the_extension_lock(smx, env_dir: Path,
                                                     install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    result = smx("--env", str(env_dir), "launch", "--share", "--dry-run")
    assert result.exit_code == 0, result.output
    err = " ".join(result.stderr.split())
    assert "will be reachable by other people" in err
    assert "--gradio-auth" in err
    assert "--enable-insecure-extension-access" in err and "--allow-extension-install" in err
    command = result.stdout.strip().splitlines()[-1]
    assert command.split()[-1] == "--share"
    assert "--enable-insecure-extension-access" not in command

    data = plan(smx, env_dir, "--listen", "--allow-extension-install")
    assert data["exposed"] and data["host"] == "0.0.0.0"
    assert data["argv"][-2:] == ["--listen", "--enable-insecure-extension-access"]
    assert any("run any code on this machine" in w for w in data["warnings"])


def test_comfyui_has_no_share(smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "comfyui", "comfyui")
    result = smx("--env", str(env_dir), "launch", "--share", "--dry-run")
    assert result.exit_code == 2
    assert "ComfyUI has no --share" in result.stderr
    assert "--listen" in result.stderr and "tunnel" in result.stderr

    data = plan(smx, env_dir, "--listen", "--api")
    assert data["argv"][-1] == "--listen"  # the API is always on: nothing to add
    assert any("no login of its own" in w for w in data["warnings"])


def test_cpu_torch_builds_get_the_catalog_cpu_flags(smx, env_dir: Path,
                                                    install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111", backend="cpu")
    install_ui(env_dir, "comfy", "comfyui", backend="cpu")
    a1111 = plan(smx, env_dir, "a1111")["argv"]
    assert a1111[2:7] == ["--skip-torch-cuda-test", "--no-half", "--use-cpu", "all",
                          "--ckpt-dir"]
    assert plan(smx, env_dir, "comfy")["argv"][2] == "--cpu"


def test_environment_has_the_package_variables_and_hides_secrets(
        smx, env_dir: Path, install_ui: InstallUi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:hunter22@proxy.example:3128")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    install_ui(env_dir, "a1111", "a1111",
               args=["--gradio-auth", "admin:sekrit-pass"],
               pkg_env={"COMMANDLINE_ARGS": "", "MY_API_TOKEN": "tok-123456789"})
    result = smx("--env", str(env_dir), "launch", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert "sekrit-pass" not in result.output and "hunter22" not in result.output
    assert "tok-123456789" not in result.output
    data = json.loads(result.stdout)["data"]
    assert data["argv"][data["argv"].index("--gradio-auth") + 1] == "***"
    env_set = data["env"]["set"]
    assert env_set["MY_API_TOKEN"] == "***"
    assert env_set["COMMANDLINE_ARGS"] == ""
    # A1111's launch.py clones repositories/ at start when one is missing
    assert env_set["STABLE_DIFFUSION_REPO"] == "https://github.com/w-e-w/stablediffusion.git"
    assert "PYTHONPATH" in data["env"]["unset"]
    assert data["env"]["passed_proxies"]["HTTPS_PROXY"] == "http://***@proxy.example:3128"


def test_which_package_starts_when_none_is_named(smx, env_dir: Path,
                                                 install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    assert plan(smx, env_dir)["package"] == "a1111"
    install_ui(env_dir, "comfy", "comfyui")
    result = smx("--env", str(env_dir), "launch", "--dry-run")
    assert result.exit_code == 2
    assert "has 2 packages: a1111, comfy" in result.stderr
    assert "[launch] package" in result.stderr

    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + '\n[launch]\npackage = "comfy"\n')
    assert plan(smx, env_dir)["source"] == "comfyui"

    result = smx("--env", str(env_dir), "launch", "comfyu", "--dry-run")
    assert result.exit_code == 2 and "did you mean 'comfy'?" in result.stderr


def test_json_without_dry_run_is_refused(smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    result = smx("--env", str(env_dir), "launch", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"][0]["code"] == "launch.json_needs_dry_run"


def test_auto_vram_uses_the_doctor_advice(env_dir: Path, install_ui: InstallUi) -> None:
    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan
    from smx.system.gpu import Gpu, GpuReport, NvidiaStatus

    install_ui(env_dir, "a1111", "a1111", backend="cuda")
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + "\n[launch]\nauto-vram = true\n")
    eight_gb = GpuReport(nvidia=NvidiaStatus(available=True, driver_version="570.0",
                                             cuda_driver_version=(12, 8)),
                         gpus=(Gpu(0, "nvidia", "NVIDIA GeForce RTX 3070",
                                   vram_total=8 * 1024**3, compute_capability=(8, 6)),),
                         system="Linux", machine="x86_64")
    built = build_plan(Env.open(env_dir), LaunchRequest(), gpus=eight_gb)
    assert built.argv[2] == "--medvram-sdxl"
    assert any(note.startswith("auto-vram:") for note in built.notes)

    lock = lockfile.load(env_dir / "smx.lock")
    lock.packages["a1111"].backend = "cpu"
    lockfile.save(env_dir / "smx.lock", lock)
    built = build_plan(Env.open(env_dir), LaunchRequest(), gpus=eight_gb)
    assert built.argv[2:6] == ["--skip-torch-cuda-test", "--no-half", "--use-cpu", "all"]


def test_unsafe_pickle_ok_turns_off_the_a1111_pickle_check_with_a_warning(
        smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    assert "--disable-safe-unpickle" not in plan(smx, env_dir)["argv"]
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + "\n[launch]\nunsafe-pickle-ok = true\n")
    data = plan(smx, env_dir)
    assert data["argv"][2] == "--disable-safe-unpickle"
    assert any("without checking them" in w for w in data["warnings"])
