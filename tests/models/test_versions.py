"""Several versions of one model side by side (`dreamshaper`, `dreamshaper-7`), and `--replace`
to move an entry to another version instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import realheaders as rh
from helpers.fakehub import FakeHub

MiB = 1 << 20
STORE = "Data/Models/StableDiffusion"


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


@pytest.fixture
def dreamshaper(hub: FakeHub) -> FakeHub:
    """DreamShaper (civitai:4384): version "7" and the newer "8", SD 1.5 checkpoints."""
    for version, name, fill in ((109123, "7", 7), (128713, "8", 8)):
        hub.civitai_publish(4384, version, rh.safetensors_file(
            rh.checkpoint("SD 1.x"), pad_to=MiB, fill=fill), name=name, model_name="DreamShaper",
            base_model="SD 1.5", filename=f"dreamshaper_{name}.safetensors")
    return hub


def test_another_version_is_added_next_to_the_first(dreamshaper: FakeHub, env_dir: Path, smx,
                                                    read_toml) -> None:
    assert pull(smx, env_dir, "civitai:4384").exit_code == 0
    result = pull(smx, env_dir, "civitai:4384@109123")
    assert result.exit_code == 0, result.output
    assert "dreamshaper-7" in result.stdout
    assert "added next to dreamshaper, which keeps its version" in result.stderr
    assert read_toml(env_dir / "smx.toml")["models"] == {
        "dreamshaper": {"source": "civitai:4384"},
        "dreamshaper-7": {"source": "civitai:4384@109123"}}
    locked = read_toml(env_dir / "smx.lock")["models"]
    assert (locked["dreamshaper"]["source"], locked["dreamshaper-7"]["source"]) == (
        "civitai:4384@128713", "civitai:4384@109123")
    assert (env_dir / STORE / "dreamshaper_8.safetensors").is_file()
    assert (env_dir / STORE / "dreamshaper_7.safetensors").is_file()
    listed = smx("--env", str(env_dir), "model", "list")
    assert "dreamshaper-7" in listed.stdout and "civitai:4384@109123" in listed.stdout


def test_replace_moves_the_entry_and_removes_the_old_file(dreamshaper: FakeHub, env_dir: Path,
                                                          smx, read_toml) -> None:
    assert pull(smx, env_dir, "civitai:4384").exit_code == 0
    result = pull(smx, env_dir, "civitai:4384@109123", "--replace")
    assert result.exit_code == 0, result.output
    assert "dreamshaper moved from civitai:4384 to civitai:4384@109123" in result.stderr
    assert read_toml(env_dir / "smx.toml")["models"] == {
        "dreamshaper": {"source": "civitai:4384@109123"}}
    assert not (env_dir / STORE / "dreamshaper_8.safetensors").exists()
    assert (env_dir / STORE / "dreamshaper_7.safetensors").is_file()


def test_a_version_the_entry_already_holds_adds_nothing(dreamshaper: FakeHub, env_dir: Path, smx,
                                                        read_toml) -> None:
    assert pull(smx, env_dir, "civitai:4384").exit_code == 0  # locked at 128713
    result = pull(smx, env_dir, "civitai:4384@128713")
    assert result.exit_code == 0, result.output
    assert "already present" in result.stdout
    assert list(read_toml(env_dir / "smx.toml")["models"]) == ["dreamshaper"]


def test_versions_shipped_under_one_file_name_get_their_own(hub: FakeHub, env_dir: Path, smx,
                                                           read_toml) -> None:
    for version, name, fill in ((1, "v1", 1), (2, "v2", 2)):
        hub.civitai_publish(77, version, rh.safetensors_file(
            rh.kohya_lora("SDXL"), pad_to=MiB, fill=fill), name=name, model_name="Detailer",
            model_type="LORA", filename="detailer.safetensors")
    assert pull(smx, env_dir, "civitai:77").exit_code == 0
    result = pull(smx, env_dir, "civitai:77@1")
    assert result.exit_code == 0, result.output
    assert read_toml(env_dir / "smx.toml")["models"]["detailer-v1"] == {
        "source": "civitai:77@1", "filename": "detailer-v1.safetensors"}
    lora = env_dir / "Data/Models/Lora"
    assert {p.name for p in lora.iterdir()} == {"detailer.safetensors",
                                               "detailer-v1.safetensors"}
    assert smx("--env", str(env_dir), "model", "verify").exit_code == 0


def test_replace_among_several_versions_asks_which(dreamshaper: FakeHub, env_dir: Path,
                                                   smx) -> None:
    assert pull(smx, env_dir, "civitai:4384@128713").exit_code == 0
    assert pull(smx, env_dir, "civitai:4384@109123").exit_code == 0
    dreamshaper.civitai_publish(4384, 200000, rh.safetensors_file(
        rh.checkpoint("SD 1.x"), pad_to=MiB, fill=9), name="9", model_name="DreamShaper",
        base_model="SD 1.5", filename="dreamshaper_9.safetensors")
    result = pull(smx, env_dir, "civitai:4384@200000", "--replace")
    assert result.exit_code == 2
    assert "several entries hold versions of this model: dreamshaper, dreamshaper-7" in \
        result.stderr
    assert "--name NAME --replace" in result.stderr
    named = pull(smx, env_dir, "civitai:4384@200000", "--replace", "--name", "dreamshaper-7")
    assert named.exit_code == 0, named.output
    assert not (env_dir / STORE / "dreamshaper_7.safetensors").exists()


def test_a_name_taken_by_another_version_suggests_replace(dreamshaper: FakeHub, env_dir: Path,
                                                          smx) -> None:
    assert pull(smx, env_dir, "civitai:4384").exit_code == 0
    result = pull(smx, env_dir, "civitai:4384@109123", "--name", "dreamshaper")
    assert result.exit_code == 2
    assert "add --replace to move dreamshaper to this version" in result.stderr
