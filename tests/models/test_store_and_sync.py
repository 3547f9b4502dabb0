"""The shared store and sync: stored once, no-op syncs stay offline, the lock is what gets
rebuilt, removals, listing and verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes

MiB = 1 << 20
CKPT = "Data/Models/StableDiffusion/animaPencilXL_v500.safetensors"


def run(smx, env: Path, *args: str, **kwargs: str):
    return smx("--env", str(env), *args, **kwargs)


@pytest.fixture
def anima(hub: FakeHub) -> bytes:
    data = safetensors_bytes(2 * MiB, seed=50)
    hub.civitai_publish(261336, 597138, data, name="v5.0.0",
                        filename="animaPencilXL_v500.safetensors")
    return data


@pytest.fixture
def pulled(anima: bytes, env_dir: Path, smx, hub: FakeHub) -> Path:
    result = run(smx, env_dir, "model", "pull", "civitai:261336", "--name", "anima")
    assert result.exit_code == 0, result.output
    hub.clear_records()
    return env_dir


def test_pulling_the_same_reference_again_downloads_nothing(pulled: Path, smx, hub: FakeHub
                                                            ) -> None:
    before = (pulled / "smx.toml").read_bytes()
    result = run(smx, pulled, "model", "pull", "civitai:261336")
    assert result.exit_code == 0, result.output
    assert "anima: checkpoint, SDXL 1.0, 2.1 MB; already present" in result.stdout
    assert hub.requests_to("cdn") == []
    assert (pulled / "smx.toml").read_bytes() == before  # no second entry


def test_the_same_file_under_another_name_is_stored_once(pulled: Path, smx, hub: FakeHub,
                                                         read_toml) -> None:
    result = run(smx, pulled, "model", "pull", "civitai:261336", "--name", "anima-copy")
    assert result.exit_code == 0, result.output
    assert hub.requests_to("cdn") == []
    files = [p for p in (pulled / "Data/Models").rglob("*") if p.is_file()]
    assert [p.relative_to(pulled).as_posix() for p in files] == [CKPT]
    assert set(read_toml(pulled / "smx.lock")["models"]) == {"anima", "anima-copy"}


def test_the_same_bytes_as_another_kind_are_hard_linked(pulled: Path, smx, hub: FakeHub,
                                                        anima: bytes) -> None:
    hub.hf_commit("someone/mirror", {"anima_vae.safetensors": anima})  # same bytes, other repo
    result = run(smx, pulled, "model", "pull", "hf:someone/mirror/anima_vae.safetensors",
                 "--kind", "vae")
    assert result.exit_code == 0, result.output
    assert "hard link instead of a second download" in result.stderr
    assert hub.requests_to("cdn") == []
    linked = pulled / "Data/Models/VAE/anima_vae.safetensors"
    assert linked.samefile(pulled / CKPT) and linked.stat().st_nlink == 2


def test_a_no_op_sync_makes_no_network_request(pulled: Path, smx, hub: FakeHub) -> None:
    result = run(smx, pulled, "sync")
    assert result.exit_code == 0, result.output
    assert hub.requests == []


def test_a_missing_file_is_fetched_again_from_the_lock_without_asking_the_api(
        pulled: Path, smx, hub: FakeHub, anima: bytes) -> None:
    (pulled / CKPT).unlink()
    hub.civitai_publish(261336, 700000, safetensors_bytes(MiB, seed=70), name="v6.0.0")
    result = run(smx, pulled, "sync")
    assert result.exit_code == 0, result.output
    assert (pulled / CKPT).read_bytes() == anima  # the locked version, not the newer one
    (download,) = hub.requests_to("api")
    assert download.path == "/api/download/models/597138"
    assert download.query == {"fileId": ["5971380"]}


def test_frozen_sync_installs_exactly_the_lock(pulled: Path, smx, hub: FakeHub, anima: bytes
                                               ) -> None:
    (pulled / CKPT).unlink()
    result = run(smx, pulled, "sync", "--frozen")
    assert result.exit_code == 0, result.output
    assert (pulled / CKPT).read_bytes() == anima
    assert [r.path for r in hub.requests_to("api")] == ["/api/download/models/597138"]


def test_frozen_sync_refuses_a_manifest_that_left_the_lock(pulled: Path, smx) -> None:
    manifest = pulled / "smx.toml"
    manifest.write_text(manifest.read_text().replace('"civitai:261336"',
                                                     '"civitai:261336@465206"'))
    result = run(smx, pulled, "sync", "--frozen")
    assert result.exit_code == 2
    error = result.stderr.splitlines()[0]
    assert error.startswith("error:") and "'anima'" in error and "smx.lock" in error


def test_pinning_another_version_in_smx_toml_swaps_the_file(pulled: Path, smx, hub: FakeHub,
                                                             read_toml) -> None:
    older = safetensors_bytes(MiB, seed=31)
    hub.civitai_publish(261336, 465206, older, name="v3.1.0",
                        filename="animaPencilXL_v310.safetensors",
                        published_at="2023-01-01T00:00:00.000Z")
    manifest = pulled / "smx.toml"
    manifest.write_text(manifest.read_text().replace('"civitai:261336"',
                                                     '"civitai:261336@465206"'))
    result = run(smx, pulled, "sync")
    assert result.exit_code == 0, result.output
    assert (pulled / "Data/Models/StableDiffusion/animaPencilXL_v310.safetensors"
            ).read_bytes() == older
    assert not (pulled / CKPT).exists()  # the replaced version's file is gone
    assert read_toml(pulled / "smx.lock")["models"]["anima"]["civitai"]["version_id"] == 465206


def test_pulling_again_takes_a_newly_published_version(pulled: Path, smx, hub: FakeHub,
                                                       read_toml) -> None:
    newer = safetensors_bytes(MiB, seed=60)
    hub.civitai_publish(261336, 650000, newer, name="v6.0.0",
                        filename="animaPencilXL_v600.safetensors")
    assert run(smx, pulled, "sync").exit_code == 0  # sync keeps the lock
    assert hub.requests == []
    result = run(smx, pulled, "model", "pull", "civitai:261336")
    assert result.exit_code == 0, result.output
    assert (pulled / "Data/Models/StableDiffusion/animaPencilXL_v600.safetensors"
            ).read_bytes() == newer
    assert read_toml(pulled / "smx.lock")["models"]["anima"]["civitai"]["version_id"] == 650000


def test_a_model_dropped_from_smx_toml_is_removed_by_sync(pulled: Path, smx,
                                                          read_toml) -> None:
    manifest = pulled / "smx.toml"
    manifest.write_text(manifest.read_text().replace('anima = {source = "civitai:261336"}\n',
                                                     ""))
    result = run(smx, pulled, "sync")
    assert result.exit_code == 0, result.output
    assert not (pulled / CKPT).exists()
    assert read_toml(pulled / "smx.lock")["models"] == {}


def test_remove_without_a_terminal_asks_for_yes(pulled: Path, smx) -> None:
    before = (pulled / "smx.toml").read_bytes()
    result = run(smx, pulled, "model", "remove", "anima", input="y\n")  # piped: not an answer
    assert result.exit_code == 2 and "confirm with --yes" in result.output
    assert (pulled / CKPT).exists() and (pulled / "smx.toml").read_bytes() == before


def test_remove_yes_deletes_entry_lock_and_file(pulled: Path, smx, read_toml) -> None:
    result = run(smx, pulled, "model", "remove", "anima", "--yes")
    assert result.exit_code == 0, result.output
    assert not (pulled / CKPT).exists()
    assert "anima" not in read_toml(pulled / "smx.toml")["models"]
    assert read_toml(pulled / "smx.lock")["models"] == {}


def test_remove_keeps_a_file_another_entry_still_uses(pulled: Path, smx) -> None:
    assert run(smx, pulled, "model", "pull", "civitai:261336", "--name", "twin").exit_code == 0
    result = run(smx, pulled, "model", "remove", "anima", "--yes")
    assert result.exit_code == 0, result.output
    assert (pulled / CKPT).exists()
    assert "file kept" in result.stdout


def test_remove_of_an_unknown_model_suggests_a_name(pulled: Path, smx) -> None:
    result = run(smx, pulled, "model", "remove", "anma", "--yes")
    assert result.exit_code == 2 and "did you mean 'anima'" in result.stderr


def test_list_shows_what_is_stored_and_who_uses_it(pulled: Path, smx, anima: bytes) -> None:
    manifest = pulled / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n",
                                                     '[packages.comfy]\nsource = "comfyui"\n'))
    result = run(smx, pulled, "model", "list", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["data"]["models"]
    import hashlib

    assert row == {"name": "anima", "kind": "checkpoint", "base_model": "SDXL 1.0",
                   "size_bytes": 2 * MiB, "source": "civitai:261336",
                   "locked": "civitai:261336@597138",
                   "sha256": hashlib.sha256(anima).hexdigest(), "path": CKPT, "state": "ok",
                   "used_by": ["comfy"], "trigger_words": []}
    human = run(smx, pulled, "model", "list")
    assert "anima" in human.stdout and "checkpoint" in human.stdout
    wide = run(smx, pulled, "model", "list", "--wide")
    assert hashlib.sha256(anima).hexdigest()[:12] in wide.stdout and "comfy" in wide.stdout


def test_verify_passes_then_catches_corruption_with_exit_4(pulled: Path, smx) -> None:
    ok = run(smx, pulled, "model", "verify")
    assert ok.exit_code == 0 and "anima: ok" in ok.stdout
    path = pulled / CKPT
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = run(smx, pulled, "model", "verify")
    assert bad.exit_code == 4
    assert "anima: corrupt: sha256" in bad.stderr and "smx.lock says" in bad.stderr
    as_json = json.loads(run(smx, pulled, "model", "verify", "--json").stdout)
    assert as_json["exit_code"] == 4 and as_json["data"]["models"][0]["status"] == "corrupt"
    path.unlink()
    missing = run(smx, pulled, "model", "verify")
    assert missing.exit_code == 4 and "anima: missing" in missing.stderr


def test_a_file_already_there_with_the_right_bytes_is_adopted(anima: bytes, env_dir: Path,
                                                              smx, hub: FakeHub) -> None:
    target = env_dir / CKPT
    target.write_bytes(anima)  # copied in by hand
    result = run(smx, env_dir, "model", "pull", "civitai:261336")
    assert result.exit_code == 0, result.output
    assert hub.requests_to("cdn") == []


def test_a_different_file_in_the_way_is_not_overwritten(anima: bytes, env_dir: Path, smx,
                                                        hub: FakeHub) -> None:
    target = env_dir / CKPT
    target.write_bytes(b"someone else's file")
    before = (env_dir / "smx.toml").read_bytes()
    result = run(smx, env_dir, "model", "pull", "civitai:261336")
    assert result.exit_code == 2
    assert "exists and is not the file smx is placing" in result.stderr
    assert target.read_bytes() == b"someone else's file"
    assert (env_dir / "smx.toml").read_bytes() == before


def test_a_hugging_face_model_is_rebuilt_from_the_lock_at_its_commit(
        hub: FakeHub, env_dir: Path, smx) -> None:
    from helpers.payloads import ckpt_bytes

    first = ckpt_bytes(pad_to=MiB)
    commit = hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": first})
    assert run(smx, env_dir, "model", "pull",
               "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt").exit_code == 0
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB + 1)})
    placed = env_dir / "Data/Models/AnimateDiff/mm_sdxl_v10_beta.ckpt"
    placed.unlink()
    hub.clear_records()
    result = run(smx, env_dir, "sync", "--frozen")
    assert result.exit_code == 0, result.output
    assert placed.read_bytes() == first  # the locked commit, though main moved on
    assert [r.path for r in hub.requests_to("hf")] == [
        f"/guoyww/animatediff/resolve/{commit}/mm_sdxl_v10_beta.ckpt"]  # no API call


def test_sync_dry_run_lists_model_steps_without_network(anima: bytes, env_dir: Path, smx,
                                                        hub: FakeHub) -> None:
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + 'anima = { source = "civitai:261336" }\n')
    result = run(smx, env_dir, "sync", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    (step,) = json.loads(result.stdout)["data"]["steps"]
    assert step["area"] == "model" and step["action"] == "pull" and step["target"] == "anima"
    assert hub.requests == []


def test_local_models_are_checked_and_recorded_never_downloaded(env_dir: Path, smx,
                                                                read_toml) -> None:
    import hashlib

    data = safetensors_bytes(MiB, seed=12)
    (env_dir / "Data/Models/Lora/mine.safetensors").write_bytes(data)
    manifest = env_dir / "smx.toml"
    entry = 'mine = { source = "local:Lora/mine.safetensors" }\n'
    manifest.write_text(manifest.read_text() + entry)
    result = run(smx, env_dir, "sync")
    assert result.exit_code == 0, result.output
    locked = read_toml(env_dir / "smx.lock")["models"]["mine"]
    assert locked["kind"] == "lora" and locked["sha256"] == hashlib.sha256(data).hexdigest()
    (env_dir / "Data/Models/Lora/mine.safetensors").unlink()
    missing = run(smx, env_dir, "sync")
    assert missing.exit_code == 2 and "cannot be downloaded" in missing.stderr
    manifest.write_text(manifest.read_text().replace(entry, ""))
    assert run(smx, env_dir, "sync").exit_code == 0
    assert read_toml(env_dir / "smx.lock")["models"] == {}


def test_a_lock_naming_an_unknown_kind_is_a_clear_error(pulled: Path, smx) -> None:
    lock = pulled / "smx.lock"
    lock.write_text(lock.read_text().replace('kind = "checkpoint"', 'kind = "hologram"'))
    result = run(smx, pulled, "sync")
    assert result.exit_code == 2
    assert "model kind 'hologram' is not one this smx knows" in result.stderr
