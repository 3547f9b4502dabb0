"""Tab-completion latency: what a shell waits for on each Tab, as a ratio to `smx --help`.

    python bench/completion.py [--runs 15] [--models 500]

Each Tab starts `python -m smx` with the shell protocol's variables (bash here); smx answers
from its command tree and, for names, one read of smx.toml. The environment gets ``--models``
model entries and a few packages so the cost of reading names shows. Every pair runs
`smx --help` and the completion back to back, alternating order; figures are medians.
Goal: a name completion costs no more than 1.3x `smx --help` (what any smx start costs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.3


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.stdout


def make_env(root: Path, models: int) -> Path:
    env = root / "env"
    subprocess.run([sys.executable, "-m", "smx", "init", str(env)], capture_output=True,
                   check=True)
    manifest = env / "smx.toml"
    packages = "".join(f'[packages.ui{i}]\nsource = "comfyui"\n\n' for i in range(5))
    entries = "".join(f'lora-{i:04d} = {{ source = "local:Lora/l{i}.safetensors", '
                      f'kind = "lora" }}\n' for i in range(models))
    manifest.write_text(manifest.read_text().replace("[packages]\n", packages)
                        .replace("[models]\n", "[models]\n" + entries))
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--models", type=int, default=500)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k != "SMX_ENV"} | {"NO_COLOR": "1"}
    smx = [sys.executable, "-m", "smx"]
    with tempfile.TemporaryDirectory(prefix="smx-bench-") as tmp:
        env_dir = make_env(Path(tmp), args.models)
        cases = {
            "commands (smx <Tab>)": "smx ",
            "packages (smx launch <Tab>)": "smx launch ",
            f"{args.models} models (smx model remove <Tab>)": "smx model remove ",
        }
        print(f"python {sys.version.split()[0]}, {args.runs} paired runs, medians")
        for label, words in cases.items():
            env = base | {"_SMX_COMPLETE": "complete_bash", "COMP_WORDS": words,
                          "COMP_CWORD": str(len(words.split(" ")) - 1)}
            for _ in range(2):  # warm caches
                timed([*smx, "--help"], env_dir, base)
                timed(smx, env_dir, env)
            helps, tabs, ratios = [], [], []
            for i in range(args.runs):
                if i % 2:
                    help_time, _ = timed([*smx, "--help"], env_dir, base)
                    tab_time, out = timed(smx, env_dir, env)
                else:
                    tab_time, out = timed(smx, env_dir, env)
                    help_time, _ = timed([*smx, "--help"], env_dir, base)
                answers = len(out.split())
                helps.append(help_time)
                tabs.append(tab_time)
                ratios.append(tab_time / help_time)
            ratio = statistics.median(ratios)
            verdict = ("meets" if ratio <= GOAL else "MISSES") + f" the {GOAL}x goal"
            print(f"{label:<36} {statistics.median(tabs) * 1000:7.1f} ms ({answers} answers)"
                  f"  vs smx --help {statistics.median(helps) * 1000:6.1f} ms  "
                  f"ratio {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
