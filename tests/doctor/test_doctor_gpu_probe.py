"""What smx learns about GPUs from NVML (real or recorded), sysfs, lspci and rocm-smi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smx.errors import UsageError
from smx.system.gpu import parse_lspci, parse_rocm_smi, probe_gpus
from smx.system.nvml import PynvmlSource, RecordedNvml, record

RECORDINGS = Path(__file__).parent / "nvml"


def test_missing_nvidia_library_is_a_normal_answer(recorded_gpus) -> None:
    report = recorded_gpus("no_library")
    assert report.nvidia.available is False
    assert "no NVIDIA driver/library" in (report.nvidia.problem or "")
    assert report.gpus == () and report.auto_backend == "cpu"


def _what_nvml_itself_says() -> tuple[str, list[str]] | None:
    """The driver version and GPU names, asked of the NVIDIA library directly; None where
    there is no driver (this machine, CI)."""
    import pynvml

    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        count = pynvml.nvmlDeviceGetCount()
        names = [text(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)))
                 for i in range(count)]
        return text(pynvml.nvmlSystemGetDriverVersion()), names
    finally:
        pynvml.nvmlShutdown()


def test_real_pynvml_reports_what_the_driver_says(tmp_path: Path) -> None:
    """The real library path, not a recording. Without the NVIDIA driver it says so instead
    of raising; with it, every GPU the driver lists is a CUDA GPU with its memory, and CUDA
    is the backend smx picks."""
    report = probe_gpus(PynvmlSource(), sysfs=tmp_path, system="Linux")
    truth = _what_nvml_itself_says()
    if truth is None:
        assert report.nvidia.available is False
        assert "no NVIDIA driver/library" in (report.nvidia.problem or "")
        assert report.cuda_gpus == []
        return
    driver, names = truth
    assert report.nvidia.available is True
    assert report.nvidia.driver_version == driver
    assert [gpu.name for gpu in report.cuda_gpus] == names
    assert all(gpu.vram_total > 0 for gpu in report.cuda_gpus)
    assert report.auto_backend == ("cuda" if names else "cpu")


def test_recorded_rtx_4090(recorded_gpus) -> None:
    report = recorded_gpus("rtx4090")
    assert report.nvidia.driver_version == "570.133.07"
    assert report.nvidia.cuda_driver_version == (12, 8)
    (gpu,) = report.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.compute_capability_text == "8.9"
    assert round(gpu.vram_total / 1024**3) == 24
    assert report.auto_backend == "cuda"


def test_a_question_the_gpu_cannot_answer_leaves_a_gap_not_a_crash(recorded_gpus) -> None:
    unsupported = {"nvml_error": 3, "message": "Not Supported"}
    report = recorded_gpus("rtx4090", devices=[
        {"name": "NVIDIA A100", "memory": unsupported, "compute_capability": [8, 0]}],
        cuda_driver_version=unsupported)
    (gpu,) = report.gpus
    assert gpu.vram_total is None and gpu.compute_capability == (8, 0)
    assert report.nvidia.cuda_driver_version is None


def test_driver_without_gpus(recorded_gpus) -> None:
    report = recorded_gpus("rtx4090", devices=[])
    assert report.nvidia.available and "reports no GPU" in (report.nvidia.problem or "")
    assert report.auto_backend == "cpu"


def test_recorder_writes_the_format_the_recording_source_reads() -> None:
    for path in sorted(RECORDINGS.glob("*.json")):
        answers = json.loads(path.read_text())
        again = record(RecordedNvml(answers))
        answers.pop("description", None)
        assert json.loads(json.dumps(again)) == answers, path.name


def test_unreadable_recording_is_a_usage_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="SMX_NVML_RECORDING"):
        RecordedNvml.load(broken)


# --- AMD and PCI ------------------------------------------------------------------------------
def _card(root: Path, n: int, vendor: str, **files: str) -> None:
    device = root / f"card{n}" / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    (device / "device").write_text("0x744c\n")
    for name, text in files.items():
        (device / name).write_text(text + "\n")


def test_amd_card_from_sysfs_means_rocm(tmp_path: Path, recorded_gpus) -> None:
    drm = tmp_path / "drm"
    _card(drm, 0, "0x1002", product_name="AMD Radeon RX 7900 XTX",
          mem_info_vram_total=str(24 * 1024**3), mem_info_vram_used=str(1024**3))
    (drm / "card0-DP-1").mkdir()  # a connector, not a card
    nvml = RecordedNvml(json.loads((RECORDINGS / "no_library.json").read_text()))
    report = probe_gpus(nvml, sysfs=drm, system="Linux", machine="x86_64")
    (gpu,) = report.gpus
    assert (gpu.vendor, gpu.name, gpu.source) == ("amd", "AMD Radeon RX 7900 XTX", "sysfs")
    assert gpu.vram_free == 23 * 1024**3
    assert report.auto_backend == "rocm"


def test_nvidia_card_without_driver_is_noted(tmp_path: Path) -> None:
    drm = tmp_path / "drm"
    _card(drm, 1, "0x10de")
    nvml = RecordedNvml(json.loads((RECORDINGS / "no_library.json").read_text()))
    report = probe_gpus(nvml, sysfs=drm, system="Linux", machine="x86_64")
    assert report.auto_backend == "cpu"
    assert any("install or load the NVIDIA driver" in note for note in report.notes)


def test_lspci_lines() -> None:
    text = (
        "00:02.0 VGA compatible controller: Intel Corporation UHD Graphics 630 (rev 02)\n"
        "01:00.0 VGA compatible controller: NVIDIA Corporation AD102 [GeForce RTX 4090] "
        "(rev a1)\n"
        "03:00.0 Display controller: Advanced Micro Devices, Inc. [AMD/ATI] Navi 31 "
        "[Radeon RX 7900 XT/7900 XTX] (rev c8)\n"
        "04:00.0 Ethernet controller: Intel Corporation I211 Gigabit Network Connection\n"
    )
    gpus = parse_lspci(text)
    assert [g.vendor for g in gpus] == ["intel", "nvidia", "amd"]
    assert gpus[1].name == "NVIDIA Corporation AD102 [GeForce RTX 4090]"


def test_rocm_smi_json() -> None:
    text = json.dumps({"card0": {"Card series": "Radeon RX 7900 XTX",
                                 "VRAM Total Memory (B)": "25753026560",
                                 "VRAM Total Used Memory (B)": "1073741824"},
                       "system": {"Driver version": "6.3.6"}})
    (gpu,) = parse_rocm_smi(text)
    assert (gpu.name, gpu.vram_total, gpu.vram_free) == (
        "Radeon RX 7900 XTX", 25753026560, 25753026560 - 1073741824)
    assert parse_rocm_smi("not json") == []
