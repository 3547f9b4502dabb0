"""The launch plan: which package, its argv, environment, working folder, files to write and
the warnings a user must see. Pure computation over the env (no writes, no exec).

argv = the venv's python + the catalog entry point + memory flags (CPU build, or `smx doctor`
advice with ``[launch] auto-vram``) + smx.toml ``args`` + shared-model-folder arguments +
command-line flags + the extra arguments after ``--``. argparse takes the last value of a
repeated flag, so what the user types last wins.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from smx.catalog.packages import CatalogPackage, get_package
from smx.environment.env import Env
from smx.environment.manifest import Manifest
from smx.errors import NotFound, UsageError
from smx.launch.environ import LaunchEnviron, build_environ, venv_python
from smx.launch.wiring import PendingFile, WiringContext, present_extensions, wire

if TYPE_CHECKING:
    from smx.system.gpu import GpuReport

# Flags whose value is a secret (A1111/Forge modules/cmd_args.py): masked wherever argv is shown.
SECRET_FLAGS = ("--gradio-auth", "--api-auth", "--ngrok")
_AUTH_FLAGS = ("--gradio-auth", "--gradio-auth-path")
# Flags that make the UI answer beyond this machine (A1111 shared_cmd_options.py: share,
# listen, ngrok, server_name make it "non-local").
_EXPOSING = ("--share", "--listen", "--server-name", "--ngrok")


@dataclass(frozen=True)
class LaunchRequest:
    package: str | None = None
    share: bool = False
    listen: bool = False
    port: int | None = None
    api: bool = False
    allow_extension_install: bool = False
    extra: tuple[str, ...] = ()


@dataclass
class LaunchPlan:
    name: str  # the package's name in smx.toml
    package: CatalogPackage
    checkout: Path  # the working directory
    python: Path
    argv: list[str]
    environ: LaunchEnviron
    files: list[PendingFile]
    folders: list[Path]  # store folders the UI is pointed at (created before the start)
    host: str
    port: int
    port_explicit: bool  # the user chose the port (else the package default)
    exposed: bool
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def cwd(self) -> Path:
        return self.checkout

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/"

    def shown_argv(self) -> list[str]:
        return redact_argv(self.argv)

    def command(self) -> str:
        return join_command(self.shown_argv())


def join_command(argv: Sequence[str]) -> str:
    return subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)


def redact_argv(argv: Sequence[str]) -> list[str]:
    from smx.redact import redact

    shown: list[str] = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] in SECRET_FLAGS:
            shown.append("***")
            continue
        flag, eq, _value = arg.partition("=")
        shown.append(f"{flag}=***" if eq and flag in SECRET_FLAGS else redact(arg))
    return shown


# --- which package --------------------------------------------------------------------------
def resolve_package(manifest: Manifest, name: str | None) -> str:
    names = list(manifest.packages)
    if name is not None:
        if name in manifest.packages:
            return name
        from smx.catalog.packages import missing_package_hint

        raise NotFound(f"no package {name!r} in {manifest.path.name}",
                       hint=missing_package_hint(name, names), code="launch.unknown_package")
    if manifest.launch.package is not None:
        return manifest.launch.package
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFound(f"{manifest.path.name} lists no packages to launch",
                       hint="install one first, e.g. `smx install comfyui`",
                       code="launch.no_package")
    raise UsageError(f"{manifest.path.name} has {len(names)} packages: {', '.join(names)}",
                     hint=f"name one (`smx launch {names[0]}`), or set [launch] package = "
                          f"\"{names[0]}\" in smx.toml", code="launch.which_package")


# --- the plan -------------------------------------------------------------------------------
def build_plan(env: Env, request: LaunchRequest, *, base_environ: Mapping[str, str] | None = None,
               gpus: GpuReport | None = None) -> LaunchPlan:
    """Everything `smx launch` will do, computed without side effects.

    ``gpus`` is used only with ``[launch] auto-vram`` (probed when None).
    """
    manifest = env.manifest
    name = resolve_package(manifest, request.package)
    spec = manifest.packages[name]
    pkg = get_package(spec.source)
    checkout = env.layout.package_dir(name)
    venv = env.layout.venv_dir(name)
    python = venv_python(venv)
    warnings: list[str] = []
    notes: list[str] = []

    cli = _cli_flags(pkg, request, warnings, notes)
    user_args = (*spec.args, *cli, *request.extra)
    catalog_flags = _memory_flags(env, name, pkg, user_args, notes, gpus)
    catalog_flags += _pickle_flags(manifest, pkg, user_args, warnings, notes)
    ctx = WiringContext(layout=env.layout, name=name, package=pkg, checkout=checkout,
                        extensions=present_extensions(checkout, pkg), user_args=user_args)
    wiring = wire(ctx)
    notes += wiring.notes
    argv = [str(python), *pkg.entry, *catalog_flags, *spec.args, *wiring.args, *cli,
            *request.extra]

    # the web UI's own launcher installs what is missing at every start (A1111: requirements
    # and each extension's install.py): as of the package's date, within its protected pins
    from smx.packages.resolver import package_environ

    resolving = package_environ(env, name)
    pins = {k: v for k, v in resolving.items() if k in ("PIP_CONSTRAINT", "UV_CONSTRAINT")}
    dated = {k: v for k, v in resolving.items() if k not in pins}
    defaults = {**_catalog_env(pkg), **dated, **wiring.env}
    environ = build_environ(os.environ if base_environ is None else base_environ, venv,
                            defaults=defaults, overrides={**pins, **spec.env})

    host, port, explicit = _address(pkg, argv[1 + len(pkg.entry):])
    exposed = any(_has_flag(user_args, flag) for flag in _EXPOSING)
    if exposed:
        warnings += _exposure_warnings(pkg, user_args)
    return LaunchPlan(name=name, package=pkg, checkout=checkout, python=python, argv=argv,
                      environ=environ, files=wiring.files, folders=wiring.folders, host=host,
                      port=port, port_explicit=explicit, exposed=exposed, warnings=warnings,
                      notes=notes)


def _cli_flags(pkg: CatalogPackage, request: LaunchRequest, warnings: list[str],
               notes: list[str]) -> list[str]:
    flags: list[str] = []
    if request.listen:
        flags.append(_supported(pkg, pkg.listen_flag, "--listen"))
    if request.share:
        if pkg.share_flag is None:
            raise UsageError(
                f"{pkg.title} has no --share (no public link of its own)",
                hint=f"start it with --listen and put a tunnel in front, e.g. `cloudflared "
                     f"tunnel --url http://localhost:{pkg.default_port}`",
                code="launch.no_share")
        flags.append(pkg.share_flag)
    if request.port is not None:
        flags += [_supported(pkg, pkg.port_flag, "--port"), str(request.port)]
    if request.api:
        if pkg.api_flag is not None:
            flags.append(pkg.api_flag)
        elif pkg.api_always_on:
            notes.append(f"--api: {pkg.title} always serves its API; nothing to add")
        else:
            raise UsageError(f"{pkg.title} has no API to switch on",
                             hint="start it without --api", code="launch.no_api")
    if request.allow_extension_install:
        if pkg.extension_access_flag is None:
            warnings.append(f"--allow-extension-install has no effect on {pkg.title}: it does "
                            "not lock extension installs when shared")
        else:
            flags.append(pkg.extension_access_flag)
    return flags


def _supported(pkg: CatalogPackage, flag: str | None, what: str) -> str:
    if flag is None:
        raise UsageError(f"{pkg.title} has no {what} option", code="launch.unsupported_flag")
    return flag


def _memory_flags(env: Env, name: str, pkg: CatalogPackage, user_args: Sequence[str],
                  notes: list[str], gpus: GpuReport | None) -> list[str]:
    """CPU flags for a CPU torch build; with ``[launch] auto-vram``, `smx doctor`'s advice."""
    locked = env.lock.packages.get(name)
    backend = locked.backend if locked is not None else None
    if env.manifest.launch.auto_vram:
        from smx.system.advice import choice_for, launch_advice

        if gpus is None:
            from smx.system.gpu import probe_gpus

            gpus = probe_gpus()
        if backend is None:
            backend = choice_for(env.manifest, name, gpus).backend
        advice = launch_advice(pkg, gpus, backend)
        flags = [f for f in advice.flags if not _has_flag(user_args, f)]
        notes.append(f"auto-vram: {advice.reason}" + (f" → {' '.join(flags)}" if flags else ""))
        return flags
    if backend == "cpu" and pkg.cpu_flags:
        notes.append(f"torch is the CPU build: {' '.join(pkg.cpu_flags)}")
        return list(pkg.cpu_flags)
    return []


