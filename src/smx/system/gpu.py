"""Which GPUs this machine has: NVIDIA through NVML, AMD through rocm-smi / sysfs / lspci,
Apple Silicon from the platform. Having no GPU, no driver or no NVIDIA library is a normal
answer (a report with a ``problem`` line), never an exception."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.system import nvml as nv

NVIDIA, AMD, APPLE, INTEL = "nvidia", "amd", "apple", "intel"
_PCI_VENDORS = {"0x10de": NVIDIA, "0x1002": AMD, "0x8086": INTEL}


@dataclass(frozen=True)
class Gpu:
    index: int
    vendor: str  # nvidia | amd | apple | intel
    name: str
    vram_total: int | None = None  # bytes; None where the source does not say
    vram_free: int | None = None
    compute_capability: tuple[int, int] | None = None  # NVIDIA only
    source: str = "nvml"  # nvml | rocm-smi | sysfs | lspci | platform

    @property
    def compute_capability_text(self) -> str | None:
        cc = self.compute_capability
        return None if cc is None else f"{cc[0]}.{cc[1]}"


@dataclass(frozen=True)
class NvidiaStatus:
    """What NVML said. ``available`` is False with a human ``problem`` when it could not run."""

    available: bool
    problem: str | None = None
    driver_version: str | None = None
    cuda_driver_version: tuple[int, int] | None = None  # (12, 8): the newest CUDA it runs

    @property
    def cuda_driver_text(self) -> str | None:
        v = self.cuda_driver_version
        return None if v is None else f"{v[0]}.{v[1]}"


@dataclass(frozen=True)
class GpuReport:
    nvidia: NvidiaStatus
    gpus: tuple[Gpu, ...] = ()
    system: str = field(default_factory=platform.system)  # Linux | Windows | Darwin
    machine: str = field(default_factory=platform.machine)
    notes: tuple[str, ...] = ()  # things worth a warning (a GPU seen without its driver)

    def by_vendor(self, vendor: str) -> list[Gpu]:
        return [g for g in self.gpus if g.vendor == vendor]

    @property
    def cuda_gpus(self) -> list[Gpu]:
        """NVIDIA GPUs that CUDA can use now (seen by NVML, not only on the PCI bus)."""
        return [g for g in self.gpus if g.vendor == NVIDIA and g.source == "nvml"]

    @property
    def primary(self) -> Gpu | None:
        """The GPU the web UIs use by default: CUDA/ROCm device 0, else the first one seen."""
        usable = self.cuda_gpus or self.by_vendor(AMD) or self.by_vendor(APPLE)
        return usable[0] if usable else None

    @property
    def auto_backend(self) -> str:
        """Stability Matrix's pick order: CUDA, then ROCm (Linux), then MPS, then CPU."""
        if self.cuda_gpus:
            return "cuda"
        if self.by_vendor(AMD) and self.system == "Linux":
            return "rocm"
        if self.system == "Darwin" and self.machine == "arm64":
            return "mps"
        return "cpu"


# --- NVIDIA ---------------------------------------------------------------------------------
def _nvml_problem(exc: nv.NvmlError) -> str:
    if exc.code == nv.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "no NVIDIA driver/library found (NVML: libnvidia-ml is not installed)"
    if exc.code == nv.NVML_ERROR_DRIVER_NOT_LOADED:
        return "no NVIDIA driver/library loaded (NVML: the NVIDIA kernel driver is not running)"
    if exc.code == nv.NVML_ERROR_NO_PERMISSION:
        return "the NVIDIA driver refused the query (NVML: no permission)"
    if exc.code == nv.PYNVML_MISSING:
        return f"no NVIDIA driver/library checked: {exc.message}"
    return f"NVML failed: {exc.message}"


