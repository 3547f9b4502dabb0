"""Fixtures for reproducibility tests: a fake ComfyUI and a node pack as real git repositories
behind their real GitHub URLs, a wheel folder instead of PyPI, the loopback model hub, and
installed-looking environments made without pip (cheapenv.py)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cheapenv import Upstreams
from syncfakes import COMFYUI, NODES_URL, comfyui_files, node_files

from helpers.audit import recording
from helpers.fakehub import FakeHub, fakehub  # noqa: F401 - the shared fixture
from helpers.gitrepo import GitRepo, map_url
from helpers.offline_installers import use_offline_installers
from helpers.wheels import build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake torch family and the small requirements, as wheels (no index, no network)."""
    house = tmp_path_factory.mktemp("sync-wheelhouse")
    for name, version in (("torch", "2.1.2"), ("torchvision", "0.16.2"),
                          ("torchaudio", "2.1.2")):
        build_wheel(house, name, version, {f"{name}/__init__.py":
                                           f"__version__ = {version!r}\nFAKE = True\n"})
    for name, version in (("smx-fake-dep", "1.0"), ("smx-fake-dep", "2.0"),
                          ("smx-node-dep", "1.0"), ("smx-node-dep", "2.0"),
                          ("requests", "2.32.0")):  # requests: ComfyUI's known fix adds it
        build_wheel(house, name, version)
    return house


@pytest.fixture(autouse=True)
def offline_installers(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """uv (fast) and pip see only the test wheel folder: no index, no machine config."""
    use_offline_installers(monkeypatch, wheelhouse,
                           tmp_path_factory.getbasetemp() / "sync-installer-caches",
                           installer="uv")


@pytest.fixture
def hub(fakehub: FakeHub) -> FakeHub:  # noqa: F811 - the short name in this folder
    return fakehub


@pytest.fixture
def read_toml() -> Callable[[Path], dict]:
    def read(path: Path) -> dict:
        return tomllib.loads(path.read_text(encoding="utf-8"))

    return read


@pytest.fixture(scope="session")
def upstream_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sync-upstream")
    GitRepo.create(root / "ComfyUI", comfyui_files(requirement="smx-fake-dep==1.0"),
                   message="ComfyUI")
    GitRepo.create(root / "ComfyUI-some-nodes", node_files(), message="nodes v1")
    return root


@dataclass
class Upstream:
    comfyui: GitRepo
    nodes: GitRepo


@pytest.fixture
def upstream(upstream_template: Path, tmp_path: Path) -> Upstream:
    """This test's copies (tests add commits to their main branches), reached through the
    real URLs with git insteadOf, as behind a git mirror."""
    root = tmp_path / "upstream"
    shutil.copytree(upstream_template, root, symlinks=True)
    up = Upstream(GitRepo(root / "ComfyUI"), GitRepo(root / "ComfyUI-some-nodes"))
    map_url(COMFYUI.git, up.comfyui)
    map_url(NODES_URL, up.nodes)
    return up


@pytest.fixture
def cheap(tmp_path: Path) -> Upstreams:
    return Upstreams(tmp_path / "cheap-upstream")


@pytest.fixture
def cheap_env(env_dir: Path) -> Path:
    """An `smx init` env on the CPU with pip's own torch index (no torch download)."""
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace('backend = "auto"', 'backend = "cpu"', 1)
                        .replace('index = "auto"', 'index = "pip"', 1))
    return env_dir


@pytest.fixture
def synced(cheap_env: Path, cheap: Upstreams, hub: FakeHub, smx) -> Path:
    """An environment in sync: a ComfyUI with two custom nodes (installed the cheap way) and
    two models fetched from the hub by a real `smx sync`."""
    from cheapenv import add_models, install_package
    from syncfakes import publish_v1

    install_package(cheap_env, cheap, "comfy", "comfyui", ["nodes-a", "nodes-b"], ref="main")
    publish_v1(hub)
    add_models(cheap_env, {"anima": "civitai:1001"})
    manifest = cheap_env / "smx.toml"
    manifest.write_text(manifest.read_text() + 'mm = { source = "hf:someone/motion/'
                        'mm.safetensors", kind = "motion-module" }\n')
    result = smx("--env", str(cheap_env), "sync")
    assert result.exit_code == 0, result.output
    hub.clear_records()
    return cheap_env


# --- "did this spawn anything or open a connection?" ----------------------------------------
@pytest.fixture
def audit() -> Iterator[dict[str, list]]:
    """Processes started and connections opened (in this process) while the test runs."""
    with recording() as rec:
        yield {"spawned": rec.spawned, "network": rec.network}  # live lists
