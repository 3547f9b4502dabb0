"""smx.toml + smx.lock rebuild the same environment on another machine, behind another mirror,
after upstream moved on; upgrades happen only when asked for (`smx lock --upgrade`)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from syncfakes import (
    CIVITAI_MODEL,
    HF_REPO,
    comfyui_files,
    new_env,
    node_files,
    publish_v1,
)

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes
from smx.packages import git
from smx.packages.venv import Venv, installed_distributions

CKPT_V1 = "Data/Models/StableDiffusion/anima_v1.safetensors"
CKPT_V2 = "Data/Models/StableDiffusion/anima_v2.safetensors"
MOTION = "Data/Models/AnimateDiff/mm.safetensors"


def facts(env: Path) -> dict[str, object]:
    """What "the same environment" means: commits on disk, the venv's packages, model bytes."""
    package = env / "Data" / "Packages" / "comfyui"
    return {
        "package": git.head_commit(package),
        "extension": git.head_commit(package / "custom_nodes" / "ComfyUI-some-nodes"),
        "venv": installed_distributions(Venv(package / "venv")),
        "models": {rel: hashlib.sha256((env / rel).read_bytes()).hexdigest()
                   for rel in (CKPT_V1, CKPT_V2, MOTION) if (env / rel).is_file()},
    }


def copy_manifest_and_lock(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("smx.toml", "smx.lock"):
        shutil.copy2(src / name, dest / name)
    return dest


def metadata_requests(hub: FakeHub) -> list[str]:
    """Questions to the source APIs (the frozen path must ask none: the lock answers them)."""
    return [r.path for r in hub.requests if r.path.startswith(("/api/v1/", "/api/models/"))]


def test_toml_and_lock_rebuild_the_same_environment_elsewhere_until_upgraded(
        smx, hub: FakeHub, upstream, tmp_path: Path, read_toml,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publish_v1(hub)
    home = new_env(tmp_path / "home")
    first = smx("--env", str(home), "sync")
    assert first.exit_code == 0, first.output
    locked = read_toml(home / "smx.lock")
    built = facts(home)
    assert built["package"] == locked["packages"]["comfyui"]["commit"] == upstream.comfyui.head
    assert built["extension"] == locked["packages"]["comfyui"]["extensions"]["nodes"]["commit"]
    assert built["venv"] == locked["packages"]["comfyui"]["freeze"]
    assert {"smx-fake-dep==1.0", "smx-node-dep==1.0", "torch==2.1.2"} <= set(built["venv"])
    assert built["models"] == {CKPT_V1: locked["models"]["anima"]["sha256"],
                               MOTION: locked["models"]["mm"]["sha256"]}
    lock_text = (home / "smx.lock").read_text()
    assert "127.0.0.1" not in lock_text and "/resolve/" not in lock_text  # no download URLs

    # Another machine, behind a company mirror: only the two files, another hub endpoint.
    with FakeHub() as mirror:
        publish_v1(mirror)
        point_at(monkeypatch, mirror)
        hub.clear_records()
        elsewhere = copy_manifest_and_lock(home, tmp_path / "elsewhere")
        rebuilt = smx("--env", str(elsewhere), "sync", "--frozen")
        assert rebuilt.exit_code == 0, rebuilt.output
        assert facts(elsewhere) == built
        assert (elsewhere / "smx.lock").read_text() == lock_text  # --frozen changed nothing
        assert hub.requests == []  # the lock named no host: everything came from the mirror
        assert metadata_requests(mirror) == []
        assert mirror.bytes_sent("cdn") == sum(len(b) for b in (
            (home / CKPT_V1).read_bytes(), (home / MOTION).read_bytes()))

        # Upstream moves on: a new commit on both branches, a new model version and revision.
        upstream.comfyui.commit(comfyui_files(requirement="smx-fake-dep==2.0"), "main moves")
        upstream.nodes.commit(node_files(requirement="smx-node-dep==2.0"), "nodes v2")
        for server in (hub, mirror):
            server.civitai_publish(CIVITAI_MODEL, 2002, safetensors_bytes(100 * 1024, seed=3),
                                   name="v2", filename="anima_v2.safetensors")
            server.hf_commit(HF_REPO, {"mm.safetensors": safetensors_bytes(
                64 * 1024, family=None, seed=4)})
        later = copy_manifest_and_lock(home, tmp_path / "later")
        frozen = smx("--env", str(later), "sync", "--frozen")
        assert frozen.exit_code == 0, frozen.output
        assert facts(later) == built  # still exactly the lock
        assert metadata_requests(mirror) == []

        # Upgrading is a decision: `smx lock --upgrade` moves the pins (asking the hub's
        # APIs), `smx sync` installs them (from the mirror: the pins name no host).
        point_at(monkeypatch, hub)
        hub.clear_records()
        upgraded = smx("--env", str(later), "lock", "--upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert hub.requests_to("cdn") == []  # resolved, nothing downloaded
        pins = read_toml(later / "smx.lock")
        assert pins["packages"]["comfyui"]["commit"] == upstream.comfyui.head
        assert pins["packages"]["comfyui"]["freeze"] == []  # known after the next install
        assert pins["packages"]["comfyui"]["extensions"]["nodes"]["commit"] == \
            upstream.nodes.head
        assert pins["models"]["anima"]["civitai"]["version_id"] == 2002
        assert pins["models"]["mm"]["hf"]["revision"] != locked["models"]["mm"]["hf"]["revision"]
        assert facts(later) == built  # `smx lock` installs nothing

        point_at(monkeypatch, mirror)
        hub.clear_records()
        mirror.clear_records()
        synced = smx("--env", str(later), "sync")
        assert synced.exit_code == 0, synced.output
        assert hub.requests == [] and metadata_requests(mirror) == []

    now = facts(later)
    final = read_toml(later / "smx.lock")
    assert now["package"] == upstream.comfyui.head
    assert now["extension"] == upstream.nodes.head
    assert now["venv"] == final["packages"]["comfyui"]["freeze"]
    assert {"smx-fake-dep==2.0", "smx-node-dep==2.0"} <= set(now["venv"])
    assert now["models"] == {CKPT_V2: final["models"]["anima"]["sha256"],
                             MOTION: final["models"]["mm"]["sha256"]}  # v1's file removed
    assert now["models"][MOTION] != built["models"][MOTION]


def point_at(monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> None:
    for key, value in hub.env().items():
        monkeypatch.setenv(key, value)
