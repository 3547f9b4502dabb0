"""End to end: what `smx install` leaves behind is what `smx launch` starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.gitrepo import GitRepo, map_url
from helpers.offline_installers import use_offline_installers
from helpers.wheels import build_wheel
from smx.catalog.packages import PACKAGES

from .conftest import TESTUI, read_record

COMFYUI = PACKAGES["comfyui"]


@pytest.fixture(scope="session")
def torch_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel folder with a fake torch family: no real torch is ever installed here."""
    from packaging.requirements import Requirement

    house = tmp_path_factory.mktemp("launch-wheels")
    for name in ("torch", "torchvision", "torchaudio"):
        build_wheel(house, name, "2.1.2", {f"{name}/__init__.py": "FAKE = True\n"})
    # what the catalog's known fixes add to ComfyUI's own requirements
    for fix in COMFYUI.known_fixes:
        for line in fix.extra_requirements:
            req = Requirement(line)
            version = next(v for v in ("1.0", "50.0", "99.0") if req.specifier.contains(v))
            module = req.name.replace("-", "_").lower()
            build_wheel(house, req.name, version, {f"{module}/__init__.py": "FAKE = True\n"})
    return house


@pytest.fixture
def offline_pip(torch_wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_offline_installers(monkeypatch, torch_wheels, tmp_path / "installer-caches",
                           installer="uv")


def test_smx_install_comfyui_then_launch_it(smx, smx_process, env_dir: Path, tmp_path: Path,
                                            offline_pip: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # the test web UI, published at ComfyUI's real URL (git insteadOf, as a mirror would)
    files = {name: (TESTUI / name).read_text(encoding="utf-8")
             for name in ("testui.py", "main.py")}
    files["requirements.txt"] = "torch\n"
    upstream = GitRepo.create(tmp_path / "ComfyUI", files, tag=COMFYUI.default_ref)
    map_url(COMFYUI.git, upstream)
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace('backend = "auto"', 'backend = "cpu"', 1)
                        .replace('index = "auto"', 'index = "pip"', 1))

    installed = smx("--env", str(env_dir), "install", "comfyui")
    assert installed.exit_code == 0, installed.output

    record = tmp_path / "record.json"
    monkeypatch.setenv("SMX_TEST_RECORD", str(record))
    done = smx_process("--env", str(env_dir), "launch", "--", "--preview-method", "auto")
    assert done.returncode == 0, done.stderr
    started = read_record(record)
    checkout = env_dir / "Data" / "Packages" / "comfyui"
    assert started["executable"] == str(checkout / "venv" / "bin" / "python")
    assert started["cwd"] == str(checkout)
    argv = started["argv"]
    # main.py, the CPU flag of a CPU torch build, the store, then the user's extras
    assert argv[:2] == ["main.py", "--cpu"]
    assert argv[-2:] == ["--preview-method", "auto"]
    config = checkout / argv[argv.index("--extra-model-paths-config") + 1]
    assert yaml.safe_load(config.read_text())["smx"]["controlnet"].split() == [
        "../../Models/ControlNet", "../../Models/T2IAdapter"]
