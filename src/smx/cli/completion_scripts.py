"""Shell completion scripts for bash, zsh, fish and PowerShell, generated from smx's Typer app.

The scripts are thin: on Tab the shell runs ``smx`` with ``_SMX_COMPLETE=complete_<shell>``,
and smx answers from its own command tree (commands, options) plus the current environment
(package, extension and model names: smx/cli/complete.py). So a new command or option never
needs a new script; the files only change when Typer's protocol does.

Regenerate the checked-in copies (a test fails when they are stale):

    python -m smx.cli.completion_scripts            # writes completions/
    python -m smx.cli.completion_scripts --check    # exit 1 when completions/ is stale

Users without a checkout print one with ``smx completion bash`` (zsh, fish, powershell).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "smx"
SHELLS = ("bash", "zsh", "fish", "powershell")
FILE_NAMES = {"bash": "smx.bash", "zsh": "_smx", "fish": "smx.fish", "powershell": "smx.ps1"}
REGENERATE = "python -m smx.cli.completion_scripts"


def script_for(shell: str) -> str:
    """The completion script for ``shell``, with a header saying where it came from."""
    if shell not in SHELLS:
        from smx.errors import UsageError

        raise UsageError(f"unknown shell {shell!r}", hint=f"one of: {', '.join(SHELLS)}")
    # re-exported by typer.completion without being declared public there
    from typer.completion import get_completion_script  # type: ignore[attr-defined]

    from smx.cli.complete import COMPLETE_VAR

    body = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    header = (f"# smx {shell} completion. Generated from smx's Typer app by `{REGENERATE}`;\n"
              "# do not edit. Install: see README.md (Shell completion).\n")
    if shell == "zsh":
        # `#compdef smx` must stay the first line: zsh's autoloader reads it from $fpath.
        first, _, rest = body.partition("\n")
        return f"{first}\n{header}{rest.lstrip(chr(10))}\n"
    return f"{header}{body}\n"


def default_folder() -> Path:
    """completions/ of the checkout this module lives in (src/smx/cli/ → repo root)."""
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file():
        return repo / "completions"
    return Path.cwd() / "completions"


def stale_files(folder: Path) -> list[Path]:
    """Files in ``folder`` that are missing or differ from what this smx generates."""
    stale = []
    for shell in SHELLS:
        path = folder / FILE_NAMES[shell]
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != script_for(shell):
            stale.append(path)
    return stale


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in SHELLS:
        path = folder / FILE_NAMES[shell]
        path.write_text(script_for(shell), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="output folder (default: completions/ of this checkout)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the folder is stale")
    args = parser.parse_args(argv)
    folder = args.dir or default_folder()
    if args.check:
        stale = stale_files(folder)
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        if stale:
            print(f"run `{REGENERATE}` to regenerate", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
