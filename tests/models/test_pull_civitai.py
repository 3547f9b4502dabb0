"""`smx model pull` from Civitai: every reference form, kinds, versions, what gets recorded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub, load_fixture
from helpers.payloads import safetensors_bytes
from smx.models.settings import services
from smx.models.sources.civitai import _to_resolved

MiB = 1 << 20


@pytest.fixture
def anima(hub: FakeHub) -> dict[int, bytes]:
    """anima_pencil-XL with an older v3.1.0 and the newest v5.0.0, as on Civitai."""
    old, new = safetensors_bytes(2 * MiB, seed=31), safetensors_bytes(3 * MiB, seed=50)
    hub.civitai_publish(261336, 465206, old, name="v3.1.0",
                        filename="animaPencilXL_v310.safetensors")
    hub.civitai_publish(261336, 597138, new, name="v5.0.0",
                        filename="animaPencilXL_v500.safetensors")
    return {465206: old, 597138: new}


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


def test_civitai_id_pulls_the_newest_version_into_the_checkpoint_folder(
        anima, env_dir: Path, smx, read_toml) -> None:
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 0, result.output
    placed = env_dir / "Data/Models/StableDiffusion/animaPencilXL_v500.safetensors"
    assert placed.read_bytes() == anima[597138]
    assert "anima_pencil-xl" in result.stdout and "checkpoint, SDXL 1.0" in result.stdout
    manifest = read_toml(env_dir / "smx.toml")
    assert manifest["models"] == {"anima_pencil-xl": {"source": "civitai:261336"}}
    locked = read_toml(env_dir / "smx.lock")["models"]["anima_pencil-xl"]
    assert locked == {
        "source": "civitai:261336@597138", "kind": "checkpoint",
        "filename": "animaPencilXL_v500.safetensors", "size": 3 * MiB,
        "sha256": hashlib.sha256(anima[597138]).hexdigest(), "base_model": "SDXL 1.0",
        "civitai": {"model_id": 261336, "version_id": 597138, "file_id": 5971380}}


def test_a_pinned_version_is_pulled_and_stays_pinned_in_smx_toml(
        anima, env_dir: Path, smx, read_toml) -> None:
    result = pull(smx, env_dir, "civitai:261336@465206")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/StableDiffusion/animaPencilXL_v310.safetensors"
            ).read_bytes() == anima[465206]
    assert read_toml(env_dir / "smx.toml")["models"]["anima_pencil-xl"] == {
        "source": "civitai:261336@465206"}


@pytest.mark.parametrize("url", [
    "https://civitai.com/models/261336/animapencil-xl?modelVersionId=465206",
    "https://civitai.com/api/download/models/465206",
])
def test_civitai_page_and_download_urls_become_references(
        anima, env_dir: Path, smx, read_toml, url: str) -> None:
    result = pull(smx, env_dir, url)
    assert result.exit_code == 0, result.output
    assert read_toml(env_dir / "smx.toml")["models"]["anima_pencil-xl"] == {
        "source": "civitai:261336@465206"}
    assert (env_dir / "Data/Models/StableDiffusion/animaPencilXL_v310.safetensors").exists()


def test_the_download_follows_the_api_download_url_to_the_cdn(
        anima, hub: FakeHub, env_dir: Path, smx) -> None:
    assert pull(smx, env_dir, "civitai:261336").exit_code == 0
    (download,) = hub.requests_to("api", "/api/download/models/597138")
    assert download.status == 307
    (blob,) = hub.requests_to("cdn")
    assert blob.query["response-content-disposition"] == [
        'attachment; filename="animaPencilXL_v500.safetensors"']
    assert blob.headers["user-agent"].startswith("smx/")


@pytest.mark.parametrize(("civitai_type", "folder", "kind"), [
    ("LORA", "Lora", "lora"), ("LoCon", "Lora", "lora"),
    ("TextualInversion", "Embeddings", "embedding"), ("VAE", "VAE", "vae"),
    ("Controlnet", "ControlNet", "controlnet"), ("MotionModule", "AnimateDiff", "motion-module"),
    ("Upscaler", "ESRGAN", "upscaler"),
])
def test_the_civitai_type_decides_kind_and_folder(hub: FakeHub, env_dir: Path, smx, read_toml,
                                                  civitai_type: str, folder: str,
                                                  kind: str) -> None:
    data = safetensors_bytes(MiB, family="SD 1.x", seed=7)
    hub.civitai_publish(1000, 2000, data, model_name="Some Thing", model_type=civitai_type,
                        filename="thing.safetensors", base_model="SD 1.5")
    result = pull(smx, env_dir, "civitai:1000")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models" / folder / "thing.safetensors").read_bytes() == data
    locked = read_toml(env_dir / "smx.lock")["models"]["some-thing"]
    assert locked["kind"] == kind and locked["base_model"] == "SD 1.5"


def test_file_picks_a_non_primary_file_and_its_own_kind(hub: FakeHub, env_dir: Path, smx,
                                                        read_toml) -> None:
    vae = safetensors_bytes(MiB, family=None, seed=9)
    extra = hub.civitai_file(77, "animaPencilXL_vae.safetensors", vae, type="VAE")
    hub.civitai_publish(261336, 597138, safetensors_bytes(MiB, seed=8), name="v5.0.0",
                        extra_files=[extra])
    result = pull(smx, env_dir, "civitai:261336", "--file", "VAE", "--name", "anima-vae")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/VAE/animaPencilXL_vae.safetensors").read_bytes() == vae
    assert read_toml(env_dir / "smx.toml")["models"]["anima-vae"] == {
        "source": "civitai:261336", "file": "VAE"}
    assert read_toml(env_dir / "smx.lock")["models"]["anima-vae"]["civitai"]["file_id"] == 77
    (download,) = hub.requests_to("api", "/api/download/models/")
    assert download.query == {"type": ["VAE"], "format": ["SafeTensor"]}


def test_an_unknown_file_lists_the_files_there_are(anima, env_dir: Path, smx) -> None:
    result = pull(smx, env_dir, "civitai:261336", "--file", "nope.ckpt")
    assert result.exit_code == 2
    assert "has no file 'nope.ckpt'" in result.stderr
    assert "animaPencilXL_v500.safetensors" in result.stderr


def test_the_newest_published_version_wins_whatever_the_list_order(hub: FakeHub,
                                                                   env_dir: Path, smx) -> None:
    hub.civitai_publish(5, 51, safetensors_bytes(MiB, seed=1), name="new",
                        published_at="2025-03-01T00:00:00.000Z", filename="new.safetensors")
    hub.civitai_publish(5, 50, safetensors_bytes(MiB, seed=2), name="old",
                        published_at="2024-03-01T00:00:00.000Z", filename="old.safetensors")
    assert pull(smx, env_dir, "civitai:5").exit_code == 0
    assert (env_dir / "Data/Models/StableDiffusion/new.safetensors").exists()


def test_pull_json_reports_what_was_done(anima, env_dir: Path, smx) -> None:
    result = pull(smx, env_dir, "civitai:261336", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["smx_result_version"] == "1" and doc["command"] == "model pull"
    data = doc["data"]
    assert data["action"] == "downloaded" and data["kind"] == "checkpoint"
    assert data["path"] == "Data/Models/StableDiffusion/animaPencilXL_v500.safetensors"
    assert data["fetched"] == 3 * MiB


def test_the_real_api_shapes_resolve_to_the_real_file_facts() -> None:
    """Parsing the recorded body of GET /api/v1/model-versions/597138 (real values)."""
    version = load_fixture("civitai/model-version-597138.json")
    svc = services()
    resolved = _to_resolved(version, 261336, "anima_pencil-XL", "Checkpoint", None,
                            "https://civitai.example", svc)
    assert resolved.filename == "animaPencilXL_v500.safetensors"
    assert resolved.size == 6938041144 and resolved.size_exact
    assert resolved.sha256 == ("896faa18cd6852ccf977e2dec76191c38f256d031204e233cb3ed76f6088"
                               "d55b")
    assert resolved.kind == "checkpoint" and resolved.base_model == "SDXL 1.0"
    assert resolved.source == "civitai:261336@597138"
    # downloadUrl names civitai.com; behind another endpoint the mirror serves it
    assert resolved.url == "https://civitai.example/api/download/models/597138"


def test_the_model_endpoint_shape_picks_the_newest_version() -> None:
    model = load_fixture("civitai/models-261336.json")
    ids = [v["id"] for v in model["modelVersions"]]
    assert ids[0] == 597138
    from smx.models.sources.civitai import _published

    assert max(model["modelVersions"], key=_published)["id"] == 597138
