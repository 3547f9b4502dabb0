"""`smx install` of the test web UI: pip vs uv, and the cost of a re-run that has nothing to do.

Uses the fake A1111 of the tests (tests/packages/pkgfakes.py: a real git repo behind the real
GitHub URL through git insteadOf, its repositories/, CLIP and open_clip from git, a local
wheel folder with a fake torch), so every install step runs for real but nothing is
downloaded. Each round installs into a fresh environment with each installer, alternating,
as a real `python -m smx` process; the figures are medians.

    python bench/install.py [--rounds 3]

Prints: median install seconds per installer, the pip/uv ratio, and the median wall time of
`smx install a1111` and `smx sync` when everything is already installed (target: <= 1 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "packages")]

from pkgfakes import build_upstream  # noqa: E402

from helpers.wheels import build_wheel  # noqa: E402


def setup(work: Path) -> dict[str, str]:
    house = work / "wheels"
    for name, version in (("torch", "2.1.2"), ("torchvision", "0.16.2"),
                          ("torchaudio", "2.1.2"), ("smx-fake-dep", "1.0"),
                          ("setuptools", "80.0.0"), ("wheel", "0.45.0")):
        build_wheel(house, name, version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "SMX_"))}
    gitconfig = work / "gitconfig"
    gitconfig.write_text('[protocol "file"]\n\tallow = always\n')
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
               PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(house),
               PIP_CACHE_DIR=str(work / "pip-cache"), UV_NO_CONFIG="1",
               UV_CACHE_DIR=str(work / "uv-cache"), SMX_CONFIG_DIR=str(work / "config"),
               SMX_CACHE_DIR=str(work / "cache"), NO_COLOR="1")
    saved = dict(os.environ)
    os.environ.update(env)  # build_upstream's git runs with the bench's git config
    try:
        build_upstream(work / "upstream").map_all()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return env


def smx(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smx", *args], env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"smx {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed


def fresh_env(work: Path, name: str, env: dict[str, str]) -> Path:
    root = work / name
    if root.exists():
        shutil.rmtree(root)
    smx(env, "init", str(root))
    manifest = root / "smx.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('backend = "auto"', 'backend = "cpu"', 1)
                        .replace('index = "auto"', 'index = "pip"', 1))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smx-bench-install-") as tmp:
        work = Path(tmp)
        base = setup(work)
        times: dict[str, list[float]] = {"pip": [], "uv": []}
        noop_install: list[float] = []
        noop_sync: list[float] = []
        for round_no in range(args.rounds):
            order = ("pip", "uv") if round_no % 2 == 0 else ("uv", "pip")
            for kind in order:
                env = {**base, "SMX_INSTALLER": kind}
                root = fresh_env(work, f"env-{kind}", env)
                times[kind].append(smx(env, "--env", str(root), "install", "a1111"))
                noop_install.append(smx(env, "--env", str(root), "install", "a1111"))
                noop_sync.append(smx(env, "--env", str(root), "sync"))
        pip_s, uv_s = statistics.median(times["pip"]), statistics.median(times["uv"])
        print(f"smx install a1111 (test package), {args.rounds} rounds, medians:")
        print(f"  pip: {pip_s:6.2f} s")
        print(f"  uv:  {uv_s:6.2f} s")
        print(f"  pip / uv: {pip_s / uv_s:.2f}x")
        print("re-run with nothing to do (whole process, incl. Python start-up):")
        print(f"  smx install a1111: {statistics.median(noop_install):.3f} s")
        print(f"  smx sync:          {statistics.median(noop_sync):.3f} s")


if __name__ == "__main__":
    main()
