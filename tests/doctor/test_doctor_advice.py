"""Which torch build and launch flags smx picks for a machine (smx.system.advice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smx.environment.manifest import parse_text
from smx.errors import UsageError
from smx.system.advice import choice_for, launch_advice, torch_choice
from smx.system.gpu import Gpu, GpuReport, NvidiaStatus

PYTORCH = "https://download.pytorch.org/whl/"
NO_ENV: dict[str, str] = {}


def nvidia(name: str, cc: tuple[int, int], vram_gib: float, cuda: tuple[int, int] = (12, 9),
           ) -> GpuReport:
    total = int(vram_gib * 1024**3)
    return GpuReport(
        nvidia=NvidiaStatus(available=True, driver_version="999.0", cuda_driver_version=cuda),
        gpus=(Gpu(0, "nvidia", name, total, total, cc),), system="Linux", machine="x86_64")


NO_GPU = GpuReport(nvidia=NvidiaStatus(False, "no NVIDIA driver/library found"),
                   system="Linux", machine="x86_64")


# --- auto ------------------------------------------------------------------------------------
def test_rtx_4090_gets_each_package_catalog_cuda_build(recorded_gpus) -> None:
    gpus = recorded_gpus("rtx4090")
    a1111 = torch_choice("a1111", gpus, environ=NO_ENV)
    assert (a1111.backend, a1111.backend_key) == ("cuda", "cuda")
    assert a1111.index_url == PYTORCH + "cu121"
    assert a1111.recipe.requirements == ("torch==2.1.2", "torchvision==0.16.2")
    assert a1111.index_source == "catalog"
    assert a1111.warning is None
    comfy = torch_choice("comfyui", gpus, environ=NO_ENV)
    assert comfy.index_url == PYTORCH + "cu128"
    assert "compute capability 8.9" in comfy.reason


@pytest.mark.parametrize("package", ["a1111", "forge", "comfyui", "fooocus"])
def test_rtx_5090_needs_cu128_and_torch_2_7_everywhere(recorded_gpus, package: str) -> None:
    choice = torch_choice(package, recorded_gpus("rtx5090"), environ=NO_ENV)
    assert choice.backend_key == "cuda-blackwell"
    assert choice.index_url == PYTORCH + "cu128"
    assert "CUDA 12.8" in choice.reason and "RTX 5090" in choice.reason
    assert choice.warning is None
    if package != "comfyui":  # ComfyUI's recipe is unpinned
        assert "torch>=2.7" in choice.recipe.requirements


def test_rtx_50_name_is_enough_when_the_driver_hides_compute_capability() -> None:
    gpus = GpuReport(nvidia=NvidiaStatus(True, cuda_driver_version=(12, 8)),
                     gpus=(Gpu(0, "nvidia", "NVIDIA GeForce RTX 5070 Ti", None, None, None),),
                     system="Linux")
    assert torch_choice("a1111", gpus, environ=NO_ENV).backend_key == "cuda-blackwell"


def test_legacy_gpu_gets_the_cu126_build_where_the_catalog_has_one() -> None:
    gtx1080 = nvidia("NVIDIA GeForce GTX 1080", (6, 1), 8)
    comfy = torch_choice("comfyui", gtx1080, environ=NO_ENV)
    assert (comfy.backend_key, comfy.index_url) == ("cuda-legacy", PYTORCH + "cu126")
    assert "below 7.5" in comfy.reason
    # A1111 has no legacy recipe; its cu121 build still runs Pascal
    a1111 = torch_choice("a1111", gtx1080, environ=NO_ENV)
    assert (a1111.backend_key, a1111.index_url) == ("cuda", PYTORCH + "cu121")


def test_old_driver_gets_an_older_cuda_build_when_the_catalog_has_one() -> None:
    gpus = nvidia("NVIDIA GeForce RTX 3090", (8, 6), 24, cuda=(12, 6))
    comfy = torch_choice("comfyui", gpus, environ=NO_ENV)
    assert (comfy.backend_key, comfy.index_url) == ("cuda-legacy", PYTORCH + "cu126")
    assert "CUDA 12.6 at most" in comfy.reason
    assert comfy.warning is None


def test_too_old_driver_is_told_to_update(recorded_gpus) -> None:
    laptop = recorded_gpus("laptop_6gb")  # driver runs CUDA 12.4: cu128 and cu126 both newer
    comfy = torch_choice("comfyui", laptop, environ=NO_ENV)
    assert comfy.backend_key == "cuda"
    assert comfy.warning is not None and "update the NVIDIA driver" in comfy.warning
    assert torch_choice("a1111", laptop, environ=NO_ENV).warning is None  # cu121 fits 12.4

    cuda_11 = nvidia("NVIDIA GeForce RTX 3090", (8, 6), 24, cuda=(11, 8))
    warning = torch_choice("a1111", cuda_11, environ=NO_ENV).warning
    assert warning is not None and "CUDA 11.8" in warning and "needs CUDA 12.1" in warning


def test_blackwell_on_a_driver_without_cuda_12_8_is_told_to_update() -> None:
    gpus = nvidia("NVIDIA GeForce RTX 5080", (12, 0), 16, cuda=(12, 6))
    choice = torch_choice("forge", gpus, environ=NO_ENV)
    assert choice.backend_key == "cuda-blackwell"
    assert choice.warning is not None and "update the NVIDIA driver" in choice.warning


def test_no_gpu_means_cpu_build(recorded_gpus) -> None:
    choice = torch_choice("a1111", recorded_gpus("no_library"), environ=NO_ENV)
    assert (choice.backend, choice.index_url) == ("cpu", PYTORCH + "cpu")
    assert "no usable GPU" in choice.reason


def test_amd_on_linux_gets_rocm_and_apple_silicon_gets_plain_pypi() -> None:
    amd = GpuReport(nvidia=NvidiaStatus(False, "no NVIDIA driver/library found"),
                    gpus=(Gpu(0, "amd", "Radeon RX 7900 XTX", 24 * 1024**3, None, None,
                              "sysfs"),), system="Linux")
    assert torch_choice("comfyui", amd, environ=NO_ENV).index_url == PYTORCH + "rocm6.3"
    on_windows = GpuReport(nvidia=amd.nvidia, gpus=amd.gpus, system="Windows")
    assert torch_choice("comfyui", on_windows, environ=NO_ENV).backend == "cpu"

    mac = GpuReport(nvidia=NvidiaStatus(False, "no NVIDIA driver/library found"),
                    gpus=(Gpu(0, "apple", "Apple M2", source="platform"),),
                    system="Darwin", machine="arm64")
    choice = torch_choice("a1111", mac, environ=NO_ENV)
    assert (choice.backend, choice.index_url) == ("mps", None)


# --- [torch] backend / index -------------------------------------------------------------------
def test_backend_setting_overrides_what_the_gpu_suggests(recorded_gpus) -> None:
    gpus = recorded_gpus("rtx4090")
    cpu = torch_choice("a1111", gpus, backend="cpu", environ=NO_ENV)
    assert (cpu.backend_key, cpu.index_url) == ("cpu", PYTORCH + "cpu")
    assert "backend = 'cpu'" in cpu.reason
    rocm = torch_choice("forge", gpus, backend="rocm", environ=NO_ENV)
    assert rocm.index_url == PYTORCH + "rocm6.0"


def test_cuda_backend_without_nvidia_gpu_warns() -> None:
    choice = torch_choice("comfyui", NO_GPU, backend="cuda", environ=NO_ENV)
    assert choice.backend_key == "cuda"
    assert choice.warning is not None and "no NVIDIA GPU" in choice.warning


def test_index_pip_means_no_index_option_at_all(recorded_gpus) -> None:
    choice = torch_choice("a1111", recorded_gpus("rtx4090"), index="pip", environ=NO_ENV)
    assert choice.index_url is None
    assert choice.index_source == "smx.toml"
    assert "pip's own configuration" in choice.reason
    assert choice.recipe.requirements == ("torch==2.1.2", "torchvision==0.16.2")


def test_index_url_setting_and_env_override(recorded_gpus) -> None:
    gpus = recorded_gpus("rtx4090")
    mirror = "https://mirror.example/whl/cu121"
    choice = torch_choice("a1111", gpus, index=mirror, environ=NO_ENV)
    assert (choice.index_url, choice.index_source) == (mirror, "smx.toml")

    env = {"SMX_TORCH_INDEX": "https://other.example/simple"}
    overridden = torch_choice("a1111", gpus, index=mirror, environ=env)
    assert overridden.index_url == "https://other.example/simple"
    assert overridden.index_source == "SMX_TORCH_INDEX"

    to_pip = torch_choice("a1111", gpus, index=mirror, environ={"SMX_TORCH_INDEX": "pip"})
    assert to_pip.index_url is None and to_pip.index_source == "SMX_TORCH_INDEX"


def test_bad_settings_are_usage_errors(recorded_gpus) -> None:
    gpus = recorded_gpus("rtx4090")
    with pytest.raises(UsageError, match="SMX_TORCH_INDEX"):
        torch_choice("a1111", gpus, environ={"SMX_TORCH_INDEX": "cu121"})
    with pytest.raises(UsageError, match="unknown torch backend"):
        torch_choice("a1111", gpus, backend="directml", environ=NO_ENV)


def test_choice_for_an_env_uses_the_package_backend_before_torch_backend(recorded_gpus,
                                                                        tmp_path: Path) -> None:
    manifest = parse_text(tmp_path / "smx.toml", """
