"""Output in the places scripts and CI put it: -q prints only errors, logs get plain lines (no
spinners, no colour, no carriage returns), NO_COLOR is honoured even on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
SPINNERS = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏━")


def has_colour(text: str) -> bool:
    """Colour SGR codes (foreground/background); bold and dim are not colour (no-color.org)."""
    for match in SGR.finditer(text):
        params = [int(p) for p in match.group(1).split(";") if p]
        if any(30 <= p <= 49 or 90 <= p <= 107 for p in params):
            return True
    return False


def run_in_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run `python -m smx ARGS` with stdout and stderr on a pseudo-terminal; return all output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "smx", *args], stdin=follower,
                            stdout=follower, stderr=follower, cwd=cwd, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_quiet_prints_nothing_on_success_and_the_error_on_failure(smx, tmp_path: Path) -> None:
    ok = smx("-q", "init", str(tmp_path / "env"))
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "", "")
    failed = smx("-q", "--env", str(tmp_path / "nowhere"), "list")
    assert failed.exit_code == 2 and failed.stdout == ""
    assert "error:" in failed.stderr and "smx.toml" in failed.stderr


def test_quiet_hides_progress_of_a_long_step(smx, sm_library) -> None:
    result = smx("-q", "init", "--adopt", str(sm_library.root))
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


def test_logs_get_one_plain_line_per_step(smx_process, sm_library) -> None:
    """stderr to a file or pipe (CI logs): no ANSI codes, no spinner frames, no \\r redraws."""
    done = smx_process("init", "--adopt", str(sm_library.root),
                       env={"NO_COLOR": "", "TERM": "xterm-256color"})
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert not ANSI.search(stream) and "\r" not in stream
        assert not SPINNERS & set(stream)
    assert "· hashing StableDiffusion/animaPencilXL_v500.safetensors" in done.stderr.splitlines()


def test_no_color_is_honoured_on_a_terminal(tmp_path: Path) -> None:
    base = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    base.pop("NO_COLOR", None)
    args = ["--env", str(tmp_path / "nowhere"), "list"]
    coloured = run_in_terminal(args, base, tmp_path)
    assert has_colour(coloured), "expected colour on a terminal (test sanity)"
    plain = run_in_terminal(args, {**base, "NO_COLOR": "1"}, tmp_path)
    assert "error:" in plain and not has_colour(plain)
