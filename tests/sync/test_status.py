"""`smx status`: drift between the disk, smx.lock and smx.toml; exit 0 in sync, 1 with drift."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.gitrepo import git

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json"
NODES = "Data/Packages/comfy/custom_nodes"
CKPT = "Data/Models/StableDiffusion/anima_v1.safetensors"
MOTION = "Data/Models/AnimateDiff/mm.safetensors"


def status_json(smx, env: Path) -> tuple[int, dict]:
    result = smx("--env", str(env), "status", "--json")
    return result.exit_code, json.loads(result.stdout)


def documented_schema(page: str) -> dict:
    blocks = re.findall(r"```json\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"),
                        re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def conforms(document: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, documented_schema("index.md"))
    jsonschema.validate(document["data"], documented_schema("status.md"))


def test_an_environment_in_sync_says_so_with_exit_0_offline(smx, synced: Path, hub: FakeHub
                                                            ) -> None:
    result = smx("--env", str(synced), "status")
    assert result.exit_code == 0, result.output
    assert "in sync: 1 package, 2 extensions, 2 models" in result.stdout
    code, document = status_json(smx, synced)
    assert (code, document["status"], document["data"]["in_sync"]) == (0, "ok", True)
    assert document["data"]["issues"] == []
    conforms(document)
    assert hub.requests == []


def test_every_kind_of_drift_is_named_with_exit_1(smx, synced: Path) -> None:
    env = synced
    # the disk: a checkout moved, a local edit, a node deleted, a stray node and package folder,
    # a truncated model, a touched one, a file nobody locked
    package = env / "Data/Packages/comfy"
    (package / "main.py").write_text("print('edited')\n")
    git("commit", "-q", "-am", "local commit", cwd=package)
    (env / NODES / "nodes-a" / "README.md").write_text("edited\n")
    shutil.rmtree(env / NODES / "nodes-b")
    (env / NODES / "someone-elses-node").mkdir()
    (env / "Data/Packages/stray").mkdir()
    (env / CKPT).write_bytes((env / CKPT).read_bytes()[:-10])
    stat = (env / MOTION).stat()
    os.utime(env / MOTION, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (env / "Data/Models/Lora/handmade.safetensors").write_bytes(b"x" * 100)
    # smx.toml: a model not locked yet, a model dropped, a node pointed at another branch
    manifest = env / "smx.toml"
    text = manifest.read_text()
    text = text.replace('mm = { source = "hf:someone/motion/mm.safetensors", kind = '
                        '"motion-module" }\n', 'new = { source = "civitai:77" }\n')
    text = "\n".join(line.replace('"main"', '"dev"') if line.startswith("nodes-a") else line
                     for line in text.splitlines()) + "\n"
    manifest.write_text(text)

    result = smx("--env", str(env), "status")
    assert result.exit_code == 1, result.output
    assert "smx sync" in result.stderr  # the hint
    code, document = status_json(smx, env)
    assert (code, document["status"], document["exit_code"]) == (1, "error", 1)
    assert document["errors"][0]["code"] == "env.drift"
    conforms(document)
    found = {(i["area"], i["name"], i["state"]) for i in document["data"]["issues"]}
    assert found == {
        ("package", "comfy", "wrong-commit"),
        ("package", "stray", "extra"),
        ("extension", "nodes-a", "lock-differs"),
        ("extension", "nodes-a", "dirty"),
        ("extension", "nodes-b", "missing"),
        ("extension", "someone-elses-node", "extra"),
        ("model", "anima", "corrupt"),
        ("model", "mm", "not-in-toml"),
        ("model", "new", "not-locked"),
        ("model", "handmade.safetensors", "extra"),
    }, document["data"]["issues"]
    ref = next(i for i in document["data"]["issues"] if i["state"] == "lock-differs")
    assert ref["detail"] == "ref is 'dev' in smx.toml, 'main' in smx.lock"
    assert ref["package"] == "comfy"


def test_a_touched_model_is_modified_until_verified(smx, synced: Path) -> None:
    stat = (synced / MOTION).stat()
    os.utime(synced / MOTION, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    code, document = status_json(smx, synced)
    assert code == 1
    assert [(i["name"], i["state"]) for i in document["data"]["issues"]] == [("mm", "modified")]
    # the full check re-hashes it, finds the locked bytes and trusts the file again
    assert smx("--env", str(synced), "model", "verify").exit_code == 0
    assert status_json(smx, synced)[0] == 0


def test_a_touched_model_is_rehashed_by_sync_and_a_rewritten_one_fetched_again(
        smx, synced: Path, hub: FakeHub) -> None:
    stat = (synced / MOTION).stat()
    os.utime(synced / MOTION, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    plan = json.loads(smx("--env", str(synced), "sync", "--dry-run", "--json").stdout)
    assert [(s["target"], s["action"]) for s in plan["data"]["steps"]] == [("mm", "verify")]
    assert smx("--env", str(synced), "sync").exit_code == 0
    assert hub.requests == []  # same bytes: re-hashed, nothing fetched
    assert smx("--env", str(synced), "sync", "--dry-run", "--json").stdout.count('"target"') == 0

    original = (synced / MOTION).read_bytes()
    (synced / MOTION).write_bytes(bytes([original[0] ^ 1]) + original[1:])  # same size
    result = smx("--env", str(synced), "sync")
    assert result.exit_code == 0, result.output
    assert (synced / MOTION).read_bytes() == original
    assert hub.bytes_sent("cdn") == len(original)


def test_only_weights_are_extra_and_every_suggested_entry_is_one_sync_accepts(
        smx, synced: Path) -> None:
    models = synced / "Data/Models"
    # Stability Matrix keeps sidecars next to each model: never models themselves
    for sidecar in ("handmade.cm-info.json", "handmade.preview.png", "handmade.preview.jpeg",
                    "handmade.txt", "anima_v1.cm-info.json"):
        folder = "StableDiffusion" if sidecar.startswith("anima") else "Lora"
        (models / folder / sidecar).write_text("{}")
    (models / "Lora/handmade.safetensors").write_bytes(b"x" * 100)
    (models / "Lora/My Style v1.0.safetensors").write_bytes(b"y" * 50)
    (models / "Karlo").mkdir()  # a Stability Matrix folder with no smx kind
    (models / "Karlo/decoder.ckpt").write_bytes(b"k" * 10)
    (models / "Karlo/decoder.preview.png").write_bytes(b"png")
    (models / "Lora/sub").mkdir()
    (models / "Lora/sub/nested.safetensors").write_bytes(b"n" * 10)
    (models / "loose.safetensors").write_bytes(b"l" * 10)

    code, document = status_json(smx, synced)
    assert code == 1
    extra = {i["path"]: i["detail"] for i in document["data"]["issues"]}
    assert set(extra) == {f"Data/Models/{p}" for p in (
        "Lora/handmade.safetensors", "Lora/My Style v1.0.safetensors", "Karlo/decoder.ckpt",
        "Lora/sub/nested.safetensors", "loose.safetensors")}, extra
    suggested = {path: re.search(r"`(.+ = \{ source = .+ \})`", detail)
                 for path, detail in extra.items()}
    assert not suggested["Data/Models/Karlo/decoder.ckpt"]
    assert "no smx model kind" in extra["Data/Models/Karlo/decoder.ckpt"]
    assert not suggested["Data/Models/Lora/sub/nested.safetensors"]
    assert not suggested["Data/Models/loose.safetensors"]
    entries = [m.group(1) for m in suggested.values() if m]
    assert len(entries) == 2, extra

    # pasted into smx.toml as suggested, sync takes them and status no longer names them
    manifest = synced / "smx.toml"
    manifest.write_text(manifest.read_text() + "".join(e + "\n" for e in entries))
    result = smx("--env", str(synced), "sync")
    assert result.exit_code == 0, result.output
    code, document = status_json(smx, synced)
    assert {i["path"] for i in document["data"]["issues"]} == {
        "Data/Models/Karlo/decoder.ckpt", "Data/Models/Lora/sub/nested.safetensors",
        "Data/Models/loose.safetensors"}


def test_an_unfinished_install_is_named_with_the_way_to_finish_it(smx, env_dir: Path) -> None:
    """A network drop during `smx install` leaves its clone for the rerun; status says so."""
    from smx.environment.layout import EnvLayout
    from smx.packages.marker import Marker

    layout = EnvLayout(env_dir)
    (layout.package_dir("comfyui") / ".git").mkdir(parents=True)
    Marker.of(layout, "comfyui").write({"action": "install", "ref": "v0.3.64"})
    code, document = status_json(smx, env_dir)
    assert code == 1
    conforms(document)
    (issue,) = document["data"]["issues"]
    assert (issue["name"], issue["state"]) == ("comfyui", "extra")
    assert "`smx install` that did not finish: run it again" in issue["detail"]