def probe_nvidia(source: nv.NvmlSource) -> tuple[NvidiaStatus, list[Gpu]]:
    try:
        source.init()
    except nv.NvmlError as exc:
        return NvidiaStatus(available=False, problem=_nvml_problem(exc)), []
    try:
        driver = _maybe(source.driver_version)
        cuda_raw = _maybe(source.cuda_driver_version)
        cuda = None if cuda_raw is None else (cuda_raw // 1000, (cuda_raw % 1000) // 10)
        count = _maybe(source.device_count) or 0
        gpus = []
        for index in range(count):
            memory = _maybe(source.device_memory, index)
            gpus.append(Gpu(
                index=index,
                vendor=NVIDIA,
                name=_maybe(source.device_name, index) or f"NVIDIA GPU #{index}",
                vram_total=memory[0] if memory else None,
                vram_free=memory[1] if memory else None,
                compute_capability=_maybe(source.device_compute_capability, index),
            ))
    finally:
        _maybe(source.shutdown)
    problem = None if gpus else "the NVIDIA driver is installed but reports no GPU"
    return NvidiaStatus(available=True, problem=problem, driver_version=driver,
                        cuda_driver_version=cuda), gpus


def _maybe(fn: Any, *args: Any) -> Any:
    """One NVML answer, or None where this GPU/driver does not support the question."""
    try:
        return fn(*args)
    except nv.NvmlError:
        return None


# --- AMD and the PCI bus --------------------------------------------------------------------
def parse_rocm_smi(text: str) -> list[Gpu]:
    """`rocm-smi --showproductname --showmeminfo vram --json` → GPUs (key names vary by
    version: "Card series" / "Card Series", "VRAM Total Memory (B)")."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    gpus: list[Gpu] = []
    for card, fields in sorted(data.items()):
        if not card.startswith("card") or not isinstance(fields, dict):
            continue
        lowered = {k.lower(): v for k, v in fields.items()}
        name = (lowered.get("card series") or lowered.get("card model")
                or lowered.get("device name") or "AMD GPU")
        total = _int(lowered.get("vram total memory (b)"))
        used = _int(lowered.get("vram total used memory (b)"))
        free = total - used if total is not None and used is not None else None
        gpus.append(Gpu(index=len(gpus), vendor=AMD, name=str(name), vram_total=total,
                        vram_free=free, source="rocm-smi"))
    return gpus


def gpus_from_sysfs(root: Path) -> list[Gpu]:
    """Linux DRM cards: /sys/class/drm/cardN/device/{vendor,product_name,mem_info_vram_*}."""
    gpus: list[Gpu] = []
    if not root.is_dir():
        return gpus
    cards = sorted((p for p in root.iterdir() if re.fullmatch(r"card\d+", p.name)),
                   key=lambda p: int(p.name[4:]))
    for card in cards:
        device = card / "device"
        vendor = _PCI_VENDORS.get(_read(device / "vendor") or "")
        if vendor is None:
            continue
        device_id = _read(device / "device") or "?"
        name = _read(device / "product_name") or f"{vendor.upper()} GPU (PCI device {device_id})"
        total = _int(_read(device / "mem_info_vram_total"))
        used = _int(_read(device / "mem_info_vram_used"))
        free = total - used if total is not None and used is not None else None
        gpus.append(Gpu(index=len(gpus), vendor=vendor, name=name, vram_total=total,
                        vram_free=free, source="sysfs"))
    return gpus


_LSPCI_LINE = re.compile(
    r"^\S+\s+(?:VGA compatible controller|3D controller|Display controller)"
    r"(?:\s*\[[0-9a-f]{4}\])?:\s*(?P<desc>.+)$", re.IGNORECASE)


def parse_lspci(text: str) -> list[Gpu]:
    gpus: list[Gpu] = []
    for line in text.splitlines():
        match = _LSPCI_LINE.match(line.strip())
        if not match:
            continue
        desc = re.sub(r"\s*\(rev [0-9a-f]+\)$", "", match.group("desc").strip())
        lowered = desc.lower()
        if "nvidia" in lowered:
            vendor = NVIDIA
        elif "amd/ati" in lowered or "advanced micro devices" in lowered or "radeon" in lowered:
            vendor = AMD
        elif "intel" in lowered:
            vendor = INTEL
        else:
            continue
        gpus.append(Gpu(index=len(gpus), vendor=vendor, name=desc, source="lspci"))
    return gpus


def _host_gpus(sysfs: Path) -> list[Gpu]:
    """GPUs on this Linux machine without NVML: rocm-smi knows AMD best, then the kernel's
    sysfs, then lspci (which sees devices whose driver is missing)."""
    rocm_smi = shutil.which("rocm-smi")
    if rocm_smi:
        amd = parse_rocm_smi(_run([rocm_smi, "--showproductname", "--showmeminfo", "vram",
                                   "--json"]))
        if amd:
            others = [g for g in gpus_from_sysfs(sysfs) if g.vendor != AMD]
            return amd + others
    found = gpus_from_sysfs(sysfs)
    if found:
        return found
    lspci = shutil.which("lspci")
    return parse_lspci(_run([lspci])) if lspci else []


def _apple_gpu() -> Gpu:
    name = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip() or "Apple Silicon"
    return Gpu(index=0, vendor=APPLE, name=f"{name} (Metal/MPS)", source="platform")


# --- the probe ------------------------------------------------------------------------------
def probe_gpus(nvml: nv.NvmlSource | None = None, *, sysfs: Path = Path("/sys/class/drm"),
               system: str | None = None, machine: str | None = None) -> GpuReport:
    """Everything smx knows about this machine's GPUs. Never raises for missing hardware."""
    system = system or platform.system()
    machine = machine or platform.machine()
    nvidia, gpus = probe_nvidia(nvml if nvml is not None else nv.default_source())
    notes: list[str] = []
    if system == "Linux":
        for gpu in _host_gpus(sysfs):
            if gpu.vendor == NVIDIA and gpus:
                continue  # NVML already described it, better
            if gpu.vendor == NVIDIA:
                notes.append(f"an NVIDIA GPU is on the PCI bus ({gpu.name}) but NVML cannot "
                             "reach it: install or load the NVIDIA driver for CUDA")
            gpus.append(Gpu(index=len(gpus), vendor=gpu.vendor, name=gpu.name,
                            vram_total=gpu.vram_total, vram_free=gpu.vram_free,
                            source=gpu.source))
    elif system == "Darwin" and machine == "arm64":
        gpus.append(_apple_gpu())
    return GpuReport(nvidia=nvidia, gpus=tuple(gpus), system=system, machine=machine,
                     notes=tuple(notes))


# --- helpers --------------------------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip(), 0)
    except (TypeError, ValueError):
        return None


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""
