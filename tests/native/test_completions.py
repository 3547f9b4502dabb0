"""Shell completion: the checked-in scripts are current, and Tab proposes the names of the
environment — through each shell's real protocol, against a real `python -m smx` process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smx.cli.completion_scripts import FILE_NAMES, REGENERATE, SHELLS, script_for, stale_files

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"


@pytest.fixture
def named_env(env_dir: Path) -> Path:
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n", """\
[packages.comfy]
source = "comfyui"

[packages.forge-main]
source = "forge"

[packages.forge-main.extensions]
controlnet = { git = "https://github.com/Mikubill/sd-webui-controlnet" }
""").replace("[models]\n", """\
[models]
mm-sdxl = { source = "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", kind = "motion-module" }
"""))
    return env_dir


@pytest.fixture
def smx_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has an `smx` that runs this checkout's `python -m smx`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "smx"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m smx "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def complete(words: str, shell: str, cwd: Path, extra: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    """Ask `python -m smx` for completions the way the ``shell`` script does."""
    env = {**os.environ, "_SMX_COMPLETE": f"complete_{shell}", **(extra or {})}
    if shell == "bash":
        parts = words.split(" ")
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    elif shell == "powershell":
        env |= {"_TYPER_COMPLETE_ARGS": words,
                "_TYPER_COMPLETE_WORD_TO_COMPLETE": words.split(" ")[-1]}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": words, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    return subprocess.run([sys.executable, "-m", "smx"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_checked_in_scripts_are_current() -> None:
    stale = stale_files(COMPLETIONS)
    assert not stale, (f"completion scripts are stale: {[p.name for p in stale]}; "
                       f"regenerate them with `{REGENERATE}`")
    assert sorted(p.name for p in COMPLETIONS.iterdir()) == sorted(FILE_NAMES.values())


def test_the_zsh_script_starts_with_compdef_for_fpath_autoloading() -> None:
    assert (COMPLETIONS / "_smx").read_text().startswith("#compdef smx\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_smx_completion_prints_the_checked_in_script(smx, shell: str) -> None:
    result = smx("completion", shell)
    assert result.exit_code == 0
    assert result.stdout == (COMPLETIONS / FILE_NAMES[shell]).read_text() == script_for(shell)


def test_an_unknown_shell_is_a_usage_error(smx) -> None:
    result = smx("completion", "tcsh")
    assert result.exit_code == 2 and "bash, zsh, fish, powershell" in result.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_tab_proposes_the_package_names_of_the_environment(named_env: Path,
                                                                 smx_on_path) -> None:
    """Source completions/smx.bash in a real bash and press Tab: `smx remove <Tab>`,
    `smx export --package <Tab>`."""
    script = f"""
