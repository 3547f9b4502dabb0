"""Installed test packages and extension repositories for `smx ext`.

- The packages are small stand-ins built to the installed-state contract of `smx install` (a
  git checkout at the locked commit in Data/Packages/<name>/, a real venv with pip in
  Data/Packages/<name>/venv, smx.toml and smx.lock entries), reached through their catalog
  URLs with git ``insteadOf`` mappings. The fake A1111 has A1111's ``launch.is_installed`` and
  ``launch.run_pip`` (modules/launch_utils.py), which extension install.py scripts call.
- The extensions are real git repositories shaped like the real ones, mapped from their real
  GitHub URLs: an A1111 extension with scripts/, an install.py that pip-installs a local wheel,
  and a model/ folder; a ControlNet-like one whose preload.py adds --controlnet-dir; a ComfyUI
  node pack with requirements.txt and install.py.
- pip and uv see only a wheel folder the session builds (no index).
"""

from __future__ import annotations

import http.server
import os
import platform
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from extfakes import (
    A1111_INSTALL,
    ADE_URL,
    ANIMATEDIFF_URL,
    CONTROLNET_URL,
    NODE_INSTALL,
    NODES_URL,
    NOT_A_REPO_URL,
    Installed,
    a1111_files,
    comfyui_files,
)

from helpers.audit import recording
from helpers.gitrepo import GitRepo, git, map_url
from helpers.loopback import LoopbackServer
from helpers.offline_installers import use_offline_installers
from helpers.wheels import build_wheel
from smx.catalog.packages import PACKAGES
from smx.environment import lock as lockfile
from smx.environment.lock import LockedPackage
from smx.environment.manifest import edit, table_for
from smx.packages.target import requirements_sha256


@pytest.fixture(scope="session")
def ext_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("ext-wheelhouse")
    build_wheel(house, "smx-ext-dep", "1.0")
    build_wheel(house, "smx-ext-dep", "2.0")
    build_wheel(house, "smx-node-dep", "1.0")
    build_wheel(house, "smx-wants-old-torch", "1.0", requires=["torch==2.0.0"])
    for name, version in (("torch", "2.0.0"), ("torch", "2.1.2")):
        build_wheel(house, name, version, {"torch/__init__.py": f"__version__ = {version!r}\n"})
    return house


@pytest.fixture(autouse=True)
def offline_pip(ext_wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory,
                monkeypatch: pytest.MonkeyPatch) -> None:
    """pip and uv see only the test wheel folder: no index, no machine config."""
    use_offline_installers(monkeypatch, ext_wheelhouse,
                           tmp_path_factory.getbasetemp() / "ext-installer-caches",
                           installer="uv")


