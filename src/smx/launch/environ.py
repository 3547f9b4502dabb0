"""The environment a web UI starts with: the user's own (proxies included), the package venv
activated, the catalog's variables, and the package's ``env`` from smx.toml."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# What would make the venv's Python pick up another interpreter's state (as `activate` and
# pip's own isolation do).
DROPPED = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__", "CONDA_PREFIX")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "all_proxy", "no_proxy")
_SECRET_NAME = re.compile(r"(?i)(token|secret|passw|api_?key|auth|credential)")


@dataclass
class LaunchEnviron:
    full: dict[str, str]
    set: dict[str, str] = field(default_factory=dict)  # added or changed
    unset: list[str] = field(default_factory=list)
    proxies: dict[str, str] = field(default_factory=dict)  # passed through from the user

    def shown(self) -> dict[str, str]:
        """``set`` with secret values masked, for printing and --json."""
        return {name: display_value(name, value) for name, value in self.set.items()}


def venv_bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def venv_python(venv: Path) -> Path:
    """The venv's interpreter by its venv path (never the resolved symlink: a venv's python is
    a link to the base interpreter, and only the link path makes Python use the venv)."""
    return venv_bin(venv) / ("python.exe" if os.name == "nt" else "python")


def build_environ(base: Mapping[str, str], venv: Path, *,
                  defaults: Mapping[str, str] = {},
                  overrides: Mapping[str, str] = {}) -> LaunchEnviron:
    """``defaults`` (catalog, wiring) apply only where the user has not set the variable;
    ``overrides`` (smx.toml ``env``) always win."""
    full = dict(base)
    unset = [name for name in DROPPED if name in full]
    for name in unset:
        del full[name]
    changes: dict[str, str] = {
        "VIRTUAL_ENV": str(venv),
        "PATH": str(venv_bin(venv)) + os.pathsep + base.get("PATH", ""),
    }
    for name, value in defaults.items():
        if name not in base:
            changes[name] = value
    changes.update(overrides)
    full.update(changes)
    set_ = {k: v for k, v in changes.items() if base.get(k) != v}
    unset = [name for name in unset if name not in changes]
    proxies = {name: base[name] for name in PROXY_VARS if name in base}
    return LaunchEnviron(full=full, set=set_, unset=unset, proxies=proxies)


def display_value(name: str, value: str) -> str:
    from smx.redact import redact

    if _SECRET_NAME.search(name):
        return "***"
    return redact(value)
