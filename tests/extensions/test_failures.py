"""Bad input to `smx ext add`: one clear line, a non-zero exit, and smx.toml, smx.lock, the
package's folders and its venv exactly as they were (nothing left behind)."""

from __future__ import annotations

import pytest
from extfakes import ANIMATEDIFF_URL, NODES_URL, NOT_A_REPO_URL, Installed, state_of

from helpers.gitrepo import map_url


def _add(smx, env, *args: str):
    return smx("--env", str(env), "ext", "add", *args)


def test_a_url_that_is_not_a_git_repository(smx, a1111: Installed, repos) -> None:
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, NOT_A_REPO_URL)

    assert result.exit_code == 2, result.output
    assert "not-a-repo is not a git repository" in result.output
    assert state_of(a1111.env) == before


def test_a_comfyui_node_pack_added_to_a1111(smx, a1111: Installed, repos) -> None:
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, NODES_URL)

    assert result.exit_code == 2, result.output
    assert "no install.py/scripts/ — looks like a ComfyUI node pack, not an A1111 extension" \
        in result.output
    assert state_of(a1111.env) == before


def test_an_a1111_extension_added_to_comfyui(smx, comfyui: Installed, repos) -> None:
    before = state_of(comfyui.env)

    result = _add(smx, comfyui.env, ANIMATEDIFF_URL)

    assert result.exit_code == 2, result.output
    assert "looks like an A1111 extension (scripts/), not a ComfyUI node pack" in result.output
    assert state_of(comfyui.env) == before


def test_an_extension_already_in_smx_toml(smx, a1111: Installed, repos) -> None:
    assert _add(smx, a1111.env, "animatediff").exit_code == 0
    before = state_of(a1111.env)

    again = _add(smx, a1111.env, "animatediff")
    same_repo = _add(smx, a1111.env, ANIMATEDIFF_URL, "--name", "ad2")

    assert again.exit_code == 2 and "already an extension of a1111" in again.output
    assert same_repo.exit_code == 2 and "already has sd-webui-animatediff" in same_repo.output
    assert state_of(a1111.env) == before


def test_a_folder_already_there_that_smx_did_not_clone(smx, a1111: Installed, repos) -> None:
    folder = a1111.ext_dir("sd-webui-animatediff")
    folder.mkdir(parents=True)
    (folder / "hand-made.py").write_text("# copied by hand\n")
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, "animatediff")

    assert result.exit_code == 2, result.output
    assert "already exists and is not a git checkout" in result.output
    assert state_of(a1111.env) == before


def test_a_private_repository_fails_instead_of_asking_for_a_password(
        smx, a1111: Installed, private_repo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_TERMINAL_PROMPT", raising=False)  # smx must set it itself
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, private_repo_url)

    assert result.exit_code == 3, result.output
    assert "private-extension needs credentials" in result.output
    assert state_of(a1111.env) == before


def test_an_install_py_that_fails_leaves_venv_and_folders_as_they_were(
        smx, a1111: Installed, repos) -> None:
    repos.repo("sd-webui-animatediff").commit({
        "install.py": "import launch\nlaunch.run_pip('install smx-ext-dep==1.0', 'dep')\n"
                      "raise SystemExit('no compiler found')\n"}, "broken installer")
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, "animatediff")

    assert result.exit_code == 5, result.output
    assert "animatediff's install.py failed" in result.output
    assert "no compiler found" in result.output and "Data/Logs" in result.output
    assert state_of(a1111.env) == before  # smx_ext_dep was installed, then the venv put back


def test_requirements_may_not_replace_the_packages_torch(smx, comfyui: Installed,
                                                        repos) -> None:
    repos.repo("ComfyUI-AnimateDiff-Evolved").commit(
        {"requirements.txt": "smx-wants-old-torch\n"}, "pins an old torch")
    before = state_of(comfyui.env)

    result = _add(smx, comfyui.env, "animatediff")

    assert result.exit_code == 5, result.output
    assert "keeps the package's torch (torch==2.1.2)" in result.output, result.output
    assert state_of(comfyui.env) == before


def test_unknown_names_and_missing_packages(smx, env_dir, install_package, repos) -> None:
    no_package = _add(smx, env_dir, "animatediff")
    assert no_package.exit_code == 2 and "lists no packages" in no_package.output
    install_package(env_dir, "a1111")
    before = state_of(env_dir)

    unknown = _add(smx, env_dir, "animatedif")
    wrong_package = _add(smx, env_dir, "animatediff", "--package", "nope")

    assert unknown.exit_code == 2 and "neither a git URL nor a known extension" in unknown.output
    assert wrong_package.exit_code == 2 and "no package 'nope'" in wrong_package.output
    assert state_of(env_dir) == before


def test_forge_never_loads_sd_webui_controlnet(smx, env_dir, install_package, repos) -> None:
    install_package(env_dir, "forge")
    before = state_of(env_dir)

    result = _add(smx, env_dir, "https://github.com/Mikubill/sd-webui-controlnet")

    assert result.exit_code == 2, result.output
    assert "never loads an extension folder named sd-webui-controlnet" in result.output
    assert state_of(env_dir) == before


def test_animatediff_for_forge_is_refused_on_a_forge_without_ldm_patched(
        smx, env_dir, install_package, repos) -> None:
    install_package(env_dir, "forge")
    map_url("https://github.com/continue-revolution/sd-forge-animatediff.git",
            repos.repo("sd-webui-animatediff"))
    before = state_of(env_dir)

    result = _add(smx, env_dir, "animatediff")

    assert result.exit_code == 2, result.output
    assert "would not load in forge" in result.output and "ldm_patched" in result.output
    assert "third-party" not in result.output  # refused before anything was fetched
    assert state_of(env_dir) == before


def test_an_extension_for_an_uninstalled_package_says_to_install_it(
        smx, env_dir, repos) -> None:
    toml = env_dir / "smx.toml"
    toml.write_text(toml.read_text() + '\n[packages.a1111]\nsource = "a1111"\n')
    before = state_of(env_dir)

    result = _add(smx, env_dir, "animatediff")

    assert result.exit_code == 2, result.output  # as `smx launch` says it (tests/cli)
    assert "a1111 is not installed" in result.output and "smx sync" in result.output
    assert state_of(env_dir) == before
