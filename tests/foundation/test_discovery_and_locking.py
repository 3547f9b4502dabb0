"""Finding the environment like git does, and one smx process at a time per environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smx.environment.discovery import find_env_root
from smx.environment.layout import EnvLayout
from smx.environment.process_lock import env_lock
from smx.errors import EnvBusy, EnvNotFound


def test_env_is_found_from_a_subfolder(env_dir: Path) -> None:
    deep = env_dir / "Data" / "Models" / "Lora"
    assert find_env_root(start=deep) == env_dir.resolve()


def test_explicit_env_beats_smx_env_beats_the_cwd(env_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, smx) -> None:
    other = tmp_path / "other"
    assert smx("init", str(other)).exit_code == 0
    monkeypatch.setenv("SMX_ENV", str(other))
    assert find_env_root(start=env_dir) == other.resolve()
    assert find_env_root(start=env_dir, explicit=str(env_dir)) == env_dir.resolve()


def test_no_env_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EnvNotFound, match="no smx.toml in") as info:
        find_env_root(start=tmp_path)
    assert "smx init" in (info.value.hint or "")


def test_env_flag_pointing_nowhere_says_which_setting_is_wrong(tmp_path: Path, smx) -> None:
    result = smx("--env", str(tmp_path / "missing"), "sync", "--dry-run")
    assert result.exit_code == 2
    assert "--env points to" in result.stderr


def test_env_flag_and_smx_env_select_the_env_from_anywhere(env_dir: Path, tmp_path: Path,
                                                           smx, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert smx("--env", str(env_dir), "sync", "--dry-run", cwd=elsewhere).exit_code == 0
    monkeypatch.setenv("SMX_ENV", str(env_dir))
    assert smx("sync", "--dry-run", cwd=elsewhere).exit_code == 0


def test_moving_the_env_folder_keeps_it_working(env_dir: Path, tmp_path: Path, smx) -> None:
    moved = tmp_path / "moved"
    env_dir.rename(moved)
    assert smx("--env", str(moved), "sync", "--dry-run").exit_code == 0
    assert str(tmp_path) not in (moved / "smx.toml").read_text()


def test_two_concurrent_writers_are_serialised(env_dir: Path) -> None:
    """Two processes each add 15 models under the env lock: none of the 30 edits is lost."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from smx.environment.layout import EnvLayout
        from smx.environment.manifest import edit, inline, table_for
        from smx.environment.process_lock import env_lock
        layout = EnvLayout(Path({str(env_dir)!r}))
        who = sys.argv[1]
        for i in range(15):
            with env_lock(layout.process_lock):
                edit(layout.manifest, lambda doc: table_for(doc, "models").__setitem__(
                    who + str(i), inline({{"source": "civitai:" + str(i + 1)}})))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who]) for who in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    from smx.environment import manifest

    models = manifest.load(env_dir / "smx.toml").models
    assert len(models) == 30


def test_a_second_smx_waits_with_a_message_then_fails_clearly(env_dir: Path) -> None:
    layout = EnvLayout(env_dir)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from filelock import FileLock
        lock = FileLock({str(layout.process_lock)!r})
        lock.acquire()
        print("held", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        said: list[str] = []
        with pytest.raises(EnvBusy, match="another smx process") as info, \
                env_lock(layout.process_lock, timeout=0.3, on_wait=said.append):
            pass
        assert said and "waiting up to" in said[0]
        assert "SMX_LOCK_TIMEOUT" in (info.value.hint or "")
    finally:
        holder.kill()
        holder.wait()
