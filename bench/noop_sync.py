"""A sync with nothing to do: its time and the network requests it makes.

    python bench/noop_sync.py [--runs 11]

Builds an environment with 4 packages (2 ComfyUI, 2 A1111), 10 extensions and 20 models
(10 Civitai, 10 Hugging Face, small files) the cheap way: packages and extensions are git
checkouts of tiny local repositories with venvs made without pip (tests/sync/cheapenv.py), and
the models are fetched from the loopback fake hub by a real `smx sync`. Then `smx sync` runs
again with nothing to do, as a user runs it (a fresh `python -m smx` process each time), next
to `smx --version` (interpreter and CLI start-up, the reference) in alternating order.

Figures: median wall time of the no-op sync (goal ≤ 1 s), the same as a ratio to the reference,
the time spent planning in-process per executor, and the network requests: the fake hub's
request log over every no-op run, and in-process a socket audit hook (``socket.connect`` /
``socket.getaddrinfo``) plus the processes spawned (goal: 0 requests).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "sync")]

GOAL_S = 1.0
PACKAGES = [("comfy-1", "comfyui", 3), ("comfy-2", "comfyui", 3), ("webui-1", "a1111", 2),
            ("webui-2", "a1111", 2)]
MODELS = 20


def isolate(home: Path) -> dict[str, str]:
    """A user of our own: config/cache dirs, git config, no tokens, no proxies."""
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[user]\n\tname = bench\n\temail = bench@example.invalid\n"
                         "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "SMX_", "HF_", "CIVITAI_"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({"SMX_CONFIG_DIR": str(home / "config"), "SMX_CACHE_DIR": str(home / "cache"),
                "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
                "NO_COLOR": "1", "NO_PROXY": "127.0.0.1,localhost"})
    return env


def build(root: Path, hub: object) -> Path:
    from cheapenv import Upstreams, add_models, install_package

    from helpers.payloads import safetensors_bytes
    from smx.environment.env import init_env

    env_dir = root / "env"
    init_env(env_dir)
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace('backend = "auto"', 'backend = "cpu"', 1)
                        .replace('index = "auto"', 'index = "pip"', 1))
    ups = Upstreams(root / "upstream")
    for name, source, n_ext in PACKAGES:
        install_package(env_dir, ups, name, source,
                        [f"{name}-ext-{i}" for i in range(n_ext)], ref="main")
    models: dict[str, str] = {}
    for i in range(MODELS // 2):
        hub.civitai_publish(3000 + i, 4000 + i,  # type: ignore[attr-defined]
                            safetensors_bytes(64 * 1024, seed=i),
                            filename=f"checkpoint_{i}.safetensors")
        models[f"civitai-{i}"] = f"civitai:{3000 + i}"
        hub.hf_commit("bench/loras", {f"lora_{i}.safetensors":  # type: ignore[attr-defined]
                                      safetensors_bytes(48 * 1024, seed=100 + i)})
    add_models(env_dir, models)
    manifest.write_text(manifest.read_text() + "".join(
        f'hf-{i} = {{ source = "hf:bench/loras/lora_{i}.safetensors", kind = "lora" }}\n'
        for i in range(MODELS // 2)))
    return env_dir


def run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def in_process(env_dir: Path) -> tuple[dict[str, float], list[str], list[str], int]:
    """Plan time per executor, and what one no-op `smx sync` opens and spawns in-process."""
    from typer.testing import CliRunner

    from smx.cli.main import app
    from smx.environment.env import Env
    from smx.reporter import NullReporter
    from smx.sync import EXECUTORS, SyncContext, SyncOptions, load_executors

    network: list[str] = []
    spawned: list[str] = []
    recording = [False]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if not recording[0]:
            return
        if event in ("socket.connect", "socket.getaddrinfo"):
            network.append(f"{event} {args[1:2]}")
        elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
            spawned.append(str(args[:2]))

    sys.addaudithook(hook)
    load_executors()  # imports, once (a real run pays them too: see the subprocess figure)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    env = Env.open(env_dir)
    phases["open smx.toml + smx.lock"] = time.perf_counter() - started
    ctx = SyncContext(env, NullReporter(), SyncOptions())
    steps = 0
    for spec, executor in zip(EXECUTORS, load_executors(), strict=True):
        started = time.perf_counter()
        steps += len(executor.plan(ctx))
        phases[f"plan {spec.rsplit(':', 1)[1]}"] = time.perf_counter() - started
    recording[0] = True
    result = CliRunner().invoke(app, ["--env", str(env_dir), "sync"])
    recording[0] = False
    if result.exit_code != 0 or "nothing to do" not in result.stdout:
        raise SystemExit(f"the no-op sync did something: {result.output}")
    return phases, network, spawned, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--importtime", action="store_true",
                        help="also print the slowest imports of one no-op sync (-X importtime)")
    args = parser.parse_args()

    from helpers.fakehub import FakeHub

    with tempfile.TemporaryDirectory(prefix="smx-noop-") as tmp, FakeHub() as hub:
        root = Path(tmp)
        env = isolate(root)
        env.update(hub.env())
        os.environ.update(env)  # the in-process part sees the same user and hub
        started = time.perf_counter()
        env_dir = build(root, hub)
        built = time.perf_counter() - started
        first, done = run([sys.executable, "-m", "smx", "--env", str(env_dir), "sync"], env)
        if done.returncode != 0:
            raise SystemExit(f"the first sync failed:\n{done.stdout}{done.stderr}")
        fetched = len(hub.requests_to("cdn"))
        hub.clear_records()

        sync = [sys.executable, "-m", "smx", "--env", str(env_dir), "sync"]
        version = [sys.executable, "-m", "smx", "--version"]
        listing = [sys.executable, "-m", "smx", "--env", str(env_dir), "model", "list"]
        commands = {"sync": sync, "version": version, "list": listing}
        for _ in range(2):  # warm the page cache and .pyc files
            for argv in commands.values():
                run(argv, env)
        times: dict[str, list[float]] = {key: [] for key in commands}
        ratios: dict[str, list[float]] = {"version": [], "list": []}
        for i in range(args.runs):
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            pair = {}
            for key in order:
                elapsed, done = run(commands[key], env)
                if key == "sync" and (done.returncode != 0 or
                                      "nothing to do" not in done.stdout):
                    raise SystemExit(f"the no-op sync did something:\n{done.stdout}"
                                     f"{done.stderr}")
                times[key].append(elapsed)
                pair[key] = elapsed
            for key in ratios:
                ratios[key].append(pair["sync"] / pair[key])
        sync_times = times["sync"]
        hub_requests = len(hub.requests)
        phases, network, spawned, steps = in_process(env_dir)
        hub_requests += len(hub.requests) - hub_requests

        median = statistics.median(sync_times)
        print(f"environment: {len(PACKAGES)} packages, "
              f"{sum(n for _, _, n in PACKAGES)} extensions, {MODELS} models "
              f"(built in {built:.1f} s; the first sync fetched {fetched} files in "
              f"{first:.1f} s)")
        print(f"no-op `smx sync` (fresh process), median of {args.runs}: "
              f"{median * 1000:.0f} ms  (goal ≤ {GOAL_S * 1000:.0f} ms: "
              f"{'met' if median <= GOAL_S else 'NOT met'})")
        print(f"references (medians): `smx --version` (start-up) "
              f"{statistics.median(times['version']) * 1000:.0f} ms, `smx model list` (a read "
              f"command: typer's parameter coercion, smx.toml + smx.lock) "
              f"{statistics.median(times['list']) * 1000:.0f} ms; no-op sync / --version "
              f"{statistics.median(ratios['version']):.2f}x, / model list "
              f"{statistics.median(ratios['list']):.2f}x (paired medians)")
        print("in-process, per phase: " + ", ".join(
            f"{name} {secs * 1000:.1f} ms" for name, secs in phases.items())
              + f" ({steps} steps planned)")
        print(f"network requests during the no-op syncs: {hub_requests} at the fake hub "
              f"(all {2 + args.runs + 1} no-op runs), {len(network)} socket connects/lookups "
              f"in-process (goal: 0); processes spawned in-process: {len(spawned)}")
        for line in network + spawned:
            print(f"  {line}")
        if args.importtime:
            _, done = run([sys.executable, "-X", "importtime", *sync[1:]], env)
            rows = []
            for line in done.stderr.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[0].startswith("import time:") and \
                        parts[1].strip().isdigit():
                    rows.append((int(parts[1]), parts[2].rstrip()))
            print("slowest imports (cumulative µs):")
            for micros, name in sorted(rows, reverse=True)[:25]:
                print(f"  {micros:>8}  {name}")


if __name__ == "__main__":
    main()
