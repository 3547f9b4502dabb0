"""`smx doctor` as a user runs it: on recorded GPUs, low disks, inside and outside an env."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest


def doctor_json(smx, *args: str, cwd: Path | None = None) -> tuple[int, dict]:
    result = smx("doctor", "--json", *args, cwd=cwd)
    assert result.stdout, result.output
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    return result.exit_code, document


def by_package(document: dict) -> dict[str, dict]:
    return {p["name"]: p for p in document["data"]["packages"]}


def check(document: dict, check_id: str) -> dict:
    return next(c for c in document["data"]["checks"] if c["id"] == check_id)


# --- GPUs ------------------------------------------------------------------------------------
def test_no_nvidia_library_is_reported_not_a_crash(smx, use_recording, tmp_path: Path) -> None:
    use_recording("no_library")
    result = smx("doctor", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "no NVIDIA driver/library found" in result.stdout
    assert "nothing blocks smx" in result.stdout

    code, document = doctor_json(smx)
    assert code == 0
    assert document["data"]["nvidia"]["available"] is False
    assert check(document, "nvidia")["status"] == "info"


def test_without_a_recording_the_real_nvml_path_answers(smx, tmp_path: Path) -> None:
    """No SMX_NVML_RECORDING: the real pynvml runs. Here (no GPU) it must say so cleanly."""
    code, document = doctor_json(smx)
    nvidia = document["data"]["nvidia"]
    if nvidia["available"]:
        pytest.skip("this machine has an NVIDIA driver")
    assert code == 0
    assert "no NVIDIA driver/library" in nvidia["problem"]


def test_rtx_4090(smx, use_recording) -> None:
    use_recording("rtx4090")
    result = smx("doctor")
    assert result.exit_code == 0, result.output
    assert "NVIDIA GeForce RTX 4090, 24.0 GiB VRAM" in result.stdout
    assert "compute capability 8.9" in result.stdout
    assert "driver 570.133.07" in result.stdout

    _, document = doctor_json(smx)
    packages = by_package(document)
    assert packages["a1111"]["torch"]["index_url"].endswith("/whl/cu121")
    assert packages["comfyui"]["torch"]["index_url"].endswith("/whl/cu128")
    assert packages["a1111"]["launch"]["flags"] == []
    assert document["data"]["gpus"][0]["compute_capability"] == "8.9"
    assert document["data"]["auto_backend"] == "cuda"


def test_rtx_5090_gets_cu128_advice(smx, use_recording) -> None:
    use_recording("rtx5090")
    result = smx("doctor")
    assert result.exit_code == 0, result.output
    assert "cuda-blackwell" in result.stdout
    assert "cu128" in result.stdout

    _, document = doctor_json(smx)
    for package in by_package(document).values():
        torch = package["torch"]
        assert torch["backend_key"] == "cuda-blackwell", package["name"]
        assert torch["index_url"] == "https://download.pytorch.org/whl/cu128"
    assert "torch>=2.7" in by_package(document)["a1111"]["torch"]["requirements"]


def test_6gb_laptop_gpu_gets_medvram_sdxl(smx, use_recording) -> None:
    use_recording("laptop_6gb")
    result = smx("doctor")
    assert result.exit_code == 0, result.output
    assert "--medvram-sdxl" in result.stdout

    _, document = doctor_json(smx)
    a1111 = by_package(document)["a1111"]["launch"]
    assert (a1111["level"], a1111["flags"]) == ("medvram-sdxl", ["--medvram-sdxl"])
    # its driver (CUDA 12.4) is older than ComfyUI's cu128/cu126 builds: a warning, not a block
    assert check(document, "torch.comfyui")["status"] == "warn"
    assert "update the NVIDIA driver" in check(document, "torch.comfyui")["hint"]


# --- disk ------------------------------------------------------------------------------------
def test_less_than_20_gb_free_blocks(smx, use_recording, monkeypatch: pytest.MonkeyPatch,
                                     ) -> None:
    use_recording("rtx4090")
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(12 * 1000**3))
    result = smx("doctor")
    assert result.exit_code == 1
    assert "only 12.0 GB free" in result.stdout
    assert "1 problem block smx: disk" in result.stderr

    code, document = doctor_json(smx)
    assert code == 1 and document["status"] == "error"
    assert document["data"]["ok"] is False
    assert document["data"]["disk"]["status"] == "fail"
    assert document["errors"] == [{"code": "doctor.disk",
                                   "message": check(document, "disk")["summary"]}]


def test_room_for_a_web_ui_but_few_models_warns(smx, use_recording,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("rtx4090")
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(30 * 1000**3))
    code, document = doctor_json(smx)
    assert code == 0
    assert check(document, "disk")["status"] == "warn"
    assert "30.0 GB free" in check(document, "disk")["summary"]
    assert "leaves room for one web UI with torch (up to 12.0 GB)" in \
        check(document, "disk")["hint"]


def test_the_disk_thresholds_follow_the_catalog(smx, use_recording, env_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside an env: the largest web UI plus models; 63 GB is plenty for that. In an env:
    the web UIs smx.toml lists that are not installed yet."""
    from smx.catalog.packages import PACKAGES

    use_recording("rtx4090")
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(63 * 1000**3))
    assert check(doctor_json(smx)[1], "disk")["status"] == "ok"

    largest = max(p.disk_gb for p in PACKAGES.values())
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(int((largest + 6) * 1000**3)))
    assert check(doctor_json(smx)[1], "disk")["status"] == "fail"  # no room for a checkpoint

    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + '\n[packages.a]\nsource = "a1111"\n'
                        '\n[packages.c]\nsource = "comfyui"\n')
    need = PACKAGES["a1111"].disk_gb + PACKAGES["comfyui"].disk_gb + 7
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(int((need - 1) * 1000**3)))
    inside = check(doctor_json(smx, "--env", str(env_dir))[1], "disk")
    assert inside["status"] == "fail"
    assert inside["hint"].startswith(f"free at least {need:.1f} GB for a, c to install and")
    (env_dir / "Data" / "Packages" / "a").mkdir()  # installed: only c still needs room
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", str(int((need + 20) * 1000**3)))
    assert check(doctor_json(smx, "--env", str(env_dir))[1], "disk")["status"] == "ok"


