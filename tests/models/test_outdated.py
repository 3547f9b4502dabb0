"""`smx model outdated`: newer Civitai versions and newer Hugging Face revisions, one request
per model, answered from a short cache when asked again; `smx lock --upgrade` + `sync` take them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from helpers import realheaders as rh
from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes

MiB = 1 << 20


def run(smx, env: Path, *args: str):
    return smx("--env", str(env), *args)


def outdated(smx, env: Path, *args: str) -> tuple[int, dict]:
    result = run(smx, env, "model", "outdated", "--json", *args)
    return result.exit_code, json.loads(result.stdout)["data"]


def publish(hub: FakeHub, version: int, name: str, fill: int) -> None:
    hub.civitai_publish(261336, version, rh.safetensors_file(
        rh.checkpoint("SDXL"), pad_to=MiB, fill=fill), name=name,
        filename=f"animaPencilXL_{name}.safetensors")


@pytest.fixture
def anima(hub: FakeHub, env_dir: Path, smx) -> Path:
    publish(hub, 465206, "v3.1.0", 3)
    assert run(smx, env_dir, "model", "pull", "civitai:261336").exit_code == 0
    return env_dir


def test_a_newer_civitai_version_is_listed_with_how_to_take_it(anima: Path, hub: FakeHub,
                                                                smx) -> None:
    code, data = outdated(smx, anima)
    assert code == 0 and not data["models"][0]["outdated"]
    publish(hub, 597138, "v5.0.0", 5)  # released meanwhile
    code, data = outdated(smx, anima, "--refresh")
    (row,) = data["models"]
    assert row | {"error": None} == {
        "name": "anima_pencil-xl", "source": "civitai:261336",
        "locked": "civitai:261336@465206", "current": "v3.1.0", "latest": "v5.0.0",
        "latest_source": "civitai:261336@597138", "outdated": True, "pinned": False,
        "error": None, "take": "smx lock --upgrade anima_pencil-xl && smx sync"}
    human = run(smx, anima, "model", "outdated")
    assert ("anima_pencil-xl: v3.1.0 → v5.0.0; take it: smx lock --upgrade anima_pencil-xl "
            "&& smx sync") in human.stdout
    # taking it as told
    assert run(smx, anima, "lock", "--upgrade", "anima_pencil-xl").exit_code == 0
    assert run(smx, anima, "sync").exit_code == 0
    store = anima / "Data/Models/StableDiffusion"
    assert [p.name for p in store.iterdir()] == ["animaPencilXL_v5.0.0.safetensors"]
    code, data = outdated(smx, anima, "--refresh")
    assert not data["models"][0]["outdated"]


def test_one_request_per_model_and_a_short_cache(anima: Path, hub: FakeHub, smx) -> None:
    hub.clear_records()
    outdated(smx, anima)
    outdated(smx, anima)
    assert len(hub.requests_to("api")) == 1  # the second answer came from the cache
    assert all("authorization" not in r.headers for r in hub.requests_to("api"))  # no token
    assert hub.requests_to("cdn") == []  # nothing downloaded
    outdated(smx, anima, "--refresh")
    assert len(hub.requests_to("api")) == 2


def test_a_pinned_version_says_how_to_move_it(hub: FakeHub, env_dir: Path, smx) -> None:
    publish(hub, 465206, "v3.1.0", 3)
    assert run(smx, env_dir, "model", "pull", "civitai:261336@465206").exit_code == 0
    publish(hub, 597138, "v5.0.0", 5)
    _code, data = outdated(smx, env_dir)
    (row,) = data["models"]
    assert row["outdated"] and row["pinned"]
    assert row["take"] == ("smx model pull civitai:261336@597138 --name anima_pencil-xl "
                           "--replace")


def test_a_hugging_face_file_is_newer_only_when_its_bytes_changed(hub: FakeHub, env_dir: Path,
                                                                   smx) -> None:
    repo = "guoyww/animatediff"
    hub.hf_commit(repo, {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    assert run(smx, env_dir, "model", "pull", f"hf:{repo}/mm_sdxl_v10_beta.ckpt").exit_code == 0
    hub.hf_commit(repo, {"README.md": b"# new readme"}, lfs=False)  # the file did not change
    _code, data = outdated(smx, env_dir)
    assert not data["models"][0]["outdated"]
    head = hub.hf_commit(repo, {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB + 1)})
    _code, data = outdated(smx, env_dir, "--refresh")
    (row,) = data["models"]
    assert row["outdated"] and row["latest"] == head[:7]
    assert row["latest_source"] == f"hf:{repo}/mm_sdxl_v10_beta.ckpt@{head}"


def test_urls_and_local_files_are_listed_as_not_checked(hub: FakeHub, env_dir: Path,
                                                         smx) -> None:
    url = hub.url_file("/files/4x-UltraSharp.safetensors",
                       rh.safetensors_file(rh.esrgan_old_arch(), pad_to=MiB))
    assert run(smx, env_dir, "model", "pull", url).exit_code == 0
    _code, data = outdated(smx, env_dir)
    assert data == {"models": [], "unchecked": [
        {"name": "4x-ultrasharp", "reason": "a plain URL has no versions"}]}


def test_an_unreachable_source_is_an_error_with_the_rest_reported(anima: Path, smx,
                                                                  monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SMX_CIVITAI_ENDPOINT", f"http://127.0.0.1:{sock.getsockname()[1]}")
    result = run(smx, anima, "model", "outdated", "--json", "--refresh")
    document = json.loads(result.stdout)
    assert result.exit_code == 3 and document["exit_code"] == 3
    assert "connection refused" in document["data"]["models"][0]["error"]
    human = run(smx, anima, "model", "outdated", "--refresh")
    assert human.exit_code == 3 and "could not check 1 model" in human.stderr
