"""`smx lock`: pins what smx.toml asks for without installing; keeps pins until --upgrade; what
left smx.toml leaves smx.lock, and the next sync removes it from the disk."""

from __future__ import annotations

from pathlib import Path

from cheapenv import Upstreams, add_models, install_package
from syncfakes import CIVITAI_MODEL, publish_v1

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes


def lock_of(read_toml, env: Path) -> dict:
    return read_toml(env / "smx.lock")


def test_lock_pins_commits_and_model_files_without_installing_or_downloading(
        smx, cheap_env: Path, cheap: Upstreams, hub: FakeHub, read_toml) -> None:
    publish_v1(hub)
    repo = cheap.package("comfyui")
    nodes = cheap.extension("comfyui", "nodes-a")
    manifest = cheap_env / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n", f"""\
[packages.comfy]
source = "comfyui"
git = "{repo.url}"
ref = "main"

[packages.comfy.extensions]
nodes-a = {{ git = "{nodes.url}" }}
"""))
    add_models(cheap_env, {"anima": f"civitai:{CIVITAI_MODEL}",
                           "plain": "https://example.org/files/plain.safetensors"})

    result = smx("--env", str(cheap_env), "lock")

    assert result.exit_code == 0, result.output
    locked = lock_of(read_toml, cheap_env)
    assert locked["packages"]["comfy"]["commit"] == repo.head
    assert locked["packages"]["comfy"]["freeze"] == []  # known after an install
    assert locked["packages"]["comfy"]["extensions"]["nodes-a"]["commit"] == nodes.head
    anima = locked["models"]["anima"]
    assert (anima["civitai"]["version_id"], anima["filename"], anima["kind"]) == (
        2001, "anima_v1.safetensors", "checkpoint")
    assert len(anima["sha256"]) == 64 and anima["size"] > 0
    assert "plain" not in locked["models"]  # a plain URL is pinned by the sync's download
    assert "? model plain: a plain URL's size and SHA-256 are known only after the download" \
        in " ".join(result.stdout.split())
    assert not (cheap_env / "Data" / "Packages" / "comfy").exists()
    assert hub.requests_to("cdn") == [] and not list((cheap_env / "Data/Models").rglob("*.*"))


def test_pins_stay_until_upgrade_which_can_name_what_moves(
        smx, cheap_env: Path, cheap: Upstreams, hub: FakeHub, read_toml) -> None:
    publish_v1(hub)
    install_package(cheap_env, cheap, "comfy", "comfyui", ["nodes-a"], ref="main")
    add_models(cheap_env, {"anima": f"civitai:{CIVITAI_MODEL}"})
    assert smx("--env", str(cheap_env), "lock").exit_code == 0
    before = (cheap_env / "smx.lock").read_bytes()
    cheap.package("comfyui").commit({"NEW.md": "x\n"}, "package moves")
    new_nodes = cheap.extension("comfyui", "nodes-a").commit({"NEW.md": "x\n"}, "nodes move")
    hub.civitai_publish(CIVITAI_MODEL, 2002, safetensors_bytes(100 * 1024, seed=9), name="v2")

    kept = smx("--env", str(cheap_env), "lock")
    assert kept.exit_code == 0 and "smx.lock is up to date" in kept.stdout
    assert (cheap_env / "smx.lock").read_bytes() == before

    only = smx("--env", str(cheap_env), "lock", "--upgrade", "nodes-a")
    assert only.exit_code == 0, only.output
    locked = lock_of(read_toml, cheap_env)
    assert locked["packages"]["comfy"]["extensions"]["nodes-a"]["commit"] == new_nodes
    assert locked["packages"]["comfy"]["commit"] != cheap.package("comfyui").head
    assert locked["models"]["anima"]["civitai"]["version_id"] == 2001

    everything = smx("--env", str(cheap_env), "lock", "--upgrade")
    assert everything.exit_code == 0, everything.output
    locked = lock_of(read_toml, cheap_env)
    assert locked["packages"]["comfy"]["commit"] == cheap.package("comfyui").head
    assert locked["models"]["anima"]["civitai"]["version_id"] == 2002


def test_names_without_upgrade_and_unknown_names_are_refused(smx, cheap_env: Path,
                                                             cheap: Upstreams) -> None:
    install_package(cheap_env, cheap, "comfy", "comfyui", ["nodes-a"])
    before = (cheap_env / "smx.lock").read_bytes()
    bare = smx("--env", str(cheap_env), "lock", "comfy")
    assert bare.exit_code == 2 and "smx lock --upgrade comfy" in bare.stderr
    typo = smx("--env", str(cheap_env), "lock", "--upgrade", "comfi")
    assert typo.exit_code == 2 and "did you mean 'comfy'?" in typo.stderr
    assert (cheap_env / "smx.lock").read_bytes() == before


def test_what_left_smx_toml_leaves_the_lock_and_the_next_sync_removes_it(
        smx, synced: Path, cheap: Upstreams, read_toml) -> None:
    install_package(synced, cheap, "other", "comfyui")
    manifest = synced / "smx.toml"
    text = manifest.read_text()
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith(("nodes-b", "mm = ")))
    text = text.split("[packages.other]")[0] + "[models]" + text.split("[models]")[1]
    manifest.write_text(text + "\n")
    stored = synced / "Data/Models/AnimateDiff/mm.safetensors"

    locked = smx("--env", str(synced), "lock")

    assert locked.exit_code == 0, locked.output
    flat = " ".join(locked.stdout.split())
    assert "- package other" in flat and "the next `smx sync` deletes its folder" in flat
    lock = lock_of(read_toml, synced)
    assert set(lock["packages"]) == {"comfy"} and set(lock["models"]) == {"anima"}
    assert set(lock["packages"]["comfy"]["extensions"]) == {"nodes-a"}
    assert (synced / "Data/Packages/other").is_dir() and stored.is_file()  # nothing deleted yet
    assert smx("--env", str(synced), "status").exit_code == 1  # ... and status says so

    result = smx("--env", str(synced), "sync")

    assert result.exit_code == 0, result.output
    assert not (synced / "Data/Packages/other").exists()
    assert not (synced / "Data/Packages/comfy/custom_nodes/nodes-b").exists()
    assert not stored.exists()
    assert lock_of(read_toml, synced) == lock  # never written back into smx.lock
    assert smx("--env", str(synced), "status").exit_code == 0
    assert "nothing to do" in smx("--env", str(synced), "sync").stdout