@pytest.fixture(scope="session")
def template_venv(tmp_path_factory: pytest.TempPathFactory, ext_wheelhouse: Path) -> Path:
    """One real venv (with pip, and the fake torch 2.1.2), copied into each test package."""
    import subprocess

    from smx.packages.venv import create_venv
    from smx.system.pythons import find_interpreters, pick

    chosen = pick(find_interpreters(), ">=3.10,<3.12", "3.10")
    if chosen is None:
        pytest.skip("no Python 3.10/3.11 on this machine for an A1111-style venv")
    path = tmp_path_factory.mktemp("ext-venv") / "venv"
    venv = create_venv(path, chosen.path)
    subprocess.run([str(venv.python), "-m", "pip", "install", "-q", "--no-index",
                    "--find-links", str(ext_wheelhouse), "torch==2.1.2"], check=True,
                   env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    return path


@pytest.fixture(scope="session")
def repo_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ext-repos")
    GitRepo.create(root / "a1111", a1111_files(), message="fake A1111")
    GitRepo.create(root / "forge", a1111_files(), message="fake Forge (no ldm_patched)")
    GitRepo.create(root / "comfyui", comfyui_files(), message="fake ComfyUI 0.3.64")
    GitRepo.create(root / "sd-webui-animatediff", {
        "scripts/animatediff.py": "# the extension's script\n",
        "install.py": A1111_INSTALL,
        "model/.gitkeep": "",
        ".gitignore": "model/*.*\n!model/.gitkeep\n/install-ran.json\n",
        "README.md": "AnimateDiff for the web UI\n"}, message="v1")
    GitRepo.create(root / "sd-webui-controlnet", {
        "scripts/controlnet.py": "# ControlNet\n",
        "preload.py": "def preload(parser):\n    parser.add_argument('--controlnet-dir')\n",
        "install.py": "import launch\n",
        "models/.gitkeep": ""}, message="controlnet")
    GitRepo.create(root / "ComfyUI-AnimateDiff-Evolved", {
        "__init__.py": "NODE_CLASS_MAPPINGS = {}\nNODE_DISPLAY_NAME_MAPPINGS = {}\n",
        "requirements.txt": "smx-node-dep\n",
        "install.py": NODE_INSTALL,
        "pyproject.toml": '[project]\nname = "ade"\n\n[tool.comfy]\n'
                          'requires-comfyui = ">=0.3.68"\n',
        ".gitignore": "/install-ran.txt\n"}, message="nodes")
    GitRepo.create(root / "ComfyUI-some-nodes", {
        "__init__.py": "NODE_CLASS_MAPPINGS = {'X': object}\n"}, message="nodes")
    (root / "not-a-repo").mkdir()
    (root / "not-a-repo" / "README.md").write_text("just a folder\n")
    return root


@dataclass
class Repos:
    root: Path

    def repo(self, name: str) -> GitRepo:
        return GitRepo(self.root / name)


def _map(real: str, local: Path) -> None:
    """Both spellings users type (with and without .git); git picks the longest match."""
    map_url(real + ".git", local)
    map_url(real, local)


@pytest.fixture
def repos(repo_templates: Path, tmp_path: Path) -> Repos:
    """This test's own copies (tests add commits), mapped from the real URLs."""
    root = tmp_path / "upstream"
    shutil.copytree(repo_templates, root, symlinks=True)
    for name, url in (("sd-webui-animatediff", ANIMATEDIFF_URL),
                      ("sd-webui-controlnet", CONTROLNET_URL),
                      ("ComfyUI-AnimateDiff-Evolved", ADE_URL),
                      ("ComfyUI-some-nodes", NODES_URL),
                      ("not-a-repo", NOT_A_REPO_URL)):
        _map(url, root / name)
    for source in ("a1111", "forge", "comfyui"):
        map_url(PACKAGES[source].git, root / source)
    return Repos(root)


InstallPackage = Callable[..., Installed]


@pytest.fixture
def install_package(repos: Repos, template_venv: Path) -> InstallPackage:
    """Put an installed package of catalog kind ``source`` into ``env`` as ``name``."""

    def install(env: Path, source: str, name: str | None = None) -> Installed:
        name = name or source
        repo = repos.repo(source)
        checkout = env / "Data" / "Packages" / name
        checkout.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "-q", repo.url, str(checkout))
        git("checkout", "-q", "--detach", repo.head, cwd=checkout)
        git("remote", "set-url", "origin", PACKAGES[source].git, cwd=checkout)
        shutil.copytree(template_venv, checkout / "venv", symlinks=True)
        with open(checkout / "venv" / "pyvenv.cfg", encoding="utf-8") as handle:
            version = next((line.split("=", 1)[1].strip() for line in handle
                            if line.startswith("version")), platform.python_version())

        def add(doc: object) -> None:
            table = table_for(doc, "packages", name)
            table["source"] = source
            table["ref"] = repo.head

        edit(env / "smx.toml", add)
        lock = lockfile.load(env / "smx.lock")
        lock.packages[name] = LockedPackage(
            name=name, source=source, git=PACKAGES[source].git, commit=repo.head,
            ref=repo.head, python=".".join(version.split(".")[:3]), backend="cpu",
            freeze=["torch==2.1.2"],
            requirements_sha256=requirements_sha256(checkout, PACKAGES[source]))
        lockfile.save(env / "smx.lock", lock)
        return Installed(env, name, source, repo.head)

    return install


@pytest.fixture
def a1111(env_dir: Path, install_package: InstallPackage) -> Installed:
    return install_package(env_dir, "a1111")


@pytest.fixture
def comfyui(env_dir: Path, install_package: InstallPackage) -> Installed:
    return install_package(env_dir, "comfyui")


# --- "did this spawn anything?" -------------------------------------------------------------
@pytest.fixture
def spawned() -> Iterator[list[list[str]]]:
    """The processes started while the test runs (a no-op sync must start none)."""
    with recording() as rec:
        yield rec.spawned


# --- a git server that wants a password -------------------------------------------------------
@pytest.fixture
def private_repo_url() -> Iterator[str]:
    """A real URL whose (loopback) server answers 401 Basic to every git request, like a
    private GitHub repository: git then asks for a user name."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = LoopbackServer(Handler)
    server.serve_in_background()
    real = "https://github.com/someone/private-extension"
    local = f"{server.url}/private-extension"
    git("config", "--global", "--add", f"url.{local}.insteadOf", real)
    try:
        yield real
    finally:
        server.close()
