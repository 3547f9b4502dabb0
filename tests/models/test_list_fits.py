"""`smx model list` in an 80-column terminal: one line per model, long sources shortened in the
middle with …; `--wide` for every column in full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import realheaders as rh
from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes

MiB = 1 << 20
DEPTH = "hf:lllyasviel/sd_control_collection/diffusers_xl_depth_full.safetensors"


def run(smx, env: Path, *args: str):
    return smx("--env", str(env), *args)


@pytest.fixture
def stocked(hub: FakeHub, env_dir: Path, smx) -> Path:
    hub.civitai_publish(261336, 597138, rh.safetensors_file(rh.checkpoint("SDXL"), pad_to=MiB),
                        name="v5.0.0", filename="animaPencilXL_v500.safetensors")
    hub.civitai_publish(58390, 62833, rh.safetensors_file(rh.kohya_lora("SDXL"), pad_to=MiB),
                        name="v1.0", model_name="Detail Tweaker XL", model_type="LORA",
                        trained_words=["detailed", "intricate details", "sharp focus"])
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    hub.hf_commit("lllyasviel/sd_control_collection", {
        "diffusers_xl_depth_full.safetensors": rh.safetensors_file(
            rh.controlnet_diffusers("SDXL"), pad_to=MiB)})
    for ref in ("civitai:261336", "civitai:58390", "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt",
                DEPTH):
        result = run(smx, env_dir, "model", "pull", ref)
        assert result.exit_code == 0, result.output
    return env_dir


def test_eighty_columns_give_one_line_per_model(stocked: Path, smx, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run(smx, stocked, "model", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").splitlines()
    assert len(lines) == 1 + 4  # the header and one line per model
    assert all(len(line.rstrip()) <= 80 for line in lines), lines
    depth = next(line for line in lines if line.startswith("diffusers_xl_depth"))
    source = next(word for word in depth.split() if word.startswith("hf:"))
    assert "…" in source and DEPTH.startswith(source.split("…")[0])
    assert DEPTH.endswith(source.split("…")[1])
    header = lines[0].split()
    assert header[:6] == ["name", "kind", "base", "size", "source", "state"]


def test_trigger_words_are_shown_when_there_is_room(stocked: Path, smx, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    lines = run(smx, stocked, "model", "list").stdout.splitlines()
    assert lines[0].split()[-1] == "triggers"
    lora = next(line for line in lines if line.startswith("detail-tweaker-xl"))
    assert lora.rstrip().endswith("detailed, intricate details, sharp focus")
    data = json.loads(run(smx, stocked, "model", "list", "--json").stdout)["data"]
    rows = {r["name"]: r for r in data["models"]}
    assert rows["detail-tweaker-xl"]["trigger_words"] == ["detailed", "intricate details",
                                                          "sharp focus"]
    assert rows["anima_pencil-xl"]["trigger_words"] == []


def test_wide_shows_every_column_in_full(stocked: Path, smx, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run(smx, stocked, "model", "list", "--wide")
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert DEPTH in result.stdout and "…" not in result.stdout
    assert lines[0].split()[:7] == ["name", "kind", "base", "size", "source", "locked", "sha256"]