# --- environments ----------------------------------------------------------------------------
def _add(env_dir: Path, text: str) -> None:
    """A ComfyUI package (it takes Python 3.10-3.13, so the test's own Python fits)."""
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace('backend = "auto"', text, 1)
                        + '\n[packages.main]\nsource = "comfyui"\n')


def test_inside_an_env_advice_follows_its_packages_and_torch_settings(
        smx, use_recording, env_dir: Path) -> None:
    use_recording("rtx4090")
    _add(env_dir, 'backend = "cpu"')
    code, document = doctor_json(smx, cwd=env_dir)
    assert code == 0
    assert document["data"]["env"] == str(env_dir.resolve())
    assert list(by_package(document)) == ["main"]
    torch = by_package(document)["main"]["torch"]
    assert (torch["backend_key"], torch["index_url"]) == (
        "cpu", "https://download.pytorch.org/whl/cpu")
    assert document["data"]["disk"]["path"] == str(env_dir.resolve())


def test_smx_torch_index_overrides_the_index(smx, use_recording, env_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("rtx4090")
    _add(env_dir, 'backend = "auto"')
    monkeypatch.setenv("SMX_TORCH_INDEX", "pip")
    monkeypatch.setenv("SMX_ENV", str(env_dir))
    _, document = doctor_json(smx)
    torch = by_package(document)["main"]["torch"]
    assert (torch["index_url"], torch["index_source"]) == (None, "SMX_TORCH_INDEX")


def test_a_broken_manifest_is_a_failing_check(smx, use_recording, env_dir: Path) -> None:
    use_recording("rtx4090")
    (env_dir / "smx.toml").write_text('[torch]\nbackend = "cuda12"\n')
    result = smx("doctor", cwd=env_dir)
    assert result.exit_code == 1
    assert "smx.toml:2:11" in result.stdout
    assert "block smx: env" in result.stderr


def test_an_explicit_env_that_does_not_exist_is_a_usage_error(smx, tmp_path: Path) -> None:
    result = smx("--env", str(tmp_path / "nowhere"), "doctor")
    assert result.exit_code == 2
    assert "has no smx.toml" in result.stderr


# --- proxies and the network -----------------------------------------------------------------
def test_proxy_variables_are_named_never_shown(smx, use_recording,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("no_library")
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:s3cret-pass@proxy.corp:3128")
    result = smx("doctor")
    assert "HTTPS_PROXY" in result.stdout
    assert "s3cret" not in result.output and "proxy.corp" not in result.output
    _, document = doctor_json(smx)
    assert "HTTPS_PROXY" in document["data"]["proxies"]
    assert "s3cret" not in json.dumps(document)


def _point_endpoints_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for variable in ("SMX_GITHUB_ENDPOINT", "SMX_CIVITAI_ENDPOINT", "HF_ENDPOINT"):
        monkeypatch.setenv(variable, url)


def test_no_network_without_online(smx, use_recording, loopback_server,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("no_library")
    _point_endpoints_at(monkeypatch, loopback_server.url)
    code, document = doctor_json(smx)
    assert code == 0 and document["data"]["online"] is None
    assert loopback_server.hits == []


def test_online_reaches_each_configured_endpoint(smx, use_recording, loopback_server,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("no_library")
    _point_endpoints_at(monkeypatch, loopback_server.url)
    code, document = doctor_json(smx, "--online")
    assert code == 0
    online = {r["name"]: r for r in document["data"]["online"]}
    assert set(online) == {"github", "civitai", "huggingface"}
    for name, variable in (("github", "SMX_GITHUB_ENDPOINT"),
                           ("civitai", "SMX_CIVITAI_ENDPOINT"), ("huggingface", "HF_ENDPOINT")):
        assert online[name]["reachable"] is True
        assert online[name]["status_code"] == 200
        assert online[name]["configured_by"] == variable
        assert online[name]["elapsed_ms"] >= 0
    assert len(loopback_server.hits) == 3

    result = smx("doctor", "--online")
    assert "HTTP 200 in" in result.stdout


def test_online_uses_smx_toml_sources_and_fails_when_unreachable(
        smx, use_recording, loopback_server, env_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    use_recording("no_library")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("SMX_GITHUB_ENDPOINT", loopback_server.url)
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text() + f'\n[sources]\ncivitai = "{dead}"\n'
                        f'huggingface = "{loopback_server.url}"\n')
    code, document = doctor_json(smx, "--online", cwd=env_dir)
    assert code == 1
    online = {r["name"]: r for r in document["data"]["online"]}
    assert online["civitai"]["reachable"] is False
    assert online["civitai"]["configured_by"] == "smx.toml"
    assert online["huggingface"]["reachable"] is True
    assert check(document, "online.civitai")["status"] == "fail"


def test_without_a_gpu_the_advice_is_not_to_install_a_driver(smx, use_recording,
                                                             tmp_path: Path) -> None:
    from smx.system.doctor import _gpu_checks
    from smx.system.gpu import GpuReport, NvidiaStatus

    bare = GpuReport(nvidia=NvidiaStatus(available=False, problem="no NVML"), gpus=(),
                     system="Linux", machine="x86_64", notes=())
    gpu = next(c for c in _gpu_checks(bare) if c.id == "gpu")
    assert gpu.summary.startswith("no usable GPU found: smx installs the CPU build of torch")
    assert gpu.hint.startswith("fine for trying things out")

    use_recording("no_library")
    result = smx("doctor", cwd=tmp_path)
    reasons = [line for line in result.stdout.splitlines() if ": auto:" in line]
    assert len(reasons) == len(set(reasons)) and len(reasons) <= 2  # not one per web UI
    assert any(line.startswith("a1111, forge") for line in reasons), reasons
