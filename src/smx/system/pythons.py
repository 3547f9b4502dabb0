"""Python interpreters on this machine that can be the base of a package's venv.

Web UIs are picky (A1111 wants 3.10, ComfyUI takes 3.10-3.13), and the right interpreter is
often not the `python3` on PATH. :func:`find_interpreters` looks where people keep them:

- PATH: ``python3.X``, ``python3``, ``python`` (``.exe`` on Windows). pyenv's ``shims``
  folders are skipped: a shim only works for the versions `pyenv global/local` selected and
  fails for the rest ("pyenv: python3.10: command not found"); the real binaries are found in
  pyenv's versions folder instead.
- pyenv: ``$PYENV_ROOT/versions/*/bin`` (default ``~/.pyenv``; pyenv-win's
  ``~/.pyenv/pyenv-win/versions/*``).
- uv's managed Pythons: ``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python/*/bin``.
- the Windows ``py`` launcher (``py -0p``); it does not exist on Linux/macOS.

Each candidate is asked for its version by running it (file names lie: ``python3`` can be
anything), in parallel. Interpreters inside a virtualenv are left out: a venv is made from a
base interpreter, and that base is found on its own. Paths are returned as found, not resolved
(a venv made from /usr/bin/python3.11 should say so, not name a versioned store path).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

_WINDOWS = os.name == "nt"
_NAME = re.compile(r"^python(3(\.\d+)?)?(\.exe)?$", re.IGNORECASE)
_PROBE = ("import sys; print(sys.implementation.name, sys.version_info[0], sys.version_info[1],"
          " sys.version_info[2], int(sys.prefix != getattr(sys, 'base_prefix', sys.prefix)))")


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: Version  # 3.10.13
    source: str  # PATH | pyenv | uv | py-launcher
    implementation: str = "cpython"

    @property
    def minor(self) -> str:
        """"3.10": what catalogs and users ask for."""
        return f"{self.version.major}.{self.version.minor}"


def find_interpreters(*, path_env: str | None = None, pyenv_root: Path | None = None,
                      uv_root: Path | None = None, timeout: float = 10.0,
                      ) -> list[Interpreter]:
    """Every distinct base interpreter found, newest version first (PATH order breaks ties).

    Arguments default to this process's environment (PATH, PYENV_ROOT, UV_PYTHON_INSTALL_DIR);
    tests pass their own folders.
    """
    candidates = list(_unique(_candidates(path_env, pyenv_root, uv_root)))
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(candidates)))) as pool:
        probed = list(pool.map(lambda c: _probe(c[0], c[1], timeout), candidates))
    found: list[Interpreter] = []
    seen: set[tuple[str, str]] = set()
    for interp in probed:
        if interp is None:
            continue
        # /usr/bin/python3 and /usr/bin/python3.11 are one interpreter: keep the first name
        key = (os.path.realpath(interp.path), str(interp.version))
        if key not in seen:
            seen.add(key)
            found.append(interp)
    found.sort(key=lambda i: i.version, reverse=True)
    return found


def pick(interpreters: Iterable[Interpreter], specifier: str,
         preferred: str | None = None) -> Interpreter | None:
    """The interpreter to build a venv from: one of ``preferred`` ("3.10") if any matches the
    specifier, else the newest that matches, else None."""
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    matching = [i for i in interpreters
                if i.implementation == "cpython" and spec.contains(i.version, prereleases=True)]
    if preferred:
        for interp in matching:
            if interp.minor == preferred:
                return interp
    return matching[0] if matching else None


# --- discovery ------------------------------------------------------------------------------
def _candidates(path_env: str | None, pyenv_root: Path | None, uv_root: Path | None,
                ) -> Iterable[tuple[Path, str]]:
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    for folder in path_env.split(os.pathsep):
        if not folder or _is_shims(Path(folder)):
            continue
        for exe in _pythons_in(Path(folder)):
            yield exe, "PATH"
    root = pyenv_root or Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for versions in (root / "versions", root / "pyenv-win" / "versions"):
        for version_dir in _subdirs(versions):
            for exe in _first(_pythons_in(version_dir / "bin"), _pythons_in(version_dir)):
                yield exe, "pyenv"
    uv = uv_root or Path(os.environ.get("UV_PYTHON_INSTALL_DIR")
                         or Path.home() / ".local" / "share" / "uv" / "python")
    for version_dir in _subdirs(uv):
        for exe in _first(_pythons_in(version_dir / "bin"), _pythons_in(version_dir)):
            yield exe, "uv"
    if _WINDOWS:
        for exe in _py_launcher():
            yield exe, "py-launcher"


def _is_shims(folder: Path) -> bool:
    return folder.name == "shims" and any("pyenv" in part.lower() for part in folder.parts)


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _pythons_in(folder: Path) -> list[Path]:
    """python3.X first (exact), then python3, then python; executables only."""
    try:
        names = [p.name for p in folder.iterdir() if _NAME.match(p.name)]
    except OSError:
        return []

    def order(name: str) -> tuple[int, str]:
        return (0 if re.search(r"3\.\d+", name) else 1 if "3" in name else 2, name)

    found = []
    for name in sorted(names, key=order):
        path = folder / name
        if path.is_file() and os.access(path, os.X_OK):
            found.append(path)
    return found


def _first(*groups: list[Path]) -> list[Path]:
    """In one version folder, the first binary found is enough (python3.10, python3, python
    all point to the same interpreter)."""
    for group in groups:
        if group:
            return group[:1]
    return []


def _unique(candidates: Iterable[tuple[Path, str]]) -> Iterable[tuple[Path, str]]:
    seen: set[str] = set()
    for path, source in candidates:
        if _in_venv(path):
            continue  # before merging by real path: a venv's python links to its base
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            yield path, source


def _in_venv(path: Path) -> bool:
    """A venv's interpreter sits in bin/ (Scripts\\ on Windows) under the pyvenv.cfg, which is
    how Python itself recognises a venv."""
    return (path.parent.parent / "pyvenv.cfg").is_file()


def parse_py_launcher(text: str) -> list[Path]:
    """`py -0p` lines: " -V:3.12 *        C:\\Python312\\python.exe" (or " -3.10-64  C:\\…")."""
    paths = []
    for line in text.splitlines():
        match = re.match(r"^\s*-\S+\s+(?:\*\s+)?(?P<path>\S.*?)\s*$", line)
        if match and match.group("path").lower().endswith(".exe"):
            paths.append(Path(match.group("path")))
    return paths


def _py_launcher() -> list[Path]:
    launcher = shutil.which("py")
    if launcher is None:
        return []
    try:
        done = subprocess.run([launcher, "-0p"], capture_output=True, text=True, timeout=15,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_py_launcher(done.stdout)


def _probe(path: Path, source: str, timeout: float) -> Interpreter | None:
    try:
        done = subprocess.run([str(path), "-I", "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 5 or parts[4] != "0":
        return None  # not runnable, not Python 3, or a virtualenv's interpreter
    try:
        version = Version(".".join(parts[1:4]))
    except ValueError:
        return None
    return Interpreter(path=path, version=version, source=source, implementation=parts[0])

