"""`smx sync --frozen` installs exactly smx.lock, and refuses — naming every difference, before
changing anything — when smx.toml and smx.lock disagree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cheapenv import Upstreams, install_package

from smx.environment import lock as lockfile
from smx.environment.lock import LockedModel

HINT = "run `smx lock` to update smx.lock, or drop --frozen"


def snapshot(env: Path) -> dict[str, object]:
    files = sorted(p.relative_to(env).as_posix() for p in (env / "Data").rglob("*")
                   if ".git" not in p.parts and "venv" not in p.parts
                   and p.name != "env.lock")  # (the process lock)
    return {"toml": (env / "smx.toml").read_bytes(), "lock": (env / "smx.lock").read_bytes(),
            "files": files}


def test_frozen_names_every_disagreement_and_changes_nothing(smx, cheap_env: Path,
                                                             cheap: Upstreams) -> None:
    env = cheap_env
    install_package(env, cheap, "comfy", "comfyui", ["nodes-a"], ref="main")
    install_package(env, cheap, "webui", "a1111")
    lock = lockfile.load(env / "smx.lock")
    lock.models["mm"] = LockedModel(
        name="mm", source="hf:someone/motion/mm.safetensors@" + "a" * 40, kind="motion-module",
        filename="mm.safetensors", size=10, sha256="b" * 64,
        hf={"repo": "someone/motion", "path": "mm.safetensors", "revision": "a" * 40})
    lock.models["old"] = LockedModel(name="old", source="https://example.org/old.safetensors",
                                     kind="lora", filename="old.safetensors", size=1,
                                     sha256="c" * 64, url="https://example.org/old.safetensors")
    lockfile.save(env / "smx.lock", lock)
    manifest = env / "smx.toml"
    text = manifest.read_text()
    text = "\n".join(line.replace('"main"', '"dev"') if line.startswith("nodes-a") else line
                     for line in text.splitlines()) + "\n"
    text += ('mm = { source = "hf:someone/motion/mm.safetensors", kind = "lora" }\n'
             'fresh = { source = "civitai:5" }\n')
    text = text.replace("[packages.webui]\n", "[packages.forge]\nsource = \"forge\"\n\n"
                        "[packages.webui]\n")
    manifest.write_text(text)
    before = snapshot(env)

    result = smx("--env", str(env), "sync", "--frozen")

    assert result.exit_code == 2, result.output
    message = result.stderr
    for part in ("smx.toml and smx.lock disagree",
                 "extension 'nodes-a' of 'comfy': ref is 'dev' in smx.toml, 'main' in smx.lock",
                 "package 'forge' is in smx.toml but not in smx.lock",
                 "model 'mm': kind is 'lora' in smx.toml, 'motion-module' in smx.lock",
                 "model 'fresh' is in smx.toml but not in smx.lock",
                 "model 'old' is in smx.lock but not in smx.toml", HINT):
        assert part in " ".join(message.split()), (part, message)
    assert snapshot(env) == before
    document = json.loads(smx("--env", str(env), "sync", "--frozen", "--json").stdout)
    assert document["errors"][0]["code"] == "lock.out_of_date"


def test_a_changed_git_url_or_source_is_named(smx, cheap_env: Path, cheap: Upstreams) -> None:
    install_package(cheap_env, cheap, "comfy", "comfyui")
    manifest = cheap_env / "smx.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('source = "comfyui"\ngit = "file://',
                                     'source = "comfyui"\ngit = "file:///elsewhere')
                        .replace("/elsewhere/", "/elsewhere/", 1))
    result = smx("--env", str(cheap_env), "sync", "--frozen")
    assert result.exit_code == 2
    assert "package 'comfy': git URL is 'file:///elsewhere" in " ".join(result.stderr.split())


def test_a_commit_pinned_by_smx_lock_needs_one_sync_before_frozen(
        smx, cheap_env: Path, cheap: Upstreams, tmp_path: Path, read_toml) -> None:
    install_package(cheap_env, cheap, "comfy", "comfyui", ref="main")
    cheap.package("comfyui").commit({"NEW.md": "new\n"}, "upstream moves")
    assert smx("--env", str(cheap_env), "lock", "--upgrade").exit_code == 0
    assert read_toml(cheap_env / "smx.lock")["packages"]["comfy"]["freeze"] == []
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("smx.toml", "smx.lock"):
        shutil.copy2(cheap_env / name, elsewhere / name)

    result = smx("--env", str(elsewhere), "sync", "--frozen")

    assert result.exit_code == 2, result.output
    flat = " ".join(result.stderr.split())
    assert "does not record its Python packages yet" in flat
    assert "run `smx sync` once without --frozen" in flat
    assert not (elsewhere / "Data" / "Packages" / "comfy").exists()


def test_sync_with_nothing_to_do_spawns_nothing_and_stays_offline(smx, synced: Path, hub,
                                                                   audit) -> None:
    for args in (["sync"], ["sync", "--frozen"]):
        result = smx("--env", str(synced), *args)
        assert result.exit_code == 0, result.output
        assert "nothing to do" in result.stdout
    assert hub.requests == []
    assert audit == {"spawned": [], "network": []}
