"""`smx model pull` from Hugging Face and plain URLs: kinds, revisions, names, checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes, safetensors_bytes

MiB = 1 << 20
REPO = "guoyww/animatediff"


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


@pytest.fixture
def animatediff(hub: FakeHub) -> dict[str, object]:
    mm = ckpt_bytes(pad_to=2 * MiB)
    commit = hub.hf_commit(REPO, {"mm_sdxl_v10_beta.ckpt": mm})
    return {"data": mm, "commit": commit}


def test_hf_reference_pulls_the_file_pinned_to_the_commit(animatediff, hub: FakeHub,
                                                          env_dir: Path, smx, read_toml) -> None:
    result = pull(smx, env_dir, f"hf:{REPO}/mm_sdxl_v10_beta.ckpt")
    assert result.exit_code == 0, result.output
    placed = env_dir / "Data/Models/AnimateDiff/mm_sdxl_v10_beta.ckpt"
    assert placed.read_bytes() == animatediff["data"]
    # the kind came from an unambiguous file-name rule and is written down
    assert read_toml(env_dir / "smx.toml")["models"]["mm_sdxl_v10_beta"] == {
        "source": f"hf:{REPO}/mm_sdxl_v10_beta.ckpt", "kind": "motion-module"}
    locked = read_toml(env_dir / "smx.lock")["models"]["mm_sdxl_v10_beta"]
    assert locked["hf"] == {"repo": REPO, "path": "mm_sdxl_v10_beta.ckpt",
                            "revision": animatediff["commit"]}
    assert locked["source"] == f"hf:{REPO}/mm_sdxl_v10_beta.ckpt@{animatediff['commit']}"
    assert locked["base_model"] == "SDXL"  # from the name: the file is a pickle
    (api,) = hub.requests_to("hf", "/api/models/")
    assert api.query == {"blobs": ["true"]}
    (resolve,) = hub.requests_to("hf", "/resolve/")
    assert resolve.path == f"/{REPO}/resolve/{animatediff['commit']}/mm_sdxl_v10_beta.ckpt"


@pytest.mark.parametrize("form", ["blob", "resolve"])
def test_hf_urls_become_references(animatediff, hub: FakeHub, env_dir: Path, smx, read_toml,
                                   form: str) -> None:
    url = f"https://huggingface.co/{REPO}/{form}/main/mm_sdxl_v10_beta.ckpt"
    result = pull(smx, env_dir, url, "--name", "mm-sdxl")
    assert result.exit_code == 0, result.output
    assert read_toml(env_dir / "smx.toml")["models"]["mm-sdxl"] == {
        "source": f"hf:{REPO}/mm_sdxl_v10_beta.ckpt@main", "kind": "motion-module"}
    assert (env_dir / "Data/Models/AnimateDiff/mm_sdxl_v10_beta.ckpt").exists()


def test_a_file_neither_its_header_nor_its_name_explains_asks_for_kind(
        hub: FakeHub, env_dir: Path, smx) -> None:
    # a valid safetensors file whose tensors match no model layout, under a telling-nothing name
    hub.hf_commit("someone/odd", {"weights.safetensors": safetensors_bytes(MiB)})
    before = (env_dir / "smx.toml").read_bytes()
    result = pull(smx, env_dir, "hf:someone/odd/weights.safetensors")
    assert result.exit_code == 2
    assert ("cannot tell which kind of model weights.safetensors is (its header matches no "
            "model layout smx knows)") in result.stderr
    assert "--kind" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before
    # only the header was read: one ranged request, nothing downloaded
    (peek,) = hub.requests_to("cdn")
    assert peek.headers["range"] == "bytes=0-262143" and peek.status == 206
    assert not list((env_dir / "Data/Cache/downloads").iterdir())


def test_kind_given_on_the_command_line_wins(hub: FakeHub, env_dir: Path, smx,
                                             read_toml) -> None:
    data = safetensors_bytes(MiB, family="SDXL")
    hub.hf_commit("lllyasviel/sd_control_collection", {"thibaud_xl_openpose.safetensors": data})
    result = pull(smx, env_dir, "hf:lllyasviel/sd_control_collection/"
                                "thibaud_xl_openpose.safetensors",
                  "--kind", "controlnet", "--name", "openpose-xl")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/ControlNet/thibaud_xl_openpose.safetensors").exists()
    locked = read_toml(env_dir / "smx.lock")["models"]["openpose-xl"]
    assert locked["kind"] == "controlnet" and locked["base_model"] == "SDXL"  # from the header


def test_an_unknown_kind_is_refused_with_a_suggestion(env_dir: Path, smx) -> None:
    result = pull(smx, env_dir, "hf:a/b/c.safetensors", "--kind", "motionmodule")
    assert result.exit_code == 2 and "did you mean 'motion-module'" in result.stderr


def test_a_revision_is_kept_as_asked(hub: FakeHub, env_dir: Path, smx, read_toml) -> None:
    first = hub.hf_commit(REPO, {"mm_sd_v15_v2.ckpt": ckpt_bytes(pad_to=MiB)})
    hub.hf_commit(REPO, {"mm_sd_v15_v2.ckpt": ckpt_bytes(pad_to=MiB + 5)})  # main moves on
    result = pull(smx, env_dir, f"hf:{REPO}/mm_sd_v15_v2.ckpt@{first}")
    assert result.exit_code == 0, result.output
    locked = read_toml(env_dir / "smx.lock")["models"]["mm_sd_v15_v2"]
    assert locked["hf"]["revision"] == first and locked["base_model"] == "SD 1.x"


def test_the_hub_announcing_other_bytes_than_its_api_stops_before_downloading(
        hub: FakeHub, env_dir: Path, smx) -> None:
    hub.hf_commit(REPO, {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    hub.fault("hf", "status", status=302, path="/resolve/", headers={
        "Location": hub.url_file("/x", b"x"), "X-Linked-Size": "123",
        "X-Linked-Etag": '"' + "ab" * 32 + '"'})
    result = pull(smx, env_dir, f"hf:{REPO}/mm_sdxl_v10_beta.ckpt")
    assert result.exit_code == 4 and "the Hub serves 123 bytes" in result.stderr
    assert hub.requests_to("cdn") == []


# --- plain URLs --------------------------------------------------------------------------------
def test_a_plain_url_with_sha256_is_verified(hub: FakeHub, env_dir: Path, smx,
                                             read_toml) -> None:
    data = safetensors_bytes(MiB, family=None)
    url = hub.url_file("/files/4x-UltraSharp.safetensors", data)
    sha = hashlib.sha256(data).hexdigest()
    result = pull(smx, env_dir, url, "--sha256", sha.upper())
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/ESRGAN/4x-UltraSharp.safetensors").read_bytes() == data
    assert read_toml(env_dir / "smx.toml")["models"]["4x-ultrasharp"] == {
        "source": url, "kind": "upscaler", "sha256": sha}
    assert read_toml(env_dir / "smx.lock")["models"]["4x-ultrasharp"]["url"] == url


def test_a_plain_url_with_the_wrong_sha256_is_refused_and_nothing_placed(
        hub: FakeHub, env_dir: Path, smx) -> None:
    url = hub.url_file("/files/4x-UltraSharp.safetensors", safetensors_bytes(MiB, family=None))
    before = {p: p.read_bytes() for p in (env_dir / "smx.toml", )}
    result = pull(smx, env_dir, url, "--sha256", "0" * 64)
    assert result.exit_code == 4
    assert f"expected {'0' * 64}, got" in result.stderr
    assert not list((env_dir / "Data/Models").rglob("*.safetensors"))
    assert not list((env_dir / "Data/Cache/downloads").iterdir())
    assert all(p.read_bytes() == b for p, b in before.items())
    assert not (env_dir / "smx.lock").exists()


def test_a_plain_url_without_sha256_records_the_computed_one(hub: FakeHub, env_dir: Path, smx,
                                                             read_toml) -> None:
    data = safetensors_bytes(MiB, family="SD 1.x")
    url = hub.url_file("/dl/control_v11p_sd15_openpose.safetensors", data)
    result = pull(smx, env_dir, url)
    assert result.exit_code == 0, result.output
    # said, not silently accepted: checked by size only, and how to check the bytes too
    assert "verified only by its size" in result.stderr and "--sha256" in result.stderr
    locked = read_toml(env_dir / "smx.lock")["models"]["control_v11p_sd15_openpose"]
    assert locked["sha256"] == hashlib.sha256(data).hexdigest()
    assert locked["kind"] == "controlnet"


def test_a_hostile_content_disposition_name_is_sanitised(hub: FakeHub, env_dir: Path, smx,
                                                         read_toml) -> None:
    data = safetensors_bytes(MiB, family=None)
    url = hub.url_file("/dl/123", data, headers={
        "Content-Disposition": 'attachment; filename="../../.x\x07.safetensors"'})
    result = pull(smx, env_dir, url, "--kind", "vae", "--name", "odd")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/VAE/x.safetensors").read_bytes() == data
    assert read_toml(env_dir / "smx.lock")["models"]["odd"]["filename"] == "x.safetensors"
    outside = [p for p in env_dir.parent.rglob("x*.safetensors") if "Data/Models/VAE" not in
               p.as_posix()]
    assert outside == []


@pytest.mark.parametrize(("header", "stored"), [
    ("attachment; filename*=UTF-8''..%2F..%2Fevil.safetensors", "evil.safetensors"),
    ('inline; filename="C:\\\\Windows\\\\x.safetensors"', "x.safetensors"),
    ('attachment; filename="..safetensors"', "safetensors"),
])
def test_content_disposition_names_never_leave_the_folder(header: str, stored: str) -> None:
    from smx.models.download import content_disposition_name
    from smx.models.store import sanitize_filename

    assert sanitize_filename(content_disposition_name(header), "fallback") == stored


@pytest.mark.parametrize(("name", "safe"), [("../../x", "x"), (".hidden.pt", "hidden.pt"),
                                            ("a\x00b\x1f.ckpt", "ab.ckpt"), ("..", "fallback"),
                                            ("nul.txt", "_nul.txt"), ("", "fallback")])
def test_sanitised_names(name: str, safe: str) -> None:
    from smx.models.store import sanitize_filename

    assert sanitize_filename(name, "fallback") == safe


def test_a_plain_http_url_is_pulled_with_a_warning(hub: FakeHub, env_dir: Path, smx) -> None:
    data = safetensors_bytes(MiB, family=None)
    url = hub.url_file("/files/4x-UltraSharp.safetensors", data)  # the hub speaks http://
    assert url.startswith("http://")
    result = pull(smx, env_dir, url, "--sha256", hashlib.sha256(data).hexdigest())
    assert result.exit_code == 0, result.output
    assert f"{url} is plain http://: the download is unencrypted" in result.stderr
    assert "use https:// if the server offers it" in result.stderr
    assert "verified only by its size" not in result.stderr  # --sha256 was given