def _pickle_flags(manifest: Manifest, pkg: CatalogPackage, user_args: Sequence[str],
                  warnings: list[str], notes: list[str]) -> list[str]:
    """``[launch] unsafe-pickle-ok = true``: the user accepts that the UI loads pickle files
    (.ckpt/.pt) without its own check, which SDXL AnimateDiff motion modules need."""
    flag = pkg.unsafe_pickle_flag
    if not manifest.launch.unsafe_pickle_ok and not (flag and _has_flag(user_args, flag)):
        return []
    if flag is None:
        notes.append(f"unsafe-pickle-ok: {pkg.title} has no pickle check to turn off")
        return []
    warnings.append(f"{flag} is on: {pkg.title} will load pickle files (.ckpt, .pt) without "
                    "checking them; smx scanned the models it downloaded, not files added "
                    "by hand or by the UI")
    return [] if _has_flag(user_args, flag) else [flag]


def _catalog_env(pkg: CatalogPackage) -> dict[str, str]:
    """Variables the package's own launcher reads at every start: A1111's launch.py clones its
    repositories/ (STABLE_DIFFUSION_REPO, …) whenever one is missing."""
    values = {repo.url_env: repo.url for repo in pkg.extra_repos}
    values.update(dict(pkg.install_env))
    for fix in pkg.known_fixes:
        values.update(dict(fix.env))
    return values


