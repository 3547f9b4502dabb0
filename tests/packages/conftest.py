"""Fixtures for package installs: fake upstream repos behind the catalog's real URLs, a local
wheel folder instead of PyPI, and an environment whose torch comes from pip's own config."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pkgfakes import A1111, COMFYUI, SLOW_SIGNAL_ENV, Upstream, build_upstream

from helpers.audit import recording
from helpers.offline_installers import use_offline_installers
from helpers.wheels import build_wheel, inline_backend_project
from smx.system.pythons import find_interpreters, pick

# A build that waits (for the kill -9 test): it tells the test it started, then sleeps until
# its parent (pip) is gone or 60 s passed.
_SLOW_HOOK = f'''\
    import os, time
    signal = os.environ.get("{SLOW_SIGNAL_ENV}")
    if signal:
        with open(signal, "w") as handle:
            handle.write(str(os.getpid()))
        parent = os.getppid()
        for _ in range(600):
            time.sleep(0.1)
            if os.getppid() != parent:
                raise SystemExit(1)'''


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every wheel the fake web UIs need, built by hand: a fake torch family (so no real
    torch is ever installed by the fast tests), the requirements, and the build tools the
    catalog asks for when it builds CLIP from git."""
    from helpers.wheels import build_sdist

    house = tmp_path_factory.mktemp("wheelhouse")
    for name, version in (("torch", "2.1.2"), ("torchvision", "0.16.2"),
                          ("torchaudio", "2.1.2")):
        build_wheel(house, name, version, {f"{name}/__init__.py":
                                           f"__version__ = {version!r}\nFAKE = True\n"})
    build_wheel(house, "smx-fake-dep", "1.0")
    build_wheel(house, "smx-fake-dep", "2.0")
    build_wheel(house, "smx-extra-dep", "1.0")
    build_wheel(house, "requests", "2.32.0")  # ComfyUI's known fix adds it (catalog)
    # stand-ins for the CLIP build requirements ("setuptools<81", "wheel"): the CLIP clone in
    # the tests builds with its own in-tree backend, so these only have to be installable
    build_wheel(house, "setuptools", "80.0.0", {"setuptools/__init__.py": "FAKE = True\n"})
    build_wheel(house, "wheel", "0.45.0", {"wheel/__init__.py": "FAKE = True\n"})
    build_sdist(house, "smx-slow-build", "1.0",
                inline_backend_project("smx-slow-build", "1.0",
                                       {"smx_slow_build/__init__.py": "OK = 1\n"},
                                       build_hook=_SLOW_HOOK))
    return house


@pytest.fixture(autouse=True)
def offline_installers(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """pip and uv see only the test's wheel folder: no index, no machine config, caches of
    their own."""
    use_offline_installers(monkeypatch, wheelhouse,
                           tmp_path_factory.getbasetemp() / "installer-caches", installer=None)
    monkeypatch.delenv(SLOW_SIGNAL_ENV, raising=False)


@pytest.fixture(scope="session")
def interpreters_available() -> None:
    """The catalog's Python ranges must be met by some interpreter on this machine."""
    found = find_interpreters()
    for pkg in (A1111, COMFYUI):
        if pick(found, pkg.python, pkg.preferred_python) is None:
            pytest.skip(f"no Python {pkg.python} on this machine for {pkg.name}")


@pytest.fixture(scope="session")
def upstream_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("upstream-template")
    build_upstream(root)
    return root


@pytest.fixture
def upstream(upstream_template: Path, tmp_path: Path, interpreters_available: None
             ) -> Upstream:
    """This test's own copy of the fake upstream repositories (tests may add commits and
    tags), mapped with git insteadOf from the catalog's real GitHub URLs."""
    from helpers.gitrepo import GitRepo

    root = tmp_path / "upstream"
    shutil.copytree(upstream_template, root, symlinks=True)
    extras = {r.commit_env: GitRepo(root / r.folder) for r in A1111.extra_repos
              if (root / r.folder).is_dir()}
    archives = {a.url_env: GitRepo(root / a.module) for a in A1111.pip_archives}
    up = Upstream(a1111=GitRepo(root / "stable-diffusion-webui"),
                  comfyui=GitRepo(root / "ComfyUI"), extras=extras, archives=archives)
    up.map_all()
    return up


@pytest.fixture
def pkg_env(env_dir: Path) -> Path:
    """An environment whose torch comes from pip's own configuration ([torch] index = "pip")
    and runs on the CPU: with the wheel folder above, the fake torch."""
    manifest = env_dir / "smx.toml"
    text = manifest.read_text()
    text = text.replace('backend = "auto"', 'backend = "cpu"', 1)
    text = text.replace('index = "auto"', 'index = "pip"', 1)
    manifest.write_text(text)
    return env_dir


@pytest.fixture(params=["uv", "pip"])
def installer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once with each installer."""
    monkeypatch.setenv("SMX_INSTALLER", request.param)
    return str(request.param)


@pytest.fixture
def snapshot_files() -> Callable[[Path], dict[str, bytes | None]]:
    def take(env: Path) -> dict[str, bytes | None]:
        return {name: (env / name).read_bytes() if (env / name).exists() else None
                for name in ("smx.toml", "smx.lock")}

    return take


@pytest.fixture
def fast_installer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """uv for tests that are not about the installer (it is several times faster)."""
    monkeypatch.setenv("SMX_INSTALLER", "uv")
    yield


# --- "did this spawn anything?" -------------------------------------------------------------
@pytest.fixture
def spawned() -> Iterator[list[list[str]]]:
    """The processes started while the test runs (a no-op sync must start none)."""
    with recording() as rec:
        yield rec.spawned
