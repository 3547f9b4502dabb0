"""Start-up cost of smx, as a ratio to a minimal Typer app measured in the same run.

    python bench/startup.py [--runs 21]

For each pair the reference (a ten-line Typer app's `--help`) and smx run back to back, in
alternating order, with the same interpreter; the figures are medians over the pairs. Goal:
`smx --help` ≤ 1.3× the reference. `smx status` runs inside a fresh `smx init` environment and
is compared with the reference's `--help` (the goal) and with the reference running a command
(`hello`): typer >= 0.2x coerces parameters through pydantic when a command runs, which
`--help` never pays, so the second ratio shows what smx adds over typer itself. Where a command
still answers "not available yet", the figure is printed anyway and marked.
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

REFERENCE_APP = '''\
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")
@app.command()
def bye() -> None:
    """Say goodbye."""
app()
'''


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.stdout + done.stderr


def paired(reference: list[str], subject: list[str], cwd: Path, env: dict[str, str],
           runs: int) -> tuple[float, float, float, str]:
    """Medians of reference and subject times and of the per-pair ratios; last subject output."""
    for _ in range(2):  # warm the file cache and .pyc files
        timed(reference, cwd, env)
        timed(subject, cwd, env)
    ref_times, sub_times, ratios = [], [], []
    output = ""
    for i in range(runs):
        if i % 2:
            sub, output = timed(subject, cwd, env)
            ref, _ = timed(reference, cwd, env)
        else:
            ref, _ = timed(reference, cwd, env)
            sub, output = timed(subject, cwd, env)
        ref_times.append(ref)
        sub_times.append(sub)
        ratios.append(sub / ref)
    return (statistics.median(ref_times), statistics.median(sub_times),
            statistics.median(ratios), output)


def imported_modules(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def report(label: str, ref_label: str, ref: float, sub: float, ratio: float, goal: bool = True,
           note: str = "") -> None:
    verdict = ("meets" if ratio <= GOAL else "MISSES") + f" the {GOAL}x goal"
    print(f"{label:<11} {sub * 1000:7.1f} ms  vs {ref_label:<16} {ref * 1000:6.1f} ms  "
          f"ratio {ratio:.2f}x" + (f"  ({verdict})" if goal else "") + note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="paired runs per command")
    args = parser.parse_args()

    python = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "SMX_ENV"}
    env.update({"NO_COLOR": "1", "COLUMNS": "100"})
    with tempfile.TemporaryDirectory(prefix="smx-bench-") as tmp:
        root = Path(tmp)
        (root / "reference.py").write_text(REFERENCE_APP)
        reference = [python, str(root / "reference.py"), "--help"]
        smx = [python, "-m", "smx"]

        baseline = statistics.median(timed([python, "-c", "pass"], root, env)[0]
                                     for _ in range(args.runs))
        print(f"python {sys.version.split()[0]} ({python}), {args.runs} paired runs, "
              f"medians; `python -c pass` = {baseline * 1000:.1f} ms")

        ref, sub, ratio, _ = paired(reference, [*smx, "--help"], root, env, args.runs)
        report("smx --help", "reference --help", ref, sub, ratio)

        env_dir = root / "env"
        subprocess.run([*smx, "init", str(env_dir)], env=env, capture_output=True, check=True)
        status = [*smx, "status"]
        ref, sub, ratio, output = paired(reference, status, env_dir, env, args.runs)
        note = ("\n  [smx status still answers 'not available yet': this measures start-up and "
                "the refusal only]" if "not available yet" in output else "")
        report("smx status", "reference --help", ref, sub, ratio, note=note)
        command = [python, str(root / "reference.py"), "hello"]
        ref, sub, ratio, _ = paired(command, status, env_dir, env, args.runs)
        report("smx status", "reference hello", ref, sub, ratio, goal=False)

        print(f"modules imported: reference --help {imported_modules(reference, root, env)}, "
              f"reference hello {imported_modules(command, root, env)}, "
              f"smx --help {imported_modules([*smx, '--help'], root, env)}, "
              f"smx status {imported_modules(status, env_dir, env)}")


if __name__ == "__main__":
    main()