source {COMPLETIONS / 'smx.bash'}
COMP_WORDS=(smx remove ""); COMP_CWORD=2; _smx_completion smx
printf 'remove:%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(smx export --package ""); COMP_CWORD=3; _smx_completion smx
printf 'export:%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=named_env,
                          env=smx_on_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["remove:comfy", "remove:forge-main", "export:comfy",
                                   "export:forge-main"]
    assert done.stderr == ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_tab_completes_commands_and_a_prefix(named_env: Path, smx_on_path) -> None:
    script = f"""
source {COMPLETIONS / 'smx.bash'}
COMP_WORDS=(smx ex); COMP_CWORD=1; _smx_completion smx; printf 'cmd:%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(smx export -p fo); COMP_CWORD=3; _smx_completion smx
printf 'pkg:%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(smx install co); COMP_CWORD=2; _smx_completion smx
printf 'catalog:%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=named_env,
                          env=smx_on_path, capture_output=True, text=True, timeout=60)
    # commands come in `smx --help` order; compare as a set
    assert sorted(done.stdout.split()) == ["catalog:comfyui", "cmd:export", "cmd:ext",
                                           "pkg:forge-main"], done.stderr


@pytest.mark.parametrize("shell", ["zsh", "fish", "powershell"])
def test_other_shells_get_the_names_through_their_protocol(named_env: Path, shell: str) -> None:
    result = complete("smx export --package ", shell, named_env)
    assert result.returncode == 0, result.stderr
    assert "comfy" in result.stdout and "forge-main" in result.stdout
    assert "comfyui" in result.stdout  # the help next to the name: its source


def test_env_typed_on_the_line_is_where_names_come_from(named_env: Path, tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = complete(f"smx --env {named_env} export --package ", "bash", outside)
    assert result.stdout.split() == ["comfy", "forge-main"]
    via_variable = complete("smx export --package ", "bash", outside,
                            {"SMX_ENV": str(named_env)})
    assert via_variable.stdout.split() == ["comfy", "forge-main"]


def test_no_environment_or_a_broken_one_means_no_names_and_no_noise(named_env: Path,
                                                                  tmp_path) -> None:
    nowhere = complete("smx export --package ", "bash", tmp_path)
    assert (nowhere.returncode, nowhere.stdout.strip(), nowhere.stderr) == (0, "", "")
    (named_env / "smx.toml").write_text("[packages\nthis is not toml")
    broken = complete("smx export --package ", "bash", named_env)
    assert (broken.returncode, broken.stdout.strip(), broken.stderr) == (0, "", "")


def test_name_completers_read_packages_extensions_models_and_kinds(named_env, monkeypatch):
    """The completers every command uses, called as click calls them."""
    from smx.cli import complete as c

    class Ctx:  # what click passes: params parsed so far, and the parent chain
        def __init__(self, params: dict, parent: object | None = None) -> None:
            self.params, self.parent = params, parent

    monkeypatch.chdir(named_env)
    root = Ctx({"env": None})
    assert [n for n, _ in c.complete_package(Ctx({}, root), "")] == ["comfy", "forge-main"]
    assert [n for n, _ in c.complete_extension(Ctx({}, root), "")] == ["controlnet"]
    assert c.complete_extension(Ctx({"package": "comfy"}, root), "") == []
    assert [n for n, _ in c.complete_model(Ctx({}, root), "mm")] == ["mm-sdxl"]
    assert ("comfyui", "ComfyUI") in c.complete_catalog_package(Ctx({}, root), "co")
    assert [n for n, _ in c.complete_model_kind(Ctx({}, root), "motion")] == [
        "motion-module", "motion-lora"]
    assert [n for n, _ in c.complete_env_name(Ctx({}, root), "")] == [
        "comfy", "forge-main", "controlnet", "mm-sdxl"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_tab_proposes_models_kinds_and_launchable_packages(named_env: Path,
                                                               smx_on_path) -> None:
    script = f"""
source {COMPLETIONS / 'smx.bash'}
COMP_WORDS=(smx launch ""); COMP_CWORD=2; _smx_completion smx
printf 'launch:%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(smx model remove ""); COMP_CWORD=3; _smx_completion smx
printf 'model:%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(smx model pull hf:a/b/c --kind cont); COMP_CWORD=5; _smx_completion smx
printf 'kind:%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=named_env,
                          env=smx_on_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["launch:comfy", "launch:forge-main", "model:mm-sdxl",
                                   "kind:controlnet"], done.stderr


def test_ext_add_tab_proposes_the_extensions_smx_knows(named_env: Path) -> None:
    done = complete("smx ext add ", "bash", named_env)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) >= {"animatediff", "controlnet", "deforum"}
    prefix = complete("smx ext add anim", "bash", named_env)
    assert prefix.stdout.split() == ["animatediff"]
    from smx.catalog.extensions import KNOWN_EXTENSIONS

    for_comfy = complete("smx ext add --package comfy ", "bash", named_env)
    assert set(for_comfy.stdout.split()) == {
        name for name, known in KNOWN_EXTENSIONS.items() if "comfyui" in known.variants}