def _has_flag(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _flag_value(args: Sequence[str], flag: str) -> tuple[bool, str | None]:
    """Whether ``flag`` is present (last occurrence wins) and its value, if it has one."""
    present, value = False, None
    for i, arg in enumerate(args):
        if arg == flag:
            present = True
            nxt = args[i + 1] if i + 1 < len(args) else None
            value = nxt if nxt is not None and not nxt.startswith("-") else None
        elif arg.startswith(flag + "="):
            present, value = True, arg.split("=", 1)[1]
    return present, value


def _address(pkg: CatalogPackage, args: Sequence[str]) -> tuple[str, int, bool]:
    present, value = _flag_value(args, "--port")
    if present:
        if value is None or not value.isdigit() or not 0 < int(value) < 65536:
            raise UsageError(f"--port needs a number from 1 to 65535, got {value!r}",
                             code="launch.bad_port")
        port, explicit = int(value), True
    else:
        port, explicit = pkg.default_port, False
    host = "127.0.0.1"
    listen, listen_value = _flag_value(args, "--listen")
    named, server_name = _flag_value(args, "--server-name")
    if named and server_name:
        host = server_name
    elif listen:
        # A1111's --listen takes no value (0.0.0.0); ComfyUI/Fooocus accept an optional IP
        # (ComfyUI: a comma-separated list).
        host = listen_value.split(",")[0] if listen_value else "0.0.0.0"
    return host, port, explicit


def _exposure_warnings(pkg: CatalogPackage, user_args: Sequence[str]) -> list[str]:
    warnings = [f"{pkg.title} will be reachable by other people on your network or the "
                "internet: anyone who can open it can use your GPU and read its outputs."]
    if not any(_has_flag(user_args, f) for f in _AUTH_FLAGS):
        if pkg.auth_hint:
            warnings.append(f"put a password on it: {pkg.auth_hint}")
        else:
            warnings.append(f"{pkg.title} has no login of its own: keep it behind a tunnel or "
                            "reverse proxy that asks for one")
    access = pkg.extension_access_flag
    if access is not None:
        if _has_flag(user_args, access):
            warnings.append(f"{access} is on: anyone who reaches the UI can install extensions, "
                            "that is, run any code on this machine")
        else:
            warnings.append(f"while shared, {pkg.title} turns off installing extensions from "
                            f"its Extensions tab (`smx ext add` still works); "
                            f"--allow-extension-install passes {access}, which lets anyone who "
                            "reaches the UI run code on this machine")
    return warnings
