"""kill -9 in the middle of a download, then the same command again: it picks up where the
bytes stopped, and nothing half-done was recorded, declared or placed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes

MiB = 1 << 20


def test_sigkill_at_half_way_then_rerun_fetches_at_most_5_percent_again(
        hub: FakeHub, env_dir: Path, read_toml) -> None:
    size = 8 * MiB
    data = safetensors_bytes(size, seed=9)
    hub.civitai_publish(261336, 597138, data, name="v5.0.0",
                        filename="animaPencilXL_v500.safetensors")
    hub.throttle_bps = 2_000_000  # a slow CDN, so "half way" lasts long enough to hit
    argv = [sys.executable, "-m", "smx", "--env", str(env_dir), "model", "pull",
            "civitai:261336"]
    env = {**os.environ, **hub.env()}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while hub.bytes_sent("cdn") < size // 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the download never got half way"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    first_run = hub.bytes_sent("cdn")

    # nothing half-done is recorded, declared or placed; the partial waits in the cache
    lock = env_dir / "smx.lock"
    assert not lock.exists() or "anima" not in read_toml(lock).get("models", {})
    assert read_toml(env_dir / "smx.toml").get("models", {}) == {}  # written once it is there
    assert not list((env_dir / "Data/Models").rglob("*.safetensors"))
    assert len(list((env_dir / "Data/Cache/downloads").glob("*.part"))) == 1

    hub.throttle_bps = None
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "resuming at" in done.stderr
    placed = env_dir / "Data/Models/StableDiffusion/animaPencilXL_v500.safetensors"
    assert placed.read_bytes() == data
    (entry,) = read_toml(env_dir / "smx.toml")["models"].values()
    assert entry["source"] == "civitai:261336"
    total = hub.bytes_sent("cdn")
    assert total <= size * 1.05, (first_run, total)
    assert not list((env_dir / "Data/Cache/downloads").iterdir())