[torch]
backend = "cpu"
index = "pip"

[packages.main]
source = "a1111"

[packages.gpu]
source = "comfyui"
backend = "cuda"
""")
    gpus = recorded_gpus("rtx4090")
    main = choice_for(manifest, "main", gpus, environ=NO_ENV)
    assert (main.backend_key, main.index_url) == ("cpu", None)
    gpu = choice_for(manifest, "gpu", gpus, environ=NO_ENV)
    assert gpu.backend_key == "cuda" and gpu.package == "comfyui"


# --- launch flags ------------------------------------------------------------------------------
def test_6gb_laptop_gets_medvram_sdxl(recorded_gpus) -> None:
    laptop = recorded_gpus("laptop_6gb")
    a1111 = launch_advice("a1111", laptop, "cuda")
    assert (a1111.level, a1111.flags) == ("medvram-sdxl", ("--medvram-sdxl",))
    assert "6.0 GiB" in a1111.reason
    # each package gets its own spelling of the same advice (catalog vram_flags)
    assert launch_advice("comfyui", laptop, "cuda").flags == ("--lowvram",)
    assert launch_advice("forge", laptop, "cuda").flags == ("--always-low-vram",)


@pytest.mark.parametrize(("vram_gib", "level", "flags"), [
    (4, "lowvram", ("--lowvram",)),
    (8, "medvram-sdxl", ("--medvram-sdxl",)),
    (7.6, "medvram-sdxl", ("--medvram-sdxl",)),
    (10, None, ()),
    (24, None, ()),
])
def test_vram_levels_for_a1111(vram_gib: float, level: str | None, flags: tuple[str, ...],
                               ) -> None:
    advice = launch_advice("a1111", nvidia("GPU", (8, 6), vram_gib), "cuda")
    assert (advice.level, advice.flags) == (level, flags)


def test_cpu_torch_gets_the_package_cpu_flags() -> None:
    advice = launch_advice("a1111", NO_GPU, "cpu")
    assert advice.level == "cpu"
    assert "--skip-torch-cuda-test" in advice.flags and "--use-cpu" in advice.flags
