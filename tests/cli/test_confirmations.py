"""One rule for every confirmation: smx asks only a person at a terminal. Without one it
refuses with "confirm with --yes" (exit 2) and changes nothing; a person who declines gets
"nothing changed" and exit 0, not an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MANIFEST = """\
[env]
name = "confirm"

[packages.a1111]
source = "a1111"

[packages.a1111.extensions]
controlnet = {}

[models]
detail = { source = "hf:someone/loras/detail.safetensors", kind = "lora" }
"""

# every command that takes --yes, and what it is asked to remove here
CONFIRMING = {
    "remove": ["remove", "a1111"],
    "ext remove": ["ext", "remove", "controlnet"],
    "model remove": ["model", "remove", "detail"],
}


# the same rule, tested where the command's fixtures are (a ComfyUI and a Registry)
CONFIRMING_ELSEWHERE = {"ext add": "tests/extensions/test_from_workflow.py (--from-workflow)"}


@pytest.fixture
def env(tmp_path: Path) -> Path:
    root = tmp_path / "env"
    root.mkdir()
    (root / "smx.toml").write_text(MANIFEST)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".smx" not in p.parts}


def test_the_list_of_confirming_commands_is_complete() -> None:
    """A new command with --yes gets the same rule: add it to CONFIRMING."""
    import typer.main

    from smx.cli.main import app

    found = set()

    def walk(group, prefix: tuple[str, ...]) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, (*prefix, name))
            elif any("--yes" in p.opts for p in cmd.params):
                found.add(" ".join((*prefix, name)))

    walk(typer.main.get_command(app), ())
    assert found == set(CONFIRMING) | set(CONFIRMING_ELSEWHERE)


@pytest.mark.parametrize("command", sorted(CONFIRMING))
def test_without_a_terminal_smx_refuses_and_asks_for_yes(command: str, env: Path) -> None:
    before = _files(env)
    done = subprocess.run([sys.executable, "-m", "smx", "--env", str(env), *CONFIRMING[command]],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "confirm with --yes" in done.stderr
    assert f"smx {command}" in done.stderr and "--yes" in done.stderr.splitlines()[-1]
    assert "Aborted" not in done.stderr and "?" not in done.stderr  # no question was asked
    assert _files(env) == before


@pytest.mark.skipif(os.name == "nt", reason="a pseudo-terminal is POSIX")
def test_json_output_never_prompts_even_on_a_terminal(env: Path) -> None:
    import json

    before = _files(env)
    primary, secondary = os.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "smx", "--env", str(env),
                               *CONFIRMING["model remove"], "--json"], stdin=secondary,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["errors"][0]["code"] == "confirm.needed"
    assert document["errors"][0]["hint"] == "smx model remove detail --yes"
    assert _files(env) == before


@pytest.mark.skipif(os.name == "nt", reason="a pseudo-terminal is POSIX")
@pytest.mark.parametrize("answer", ["n\n", "\n", "\x04"])
@pytest.mark.parametrize("command", sorted(CONFIRMING))
def test_on_a_terminal_declining_changes_nothing_and_is_not_an_error(
        command: str, answer: str, env: Path) -> None:
    before = _files(env)
    primary, secondary = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "smx", "--env", str(env),
                                 *CONFIRMING[command]], stdin=secondary,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(secondary)
        os.write(primary, answer.encode())
        _stdout, stderr = proc.communicate(timeout=60)
    finally:
        os.close(primary)
    assert proc.returncode == 0, stderr
    assert "[y/N]" in stderr  # it asked, on stderr
    assert "nothing changed" in stderr
    assert "Aborted" not in stderr and "error" not in stderr
    assert _files(env) == before
