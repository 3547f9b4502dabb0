"""Installed test packages for `smx launch`, built by hand to the installed-state contract of
`smx install`: a git checkout at the locked commit in Data/Packages/<name>/, its venv in
Data/Packages/<name>/venv, and smx.lock [packages.<name>] with source, git, commit, python,
backend and freeze. The package itself is tests/launch/testui: it records how it was started
and exits with a chosen code (or serves HTTP)."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.gitrepo import GitRepo, git
from smx.environment import lock as lockfile
from smx.environment.lock import LockedModel, LockedPackage
from smx.environment.manifest import edit, inline, table_for

TESTUI = Path(__file__).parent / "testui"


@pytest.fixture(scope="session")
def ui_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """The test web UI as a git repository (one commit), shared by every test."""
    files = {name: (TESTUI / name).read_text(encoding="utf-8")
             for name in ("testui.py", "launch.py", "main.py")}
    files[".gitignore"] = (TESTUI / "gitignore.txt").read_text(encoding="utf-8")
    return GitRepo.create(tmp_path_factory.mktemp("testui") / "repo", files,
                          message="test web UI")


@dataclass
class Installed:
    env: Path
    name: str
    source: str
    checkout: Path
    commit: str

    @property
    def venv(self) -> Path:
        return self.checkout / "venv"

    @property
    def python(self) -> Path:
        return self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


InstallUi = Callable[..., Installed]


@pytest.fixture
def install_ui(ui_repo: GitRepo) -> InstallUi:
    """Install the test web UI into an env as package ``name`` of catalog kind ``source``."""

    def install(env: Path, name: str, source: str, *, backend: str | None = "cuda",
                args: list[str] | None = None, pkg_env: dict[str, str] | None = None,
                ) -> Installed:
        commit = ui_repo.head
        checkout = env / "Data" / "Packages" / name
        checkout.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "-q", ui_repo.url, str(checkout))
        git("checkout", "-q", "--detach", commit, cwd=checkout)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / "venv")],
                       check=True)

        def add(doc: object) -> None:
            table = table_for(doc, "packages", name)
            table["source"] = source
            table["git"] = ui_repo.url
            table["ref"] = commit
            if args:
                table["args"] = args
            if pkg_env:
                table["env"] = inline(pkg_env)

        edit(env / "smx.toml", add)
        lock = lockfile.load(env / "smx.lock")
        lock.packages[name] = LockedPackage(
            name=name, source=source, git=ui_repo.url, commit=commit,
            ref=commit, python=platform.python_version(), backend=backend,
            freeze=[])
        lockfile.save(env / "smx.lock", lock)
        return Installed(env, name, source, checkout, commit)

    return install


def add_model(env: Path, name: str, kind: str, folder: str, filename: str,
              data: bytes = b"weights", *, write: bool = True) -> Path:
    """A model listed in smx.toml and smx.lock, and (``write``) present in the store."""
    source = f"https://example.invalid/{filename}"

    def add(doc: object) -> None:
        table_for(doc, "models")[name] = inline({"source": source, "kind": kind})

    edit(env / "smx.toml", add)
    lock = lockfile.load(env / "smx.lock")
    lock.models[name] = LockedModel(name=name, source=source, kind=kind, filename=filename,
                                    size=len(data), sha256="0" * 64, url=source)
    lockfile.save(env / "smx.lock", lock)
    path = env / "Data" / "Models" / folder / filename
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


@pytest.fixture
def record_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test web UI writes how it was started (read with ``read_record``)."""
    target = tmp_path / "record.json"
    monkeypatch.setenv("SMX_TEST_RECORD", str(target))
    return target


def read_record(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])
