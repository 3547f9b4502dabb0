"""An interrupted sync resumes where it stopped: smx.lock records only the steps that completed,
and the next run fetches only what is missing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from syncfakes import MANIFEST, checkpoint_v1, motion_v1, new_env, publish_v1

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes

MOTION = "Data/Models/AnimateDiff/mm.safetensors"
# smx as from a terminal, SIGINT at its default: a test runner started in the background
# inherits it ignored, and Python then installs no KeyboardInterrupt handler. Reset by the
# child itself before it execs smx (a preexec_fn can deadlock a fork of this process, whose
# hub threads hold locks).
SMX_WITH_DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                           "os.execv(sys.executable, [sys.executable, '-m', 'smx', *sys.argv[1:]])")
WITHOUT_NODES = "\n".join(line for line in MANIFEST.splitlines()
                          if "nodes" not in line and "extensions" not in line) + "\n"


def test_a_connection_lost_mid_model_fails_clearly_and_the_next_sync_fetches_only_the_rest(
        smx, hub: FakeHub, upstream, tmp_path: Path, read_toml) -> None:
    publish_v1(hub)
    motion = motion_v1()
    blob = f"/blobs/{hashlib.sha256(motion).hexdigest()}"
    # the second model's server sends 20 KiB and closes, then resets every retry at once
    hub.fault("cdn", "truncate", after=20 * 1024, times=1, path=blob)
    hub.fault("cdn", "reset", after=0, times=None, path=blob)
    env = new_env(tmp_path / "env", WITHOUT_NODES)

    first = smx("--env", str(env), "sync")

    assert first.exit_code == 3, first.output
    flat = " ".join(first.stderr.split())
    assert "network error" in flat and "mm (mm.safetensors)" in flat and "resume" in flat
    locked = read_toml(env / "smx.lock")
    assert set(locked["packages"]) == {"comfyui"}  # completed: recorded
    assert set(locked["models"]) == {"anima"}  # mm did not complete: not recorded
    assert not (env / MOTION).exists()

    hub.clear_faults()
    hub.clear_records()
    second = smx("--env", str(env), "sync", "--json")

    assert second.exit_code == 0, second.output
    steps = json.loads(second.stdout)["data"]["steps"]
    assert [(s["area"], s["target"], s["action"]) for s in steps] == [("model", "mm", "pull")]
    assert (env / MOTION).read_bytes() == motion
    cdn = hub.requests_to("cdn")
    assert {r.path for r in cdn} == {blob}  # nothing else fetched again
    assert cdn[0].headers.get("range", "").startswith("bytes=20480-")  # resumed
    assert hub.bytes_sent("cdn") == len(motion) - 20 * 1024
    assert set(read_toml(env / "smx.lock")["models"]) == {"anima", "mm"}
    assert len(checkpoint_v1()) == read_toml(env / "smx.lock")["models"]["anima"]["size"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_mid_download_exits_130_and_the_next_sync_resumes(
        hub: FakeHub, tmp_path: Path, read_toml) -> None:
    first, second = motion_v1(), safetensors_bytes(512 * 1024, family=None, seed=7)
    hub.hf_commit("someone/one", {"one.safetensors": first})
    hub.hf_commit("someone/two", {"two.safetensors": second})
    blob = f"/blobs/{hashlib.sha256(second).hexdigest()}"
    env = new_env(tmp_path / "env", "[models]\n"
                  'one = { source = "hf:someone/one/one.safetensors", kind = "lora" }\n'
                  'two = { source = "hf:someone/two/two.safetensors", kind = "lora" }\n')
    hub.throttle_bps = 256 * 1024  # the second file takes about two seconds
    proc = subprocess.Popen([sys.executable, "-c", SMX_WITH_DEFAULT_SIGINT,
                             "--env", str(env), "sync"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        state = env / "Data/Cache/downloads" / f"{hashlib.sha256(second).hexdigest()}.part.json"
        deadline = time.monotonic() + 60
        while written(state) == 0:  # Ctrl-C once part of the second file is on disk
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # smx did not stop: the test fails, and leaves nothing behind
            proc.kill()
            proc.communicate()

    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "run the same command again" in " ".join(err.split())
    assert set(read_toml(env / "smx.lock")["models"]) == {"one"}

    hub.throttle_bps = None
    hub.clear_records()
    again = subprocess.run([sys.executable, "-m", "smx", "--env", str(env), "sync"],
                           capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (env / "Data/Models/Lora/two.safetensors").read_bytes() == second
    assert {r.path for r in hub.requests_to("cdn")} == {blob}
    assert hub.bytes_sent("cdn") < len(second)  # resumed, not started over


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_while_a_connection_waits_to_retry_stops_at_once(hub: FakeHub, tmp_path: Path
                                                                ) -> None:
    data = safetensors_bytes(512 * 1024, family=None, seed=8)
    hub.hf_commit("someone/busy", {"busy.safetensors": data})
    blob = f"/blobs/{hashlib.sha256(data).hexdigest()}"
    # the body drops after 64 KiB; the retry is told to come back in two minutes
    hub.fault("cdn", "truncate", after=64 * 1024, times=1, path=blob)
    hub.fault("cdn", "status", status=503, headers={"Retry-After": "120"}, times=None, path=blob)
    env = new_env(tmp_path / "env", "[models]\n"
                  'busy = { source = "hf:someone/busy/busy.safetensors", kind = "lora" }\n')
    proc = subprocess.Popen([sys.executable, "-c", SMX_WITH_DEFAULT_SIGINT,
                             "--env", str(env), "sync"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SMX_RETRY_WAIT_SCALE": "1"})
    try:
        deadline = time.monotonic() + 60
        while not any(r.status == 503 for r in hub.requests_to("cdn", blob)):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.5)  # well into the wait
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 130, out + err
    assert took < 30, f"smx waited {took:.0f} s after Ctrl-C"  # not the 120 s asked for
    assert "retrying in 120 s" in err, err  # it was waiting, as the user saw
    assert written(env / "Data/Cache/downloads" / f"{blob[7:]}.part.json") == 64 * 1024

def written(state: Path) -> int:
    """Bytes a download's resume state says are on disk (0 before it exists)."""
    try:
        extents = json.loads(state.read_text())["extents"]
    except (OSError, ValueError, KeyError):
        return 0
    return sum(end - start for start, end in extents)
