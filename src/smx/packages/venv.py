"""A package's virtual environment and the installer (pip or uv) that fills it.

Reusable by extensions (an A1111 extension's ``install.py`` runs with the package venv's
python; a ComfyUI node's requirements go into that venv):

- :class:`Venv` — a venv folder; ``venv.python`` is the interpreter *by its venv path* (never a
  resolved symlink: resolving it would run the base interpreter outside the venv).
- :func:`create_venv` — a fresh venv with pip in it (virtualenv, embedded wheels, no download:
  A1111's ``launch.py`` and extension installers call ``python -m pip`` themselves).
- :class:`Installer` / :func:`choose_installer` — ``pip install`` through the venv's pip, or
  ``uv pip install --python <venv python>`` when uv is available (faster). ``SMX_INSTALLER=pip``
  or ``uv`` forces one. Both honour the user's configuration: pip reads ``PIP_*`` variables and
  pip.conf; for uv, ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``/``PIP_FIND_LINKS``/
  ``PIP_NO_INDEX`` are passed on as their ``UV_*`` equivalents unless those are set (uv has no
  variable for ``--no-index``: PIP_NO_INDEX or UV_NO_INDEX becomes the flag).
- :func:`installed_distributions` — ``name==version`` of everything in the venv (the lock's
  ``freeze``), with no absolute paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.errors import InstallError, UsageError
from smx.packages.runner import StepLog, child_env, run_logged

INSTALLER_ENV = "SMX_INSTALLER"
INSTALLER_CHOICES = ("auto", "pip", "uv")

# pip's own environment variables and their uv counterparts (uv reads UV_*, not PIP_*).
# (PIP_NO_INDEX has no uv variable; it becomes the --no-index flag.)
_PIP_TO_UV = (("PIP_INDEX_URL", "UV_INDEX_URL", " "), ("PIP_EXTRA_INDEX_URL",
              "UV_EXTRA_INDEX_URL", " "), ("PIP_FIND_LINKS", "UV_FIND_LINKS", ","))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def bindir(self) -> Path:
        return self.path / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        """The venv's interpreter as a path inside the venv (not resolved)."""
        return self.bindir / ("python.exe" if os.name == "nt" else "python")

    def exists(self) -> bool:
        return self.python.exists() and (self.path / "pyvenv.cfg").is_file()

    def python_version(self) -> str | None:
        """The interpreter's version from pyvenv.cfg (no subprocess), e.g. "3.10.13"."""
        cfg = self.path / "pyvenv.cfg"
        try:
            text = cfg.read_text(encoding="utf-8")
        except OSError:
            return None
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        version = values.get("version_info") or values.get("version")
        if version:
            return ".".join(version.split(".")[:3])
        return None

    def works(self) -> bool:
        """The interpreter starts (a venv whose base Python was removed does not)."""
        if not self.exists():
            return False
        try:
            return subprocess.run([str(self.python), "-c", "import sys"],
                                  capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


def interpreter_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c",
                          "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise InstallError(f"the Python interpreter {python} does not start",
                           hint="choose another one with --python")
    return out.stdout.strip()


