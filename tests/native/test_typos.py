"""A newcomer's typos get the right name suggested, with exit code 2 and nothing written."""

from __future__ import annotations

from pathlib import Path


def test_a_mistyped_command_suggests_the_right_one(smx) -> None:
    result = smx("instal", "comfyui")
    assert result.exit_code == 2
    assert "no such command 'instal'" in result.stderr
    assert "hint: did you mean 'install'" in result.stderr


def test_a_mistyped_subcommand_suggests_the_right_one(smx) -> None:
    result = smx("model", "lst")
    assert result.exit_code == 2 and "did you mean 'list'?" in result.stderr


def test_a_mistyped_package_suggests_the_catalog_name_and_creates_nothing(smx, tmp_path: Path
                                                                           ) -> None:
    result = smx("install", "comfy", cwd=tmp_path)
    assert result.exit_code == 2
    assert "unknown package 'comfy'" in result.stderr
    assert "did you mean 'comfyui'?" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no environment made for a typo


def test_a_mistyped_name_in_the_environment_is_suggested(smx, sm_library) -> None:
    assert smx("init", "--adopt", str(sm_library.root)).exit_code == 0
    env = str(sm_library.root)
    launch = smx("--env", env, "launch", "comfyu")
    assert launch.exit_code == 2 and "did you mean 'ComfyUI'?" in launch.stderr
    remove = smx("--env", env, "remove", "comfyu", "--yes")
    assert remove.exit_code == 2 and "did you mean 'ComfyUI'?" in remove.stderr
    model = smx("--env", env, "model", "remove", "edite", "--yes")
    assert model.exit_code == 2 and "did you mean 'edited'?" in model.stderr


def test_a_mistyped_key_in_smx_toml_is_suggested(env_dir: Path, smx) -> None:
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n",
                                                     '[packages.c]\nsorce = "comfyui"\n'))
    result = smx("--env", str(env_dir), "sync", "--dry-run")
    assert result.exit_code == 2
    assert "smx.toml:" in result.stderr and "did you mean 'source'?" in result.stderr
