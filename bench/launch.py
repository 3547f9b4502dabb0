"""What `smx launch` costs before the web UI's own code runs, against references in the same run.

Builds a throwaway environment (a git checkout + a bare venv, the installed-state contract of
`smx install`) whose "web UI" exits at once, then times (medians of N runs):

  1. `python -c pass` with the package venv's python   (the floor: starting Python at all);
  2. `python -m smx --help`                              (smx's start-up, for scale);
  3. `smx launch --dry-run` (all pre-flight checks, nothing started);
  4. `smx launch` for real: pre-flight, write the config, exec the UI, UI exits.

and prints each as a ratio of (1). Goal: the launch overhead (4 - 1) stays within a few
times smx's own start-up, i.e. pre-flight adds tens of milliseconds, never seconds.

    python bench/launch.py            # 15 runs each
    python bench/launch.py --runs 40
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UI = "import sys; sys.exit(0)\n"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    *args], cwd=cwd, check=True, capture_output=True)


def build_env(root: Path, source: str) -> Path:
    from smx.environment import lock as lockfile
    from smx.environment.env import init_env
    from smx.environment.lock import LockedPackage
    from smx.environment.manifest import edit, table_for

    repo = root / "repo"
    repo.mkdir()
    (repo / "launch.py").write_text(UI)
    (repo / "main.py").write_text(UI)
    (repo / ".gitignore").write_text("/venv\n")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "ui", cwd=repo)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                            text=True, check=True).stdout.strip()
    env = root / "env"
    init_env(env)
    checkout = env / "Data" / "Packages" / source
    _git("clone", "-q", str(repo), str(checkout), cwd=root)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / "venv")],
                   check=True)

    def add(doc: object) -> None:
        table = table_for(doc, "packages", source)
        table["source"] = source
        table["git"] = repo.as_uri()

    edit(env / "smx.toml", add)
    lock = lockfile.load(env / "smx.lock")
    lock.packages[source] = LockedPackage(name=source, source=source, git=repo.as_uri(),
                                          commit=commit, python=platform.python_version())
    lockfile.save(env / "smx.lock", lock)
    return env


def median_ms(argv: list[str], runs: int, cwd: Path) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smx-bench-launch-") as tmp:
        root = Path(tmp)
        smx = [sys.executable, "-m", "smx"]
        print(f"median of {args.runs} runs each; ratio = vs the venv python doing nothing")
        for source in ("a1111", "comfyui"):
            sub = root / source
            sub.mkdir()
            env = build_env(sub, source)
            python = env / "Data" / "Packages" / source / "venv" / "bin" / "python"
            rows = [
                ("venv python -c pass", [str(python), "-c", "pass"]),
                ("smx --help", [*smx, "--help"]),
                ("smx launch --dry-run", [*smx, "--env", str(env), "launch", "--dry-run"]),
                ("smx launch (exec, UI exits)", [*smx, "--env", str(env), "launch"]),
            ]
            results = [(label, median_ms(argv, args.runs, env)) for label, argv in rows]
            floor = results[0][1]
            print(f"\n{source}:")
            for label, ms in results:
                print(f"  {label:<30} {ms:8.1f} ms  {ms / floor:6.1f}x")
            overhead = results[3][1] - floor
            print(f"  launch overhead before the UI's code: {overhead:.1f} ms "
                  f"({overhead / results[1][1]:.2f}x smx --help)")


if __name__ == "__main__":
    main()