def create_venv(path: Path, interpreter: Path, *, log: StepLog | None = None) -> Venv:
    """Create a venv at ``path`` from ``interpreter`` (replacing a broken one there).

    virtualenv with its embedded pip wheel (``--no-download``) and its app-data cache under
    smx's cache folder: no network, about a second.
    """
    from smx.userdirs import cache_dir

    if path.exists():
        shutil.rmtree(path)
    argv = [sys.executable, "-m", "virtualenv", "--no-download", "--no-periodic-update",
            "--app-data", str(cache_dir() / "virtualenv"), "--python", str(interpreter),
            "--prompt", path.parent.name, str(path)]
    if log is not None:
        run_logged(argv, log=log, what=f"creating the venv {path}", env=child_env())
    else:
        result = subprocess.run(argv, capture_output=True, text=True, env=child_env())
        if result.returncode != 0:
            raise InstallError(f"could not create a venv at {path}: "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")
    venv = Venv(path)
    if not venv.exists():
        raise InstallError(f"virtualenv reported success but {venv.python} is missing")
    return venv


# --- installers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Installer:
    """pip or uv, always aimed at one venv's interpreter by its venv path."""

    kind: str  # pip | uv
    uv: str | None = None  # path of the uv binary when kind == "uv"

    def install_argv(self, venv: Venv, args: Sequence[str],
                     env: Mapping[str, str] | None = None) -> list[str]:
        if self.kind == "uv":
            assert self.uv is not None
            flags = []
            # uv has no environment variable for --no-index: pass the user's PIP_NO_INDEX (or
            # UV_NO_INDEX, for symmetry) as the flag
            env = os.environ if env is None else env
            if any(_truthy(env.get(var)) for var in ("UV_NO_INDEX", "PIP_NO_INDEX")):
                flags.append("--no-index")
            return [self.uv, "pip", "install", "--python", str(venv.python), *flags, *args]
        return [str(venv.python), "-m", "pip", "install", "--no-input",
                "--disable-pip-version-check", *args]

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.kind == "uv":
            for pip_var, uv_var, sep in _PIP_TO_UV:
                value = env.get(pip_var)
                if value and uv_var not in env:
                    if sep == ",":
                        value = ",".join(value.split())
                    env[uv_var] = value
            env.setdefault("UV_NO_PROGRESS", "1")
        return env

    def install(self, venv: Venv, args: Sequence[str], *, log: StepLog, what: str,
                cwd: Path | None = None, env: Mapping[str, str] | None = None,
                task: Any = None) -> None:
        """``pip install ARGS`` into ``venv``; raises SubprocessFailed with the log's tail."""
        full_env = self.env(child_env(env, venv=venv.path))
        run_logged(self.install_argv(venv, args, full_env), log=log, what=what, cwd=cwd,
                   env=full_env, task=task)


def find_uv() -> str | None:
    """uv on PATH, next to smx's interpreter, or from the `uv` Python package."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file():
        return str(beside)
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, OSError):  # uv is not installed (find_uv_bin: FileNotFoundError)
        return None


def choose_installer(setting: str | None = None) -> Installer:
    """``setting`` (or SMX_INSTALLER): auto (uv when available, else pip) | pip | uv."""
    choice = (setting or os.environ.get(INSTALLER_ENV) or "auto").strip().lower()
    if choice not in INSTALLER_CHOICES:
        raise UsageError(f"{INSTALLER_ENV}={choice!r} is not one of "
                         f"{', '.join(INSTALLER_CHOICES)}", hint="unset it, or use pip or uv")
    if choice == "pip":
        return Installer("pip")
    uv = find_uv()
    if uv is None:
        if choice == "uv":
            raise UsageError(f"{INSTALLER_ENV}=uv but uv is not installed",
                             hint="install it (`pip install uv`) or set SMX_INSTALLER=pip")
        return Installer("pip")
    return Installer("uv", uv)


# --- what is installed ------------------------------------------------------------------------
_FREEZE_SCRIPT = r"""
import importlib.metadata as md, json, sys
out = []
for dist in md.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    direct = dist.read_text("direct_url.json")
    out.append([name, dist.version, json.loads(direct) if direct else None])
json.dump(out, sys.stdout)
"""


def installed_distributions(venv: Venv) -> list[str]:
    """Sorted ``name==version`` lines for the venv, like ``pip freeze`` but portable.

    A distribution installed from a VCS URL is written as ``name @ git+URL@commit``; one
    installed from a local folder (the web UI's own clones of CLIP and the like) is left out:
    the package's install step provides it again, and its path is machine-specific. pip itself
    is left out as ``pip freeze`` does.
    """
    from packaging.utils import canonicalize_name

    result = subprocess.run([str(venv.python), "-c", _FREEZE_SCRIPT], capture_output=True,
                            text=True, env=child_env(venv=venv.path), timeout=300)
    if result.returncode != 0:
        raise InstallError(f"could not list the packages in {venv.path}: "
                           f"{result.stderr.strip()[-300:]}")
    lines: dict[str, str] = {}
    for name, version, direct in json.loads(result.stdout):
        key = str(canonicalize_name(name))
        if key == "pip":
            continue
        if isinstance(direct, dict):
            url = str(direct.get("url", ""))
            vcs = direct.get("vcs_info")
            if isinstance(vcs, dict) and not url.startswith("file:"):
                from smx.redact import redact

                lines[key] = f"{key} @ {vcs.get('vcs', 'git')}+{redact(url)}@" \
                             f"{vcs.get('commit_id', '')}"
                continue
            if url.startswith("file:") or not url:
                continue
            from smx.redact import redact

            lines[key] = f"{key} @ {redact(url)}"  # an archive URL is its identity
            continue
        lines[key] = f"{key}=={version}"
    return [lines[k] for k in sorted(lines)]
