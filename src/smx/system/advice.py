"""What smx recommends for this machine: which torch build (backend + wheel index) each
package gets, and which memory flags it should start with.

The installer calls :func:`torch_choice` to pick torch; `smx doctor` shows the same answers, so
what doctor says is what install does.

    choice = torch_choice("a1111", probe_gpus(), backend="auto", index="auto")
    pip install *choice.recipe.requirements [--extra-index-url choice.index_url]

Rules (webui-reference.md §7, Stability Matrix GpuInfo.cs):
- compute capability >= 10.0 (Blackwell: B200 is 10.0, RTX 50xx is 12.0) → the catalog's
  ``cuda-blackwell`` recipe (cu128, torch >= 2.7): CUDA 12.8 is the first with sm_100/sm_120.
- compute capability < 7.5 (legacy) → ``cuda-legacy`` (cu126) where the catalog has one; the
  cu128+ wheels dropped those architectures.
- the driver's CUDA version below what a build needs → the newest older build that fits, or,
  when none does, the build with a warning to update the driver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smx.catalog.packages import CatalogPackage, TorchRecipe, get_package, torch_index_url
from smx.errors import UsageError
from smx.system.gpu import AMD, Gpu, GpuReport

if TYPE_CHECKING:
    from smx.environment.manifest import Manifest

BACKEND_SETTINGS = ("auto", "cuda", "rocm", "cpu", "mps")
TORCH_INDEX_ENV = "SMX_TORCH_INDEX"

_GIB = 1024**3
# Cards are sold as whole GB and NVML reports a little less (an "8 GB" card: ~7.6-8.0 GiB),
# so the limits sit half a GiB above the marketing sizes.
LOWVRAM_MAX_BYTES = int(4.5 * _GIB)
MEDVRAM_MAX_BYTES = int(8.5 * _GIB)

_CU_INDEX = re.compile(r"(?:^|/)cu(\d+)(\d)/?$")
_RTX50 = re.compile(r"RTX\s*50\d0", re.IGNORECASE)


@dataclass(frozen=True)
class TorchChoice:
    """The torch build for one package.

    ``backend`` is what torch will run on (cuda | rocm | cpu | mps); ``backend_key`` is the
    catalog recipe used (cuda | cuda-blackwell | cuda-legacy | rocm | cpu | mps).
    ``index_url`` None means: give pip no index option (plain PyPI / pip's own config).
    ``index_source`` says who chose the index: catalog | smx.toml | SMX_TORCH_INDEX.
    ``warning`` is set when the choice will probably not use the GPU as hoped.
    """

    package: str
    backend: str
    backend_key: str
    recipe: TorchRecipe
    index_url: str | None
    index_source: str
    reason: str
    warning: str | None = None


def torch_choice(package: CatalogPackage | str, gpus: GpuReport, backend: str = "auto",
                 index: str = "auto", *, environ: Mapping[str, str] | None = None,
                 ) -> TorchChoice:
    """Pick the torch recipe and wheel index for ``package`` on the machine ``gpus`` describes.

    ``backend`` is the ``[torch] backend`` setting (or a package's own ``backend``): auto |
    cuda | rocm | cpu | mps. ``index`` is ``[torch] index``: auto | pip | URL; the environment
    variable SMX_TORCH_INDEX (same values) overrides it. Raises UsageError for bad settings.
    """
    pkg = get_package(package) if isinstance(package, str) else package
    environ = os.environ if environ is None else environ
    if backend not in BACKEND_SETTINGS:
        raise UsageError(f"unknown torch backend {backend!r}",
                         hint=f"one of: {', '.join(BACKEND_SETTINGS)}")

    warning: str | None = None
    if backend == "auto":
        resolved = gpus.auto_backend
        why = _auto_reason(gpus, resolved)
    else:
        resolved = backend
        why = f"backend = {backend!r} in smx.toml"
        warning = _forced_backend_warning(gpus, resolved)

    if resolved == "cuda":
        key, cuda_why, cuda_warning = _cuda_key(pkg, gpus)
        why = f"{why}; {cuda_why}"
        warning = warning or cuda_warning
    else:
        key = resolved
    recipe = pkg.torch.get(key)
    if recipe is None:
        raise UsageError(f"{pkg.name} has no torch build for the {key!r} backend",
                         hint=f"its builds: {', '.join(pkg.torch)}; set [torch] backend")

    index_url, index_source, index_why = _index(recipe, index, environ)
    if index_why:
        why = f"{why}; {index_why}"
    if resolved == "cuda" and warning is None:
        warning = _driver_warning(gpus, index_url)
    return TorchChoice(package=pkg.name, backend=resolved, backend_key=key, recipe=recipe,
                       index_url=index_url, index_source=index_source, reason=why,
                       warning=warning)


def choice_for(manifest: Manifest, package_name: str, gpus: GpuReport, *,
               environ: Mapping[str, str] | None = None) -> TorchChoice:
    """:func:`torch_choice` with an environment's settings: the package's own ``backend``
    beats ``[torch] backend``; ``[torch] index`` (or SMX_TORCH_INDEX) picks the index."""
    spec = manifest.packages[package_name]
    return torch_choice(spec.source, gpus, spec.backend or manifest.torch.backend,
                        manifest.torch.index, environ=environ)


# --- CUDA -----------------------------------------------------------------------------------
def needs_cuda_128(gpu: Gpu) -> bool:
    cc = gpu.compute_capability
    if cc is not None:
        return cc >= (10, 0)
    return bool(_RTX50.search(gpu.name))


def is_legacy(gpu: Gpu) -> bool:
    cc = gpu.compute_capability
    return cc is not None and cc < (7, 5)


def _describe(gpu: Gpu) -> str:
    cc = gpu.compute_capability_text
    return f"{gpu.name} (compute capability {cc})" if cc else gpu.name


def _cuda_key(pkg: CatalogPackage, gpus: GpuReport) -> tuple[str, str, str | None]:
    cuda_gpus = gpus.cuda_gpus
    new = [g for g in cuda_gpus if needs_cuda_128(g)]
    legacy = [g for g in cuda_gpus if is_legacy(g)]
    warning = None
    if new:
        candidates = ["cuda-blackwell"]
        why = f"{_describe(new[0])} needs a CUDA 12.8 build (cu128, torch>=2.7)"
        if legacy:
            warning = (f"{_describe(legacy[0])} is too old for the cu128 build that "
                       f"{new[0].name} needs; only the newer GPU will be used")
    elif legacy and len(legacy) == len(cuda_gpus):
        candidates = ["cuda-legacy", "cuda"]
        if "cuda-legacy" in pkg.torch:
            why = (f"{_describe(legacy[0])} is below 7.5, which newer CUDA builds dropped: "
                   "the legacy build")
        else:
            why = (f"{_describe(legacy[0])} is below 7.5; {pkg.name}'s CUDA build "
                   f"({pkg.torch['cuda'].index}) still supports it")
    else:
        candidates = ["cuda", "cuda-legacy"]
        why = (f"{_describe(cuda_gpus[0])}: the CUDA build" if cuda_gpus
               else "the CUDA build")
    candidates = [k for k in candidates if k in pkg.torch]
    if not candidates:
        raise UsageError(f"{pkg.name} has no CUDA torch build for this GPU",
                         hint="set [torch] backend = \"cpu\" or [torch] index to a URL")

    driver = gpus.nvidia.cuda_driver_version
    if driver is None:
        return candidates[0], why, warning
    fitting = [k for k in candidates if (_index_cuda(pkg.torch[k].index) or (0, 0)) <= driver]
    if fitting and fitting[0] != candidates[0]:
        first = pkg.torch[candidates[0]].index
        why = (f"{why}; the driver runs CUDA {gpus.nvidia.cuda_driver_text} at most, older "
               f"than {first}, so the {pkg.torch[fitting[0]].index} build")
        return fitting[0], why, warning
    return candidates[0], why, warning


def _index_cuda(index: str | None) -> tuple[int, int] | None:
    """"cu121" or ".../whl/cu121" → (12, 1); anything else → None."""
    if not index:
        return None
    match = _CU_INDEX.search(index)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _driver_warning(gpus: GpuReport, index_url: str | None) -> str | None:
    needed = _index_cuda(index_url)
    driver = gpus.nvidia.cuda_driver_version
    if needed is None or driver is None or driver >= needed:
        return None
    return (f"the NVIDIA driver runs CUDA {gpus.nvidia.cuda_driver_text} at most, but this "
            f"torch build needs CUDA {needed[0]}.{needed[1]}: update the NVIDIA driver")


# --- other backends -------------------------------------------------------------------------
def _auto_reason(gpus: GpuReport, resolved: str) -> str:
    if resolved == "cuda":
        return "auto: NVIDIA GPU found"
    if resolved == "rocm":
        return f"auto: AMD GPU found ({gpus.by_vendor(AMD)[0].name})"
    if resolved == "mps":
        return "auto: Apple Silicon (Metal/MPS)"
    if gpus.by_vendor(AMD) and gpus.system == "Windows":
        return ("auto: AMD GPU on Windows, where the catalog has no ROCm torch "
                "(DirectML/ZLUDA are not supported by smx): CPU build")
    return "auto: no usable GPU found: CPU build"


def _forced_backend_warning(gpus: GpuReport, backend: str) -> str | None:
    if backend == "cuda" and not gpus.cuda_gpus:
        return "backend is cuda but no NVIDIA GPU is usable here; torch will run on the CPU"
    if backend == "rocm" and gpus.system != "Linux":
        return "ROCm torch wheels exist for Linux only"
    if backend == "mps" and not (gpus.system == "Darwin" and gpus.machine == "arm64"):
        return "MPS needs macOS on Apple Silicon; torch will run on the CPU"
    return None


def _index(recipe: TorchRecipe, setting: str, environ: Mapping[str, str],
           ) -> tuple[str | None, str, str | None]:
    env_value = environ.get(TORCH_INDEX_ENV, "").strip()
    source = "catalog"
    if env_value:
        setting, source = env_value, TORCH_INDEX_ENV
    elif setting != "auto":
        source = "smx.toml"
    if setting == "auto":
        return torch_index_url(recipe.index), source, None
    if setting == "pip":
        return None, source, f"index = \"pip\" ({source}): pip's own configuration decides"
    if not setting.startswith(("http://", "https://", "file://")):
        where = TORCH_INDEX_ENV if source == TORCH_INDEX_ENV else "[torch] index"
        raise UsageError(f"{where} = {setting!r} is not auto, pip or a URL",
                         hint='use "auto", "pip" or a wheel-index URL')
    from smx.redact import redact

    return setting, source, f"index from {source}: {redact(setting)}"


# --- launch flags ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchAdvice:
    """Flags a package should start with on this machine. ``level`` is a catalog
    ``vram_flags`` key (medvram-sdxl | lowvram), "cpu", or None when nothing is needed."""

    package: str
    level: str | None
    flags: tuple[str, ...]
    reason: str


def vram_level(vram_total: int) -> str | None:
    if vram_total <= LOWVRAM_MAX_BYTES:
        return "lowvram"
    if vram_total <= MEDVRAM_MAX_BYTES:
        return "medvram-sdxl"
    return None


def launch_advice(package: CatalogPackage | str, gpus: GpuReport, backend: str,
                  ) -> LaunchAdvice:
    """Memory flags from VRAM (SDXL on <= 8 GB: medvram-sdxl; <= 4 GB: lowvram), or the
    package's CPU flags when torch will run on the CPU. ``backend`` is TorchChoice.backend."""
    pkg = get_package(package) if isinstance(package, str) else package
    if backend == "cpu":
        return LaunchAdvice(pkg.name, "cpu", pkg.cpu_flags,
                            "torch runs on the CPU (slow): flags to start without a GPU")
    gpu = gpus.primary
    if backend == "mps" or gpu is None or gpu.vram_total is None:
        return LaunchAdvice(pkg.name, None, (), "no VRAM figure: no memory flags")
    size = f"{gpu.vram_total / _GIB:.1f} GiB VRAM on {gpu.name}"
    level = vram_level(gpu.vram_total)
    if level is None:
        return LaunchAdvice(pkg.name, None, (), f"{size}: no memory flags needed")
    flags = pkg.vram_flags.get(level, ())
    limit = "<= 4 GB" if level == "lowvram" else "<= 8 GB (SDXL)"
    return LaunchAdvice(pkg.name, level, flags, f"{size} is {limit}")
