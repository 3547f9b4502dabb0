"""`smx init` as a newcomer meets it: clean refusals, the next step, and a Data/ that git
ignores."""

from __future__ import annotations

import subprocess
from pathlib import Path


def test_a_file_in_the_way_is_a_clean_usage_error(smx, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine\n")
    result = smx("init", str(tmp_path / "afile"))
    assert result.exit_code == 2
    assert "afile is a file, not a folder" in result.stderr
    assert "unexpected" not in result.output and "report it" not in result.output
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_no_environment_inside_another_ones_data_folder(smx, env_dir: Path) -> None:
    for inside in (env_dir / "Data", env_dir / "Data" / "Models",
                   env_dir / "Data" / "Models" / "Lora" / "new"):
        result = smx("init", str(inside))
        assert result.exit_code == 2, result.output
        assert f"the Data/ folder of the environment {env_dir}" in result.stderr
        assert not (inside / "smx.toml").exists()
    assert not (env_dir / "Data" / "Models" / "Lora" / "new").exists()


def test_no_plain_environment_inside_a_stability_matrix_store(smx, tmp_path: Path) -> None:
    library = tmp_path / "StabilityMatrix"
    for folder in ("Data/Models/Lora", "Data/Packages"):
        (library / folder).mkdir(parents=True)
    result = smx("init", str(library / "Data" / "Models" / "Lora"))
    assert result.exit_code == 2
    assert f"smx init --adopt {library}" in result.stderr
    assert not (library / "Data" / "Models" / "Lora" / "smx.toml").exists()


def test_install_refuses_the_same_place(smx, env_dir: Path) -> None:
    """`smx install` in a folder without smx.toml creates the env: same rule as init."""
    store = env_dir / "Data" / "Models" / "StableDiffusion"
    result = smx("--env", str(store), "install", "comfyui")
    assert result.exit_code == 2
    assert "Data/ folder of the environment" in result.stderr
    assert not (store / "smx.toml").exists()


def test_a_new_environment_prints_the_next_step_and_ignores_data(smx, tmp_path: Path) -> None:
    result = smx("init", str(tmp_path / "sd"), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "next: cd " in result.stderr and "smx doctor && smx install comfyui" in result.stderr

    repo = tmp_path / "sd"
    (repo / "Data" / "Models" / "Lora" / "big.safetensors").write_bytes(b"weights")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, check=True, capture_output=True,
                             text=True).stdout.split()
    assert tracked == ["smx.toml"]  # Data/ (and its .gitignore) never reaches the repository


def test_name_on_an_existing_environment_is_applied_and_said(smx, env_dir: Path) -> None:
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]", "# my notes\n[packages]"))

    renamed = smx("init", str(env_dir), "--name", "studio")
    again = smx("init", str(env_dir), "--name", "studio")

    assert renamed.exit_code == 0, renamed.output
    assert "[env] name is now 'studio'" in renamed.stdout
    assert 'name = "studio"' in manifest.read_text() and "# my notes" in manifest.read_text()
    assert again.exit_code == 0 and "already exists ([env] name 'studio')" in again.stdout


def test_adopt_with_name_is_refused_with_a_word(smx, tmp_path: Path) -> None:
    result = smx("init", "--adopt", str(tmp_path), "--name", "x")
    assert result.exit_code == 2 and "--name does not go with it" in result.stderr
