"""External programs smx needs (git) and environment variables that change how it connects."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

# pip, git and httpx all read these; the values may hold user:password, so only names are shown.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class GitInfo:
    path: str | None
    version: str | None  # "2.39.5"
    problem: str | None = None


def find_git() -> GitInfo:
    """The git smx will run: $GIT (A1111's variable) if set, else the one on PATH."""
    wanted = os.environ.get("GIT") or "git"
    path = shutil.which(wanted)
    if path is None:
        return GitInfo(None, None, f"{wanted!r} was not found on PATH")
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GitInfo(path, None, f"{path} --version failed: {exc}")
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", done.stdout)
    if done.returncode != 0 or not match:
        return GitInfo(path, None, f"{path} --version failed (exit {done.returncode})")
    return GitInfo(path, match.group(1))


def proxy_variables(environ: dict[str, str] | None = None) -> list[str]:
    """Names of the proxy variables that are set (either case), never their values."""
    environ = dict(os.environ) if environ is None else environ
    seen = []
    for name in PROXY_VARS:
        for variant in (name, name.lower()):
            if environ.get(variant):
                seen.append(variant)
    return seen
