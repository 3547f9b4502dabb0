"""Finding the Python interpreters a package's venv can be made from (smx.system.pythons)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from smx.system.pythons import Interpreter, find_interpreters, parse_py_launcher, pick

# The interpreter behind the test run's venv: a real base interpreter on every machine.
BASE = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"
needs_posix_base = pytest.mark.skipif(os.name == "nt" or not BASE.is_file(),
                                      reason="POSIX layout of the base interpreter")


def _fake_pyenv(tmp_path: Path) -> Path:
    root = tmp_path / "pyenv"
    bin_dir = root / "versions" / f"{MINOR}.99" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / f"python{MINOR}").symlink_to(BASE)
    return root


@needs_posix_base
def test_finds_interpreters_in_pyenv_versions(tmp_path: Path) -> None:
    root = _fake_pyenv(tmp_path)
    found = find_interpreters(path_env="", pyenv_root=root, uv_root=tmp_path / "no-uv")
    assert [(i.source, i.minor) for i in found] == [("pyenv", MINOR)]
    # the path as found, not resolved: a venv made from it names the pyenv folder
    assert found[0].path == root / "versions" / f"{MINOR}.99" / "bin" / f"python{MINOR}"
    assert found[0].version == Version(".".join(map(str, sys.version_info[:3])))


@needs_posix_base
def test_pyenv_shims_are_never_run(tmp_path: Path) -> None:
    shims = tmp_path / ".pyenv" / "shims"
    shims.mkdir(parents=True)
    ran = tmp_path / "shim-ran"
    shim = shims / "python3.10"
    shim.write_text(f"#!/bin/sh\ntouch {ran}\necho 'pyenv: python3.10: command not found'\n"
                    "exit 127\n")
    shim.chmod(0o755)
    found = find_interpreters(path_env=str(shims), pyenv_root=tmp_path / "none",
                              uv_root=tmp_path / "no-uv")
    assert found == [] and not ran.exists()


@needs_posix_base
def test_virtualenv_interpreters_are_left_out_and_duplicates_merged(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)  # the test run's own venv
    path_dir = tmp_path / "bin"
    path_dir.mkdir()
    (path_dir / "python3").symlink_to(BASE)
    (path_dir / f"python{MINOR}").symlink_to(BASE)
    found = find_interpreters(path_env=os.pathsep.join([venv_bin, str(path_dir)]),
                              pyenv_root=tmp_path / "none", uv_root=tmp_path / "no-uv")
    # one interpreter, under its most specific name
    assert [i.path for i in found] == [path_dir / f"python{MINOR}"]


@pytest.mark.skipif(not (Path.home() / ".pyenv" / "versions").is_dir(),
                    reason="this machine has no pyenv")
def test_finds_this_machines_pyenv_pythons() -> None:
    """The dev machine keeps 3.10-3.13 in ~/.pyenv and only broken shims on PATH."""
    versions = Path.home() / ".pyenv" / "versions"
    wanted = {p.name for p in versions.iterdir()
              if p.name.startswith("3.") and (p / "bin").is_dir() and not p.is_symlink()}
    found = find_interpreters()
    modern = {v for v in wanted if Version(v) >= Version("3.6")}
    assert modern <= {str(i.version) for i in found}
    from_pyenv = [i for i in found if i.source == "pyenv"]
    assert from_pyenv and all(versions in i.path.parents for i in from_pyenv)


def _interp(version: str, source: str = "PATH") -> Interpreter:
    return Interpreter(Path(f"/x/python{version}"), Version(version), source)


def test_pick_prefers_the_packages_preferred_minor_version() -> None:
    found = [_interp("3.13.0"), _interp("3.12.1"), _interp("3.11.7"), _interp("3.10.13")]
    assert pick(found, ">=3.10,<3.12", "3.10").version == Version("3.10.13")
    assert pick(found, ">=3.10,<3.14", "3.12").version == Version("3.12.1")
    assert pick(found, ">=3.10,<3.12", "3.9").version == Version("3.11.7")  # newest matching
    assert pick(found[:2], ">=3.10,<3.12", "3.10") is None


def test_py_launcher_listing() -> None:
    text = (" -V:3.12 *        C:\\Python312\\python.exe\n"
            " -V:3.10          C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python310\\"
            "python.exe\n"
            " -3.9-64          C:\\Python39\\python.exe\n")
    paths = [str(p) for p in parse_py_launcher(text)]
    assert len(paths) == 3 and all(p.endswith("python.exe") for p in paths)
    assert str(parse_py_launcher(text)[0]) == "C:\\Python312\\python.exe"
