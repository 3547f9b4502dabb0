"""`smx init --adopt`: a Stability Matrix library becomes an smx environment in place —
packages, extensions and models registered, nothing copied, nothing downloaded."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from smlib import A1111_URL, COMFY_FORK_URL, SECRET, SmLibrary, snapshot

from smx.environment.env import Env

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def adopt_json(smx, path: Path) -> dict:
    result = smx("init", "--adopt", str(path), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["command"] == "init" and document["status"] == "ok"
    return document["data"]


def test_the_library_becomes_an_environment_next_to_data(smx, sm_library: SmLibrary) -> None:
    before = snapshot(sm_library.data)
    result = smx("init", "--adopt", str(sm_library.root))
    assert result.exit_code == 0, result.output
    assert "nothing was copied or downloaded" in result.output

    env = Env.open(sm_library.root)  # smx.toml and smx.lock validate
    assert env.root == sm_library.root.resolve()
    assert set(env.manifest.packages) == {"stable-diffusion-webui", "ComfyUI"}
    # every file that was there is untouched: same inode, size and mtime (nothing rewritten)
    after = snapshot(sm_library.data)
    assert {k: v for k, v in after.items() if k in before} == before
    new_files = set(after) - set(before)
    assert all(f.startswith(".smx/") for f in new_files), new_files


def test_packages_keep_their_folder_name_commit_and_venv(smx, sm_library: SmLibrary) -> None:
    smx("init", "--adopt", str(sm_library.root))
    env = Env.open(sm_library.root)

    webui = env.manifest.packages["stable-diffusion-webui"]
    assert (webui.source, webui.git, webui.ref) == ("a1111", None, "v1.10.1")  # catalog repo
    locked = env.lock.packages["stable-diffusion-webui"]
    assert locked.commit == sm_library.repos["a1111"].head
    assert locked.git == A1111_URL
    assert locked.python == ".".join(map(str, sys.version_info[:3]))  # venv pyvenv.cfg
    assert "torch==2.1.2+cu121" in locked.freeze
    assert locked.torch == ["torch==2.1.2+cu121", "torchvision==0.16.2+cu121"]
    assert locked.backend == "cuda"

    comfy = env.manifest.packages["ComfyUI"]
    assert (comfy.source, comfy.git, comfy.ref) == ("comfyui", COMFY_FORK_URL, "master")
    assert env.lock.packages["ComfyUI"].commit == sm_library.repos["comfyui"].head
    assert env.lock.packages["ComfyUI"].python is None  # no venv: sync will make one


def test_extensions_are_registered_with_their_remote_and_state(smx, sm_library) -> None:
    smx("init", "--adopt", str(sm_library.root))
    env = Env.open(sm_library.root)
    exts = env.manifest.packages["stable-diffusion-webui"].extensions
    assert set(exts) == {"sd-webui-controlnet", "old-ext"}
    assert exts["sd-webui-controlnet"].git == "https://github.com/Mikubill/sd-webui-controlnet"
    assert exts["old-ext"].enabled is False  # listed in A1111's config.json disabled_extensions
    nodes = env.manifest.packages["ComfyUI"].extensions
    assert set(nodes) == {"ComfyUI-AnimateDiff-Evolved"}
    locked = env.lock.packages["ComfyUI"].extensions["ComfyUI-AnimateDiff-Evolved"]
    assert len(locked.commit) == 40 and locked.git.endswith("ComfyUI-AnimateDiff-Evolved")


def test_a_token_in_a_remote_url_is_never_written_or_shown(smx, sm_library) -> None:
    result = smx("init", "--adopt", str(sm_library.root))
    again = smx("init", "--adopt", str(sm_library.root), "--json")
    for text in (result.output, again.output, (sm_library.root / "smx.toml").read_text(),
                 (sm_library.root / "smx.lock").read_text()):
        assert SECRET not in text


def test_models_are_hashed_and_civitai_downloads_keep_their_ids(smx, sm_library) -> None:
    data = adopt_json(smx, sm_library.root)
    env = Env.open(sm_library.root)
    by_file = {m.filename: m for m in env.lock.models.values()}

    ckpt = by_file["animaPencilXL_v500.safetensors"]
    assert ckpt.source == "civitai:261336@597138"
    assert ckpt.kind == "checkpoint"
    assert ckpt.civitai == {"model_id": 261336, "version_id": 597138, "file_id": 512345}
    assert ckpt.base_model == "SDXL 1.0"
    assert ckpt.sha256 == sm_library.sha256("StableDiffusion/animaPencilXL_v500.safetensors")
    assert ckpt.size == 300_000

    lora = by_file["my lora (v2).safetensors"]
    assert lora.source == "local:Lora/my lora (v2).safetensors" and lora.kind == "lora"
    assert lora.sha256 == sm_library.sha256("Lora/my lora (v2).safetensors")
    spec = env.manifest.models[lora.name]
    assert lora.name == "my-lora-v2"  # a valid smx name made from the file name
    assert (spec.source, spec.kind, spec.sha256) == (lora.source, "lora", lora.sha256)

    # a file that differs from what Civitai published is not claimed to be that download
    assert by_file["edited.safetensors"].source == "local:Lora/edited.safetensors"
    assert any("edited.safetensors" in w and "SHA-256" in w for w in data["adopted"]["warnings"])
    assert set(by_file) == {"animaPencilXL_v500.safetensors", "my lora (v2).safetensors",
                            "edited.safetensors"}  # no previews, sidecars or nested files


def test_what_is_not_adopted_is_listed_with_the_reason(smx, sm_library) -> None:
    data = adopt_json(smx, sm_library.root)["adopted"]
    reasons = {item["path"]: item["reason"] for item in data["skipped"]}
    assert "InvokeAI" in reasons["Data/Packages/InvokeAI"]
    assert "rename the folder" in reasons["Data/Packages/My Forge"]
    assert "not a git checkout" in reasons[
        "Data/Packages/stable-diffusion-webui/extensions/copied-by-hand"]
    assert "(sd-webui-deforum); rename it" in reasons[
        "Data/Packages/stable-diffusion-webui/extensions/my-deforum"]
    assert "sub-folders" in reasons["Data/Models/Lora"]
    assert "no smx kind" in reasons["Data/Models/Karlo"]
    human = smx("init", "--adopt", str(sm_library.root / "Data"))  # Data/ itself works too
    assert human.exit_code == 0


def test_adopting_again_adds_only_what_is_new_and_hashes_nothing_twice(smx, sm_library) -> None:
    adopt_json(smx, sm_library.root)
    lock_before = (sm_library.root / "smx.lock").read_bytes()
    toml_before = (sm_library.root / "smx.toml").read_bytes()

    again = adopt_json(smx, sm_library.root)
    assert again["created"] is False
    assert again["adopted"]["packages"] == [] and again["adopted"]["models"] == []
    assert set(again["adopted"]["already"]) == {"stable-diffusion-webui", "ComfyUI"}
    assert (sm_library.root / "smx.lock").read_bytes() == lock_before
    assert (sm_library.root / "smx.toml").read_bytes() == toml_before

    new = sm_library.data / "Models" / "VAE" / "sdxl_vae.safetensors"
    new.write_bytes(b"vae" * 1000)
    third = adopt_json(smx, sm_library.root)
    assert [m["filename"] for m in third["adopted"]["models"]] == ["sdxl_vae.safetensors"]
    manifest = tomllib.loads((sm_library.root / "smx.toml").read_text())
    assert manifest["models"]["sdxl_vae"]["kind"] == "vae"


def test_a_hand_edited_smx_toml_keeps_its_comments(smx, sm_library) -> None:
    smx("init", str(sm_library.root))
    manifest = sm_library.root / "smx.toml"
    manifest.write_text(manifest.read_text() + "# my own note\n")
    assert smx("init", "--adopt", str(sm_library.root)).exit_code == 0
    text = manifest.read_text()
    assert "# my own note" in text and "[packages.ComfyUI]" in text


def test_a_folder_that_is_not_a_library_is_refused_clearly(smx, tmp_path: Path) -> None:
    result = smx("init", "--adopt", str(tmp_path))
    assert result.exit_code == 2
    assert "does not look like a Stability Matrix library" in result.stderr
    assert not (tmp_path / "smx.toml").exists()

    elsewhere = smx("init", str(tmp_path / "other"), "--adopt", str(tmp_path))
    assert elsewhere.exit_code == 2


def test_local_model_references_validate_in_smx_toml(env_dir: Path, smx) -> None:
    manifest = env_dir / "smx.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("[models]\n", '[models]\nx = { source = '
                                     '"local:Lora/x.safetensors", kind = "lora" }\n'))
    assert smx("--env", str(env_dir), "sync", "--dry-run").exit_code == 0
    manifest.write_text(text.replace("[models]\n", '[models]\nx = { source = '
                                     '"local:../../etc/passwd" }\n'))
    bad = smx("--env", str(env_dir), "sync", "--dry-run")
    assert bad.exit_code == 2 and "smx.toml:" in bad.stderr and "local:" in bad.stderr


def test_after_adoption_sync_plans_nothing_for_what_is_on_disk(smx, sm_library) -> None:
    """The lock adoption writes is one sync accepts as it is: no re-clone, no re-download, no
    re-hash — only the package that has no venv needs work."""
    assert smx("init", "--adopt", str(sm_library.root)).exit_code == 0
    result = smx("--env", str(sm_library.root), "sync", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["data"]["steps"]
    planned = {(s["area"], s["target"], s["action"]) for s in steps}
    webui = [s for s in steps if s["target"] == "stable-diffusion-webui"]
    # at most a pip check of its requirements in the existing venv (smx did not install
    # them), then the load check of what that changed; never a clone, a checkout move or a
    # new venv
    assert all((s["action"] == "update" and "requirements" in s["detail"])
               or s["action"] == "check" for s in webui), webui
    assert not [s for s in steps if s["area"] == "model"], steps
    comfy = [s for s in steps if s["area"] == "package" and s["target"] == "ComfyUI"]
    assert [s["action"] for s in comfy] == ["install", "check"]  # it has no venv/: made
    assert {t for a, t, _ in planned if a == "package"} <= {"ComfyUI", "stable-diffusion-webui"}
    # the A1111 extensions are at their locked commits: nothing to clone or update
    a1111_exts = [s for s in steps if s["area"] == "extension"
                  and s["target"] in ("sd-webui-controlnet", "old-ext")]
    assert all(s["action"] not in ("install", "update") for s in a1111_exts), a1111_exts


def test_adopted_models_are_trusted_only_while_unchanged_since_they_were_hashed(
        smx, sm_library) -> None:
    """Adoption hashed every model: smx records that, so a later touch of a file is noticed
    (status, the no-op sync) instead of the file being trusted on its size."""
    from smx import diskstate

    adopt_json(smx, sm_library.root)
    env = Env.open(sm_library.root)
    records = diskstate.load(env.layout)
    for model in env.lock.models.values():
        rel = f"{env.layout.model_folder(model.kind).name}/{model.filename}"
        stat = (env.layout.models / rel).stat()
        assert records[rel] == diskstate.Record(model.name, stat.st_size, stat.st_mtime_ns,
                                                model.sha256), rel

    def model_states() -> set[tuple[str, str]]:  # of locked models (not the extra files)
        result = smx("--env", str(sm_library.root), "status", "--json")
        return {(i["name"], i["state"]) for i in json.loads(result.stdout)["data"]["issues"]
                if i["area"] == "model" and i["state"] != "extra"}

    assert model_states() == set()
    lora = sm_library.data / "Models/Lora/edited.safetensors"
    stat = lora.stat()
    os.utime(lora, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert model_states() == {("edited", "modified")}


def test_files_civitai_publishes_are_adopted_as_those_versions(
        smx, sm_library, fakehub, monkeypatch) -> None:
    """Without a Stability Matrix sidecar, a file is looked up on Civitai by its SHA-256."""
    monkeypatch.setenv("SMX_CIVITAI_ENDPOINT", fakehub.api_url)
    lora = sm_library.models["Lora/my lora (v2).safetensors"]
    fakehub.civitai_publish(58390, 62833, lora, name="v2", model_name="My Style",
                            model_type="LORA", base_model="SD 1.5",
                            filename="my_style_v2.safetensors", trained_words=["mystyle"])
    result = smx("init", "--adopt", str(sm_library.root))
    assert result.exit_code == 0, result.output
    assert "my-lora-v2: on Civitai as My Style v2 (civitai:58390@62833)" in result.stderr
    assert "not on Civitai (no published file has these bytes): edited" in result.stderr
    env = Env.open(sm_library.root)
    spec = env.manifest.models["my-lora-v2"]
    assert (spec.source, spec.file, spec.filename) == (
        "civitai:58390@62833", "628330", "my lora (v2).safetensors")  # the file stays put
    locked = env.lock.models["my-lora-v2"]
    assert (locked.base_model, locked.trigger_words) == ("SD 1.5", ["mystyle"])
    assert env.lock.models["edited"].source == "local:Lora/edited.safetensors"
    assert smx("--env", str(sm_library.root), "sync", "--dry-run").exit_code == 0
    assert fakehub.requests_to("cdn") == []  # looked up, never downloaded


def test_adoption_offline_says_identification_can_come_later(smx, sm_library) -> None:
    result = smx("init", "--adopt", str(sm_library.root))
    assert result.exit_code == 0, result.output
    assert "Civitai could not be reached" in result.stderr
    assert "smx model identify" in result.stderr
    env = Env.open(sm_library.root)
    assert env.lock.models["my-lora-v2"].source.startswith("local:")


def test_a_file_whose_header_shows_another_kind_than_its_folder_is_flagged(smx,
                                                                           sm_library) -> None:
    from helpers import realheaders as rh

    (sm_library.data / "Models/StableDiffusion/detail-lora.safetensors").write_bytes(
        rh.safetensors_file(rh.kohya_lora("SDXL")))
    data = adopt_json(smx, sm_library.root)["adopted"]
    assert any("detail-lora.safetensors is in the checkpoint folder, but its header shows a "
               "lora (SDXL)" in w for w in data["warnings"])
    env = Env.open(sm_library.root)
    assert env.lock.models["detail-lora"].base_model == "SDXL"  # the header's base
