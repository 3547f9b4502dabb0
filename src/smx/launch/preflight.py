"""Checks before a web UI starts: fast (files and one tiny Python run), no network.

1. the package is installed: smx.lock has it, its checkout and venv exist;
2. the checkout is at the commit smx.lock pins (read from .git, no git process);
3. the venv's Python runs, and is the minor version smx.lock recorded;
4. every model smx.toml lists is in the store, at its locked size;
5. the port is free, or else who holds it (a busy default port is only a warning for UIs
   that take the next free one).

The first failure raises an SmxError whose hint says how to fix it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from smx.environment.env import Env
from smx.environment.lock import LockedPackage
from smx.errors import InstallError, IntegrityError, NotFound, UsageError
from smx.launch.argv import LaunchPlan
from smx.launch.ports import port_holder, port_in_use
from smx.models.store import locked_path


@dataclass(frozen=True)
class Check:
    name: str  # installed | commit | python | models | port
    detail: str


def run_preflight(env: Env, plan: LaunchPlan) -> list[Check]:
    locked = _installed(env, plan)
    return [
        Check("installed", f"{_show(env, plan.checkout)} and its venv"),
        _commit(plan, locked),
        _python(env, plan, locked),
        _models(env),
        _port(plan),
    ]


def _show(env: Env, path: Path) -> str:
    """``path`` relative to the env when inside it; symlinks are not followed (a venv's python
    is a link out of the env)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(env.root))
    return str(path) if rel.startswith("..") else Path(rel).as_posix()


def _installed(env: Env, plan: LaunchPlan) -> LockedPackage:
    name = plan.name
    locked = env.lock.packages.get(name)
    fix = "run `smx sync` to install what smx.toml lists"
    if locked is None:
        raise NotFound(f"{name} is not installed (smx.lock has no entry for it)", hint=fix,
                       code="launch.not_installed")
    if not (plan.checkout / ".git").exists():
        raise NotFound(f"{name} is not installed: {_show(env, plan.checkout)} is missing or "
                       "not a git checkout", hint=fix, code="launch.not_installed")
    if not plan.python.exists():
        raise NotFound(f"{name}'s venv is missing: no {_show(env, plan.python)}", hint=fix,
                       code="launch.not_installed")
    return locked


def _commit(plan: LaunchPlan, locked: LockedPackage) -> Check:
    from smx.packages.git import head_commit

    head = head_commit(plan.checkout)
    if head is None:
        raise IntegrityError(f"cannot read which commit {plan.name} has checked out",
                             hint="run `smx sync` to restore the checkout",
                             code="launch.commit_unknown")
    if head != locked.commit:
        raise IntegrityError(
            f"{plan.name} is at commit {head[:12]}, but smx.lock pins {locked.commit[:12]}",
            hint=f"run `smx sync` to go back to the locked commit, or `smx update {plan.name}` "
                 "to lock the one checked out", code="launch.commit_mismatch")
    return Check("commit", f"at {head[:12]}, as locked")


def _python(env: Env, plan: LaunchPlan, locked: LockedPackage) -> Check:
    probe = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    # -I -S: no user site, no site-packages scan: only "does this interpreter start" (~10 ms).
    try:
        done = subprocess.run([str(plan.python), "-I", "-S", "-c", probe], capture_output=True,
                              text=True, timeout=30, env=plan.environ.full)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{plan.name}'s venv Python does not run ({exc})",
                           hint="run `smx sync` to rebuild the venv",
                           code="launch.venv_broken") from None
    version = done.stdout.strip()
    if done.returncode != 0 or not version:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise InstallError(f"{plan.name}'s venv Python does not run: {reason}",
                           hint="its base interpreter may have been removed or upgraded; run "
                                "`smx sync` to rebuild the venv", code="launch.venv_broken")
    if locked.python and version.split(".")[:2] != locked.python.split(".")[:2]:
        raise InstallError(f"{plan.name}'s venv runs Python {version}, but smx.lock records "
                           f"{locked.python}", hint="run `smx sync` to rebuild the venv",
                           code="launch.venv_python")
    return Check("python", f"{_show(env, plan.python)} runs Python {version}")


def _models(env: Env) -> Check:
    missing: list[str] = []
    for name in env.manifest.models:
        locked = env.lock.models.get(name)
        if locked is None:
            missing.append(f"{name} (not downloaded yet)")
            continue
        path = locked_path(env.layout, locked)
        if path is None:
            missing.append(f"{name} (unknown kind {locked.kind!r} in smx.lock)")
            continue
        try:
            size = path.stat().st_size
        except OSError:
            missing.append(f"{name} (no {_show(env, path)})")
            continue
        if size != locked.size:
            missing.append(f"{name} ({_show(env, path)} is {size} bytes, smx.lock says "
                           f"{locked.size})")
    if missing:
        what = "a model smx.toml lists is" if len(missing) == 1 else \
            f"{len(missing)} models smx.toml lists are"
        raise NotFound(f"{what} missing: {'; '.join(missing)}",
                       hint="run `smx sync` to download them", code="launch.model_missing")
    count = len(env.manifest.models)
    return Check("models", f"{count} model{'s' if count != 1 else ''} present")


def _port(plan: LaunchPlan) -> Check:
    where = f"{plan.host}:{plan.port}"
    if not port_in_use(plan.host, plan.port):
        return Check("port", f"{where} is free")
    holder = port_holder(plan.port)
    by = f" by {holder.describe()}" if holder else ""
    if plan.port_explicit or not plan.package.finds_free_port:
        raise UsageError(f"port {plan.port} is already in use{by}",
                         hint=f"stop that process, or choose another port: "
                              f"smx launch {plan.name} --port {plan.port + 1}",
                         code="launch.port_in_use")
    plan.warnings.append(f"port {plan.port} is in use{by}; {plan.package.title} will take the "
                         "next free port (watch its output for the address)")
    return Check("port", f"{where} is in use{by}; the UI picks another")
