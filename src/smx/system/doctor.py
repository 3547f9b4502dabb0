"""`smx doctor`'s core: gather the machine's facts, judge them, and say what smx will do.

Returns a :class:`DoctorReport`; the CLI renders it (table or JSON). A check's status is
ok | info | warn | fail; only ``fail`` blocks (exit code 1). Nothing here touches the
network unless ``online=True``.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from smx.catalog.packages import PACKAGES, CatalogPackage
from smx.errors import SmxError
from smx.redact import redact
from smx.system import advice, disk, gpu, pythons, tools
from smx.system.nvml import NvmlSource
from smx.system.online import Reachability
from smx.words import human_bytes

if TYPE_CHECKING:
    from smx.environment.manifest import Manifest

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"


@dataclass(frozen=True)
class Check:
    # stable ids: env, nvidia, gpu, gpu.note.<n>, torch.<pkg>, python.<pkg>, disk, git, proxy,
    # platform, online.<github|civitai|huggingface>
    id: str
    status: str  # ok | info | warn | fail
    summary: str
    hint: str | None = None


@dataclass(frozen=True)
class PackageAdvice:
    name: str  # the package's name in smx.toml (the catalog name outside an env)
    source: str  # catalog package
    torch: advice.TorchChoice | None
    launch: advice.LaunchAdvice | None
    python: pythons.Interpreter | None
    problem: str | None = None  # why there is no torch advice (a bad setting)


@dataclass
class DoctorReport:
    env_root: Path | None
    gpus: gpu.GpuReport
    packages: list[PackageAdvice]
    disk: disk.DiskFree
    git: tools.GitInfo
    interpreters: list[pythons.Interpreter]
    proxies: list[str]
    online: list[Reachability] | None  # only with online=True
    checks: list[Check] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(c.status == FAIL for c in self.checks)


@dataclass(frozen=True)
class DoctorInput:
    """What doctor looks at. ``manifest`` None = outside an environment (or a broken one,
    then ``env_problem`` says why); the probes default to the real machine."""

    cwd: Path
    env_root: Path | None = None
    manifest: Manifest | None = None
    env_problem: str | None = None
    nvml: NvmlSource | None = None
    disk_probe: disk.DiskProbe | None = None
    online: bool = False
    environ: Mapping[str, str] | None = None


def run_doctor(given: DoctorInput) -> DoctorReport:
    environ = os.environ if given.environ is None else given.environ
    checks: list[Check] = [_env_check(given)]

    gpus = gpu.probe_gpus(given.nvml)
    checks += _gpu_checks(gpus)

    interpreters = pythons.find_interpreters()
    packages = [_advise(name, source, wanted_python, gpus, given, interpreters, environ)
                for name, source, wanted_python in _packages(given)]
    in_env = given.manifest is not None
    for pkg in packages:
        checks += _package_checks(pkg, in_env)

    need = disk_need(given)
    free = disk.check_disk(given.env_root or given.cwd, need, given.disk_probe)
    checks.append(_disk_check(free, need))
    git = tools.find_git()
    checks.append(Check("git", OK, f"git {git.version} ({git.path})") if git.problem is None
                  else Check("git", FAIL, git.problem,
                             "install git (https://git-scm.com) or set GIT to its path"))
    proxies = tools.proxy_variables(dict(environ))
    checks.append(Check("proxy", INFO, f"{', '.join(proxies)} set (values hidden)" if proxies
                        else "no proxy variables set"))
    checks.append(Check("platform", INFO, f"{platform.system()} {platform.machine()}, smx runs "
                        f"on Python {platform.python_version()} ({sys.executable})"))

    reach = None
    if given.online:
        from smx.system import online

        sources = given.manifest.sources if given.manifest is not None else None
        reach = online.check_reachable(online.endpoints(sources, environ))
        checks += [_online_check(r) for r in reach]
    return DoctorReport(env_root=given.env_root, gpus=gpus, packages=packages, disk=free,
                        git=git, interpreters=interpreters, proxies=proxies, online=reach,
                        checks=checks)


# --- environment and packages ---------------------------------------------------------------
def _env_check(given: DoctorInput) -> Check:
    if given.env_problem:
        return Check("env", FAIL, given.env_problem,
                     "fix smx.toml; the advice below is for every catalog package")
    if given.manifest is None:
        return Check("env", INFO, f"no environment here ({given.cwd}): advice for every "
                     "catalog package, disk space of this folder")
    count = len(given.manifest.packages)
    return Check("env", OK, f"environment {given.env_root} ({count} package"
                 f"{'' if count == 1 else 's'})")


def _packages(given: DoctorInput) -> list[tuple[str, str, str | None]]:
    manifest = given.manifest
    if manifest is not None and manifest.packages:
        return [(name, spec.source, spec.python) for name, spec in manifest.packages.items()]
    return [(name, name, None) for name in PACKAGES]


def _advise(name: str, source: str, wanted_python: str | None, gpus: gpu.GpuReport,
            given: DoctorInput, interpreters: list[pythons.Interpreter],
            environ: Mapping[str, str]) -> PackageAdvice:
    pkg = PACKAGES[source]
    python = pythons.pick(interpreters, pkg.python, _preferred(pkg, wanted_python))
    try:
        if given.manifest is not None and name in given.manifest.packages:
            choice = advice.choice_for(given.manifest, name, gpus, environ=environ)
        else:
            choice = advice.torch_choice(pkg, gpus, environ=environ)
    except SmxError as exc:
        return PackageAdvice(name, source, None, None, python, problem=exc.message)
    launch = advice.launch_advice(pkg, gpus, choice.backend)
    return PackageAdvice(name, source, choice, launch, python)


def _preferred(pkg: CatalogPackage, wanted: str | None) -> str:
    # a package's `python = "3.11"` in smx.toml asks for that minor version
    if wanted and re.fullmatch(r"3\.\d+", wanted.strip()):
        return wanted.strip()
    return pkg.preferred_python


def _package_checks(pkg: PackageAdvice, in_env: bool) -> list[Check]:
    checks = []
    if pkg.torch is None:
        checks.append(Check(f"torch.{pkg.name}", FAIL, pkg.problem or "no torch build",
                            "fix [torch] in smx.toml or SMX_TORCH_INDEX"))
    else:
        where = redact(pkg.torch.index_url) if pkg.torch.index_url else "PyPI / pip's config"
        summary = f"{pkg.torch.backend_key} build from {where}"
        if pkg.torch.warning:
            checks.append(Check(f"torch.{pkg.name}", WARN, summary, pkg.torch.warning))
        else:
            checks.append(Check(f"torch.{pkg.name}", OK, summary))
    catalog = PACKAGES[pkg.source]
    if pkg.python is None:
        hint = (f"install Python {catalog.preferred_python} (e.g. `uv python install "
                f"{catalog.preferred_python}` or `pyenv install {catalog.preferred_python}`)")
        # outside an env nothing is about to be installed, so a missing Python only warns
        checks.append(Check(f"python.{pkg.name}", FAIL if in_env else WARN,
                            f"no Python {catalog.python} found for {pkg.name}", hint))
    else:
        note = ("" if pkg.python.minor == catalog.preferred_python
                else f" ({catalog.preferred_python} preferred, not found)")
        checks.append(Check(f"python.{pkg.name}", OK,
                            f"Python {pkg.python.version} at {pkg.python.path}{note}"))
    return checks


# --- machine --------------------------------------------------------------------------------
def _gpu_checks(gpus: gpu.GpuReport) -> list[Check]:
    checks = []
    nv = gpus.nvidia
    if nv.available and not nv.problem:
        checks.append(Check("nvidia", OK, f"NVIDIA driver {nv.driver_version or '?'}, runs "
                            f"CUDA {nv.cuda_driver_text or '?'} at most"))
    else:
        checks.append(Check("nvidia", INFO, nv.problem or "NVIDIA driver not checked"))
    primary = gpus.primary
    if primary is None:
        if gpus.notes:  # a GPU without its driver: the gpu.note checks say what to do
            hint = ("the gpu.note lines below say what is missing; or set [torch] backend in "
                    "smx.toml if smx is wrong")
        elif gpus.gpus:  # e.g. an Intel iGPU: there, but torch's builds do not use it
            names = ", ".join(g.name for g in gpus.gpus)
            hint = (f"torch's CUDA/ROCm builds cannot use {names}; set [torch] backend in "
                    "smx.toml if smx is wrong")
        else:  # a machine without a GPU: there is no driver to install
            hint = ("fine for trying things out; with a GPU smx did not see, install its "
                    "driver (nvidia-smi should list an NVIDIA one) or set [torch] backend in "
                    "smx.toml")
        checks.append(Check("gpu", WARN, "no usable GPU found: smx installs the CPU build of "
                            "torch, which is very slow for Stable Diffusion", hint))
    else:
        memory = ""
        if primary.vram_total is not None:
            memory = f", {primary.vram_total / 1024**3:.1f} GiB VRAM"
            if primary.vram_free is not None:
                memory += f" ({primary.vram_free / 1024**3:.1f} GiB free)"
        cc = (f", compute capability {primary.compute_capability_text}"
              if primary.compute_capability else "")
        others = len(gpus.gpus) - 1
        more = f" (+{others} more)" if others > 0 else ""
        checks.append(Check("gpu", OK, f"{primary.name}{memory}{cc}{more}"))
    checks += [Check(f"gpu.note.{n}", WARN, note) for n, note in enumerate(gpus.notes, 1)]
    return checks


# What models take, on top of the web UIs (catalog disk_gb: checkout + venv with torch).
FIRST_MODEL = 7 * disk.GB  # one SDXL checkpoint: what a first image needs
MODEL_WORKING_SET = 20 * disk.GB  # a few checkpoints, LoRAs and ControlNets


def disk_need(given: DoctorInput) -> disk.DiskNeed:
    """From the catalog's disk figures: in an environment, the web UIs smx.toml lists that are
    not installed yet; elsewhere, the largest one (what a first `smx install` may take). Plus
    one SDXL checkpoint to fail below, and a working set of models to warn below."""
    manifest = given.manifest
    if manifest is not None and given.env_root is not None:
        from smx.environment.layout import EnvLayout

        layout = EnvLayout(given.env_root)
        missing = [(name, PACKAGES[spec.source]) for name, spec in manifest.packages.items()
                   if spec.source in PACKAGES and not layout.package_dir(name).exists()]
        web_uis = sum(int(pkg.disk_gb * disk.GB) for _name, pkg in missing)
        what = (f"{', '.join(name for name, _pkg in missing)} to install and "
                if missing else "")
    else:
        largest = max(PACKAGES.values(), key=lambda pkg: pkg.disk_gb)
        web_uis = int(largest.disk_gb * disk.GB)
        what = f"one web UI with torch (up to {human_bytes(web_uis)}) and "
    fail_below = web_uis + FIRST_MODEL
    return disk.DiskNeed(fail_below, fail_below + MODEL_WORKING_SET, what)


def _disk_check(free: disk.DiskFree, need: disk.DiskNeed) -> Check:
    amount = f"{human_bytes(free.free_bytes)} free at {free.path}"
    if free.status == FAIL:
        return Check("disk", FAIL, f"only {amount}",
                     f"free at least {human_bytes(need.fail_below)} for {need.what}one "
                     "SDXL checkpoint, or put the env on another disk")
    if free.status == WARN:
        return Check("disk", WARN, f"{amount}",
                     f"{human_bytes(need.warn_below)} or more leaves room for {need.what}"
                     "a working set of models")
    return Check("disk", OK, amount)


def _online_check(result: Reachability) -> Check:
    ep = result.endpoint
    where = f"{redact(ep.url)} ({ep.configured_by})"
    if not result.reachable:
        return Check(f"online.{ep.name}", FAIL, f"{where} unreachable: {result.error}",
                     "check the network, proxy variables, or the endpoint setting")
    took = f"{result.elapsed_ms:.0f} ms" if result.elapsed_ms is not None else "?"
    status = WARN if (result.status_code or 0) >= 500 else OK
    return Check(f"online.{ep.name}", status, f"{where}: HTTP {result.status_code} in {took}")
