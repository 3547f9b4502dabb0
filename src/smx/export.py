"""`smx export`: the environment as a container build context.

The image runs `smx sync --frozen` at build time (so it holds exactly smx.lock: same commits,
same pip freeze, same model hashes) and `smx launch` as its entry point. Models are either baked
into the image or synced into a mounted volume at start (`--models volume`), which keeps images
small and lets every replica share one model store.

The exported smx.toml/smx.lock are copies narrowed to the chosen package; the user's files are
not touched. No container runtime is needed to export; the context is self-contained.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from smx import __version__
from smx.catalog.packages import PACKAGES
from smx.environment.env import Env
from smx.environment.lock import Lock
from smx.errors import UsageError

FORMATS = ("dockerfile", "oci")
MODEL_MODES = ("bake", "volume")

# torch wheel index -> CUDA runtime base image whose userspace matches the wheels.
# Tags from https://hub.docker.com/r/nvidia/cuda (runtime + cuDNN flavours).
CUDA_BASE_IMAGES = {
    "cu118": "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04",
    "cu121": "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
    "cu124": "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
    "cu126": "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04",
    "cu128": "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04",
}
ROCM_BASE_IMAGE = "rocm/dev-ubuntu-22.04:6.2"
CPU_BASE_IMAGE = "ubuntu:22.04"
UBUNTU_PYTHON = "3.10"  # the python3 of Ubuntu 22.04; others come from the deadsnakes PPA


@dataclass
class ExportPlan:
    package: str
    base_image: str
    python: str
    port: int
    models: str
    tag: str = "smx-env"  # a valid image name for `docker build -t`
    files: dict[str, str] = field(default_factory=dict)  # relative path -> content
    source: str = "comfyui"  # the package's catalog name
    binaries: dict[str, bytes] = field(default_factory=dict)  # the wheel of this smx


def docker_tag(*parts: str) -> str:
    """An image name docker accepts: lowercase letters and digits, single '.', '_' or '-'
    between them (`docker build -t sm2-ComfyUI` is refused: repository names are lowercase)."""
    import re

    text = "-".join(p for p in parts if p).lower()
    text = re.sub(r"[^a-z0-9._-]+", "-", text)
    text = re.sub(r"[._-]{2,}", "-", text).strip("._-")
    return text[:128] or "smx-env"


def _choose_package(env: Env, name: str | None) -> str:
    names = list(env.manifest.packages)
    if name is not None:
        if name not in env.manifest.packages:
            raise UsageError(f"no package named {name!r} in smx.toml",
                             hint=f"packages: {', '.join(names) or 'none'}")
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError("smx.toml has no packages to export",
                         hint="run `smx install <package>` first")
    raise UsageError("smx.toml has several packages; the image runs one",
                     hint=f"pass --package with one of: {', '.join(names)}")


def _base_image(backend: str, torch_index: str | None) -> str:
    if backend == "rocm":
        return ROCM_BASE_IMAGE
    if backend in ("cpu", "mps"):
        return CPU_BASE_IMAGE
    return CUDA_BASE_IMAGES.get(torch_index or "", CUDA_BASE_IMAGES["cu121"])


def plan_export(env: Env, *, package: str | None, models: str = "volume",
                fmt: str = "dockerfile", smx_spec: str | None = None) -> ExportPlan:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if models not in MODEL_MODES:
        raise UsageError(f"unknown --models mode {models!r}",
                         hint=f"one of: {', '.join(MODEL_MODES)}")
    name = _choose_package(env, package)
    locked = env.lock.packages.get(name)
    if locked is None or not locked.commit:
        raise UsageError(f"package {name!r} is not in smx.lock yet",
                         hint="run `smx sync` (or `smx lock`) first: the image installs exactly "
                              "smx.lock")
    spec = env.manifest.packages[name]
    catalog = PACKAGES[spec.source]
    backend = locked.backend or "cuda"
    if backend == "mps":
        raise UsageError("this environment is locked for Apple MPS, which containers cannot use",
                         hint="lock it for cuda or cpu: set [torch] backend and run "
                              "`smx lock --upgrade`")
    torch_index = None
    recipe_key = "cuda-blackwell" if any("cu128" in line for line in locked.torch) else backend
    recipe = catalog.torch.get(recipe_key) or catalog.torch.get(backend)
    if recipe is not None:
        torch_index = recipe.index
    python = ".".join((locked.python or catalog.preferred_python).split(".")[:2])
    plan = ExportPlan(package=name, base_image=_base_image(backend, torch_index), python=python,
                      port=catalog.default_port, models=models, source=spec.source,
                      tag=docker_tag(env.manifest.name, name))
    narrowed_toml = _narrow_manifest(env, name)
    narrowed_lock = _narrow_lock(env.lock, name)
    refuse_what_frozen_refuses(env, narrowed_toml, narrowed_lock, models)
    plan.files["smx.toml"] = narrowed_toml
    plan.files["smx.lock"] = narrowed_lock.to_toml()
    if smx_spec is None:
        from smx.selfwheel import build_self_wheel

        wheel = build_self_wheel()
        plan.binaries[wheel.filename] = wheel.data
        install = SmxInstall(wheel=wheel.filename)
    else:
        install = SmxInstall(spec=smx_spec)
    plan.files["Dockerfile"] = _dockerfile(plan, install, backend)
    plan.files[".dockerignore"] = "Data/\n*.part\n.git/\n"
    plan.files["entrypoint.sh"] = _entrypoint(plan)
    return plan


def refuse_what_frozen_refuses(env: Env, toml_text: str, lock: Lock, models: str) -> None:
    """The image runs `smx sync --frozen` on a machine where nothing is installed: refuse now,
    with the fix, what it would refuse there (a disagreement between smx.toml and smx.lock, a
    package whose Python packages smx.lock does not record), and baked `local:` models, which
    exist only on this disk."""
    from smx.agreement import check_frozen
    from smx.environment import manifest as manifest_mod
    from smx.errors import LockOutOfDate

    narrowed = manifest_mod.parse_text(env.layout.manifest, toml_text)
    try:
        check_frozen(Env(env.layout, narrowed, lock), on_a_fresh_machine=True)
    except LockOutOfDate as exc:
        raise LockOutOfDate(f"the image could not be built: its `smx sync --frozen` would "
                            f"refuse this environment: {exc.message}",
                            hint=(exc.hint or "") + "; then export again",
                            code=exc.code) from None
    if models == "bake":
        local = [name for name, m in lock.models.items() if m.source.startswith("local:")]
        if local:
            raise UsageError(f"--models bake cannot put local models in the image: "
                             f"{', '.join(local)} exist only in this Data/Models",
                             hint="use --models volume and copy those files into the volume, "
                                  "or give them a downloadable source in smx.toml",
                             code="export.local_models")


def _narrow_manifest(env: Env, keep: str) -> str:
    import tomlkit

    doc = tomlkit.parse(env.layout.manifest.read_text(encoding="utf-8"))
    packages = doc.get("packages")
    if packages is not None:
        for other in [key for key in packages if key != keep]:
            del packages[other]
    launch = doc.get("launch")
    if launch is not None and "package" in launch:
        launch["package"] = keep
    return tomlkit.dumps(doc)


def _narrow_lock(lock: Lock, keep: str) -> Lock:
    return Lock(packages={keep: lock.packages[keep]}, models=dict(lock.models))


@dataclass(frozen=True)
class SmxInstall:
    """How the image gets smx: the wheel of this smx in the context, or a pip requirement."""

    wheel: str | None = None
    spec: str | None = None

    def lines(self, python: str) -> list[str]:
        venv = f"python{python} -m venv /opt/smx && /opt/smx/bin/pip install"
        if self.wheel is not None:
            return [f"# smx {__version__}, the one that wrote smx.lock (a wheel built by "
                    "`smx export`)",
                    f"COPY {self.wheel} /tmp/",
                    f"RUN {venv} /tmp/{self.wheel} && rm /tmp/{self.wheel}"]
        return [f"ARG SMX_SPEC={shlex.quote(self.spec or '')}",
                f'RUN {venv} "$SMX_SPEC"']


def _dockerfile(plan: ExportPlan, install: SmxInstall, backend: str) -> str:
    py = plan.python
    if py == UBUNTU_PYTHON:
        python_install = f"python{py} python{py}-venv python{py}-dev python3-pip"
        ppa = ""
    else:
        python_install = f"python{py} python{py}-venv python{py}-dev"
        ppa = ("    && apt-get install -y --no-install-recommends software-properties-common \\\n"
               "    && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update \\\n")
    sync_models = plan.models == "bake"
    secrets = ("--mount=type=secret,id=hf_token,env=HF_TOKEN "
               "--mount=type=secret,id=civitai_token,env=CIVITAI_API_TOKEN ")
    sync_cmd = "smx sync --frozen" if sync_models else "smx sync --frozen --no-models"
    lines = [
        "# syntax=docker/dockerfile:1.10",
        f"# Generated by smx {__version__} (`smx export`): package {plan.package!r}, "
        f"backend {backend}, models {plan.models}.",
        f"# Build:  docker build -t {plan.tag} .",
        "#         (tokens, only if models need them: --secret id=hf_token,env=HF_TOKEN "
        "--secret id=civitai_token,env=CIVITAI_API_TOKEN)",
        f"# Run:    docker run --gpus all -p {plan.port}:{plan.port}"
        + (" -v sd-models:/env/Data/Models" if plan.models == "volume" else "")
        + f" {plan.tag}",
        f"FROM {plan.base_image}",
        "ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 SMX_ENV=/env",
        "RUN apt-get update \\",
        ppa + f"    && apt-get install -y --no-install-recommends git ca-certificates "
        f"{python_install} \\",
        "    libgl1 libglib2.0-0 \\",
        "    && rm -rf /var/lib/apt/lists/*",
        *install.lines(py),
        "ENV PATH=/opt/smx/bin:$PATH",
        "WORKDIR /env",
        "COPY smx.toml smx.lock /env/",
        "COPY entrypoint.sh /usr/local/bin/smx-entrypoint",
        "RUN chmod +x /usr/local/bin/smx-entrypoint",
        "# Install exactly smx.lock: same commits, same pip freeze"
        + (", same model hashes." if sync_models else "; models come from the volume at start."),
        f"RUN {secrets if sync_models else ''}{sync_cmd}",
    ]
    if plan.models == "volume":
        lines.append("VOLUME /env/Data/Models")
    lines += [
        f"EXPOSE {plan.port}",
        *_healthcheck(plan),
        'ENTRYPOINT ["smx-entrypoint"]',
        "",
    ]
    return "\n".join(lines)


def _healthcheck(plan: ExportPlan) -> list[str]:
    """The package's health endpoint (the path `smx launch --wait` and `smx ps` poll, and
    docs/kubernetes.md probes); the first start may sync models, hence the long start period."""
    url = f"http://127.0.0.1:{plan.port}{PACKAGES[plan.source].health_path}"
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return ["# healthy once the web UI answers (models synced at start may take a while)",
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 \\",
            f'    CMD python -c "{probe}" || exit 1']


def _entrypoint(plan: ExportPlan) -> str:
    launch = f'exec smx launch {shlex.quote(plan.package)} --listen --port {plan.port} "$@"'
    lines = ["#!/bin/sh", "# Generated by smx export.", "set -e", "cd /env"]
    if plan.models == "volume":
        lines.append("# Models live in the mounted volume: fetch what smx.lock pins and is "
                     "missing (a no-op when present).")
        lines.append("smx sync --frozen")
    lines += [launch, ""]
    return "\n".join(lines)


def write_export(plan: ExportPlan, output: Path, fmt: str = "dockerfile") -> list[Path]:
    """``dockerfile``: a build-context folder. ``oci``: the same context as one .tar.gz, the
    form `docker build - < ctx.tar.gz`, podman and kaniko (``--context tar://``) take."""
    from smx.fsutil import atomic_write_bytes, atomic_write_text

    if fmt == "oci":
        atomic_write_bytes(output, _tarball(plan))
        return [output]
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, content in plan.files.items():
        target = output / rel
        atomic_write_text(target, content)
        if rel == "entrypoint.sh":
            target.chmod(0o755)
        written.append(target)
    for rel, data in plan.binaries.items():
        atomic_write_bytes(output / rel, data)
        written.append(output / rel)
    return written


def _tarball(plan: ExportPlan) -> bytes:
    import gzip
    import io
    import tarfile

    raw = io.BytesIO()
    entries = {rel: content.encode("utf-8") for rel, content in plan.files.items()}
    entries.update(plan.binaries)
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for rel, data in sorted(entries.items()):
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o755 if rel == "entrypoint.sh" else 0o644
            info.mtime = 0  # reproducible archive: same env, same bytes
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)
