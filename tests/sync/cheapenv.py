"""Installed-looking environments built in milliseconds, for drift tests and bench/noop_sync.py.

A package here is what `smx install` leaves, minus pip: a git checkout at the locked commit in
Data/Packages/<name>, a venv made without pip (``venv`` module, symlinks), the smx.toml entry
and a smx.lock entry with the catalog's requirements hash. Extensions are tiny git checkouts in
the package's extension folder, locked at their commit. Packages and extensions come from tiny
local repositories named by ``file://`` URLs in smx.toml (``git = ...``), so no git config is
needed. Models are not faked: put them on the fake hub and let a real `smx sync` fetch them.
"""

from __future__ import annotations

import venv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helpers.gitrepo import GitRepo, git
from smx.catalog.packages import PACKAGES
from smx.environment import lock as lockfile
from smx.environment.lock import LockedExtension, LockedPackage
from smx.environment.manifest import edit, inline, table_for
from smx.packages.target import requirements_sha256

PACKAGE_FILES = {
    "comfyui": {"main.py": "print('To see the GUI go to: http://127.0.0.1:8188')\n",
                "comfyui_version.py": '__version__ = "0.3.64"\n', "nodes.py": "",
                "requirements.txt": "torch\n", ".gitignore": "/venv/\n/custom_nodes/\n"},
    "a1111": {"launch.py": "print('Running on local URL:  http://127.0.0.1:7860')\n",
              "modules/__init__.py": "", "webui.py": "",
              "requirements_versions.txt": "torch==2.1.2\n",
              ".gitignore": "/venv/\n/config.json\n/extensions/\n"},
}
EXTENSION_FILES = {
    "comfyui": {"__init__.py": "NODE_CLASS_MAPPINGS = {}\n"},
    "a1111": {"scripts/ext.py": "# an extension script\n"},
}


@dataclass
class Upstreams:
    """Tiny repositories to install from, made once and reused."""

    root: Path
    repos: dict[str, GitRepo] = field(default_factory=dict)

    def repo(self, name: str, files: dict[str, str]) -> GitRepo:
        if name not in self.repos:
            self.repos[name] = GitRepo.create(self.root / name, files)
        return self.repos[name]

    def package(self, source: str) -> GitRepo:
        return self.repo(f"webui-{source}", PACKAGE_FILES[source])

    def extension(self, source: str, folder: str) -> GitRepo:
        return self.repo(folder, {**EXTENSION_FILES[source], "README.md": f"{folder}\n"})


def install_package(env: Path, ups: Upstreams, name: str, source: str,
                    extensions: Sequence[str] = (), ref: str | None = None) -> None:
    """Put package ``name`` (catalog kind ``source``) with ``extensions`` (folder names) into
    ``env`` as if smx had installed them. ``ref``: what smx.toml says for the package and its
    extensions (a branch, "main"); default: their commit SHAs."""
    catalog = PACKAGES[source]
    repo = ups.package(source)
    checkout = env / "Data" / "Packages" / name
    checkout.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", repo.url, str(checkout))
    git("checkout", "-q", "--detach", repo.head, cwd=checkout)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(checkout / "venv")
    ext_locks = {}
    for folder in extensions:
        ext_repo = ups.extension(source, folder)
        dest = checkout / catalog.extensions_dir / folder
        git("clone", "-q", ext_repo.url, str(dest))
        git("checkout", "-q", "--detach", ext_repo.head, cwd=dest)
        ext_locks[folder] = LockedExtension(name=folder, git=ext_repo.url, commit=ext_repo.head,
                                            ref=ref or ext_repo.head)

    def add(doc: object) -> None:
        table = table_for(doc, "packages", name)
        table["source"] = source
        table["git"] = repo.url
        table["ref"] = ref or repo.head
        if extensions:
            exts = table_for(doc, "packages", name, "extensions")
            for folder in extensions:
                exts[folder] = inline({"git": ups.extension(source, folder).url,
                                       "ref": ref or ups.extension(source, folder).head})

    edit(env / "smx.toml", add)
    lock = lockfile.load(env / "smx.lock")
    lock.packages[name] = LockedPackage(
        name=name, source=source, git=repo.url, commit=repo.head, ref=ref or repo.head,
        python=_venv_version(checkout / "venv"), backend="cpu", freeze=["torch==2.1.2"],
        requirements_sha256=requirements_sha256(checkout, catalog), extensions=ext_locks)
    lockfile.save(env / "smx.lock", lock)


def _venv_version(path: Path) -> str:
    for line in (path / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return "3"


def add_models(env: Path, models: dict[str, str]) -> None:
    """``{name: source}`` into smx.toml [models] (a real sync fetches them)."""

    def add(doc: object) -> None:
        table = table_for(doc, "models")
        for name, source in models.items():
            table[name] = inline({"source": source})

    edit(env / "smx.toml", add)
