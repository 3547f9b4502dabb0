"""Files placed by hand: `smx model pull local:FOLDER/FILE` registers one, and a file Civitai
publishes is recognised by its SHA-256 (`smx model identify`, and by the way when online)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from helpers import realheaders as rh
from helpers.fakehub import FakeHub

MiB = 1 << 20


def run(smx, env: Path, *args: str):
    return smx("--env", str(env), *args)


def place(env: Path, rel: str, data: bytes) -> Path:
    path = env / "Data/Models" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def detailer(hub: FakeHub) -> bytes:
    """A LoRA Civitai publishes (with trigger words)."""
    data = rh.safetensors_file(rh.kohya_lora("SDXL"), pad_to=MiB, fill=5)
    hub.civitai_publish(58390, 62833, data, name="v1.0", model_name="Detail Tweaker XL",
                        model_type="LORA", base_model="SDXL 1.0",
                        filename="add-detail-xl.safetensors",
                        trained_words=["detailed", "intricate details"])
    return data


def test_a_hand_placed_file_becomes_an_entry_in_one_command(hub: FakeHub, env_dir: Path, smx,
                                                            read_toml) -> None:
    place(env_dir, "Lora/my-style.safetensors",
          rh.safetensors_file(rh.kohya_lora("SD 1.x"), pad_to=MiB))
    result = run(smx, env_dir, "model", "pull", "local:Lora/my-style.safetensors")
    assert result.exit_code == 0, result.output
    assert "my-style: lora, SD 1.x" in result.stdout and "registered as local:" in result.stdout
    assert read_toml(env_dir / "smx.toml")["models"]["my-style"] == {
        "source": "local:Lora/my-style.safetensors"}
    locked = read_toml(env_dir / "smx.lock")["models"]["my-style"]
    assert (locked["kind"], locked["base_model"]) == ("lora", "SD 1.x")  # from its header
    assert "not on Civitai" in result.stderr  # asked once by hash: Civitai has no such file
    assert hub.requests_to("cdn") == []  # nothing downloaded
    assert run(smx, env_dir, "sync").exit_code == 0


def test_not_on_civitai_is_said_once(hub: FakeHub, env_dir: Path, smx) -> None:
    place(env_dir, "Lora/mine.safetensors", rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    first = run(smx, env_dir, "model", "pull", "local:Lora/mine.safetensors")
    assert "not on Civitai" in first.stderr
    again = run(smx, env_dir, "model", "pull", "local:Lora/mine.safetensors")
    assert again.exit_code == 0 and "not on Civitai" not in again.stderr
    assert len(hub.requests_to("api", "/by-hash/")) == 1
    asked = run(smx, env_dir, "model", "identify")  # asking on purpose asks again
    assert asked.exit_code == 0 and "not on Civitai" in asked.stderr
    assert len(hub.requests_to("api", "/by-hash/")) == 2


def test_a_file_civitai_publishes_becomes_that_version(detailer: bytes, hub: FakeHub,
                                                       env_dir: Path, smx, read_toml) -> None:
    place(env_dir, "Lora/detail (my copy).safetensors", detailer)
    result = run(smx, env_dir, "model", "pull", "local:Lora/detail (my copy).safetensors",
                 "--name", "detail")
    assert result.exit_code == 0, result.output
    assert "detail: on Civitai as Detail Tweaker XL v1.0 (civitai:58390@62833" in result.stderr
    (lookup,) = hub.requests_to("api", "/by-hash/")
    assert lookup.path.endswith(f"/by-hash/{__import__('hashlib').sha256(detailer).hexdigest()}")
    # the file stays where it is, under its own name; another machine can now download it
    assert read_toml(env_dir / "smx.toml")["models"]["detail"] == {
        "source": "civitai:58390@62833", "file": "628330",
        "filename": "detail (my copy).safetensors"}
    locked = read_toml(env_dir / "smx.lock")["models"]["detail"]
    assert locked["civitai"] == {"model_id": 58390, "version_id": 62833, "file_id": 628330}
    assert locked["base_model"] == "SDXL 1.0"
    assert locked["trigger_words"] == ["detailed", "intricate details"]
    hub.clear_records()
    assert run(smx, env_dir, "sync").exit_code == 0
    assert run(smx, env_dir, "sync", "--frozen").exit_code == 0
    assert hub.requests == []  # in sync: nothing asked, nothing downloaded
    again = run(smx, env_dir, "model", "pull", "local:Lora/detail (my copy).safetensors")
    assert again.exit_code == 0 and "is already model detail (civitai:58390@62833)" in \
        again.stderr
    assert list(read_toml(env_dir / "smx.toml")["models"]) == ["detail"]
    listed = json.loads(run(smx, env_dir, "model", "list", "--json").stdout)
    assert listed["data"]["models"][0]["trigger_words"] == ["detailed", "intricate details"]
    human = run(smx, env_dir, "model", "list")
    assert "detailed, intricate details" in human.stdout


def test_identify_turns_local_entries_into_civitai_ones(detailer: bytes, hub: FakeHub,
                                                        env_dir: Path, smx, read_toml) -> None:
    place(env_dir, "Lora/add-detail-xl.safetensors", detailer)
    place(env_dir, "Lora/own.safetensors", rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[models]\n", (
        '[models]\nadd-detail = { source = "local:Lora/add-detail-xl.safetensors" }\n'
        'own = { source = "local:Lora/own.safetensors" }\n')))
    assert run(smx, env_dir, "sync").exit_code == 0
    result = run(smx, env_dir, "model", "identify", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["data"]["models"]}
    assert rows["add-detail"]["status"] == "identified"
    assert rows["add-detail"]["source"] == "civitai:58390@62833"
    assert rows["add-detail"]["trigger_words"] == ["detailed", "intricate details"]
    assert rows["own"]["status"] == "not-on-civitai"
    models = read_toml(manifest)["models"]
    assert models["add-detail"] == {"source": "civitai:58390@62833", "file": "628330"}
    assert models["own"] == {"source": "local:Lora/own.safetensors"}


def test_identify_without_civitai_fails_and_changes_nothing(env_dir: Path, smx,
                                                            monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SMX_CIVITAI_ENDPOINT", f"http://127.0.0.1:{sock.getsockname()[1]}")
    place(env_dir, "Lora/own.safetensors", rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    pulled = run(smx, env_dir, "model", "pull", "local:Lora/own.safetensors")
    assert pulled.exit_code == 0, pulled.output  # registering works offline
    assert "Civitai could not be reached" in pulled.stderr
    before = (env_dir / "smx.toml").read_bytes()
    result = run(smx, env_dir, "model", "identify")
    assert result.exit_code == 3 and "connection refused" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before


def test_a_missing_local_file_is_not_said_to_be_there(env_dir: Path, smx) -> None:
    before = (env_dir / "smx.toml").read_bytes()
    result = run(smx, env_dir, "model", "pull", "local:Lora/nothere.safetensors")
    assert result.exit_code != 0
    assert "there is no file Lora/nothere.safetensors in Data/Models" in result.stderr
    assert "already in Data/Models" not in result.output
    assert (env_dir / "smx.toml").read_bytes() == before


def test_a_kind_against_the_folder_is_refused(env_dir: Path, smx) -> None:
    place(env_dir, "Lora/x.safetensors", rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    result = run(smx, env_dir, "model", "pull", "local:Lora/x.safetensors", "--kind", "vae")
    assert result.exit_code == 2
    assert "a vae belongs in VAE/" in result.stderr


def test_a_file_in_the_wrong_folder_is_registered_with_a_warning(hub: FakeHub, env_dir: Path,
                                                                 smx) -> None:
    place(env_dir, "StableDiffusion/lora-by-mistake.safetensors",
          rh.safetensors_file(rh.kohya_lora("SDXL")))
    result = run(smx, env_dir, "model", "pull",
                 "local:StableDiffusion/lora-by-mistake.safetensors")
    assert result.exit_code == 0, result.output
    assert "is in the checkpoint folder, but its header shows a lora (SDXL)" in result.stderr


def test_verify_does_not_offer_to_download_a_local_model(hub: FakeHub, env_dir: Path,
                                                         smx) -> None:
    path = place(env_dir, "Lora/own.safetensors", rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    assert run(smx, env_dir, "model", "pull", "local:Lora/own.safetensors").exit_code == 0
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run(smx, env_dir, "model", "verify")
    assert result.exit_code == 4
    assert "download" not in result.stderr.replace("cannot be downloaded", "")
    assert "own: a local: model, it exists only on this disk and cannot be downloaded" in \
        result.stderr
    assert "put the original file back" in result.stderr
