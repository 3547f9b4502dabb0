"""The transfer engine against a real loopback server: resume, retries, ranges, verification."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes
from smx.errors import ChecksumMismatch, NetworkError, RateLimited, RemoteError
from smx.models.download import DownloadSpec, download
from smx.models.http import HttpClient
from smx.reporter import RecordingReporter

MiB = 1 << 20


def fetch(url: str, data: bytes, cache: Path, *, connections: int | None = None,
          reporter: RecordingReporter | None = None, sha: str | None = "auto",
          size: int | None = -1, key: str | None = None):
    digest = hashlib.sha256(data).hexdigest()
    spec = DownloadSpec(url=url, key=key or digest, label="test file",
                        size=len(data) if size == -1 else size,
                        sha256=digest if sha == "auto" else sha, connections=connections)
    client = HttpClient()
    client.on_retry = reporter.info if reporter is not None else None
    try:
        return download(spec, cache, client, reporter)
    finally:
        client.close()


@pytest.fixture
def blob(hub: FakeHub) -> tuple[str, bytes]:
    data = safetensors_bytes(6 * MiB, seed=1)
    return hub.url_file("/files/model.safetensors", data), data


def test_a_download_is_verified_and_left_in_the_cache_for_placing(blob, tmp_path: Path) -> None:
    url, data = blob
    got = fetch(url, data, tmp_path)
    assert got.path.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.fetched == len(data) and got.resumed_from == 0


def test_a_connection_reset_mid_body_resumes_without_refetching(hub: FakeHub, blob,
                                                                tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "reset", after=2 * MiB, times=2)
    got = fetch(url, data, tmp_path)
    assert got.path.read_bytes() == data
    ranges = [r.headers.get("range") for r in hub.requests_to("cdn")]
    end = len(data) - 1
    assert ranges == [f"bytes=0-{end}", f"bytes={2 * MiB}-{end}", f"bytes={4 * MiB}-{end}"]
    assert hub.bytes_sent("cdn") <= len(data) * 1.05


def test_a_truncated_body_is_detected_and_completed(hub: FakeHub, blob, tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "truncate", after=1000)
    got = fetch(url, data, tmp_path)
    assert got.path.read_bytes() == data
    assert hub.bytes_sent("cdn") <= len(data) * 1.05


def test_a_500_is_retried_then_succeeds(hub: FakeHub, blob, tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=500, body=b"oops", times=2)
    reporter = RecordingReporter()
    got = fetch(url, data, tmp_path, reporter=reporter)
    assert got.path.read_bytes() == data
    assert [r.status for r in hub.requests_to("cdn")] == [500, 500, 206]
    assert any("HTTP 500" in m and "retrying" in m for m in reporter.infos)


def test_a_429_with_retry_after_waits_what_the_server_asks(hub: FakeHub, blob,
                                                           tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=429, headers={"Retry-After": "7"})
    reporter = RecordingReporter()
    fetch(url, data, tmp_path, reporter=reporter)
    assert any("HTTP 429" in m and "retrying in 7 s" in m for m in reporter.infos)


def test_a_429_without_retry_after_backs_off_then_gives_up(hub: FakeHub, blob,
                                                           tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=429, times=None, body=b'{"error":"slow down"}')
    reporter = RecordingReporter()
    with pytest.raises(RemoteError):
        fetch(url, data, tmp_path, reporter=reporter)
    waits = [m for m in reporter.infos if "retrying in" in m]
    assert len(waits) == 5  # bounded: six tries in all
    assert len(hub.requests_to("cdn")) == 6


def test_retry_after_longer_than_smx_waits_is_reported_not_slept(hub: FakeHub, blob,
                                                                 tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=429, headers={"Retry-After": "86400"})
    with pytest.raises(RemoteError, match="429"):
        fetch(url, data, tmp_path)
    assert len(hub.requests_to("cdn")) == 1


def test_wrong_bytes_are_refused_and_deleted(hub: FakeHub, blob, tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "corrupt", times=None)
    with pytest.raises(ChecksumMismatch) as caught:
        fetch(url, data, tmp_path)
    assert hashlib.sha256(data).hexdigest() in caught.value.message  # expected vs got
    assert "got" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_server_without_range_support_restarts_cleanly(hub: FakeHub, blob,
                                                         tmp_path: Path) -> None:
    url, data = blob
    hub.cdn_ignore_range = True
    hub.fault("cdn", "reset", after=2 * MiB)
    reporter = RecordingReporter()
    got = fetch(url, data, tmp_path, reporter=reporter)
    assert got.path.read_bytes() == data
    assert [r.status for r in hub.requests_to("cdn")] == [200, 200]
    assert any("starting over" in w for w in reporter.warnings)


def test_a_partial_download_resumes_where_it_stopped(hub: FakeHub, blob, tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "reset", after=4 * MiB)
    hub.fault("cdn", "status", status=503, times=None)  # then the CDN is down for good
    with pytest.raises(NetworkError):
        fetch(url, data, tmp_path)
    assert (tmp_path / f"{hashlib.sha256(data).hexdigest()}.part").exists()
    hub.clear_faults()
    hub.clear_records()
    reporter = RecordingReporter()
    got = fetch(url, data, tmp_path, reporter=reporter)
    assert got.resumed_from == 4 * MiB and got.fetched == len(data) - 4 * MiB
    assert hub.requests_to("cdn")[0].headers["range"].startswith(f"bytes={4 * MiB}-")
    assert any("resuming at 66%" in m for m in reporter.infos)


def test_a_changed_file_on_the_server_is_not_spliced_onto_the_old_part(hub: FakeHub,
                                                                       tmp_path: Path) -> None:
    old = safetensors_bytes(6 * MiB, seed=1)
    url = hub.url_file("/files/moving.safetensors", old)
    hub.fault("cdn", "reset", after=3 * MiB)
    hub.fault("cdn", "status", status=503, times=None)
    with pytest.raises(NetworkError):
        fetch(url, old, tmp_path, sha=None, size=None, key="url-moving")
    hub.clear_faults()
    hub.clear_records()
    new = safetensors_bytes(6 * MiB, seed=2)
    hub.url_file("/files/moving.safetensors", new)  # same URL, new bytes, new ETag
    got = fetch(url, new, tmp_path, sha=None, size=None, key="url-moving")
    assert got.path.read_bytes() == new and got.resumed_from == 0
    (resume,) = hub.requests_to("cdn")
    assert resume.headers["range"].startswith(f"bytes={3 * MiB}-")
    assert resume.headers["if-range"] and resume.status == 200  # the server sent it whole


def test_large_files_use_parallel_ranges_and_still_hash_in_one_pass(hub: FakeHub,
                                                                    tmp_path: Path) -> None:
    data = safetensors_bytes(40 * MiB, seed=3)
    url = hub.url_file("/files/big.safetensors", data)
    got = fetch(url, data, tmp_path, connections=4)
    assert got.path.read_bytes() == data and got.connections == 4
    ranges = {r.headers["range"] for r in hub.requests_to("cdn")}
    assert len(ranges) >= 4
    # every byte fetched once, but for what was in flight to a slow connection when another
    # one took over the rest of its share
    assert len(data) <= hub.bytes_sent("cdn") <= len(data) * 1.3


def test_parallel_download_falls_back_to_one_stream_when_ranges_are_refused(
        hub: FakeHub, tmp_path: Path) -> None:
    data = safetensors_bytes(20 * MiB, seed=4)
    url = hub.url_file("/files/noranges.safetensors", data)
    hub.cdn_ignore_range = True
    got = fetch(url, data, tmp_path, connections=8)
    assert got.path.read_bytes() == data and got.connections == 1
    assert len(hub.requests_to("cdn")) == 1


def test_a_reset_in_one_of_several_connections_only_refetches_that_piece(
        hub: FakeHub, tmp_path: Path) -> None:
    data = safetensors_bytes(32 * MiB, seed=5)
    url = hub.url_file("/files/par.safetensors", data)
    hub.fault("cdn", "reset", after=MiB, times=3)
    got = fetch(url, data, tmp_path, connections=4)
    assert got.path.read_bytes() == data
    assert hub.bytes_sent("cdn") <= len(data) * 1.05


def test_the_size_the_server_offers_must_match_the_source(hub: FakeHub, blob,
                                                          tmp_path: Path) -> None:
    url, data = blob
    with pytest.raises(ChecksumMismatch, match="offers"):
        fetch(url, data, tmp_path, size=len(data) + 4096)


def test_unreachable_server_is_a_network_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(NetworkError) as caught:
        fetch("http://127.0.0.1:9/x.safetensors", b"x", tmp_path)
    assert "refused" in caught.value.message and caught.value.hint


def test_rate_limit_errors_keep_their_type(hub: FakeHub, blob, tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=503, times=None)
    with pytest.raises(RemoteError) as caught:
        fetch(url, data, tmp_path)
    assert not isinstance(caught.value, RateLimited)
    assert "503" in caught.value.message


def test_by_default_a_slow_first_connection_brings_in_the_others_together(
        hub: FakeHub, tmp_path: Path) -> None:
    data = safetensors_bytes(24 * MiB, seed=6)
    url = hub.url_file("/files/capped.safetensors", data)
    hub.throttle_bps = 4_000_000  # per connection, like a CDN
    got = fetch(url, data, tmp_path)
    assert got.path.read_bytes() == data
    assert got.connections == 8
    first, *others = hub.requests_to("cdn")
    assert first.headers["range"] == f"bytes=0-{len(data) - 1}"  # alone, for everything
    # the rest was split into equal pieces in file order, seven started together, the
    # others taken one after another on the same connections
    spans = [tuple(int(x) for x in r.headers["range"][6:].split("-")) for r in others]
    opening = sorted(spans[:7])
    assert len({end - start for start, end in opening}) == 1, opening
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(opening)), opening
    assert len({r.client_port for r in hub.requests_to("cdn")}) < len(spans) + 1
    assert hub.bytes_sent("cdn") <= len(data) * 1.05


def test_by_default_a_fast_first_connection_stays_alone(hub: FakeHub, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import smx.models.download as engine

    monkeypatch.setattr(engine, "FAST_ENOUGH_BPS", 1)  # any speed counts as fast here
    data = safetensors_bytes(40 * MiB, seed=7)
    url = hub.url_file("/files/fast.safetensors", data)
    hub.throttle_bps = 20_000_000  # 2 s: the speed is judged (0.1 s, 0.5 s) long before the end
    got = fetch(url, data, tmp_path)
    assert got.path.read_bytes() == data and got.connections == 1
    (alone,) = hub.requests_to("cdn")  # one request, for the whole file, never split
    assert alone.headers["range"] == f"bytes=0-{len(data) - 1}"


def test_a_stalled_body_times_out_and_resumes(hub: FakeHub, blob, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url, data = blob
    monkeypatch.setenv("SMX_HTTP_TIMEOUT", "0.5")
    hub.fault("cdn", "stall", after=MiB, seconds=2)
    reporter = RecordingReporter()
    got = fetch(url, data, tmp_path, reporter=reporter)
    assert got.path.read_bytes() == data
    assert any("stopped sending for 0.5 s at" in m and "retrying" in m for m in reporter.infos)
    resumed_at = int(hub.requests_to("cdn")[1].headers["range"][6:].split("-")[0])
    assert 0 < resumed_at <= MiB  # from what had arrived, give or take the slice in flight


def test_a_server_hiding_the_total_length_is_read_in_one_stream(hub: FakeHub, blob,
                                                                tmp_path: Path) -> None:
    url, data = blob
    hub.fault("cdn", "status", status=206, body=b"\x08\x01\x00\x00",
              headers={"Content-Range": "bytes 0-3/*"})
    got = fetch(url, data, tmp_path, size=None)
    assert got.path.read_bytes() == data
    first, second = hub.requests_to("cdn")
    assert "range" in first.headers and "range" not in second.headers
