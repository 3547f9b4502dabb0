"""smx.lock round-trips; a failed command leaves smx.toml and smx.lock byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from smx.environment import lock as lockfile
from smx.environment.env import Env
from smx.environment.lock import Lock, LockedExtension, LockedModel, LockedPackage
from smx.environment.manifest import edit, inline, table_for
from smx.errors import ConfigError, InstallError
from smx.transaction import env_transaction


def sample_lock() -> Lock:
    lock = Lock()
    lock.packages["a1111"] = LockedPackage(
        name="a1111", source="a1111", git="https://github.com/AUTOMATIC1111/x.git",
        commit="a" * 40, ref="v1.10.1", python="3.10.13", backend="cpu",
        freeze=["torch==2.1.2"],
        extensions={"animatediff": LockedExtension("animatediff", "https://g/x.git", "b" * 40)})
    lock.models["mm"] = LockedModel(name="mm", source="hf:guoyww/animatediff/mm.ckpt",
                                    kind="motion-module", filename="mm.ckpt", size=10,
                                    sha256="c" * 64,
                                    hf={"repo": "guoyww/animatediff", "revision": "d" * 40,
                                        "path": "mm.ckpt"})
    return lock


def test_lock_round_trips_and_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "smx.lock"
    lockfile.save(path, sample_lock())
    first = path.read_text()
    loaded = lockfile.load(path)
    assert loaded == sample_lock()
    lockfile.save(path, loaded)
    assert path.read_text() == first


def test_a_lock_from_a_newer_smx_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "smx.lock"
    path.write_text("version = 9\n")
    with pytest.raises(ConfigError, match="lock version 9") as info:
        lockfile.load(path)
    assert "upgrade smx" in (info.value.hint or "")


def test_failed_command_restores_manifest_and_lock_byte_for_byte(env_dir: Path) -> None:
    env = Env.open(env_dir)
    lockfile.save(env.layout.lockfile, sample_lock())
    env = Env.open(env_dir)
    manifest_before = env.layout.manifest.read_bytes()
    lock_before = env.layout.lockfile.read_bytes()
    with pytest.raises(InstallError), env_transaction(env):
        edit(env.layout.manifest, lambda doc: table_for(doc, "models").__setitem__(
            "x", inline({"source": "civitai:1"})))
        env.lock.models.pop("mm")
        env.save_lock()
        raise InstallError("pip failed")
    assert env.layout.manifest.read_bytes() == manifest_before
    assert env.layout.lockfile.read_bytes() == lock_before
    assert "mm" in env.lock.models and "x" not in env.manifest.models


def test_failed_first_command_removes_the_lock_it_created(env_dir: Path) -> None:
    env = Env.open(env_dir)
    with pytest.raises(KeyboardInterrupt), env_transaction(env):
        env.save_lock()
        raise KeyboardInterrupt
    assert not env.layout.lockfile.exists()
