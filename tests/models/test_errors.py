"""The errors users meet, each one line with the fix, and nothing half-written behind them."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes

MiB = 1 << 20


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


def snapshot(env: Path) -> dict[str, bytes | None]:
    return {name: (env / name).read_bytes() if (env / name).exists() else None
            for name in ("smx.toml", "smx.lock")}


@pytest.fixture
def published(hub: FakeHub):
    def publish(**access: object):
        return hub.civitai_publish(261336, 597138, safetensors_bytes(MiB), name="v5.0.0",
                                   filename="animaPencilXL_v500.safetensors", **access)
    return publish


def test_login_required_says_to_set_the_civitai_token(published, env_dir: Path, smx) -> None:
    published(login_required=True)
    before = snapshot(env_dir)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert lines[error] == ("error: Civitai requires you to be logged in to download "
                            "anima_pencil-XL v5.0.0")
    assert lines[error + 1].startswith("hint:") and error + 2 == len(lines)
    assert "CIVITAI_API_TOKEN" in lines[error + 1]
    assert "smx auth login civitai" in lines[error + 1]
    assert snapshot(env_dir) == before


def test_a_rejected_civitai_token_is_named(published, env_dir: Path, smx,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    published(login_required=True)
    monkeypatch.setenv("CIVITAI_API_TOKEN", "not-a-valid-key-123")
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3
    assert "did not accept the API token from CIVITAI_API_TOKEN" in result.stderr
    assert "not-a-valid-key-123" not in result.output


def test_a_valid_token_unlocks_the_download(published, hub: FakeHub, env_dir: Path, smx,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    published(login_required=True)
    hub.civitai_tokens.add("good-key-456")
    monkeypatch.setenv("CIVITAI_API_TOKEN", "good-key-456")
    assert pull(smx, env_dir, "civitai:261336").exit_code == 0


def test_early_access_names_the_date(published, env_dir: Path, smx) -> None:
    published(early_access_until="2030-01-01T00:00:00.000Z")
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3
    assert "anima_pencil-XL v5.0.0 is in Early Access until 2030-01-01" in result.stderr
    assert "civitai:261336@<version>" in result.stderr


def test_downloads_disabled_and_archived(published, env_dir: Path, smx, hub: FakeHub) -> None:
    published(downloads_disabled=True)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3 and "has disabled downloads" in result.stderr
    hub.civitai_models.clear()
    published(archived=True)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 2 and "was archived on Civitai" in result.stderr


@pytest.mark.usefixtures("hub")
def test_unknown_model_and_version(env_dir: Path, smx) -> None:
    result = pull(smx, env_dir, "civitai:999999999")
    assert result.exit_code == 2
    assert "error: Civitai has no model 999999999" in result.stderr
    result = pull(smx, env_dir, "civitai:261336@123456")
    assert result.exit_code == 2
    assert "Civitai has no published model version 123456" in result.stderr


def test_civitai_download_limit_429_is_retried_then_reported(published, hub: FakeHub,
                                                             env_dir: Path, smx) -> None:
    published()
    import json

    from helpers.fakehub import load_fixture

    hub.fault("api", "status", status=429, path="/api/download/", times=None,
              body=json.dumps(load_fixture("civitai/errors/429-download-limit.json")).encode(),
              headers={"Content-Type": "application/json"})
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3
    assert "Civitai is limiting downloads: We've noticed an unusual amount" in result.stderr
    assert len(hub.requests_to("api", "/api/download/")) == 6


def test_html_instead_of_json_is_an_outage_not_a_crash(published, hub: FakeHub, env_dir: Path,
                                                       smx) -> None:
    published()
    hub.fault("api", "html", times=None)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3
    assert "Civitai answered with a web page instead of data" in result.stderr
    assert "status.civitai.com" in result.stderr


def test_html_on_a_200_is_an_outage_too(published, hub: FakeHub, env_dir: Path, smx) -> None:
    published()
    hub.fault("api", "status", status=200, body=b"<!DOCTYPE html><html>Just a moment</html>",
              headers={"Content-Type": "text/html"})
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 3 and "instead of data" in result.stderr


# --- Hugging Face ----------------------------------------------------------------------------
def test_a_gated_repo_without_token_says_request_access_then_set_hf_token(
        hub: FakeHub, env_dir: Path, smx) -> None:
    hub.hf_commit("meta/gated", {"mm_x.ckpt": b"x" * 100}, gated=True)
    result = pull(smx, env_dir, "hf:meta/gated/mm_x.ckpt")
    assert result.exit_code == 3
    assert "meta/gated on Hugging Face is gated" in result.stderr
    assert "request access on the model page" in result.stderr and "HF_TOKEN" in result.stderr


def test_a_gated_repo_with_a_token_not_yet_granted(hub: FakeHub, env_dir: Path, smx,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    hub.hf_commit("meta/gated", {"mm_x.ckpt": b"x" * 100}, gated=True)
    hub.hf_tokens.add("hf_abcdefghijklmnop")
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    result = pull(smx, env_dir, "hf:meta/gated/mm_x.ckpt")
    assert result.exit_code == 3
    assert "has not been granted access yet" in result.stderr
    assert "hf_abcdefghijklmnop" not in result.output
    hub.hf_repos["meta/gated"].allowed_tokens.add("hf_abcdefghijklmnop")
    granted = pull(smx, env_dir, "hf:meta/gated/mm_x.ckpt", "--kind", "motion-module")
    assert granted.exit_code == 4  # granted now: it downloads, and is refused as garbage
    assert "mm_x.ckpt is neither a torch zip archive nor a pickle" in granted.stderr


@pytest.mark.parametrize(("ref", "message"), [
    ("hf:guoyww/animatediff/nope.ckpt", "guoyww/animatediff has no file nope.ckpt"),
    ("hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt@v9", "guoyww/animatediff has no revision 'v9'"),
    ("hf:nobody/nothing/x.ckpt", "Hugging Face has no repo nobody/nothing (or it is private)"),
])
def test_hf_not_found_errors(hub: FakeHub, env_dir: Path, smx, ref: str, message: str) -> None:
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": b"x" * 100})
    result = pull(smx, env_dir, ref)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_entry_not_found_on_resolve_is_reported_as_such(hub: FakeHub, env_dir: Path, smx
                                                       ) -> None:
    """The file vanished between the API call and the download (the lock points at it)."""
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": b"x" * 100})
    hub.fault("hf", "status", status=404, path="/resolve/",
              headers={"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"},
              body=b'{"error":"Entry not found"}')
    result = pull(smx, env_dir, "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt")
    assert result.exit_code == 2
    assert "has no file mm_sdxl_v10_beta.ckpt at revision" in result.stderr
    assert [r.status for r in hub.requests_to("hf", "/resolve/")] == [404]  # the download's
    assert "mm_sdxl_v10_beta" not in (env_dir / "smx.toml").read_text()


# --- disk ------------------------------------------------------------------------------------
def test_not_enough_free_disk_is_refused_before_downloading(hub: FakeHub, env_dir: Path,
                                                            smx) -> None:
    hub.civitai_publish(7, 70, safetensors_bytes(MiB), name="huge")
    original = hub.civitai_version_json  # wrapped: the API will claim a petabyte for it

    def lying(v, **kw):
        body = original(v, **kw)
        for f in body["files"]:
            f["sizeKB"] = 1024.0 ** 4  # 1 PiB
        return body

    hub.civitai_version_json = lying  # type: ignore[method-assign]
    result = pull(smx, env_dir, "civitai:7")
    assert result.exit_code == 5
    assert "not enough free disk space" in result.stderr and "free" in result.stderr
    assert hub.requests_to("cdn") == []


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_disk_full_mid_download_keeps_the_partial_for_resume(hub: FakeHub, env_dir: Path,
                                                             smx_process) -> None:
    """A real out-of-space error (EFBIG from RLIMIT_FSIZE) in a real smx process."""
    data = safetensors_bytes(6 * MiB, seed=3)
    hub.civitai_publish(261336, 597138, data, name="v5.0.0")

    import resource

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3 * MiB, 3 * MiB))

    import subprocess

    before = snapshot(env_dir)
    proc = subprocess.run([sys.executable, "-m", "smx", "--env", str(env_dir), "model", "pull",
                           "civitai:261336"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **hub.env()}, preexec_fn=small_disk)
    assert proc.returncode == 5, proc.stderr
    assert "the disk filled up while downloading" in proc.stderr
    assert "kept" in proc.stderr and "run the same command again" in proc.stderr
    assert snapshot(env_dir) == before
    parts = list((env_dir / "Data/Cache/downloads").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == 3 * MiB
    hub.clear_records()
    done = smx_process("--env", str(env_dir), "model", "pull", "civitai:261336",
                       env=hub.env())
    assert done.returncode == 0, done.stderr
    assert hub.bytes_sent("cdn") <= 3 * MiB + 64 * 1024


def test_wrong_bytes_from_the_cdn_are_refused_and_nothing_changes(published, hub: FakeHub,
                                                                  env_dir: Path, smx) -> None:
    published()
    before = snapshot(env_dir)
    hub.fault("cdn", "corrupt", times=None)
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 4
    assert "SHA-256 mismatch (expected" in result.stderr and "nothing was placed" in result.stderr
    assert snapshot(env_dir) == before
    assert not [p for p in (env_dir / "Data/Models").rglob("*") if p.is_file()]
    assert not list((env_dir / "Data/Cache/downloads").iterdir())


def test_endpoints_can_come_from_smx_toml(published, hub: FakeHub, env_dir: Path, smx,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    published()
    monkeypatch.delenv("SMX_CIVITAI_ENDPOINT")
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + f'\n[sources]\ncivitai = "{hub.api_url}"\n')
    result = pull(smx, env_dir, "civitai:261336")
    assert result.exit_code == 0, result.output
    assert hub.requests_to("api")


def test_a_bad_endpoint_setting_is_one_line(env_dir: Path, smx,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "hf-mirror.example")
    result = pull(smx, env_dir, "hf:a/b/mm_c.ckpt")
    assert result.exit_code == 2
    assert "HF_ENDPOINT: 'hf-mirror.example' is not an http(s) URL" in result.stderr
