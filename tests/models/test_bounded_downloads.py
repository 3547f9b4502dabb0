"""Servers that send too much, too little or nothing useful: the download stops at what was
announced, says what happened, and leaves nothing partial in the store or the cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes
from smx.errors import NetworkError, RemoteError
from smx.models.download import DownloadSpec, download
from smx.models.http import HttpClient
from smx.reporter import RecordingReporter

MiB = 1 << 20


def store_files(env: Path) -> list[Path]:
    return sorted(p for p in (env / "Data" / "Models").rglob("*") if p.is_file())


def cache_files(env: Path) -> list[Path]:
    return sorted(p for p in (env / "Data" / "Cache" / "downloads").rglob("*") if p.is_file())


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


def fetch(url: str, cache: Path, *, size: int | None = None, sha256: str | None = None,
          reporter: RecordingReporter | None = None):
    spec = DownloadSpec(url=url, key="url-test", label="test file", size=size, sha256=sha256)
    client = HttpClient()
    try:
        return download(spec, cache, client, reporter)
    finally:
        client.close()


@pytest.fixture
def published(hub: FakeHub) -> bytes:
    data = safetensors_bytes(MiB, seed=11)
    hub.civitai_publish(261336, 597138, data, name="v5.0.0",
                        filename="animaPencilXL_v500.safetensors")
    return data


def test_an_endless_body_stops_soon_after_the_size_civitai_announced(
        published: bytes, hub: FakeHub, env_dir: Path, smx) -> None:
    hub.fault("cdn", "endless", times=None)  # no Content-Length, the file over and over
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3, result.output
    assert "the server sent more than announced" in result.stderr
    assert "placed nothing" in result.stderr
    assert store_files(env_dir) == [] and cache_files(env_dir) == []
    # it stopped reading: what the server got out is the file plus socket buffers, not 1 GiB
    assert hub.bytes_sent("cdn") < 32 * MiB


def test_an_endless_body_of_unknown_size_stops_before_the_disk_fills(
        hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import smx.models.download as engine

    url = hub.url_file("/files/endless.safetensors", safetensors_bytes(MiB, seed=12))
    hub.fault("cdn", "endless", times=None)
    monkeypatch.setattr(engine, "free_space", lambda path: 20 * MiB)  # a nearly full disk
    with pytest.raises(RemoteError) as caught:
        fetch(url, tmp_path)  # a plain URL: no size from anywhere
    assert "without saying how large the file is" in caught.value.message
    assert "nearly fill the disk" in caught.value.message
    assert list(tmp_path.iterdir()) == []
    assert hub.bytes_sent("cdn") < 20 * MiB + 16 * MiB


def test_a_cut_body_without_length_or_ranges_is_reported_as_cut(
        published: bytes, hub: FakeHub, env_dir: Path, smx) -> None:
    hub.fault("cdn", "nolength", after=len(published) // 2, times=None)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3, result.output
    assert f"ended the download after {len(published) // 2} of the" in result.stderr
    assert "kept changing" not in result.stderr
    assert store_files(env_dir) == [] and cache_files(env_dir) == []


def test_a_server_that_cannot_resume_and_keeps_dropping_says_so(hub: FakeHub,
                                                                tmp_path: Path) -> None:
    data = safetensors_bytes(4 * MiB, seed=13)
    url = hub.url_file("/files/flaky.safetensors", data)
    hub.cdn_ignore_range = True
    hub.fault("cdn", "reset", after=MiB, times=None)
    reporter = RecordingReporter()
    with pytest.raises(NetworkError) as caught:
        fetch(url, tmp_path, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
              reporter=reporter)
    message = caught.value.message
    assert "the connection dropped before the end on each of 3 tries" in message
    assert "cannot resume a download (it ignores Range)" in message
    assert "kept changing" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_loop_leaves_no_empty_partial(published: bytes, hub: FakeHub, env_dir: Path,
                                                  smx) -> None:
    hub.fault("api", "status", status=302, path="/api/download/", times=None,
              headers={"Location": "/api/download/models/597138"})
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3, result.output
    assert "too many redirects" in result.stderr
    assert store_files(env_dir) == [] and cache_files(env_dir) == []


def test_an_unknown_host_leaves_no_empty_partial(tmp_path: Path) -> None:
    with pytest.raises(NetworkError) as caught:
        fetch("http://does-not-exist.invalid/vae.safetensors", tmp_path)
    assert "not a known host name" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_resumable_partial_is_kept_when_the_server_goes_away(hub: FakeHub,
                                                               tmp_path: Path) -> None:
    """The rule is "nothing worth resuming is left", not "nothing is left"."""
    data = safetensors_bytes(4 * MiB, seed=14)
    url = hub.url_file("/files/half.safetensors", data)
    hub.fault("cdn", "reset", after=2 * MiB)
    hub.fault("cdn", "status", status=503, times=None)
    with pytest.raises(RemoteError):
        fetch(url, tmp_path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert sorted(p.name.split(".", 1)[1] for p in tmp_path.iterdir()) == ["part", "part.json"]
