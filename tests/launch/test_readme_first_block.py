"""The README's "Get started" lines, run as written in a fresh temporary home: the user's
line (install smx, make an environment, doctor, install, launch) and the contributor's line,
each one line, apart, and the contributor's line is exactly what CI runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.gitrepo import GitRepo, map_url
from smx.catalog.packages import PACKAGES

from .conftest import TESTUI, read_record
from .test_install_then_launch import offline_pip, torch_wheels  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
COMFYUI = PACKAGES["comfyui"]


def get_started() -> tuple[str, str]:
    """The two one-line bash blocks of the "Get started" section: (user, contributor)."""
    section = README.split("## Get started", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2, "Get started: one block for users, one for contributors"
    lines = [b.strip().splitlines() for b in blocks]
    assert all(len(block) == 1 for block in lines), "each path is one line"
    return lines[0][0], lines[1][0]


def test_the_contributor_line_is_what_ci_runs() -> None:
    _user, contributor = get_started()
    assert contributor == 'pip install -e ".[test,docs]" && pytest'
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert contributor in ci, ".ci/run must run the README's test command as it is written"


def test_the_user_line_never_runs_the_tests_nor_works_in_the_checkout() -> None:
    user, _contributor = get_started()
    assert "pytest" not in user and "[test" not in user
    commands = [c.strip() for c in user.split("&&")]
    assert commands[0] == "pipx install ."
    init = next(c for c in commands if c.startswith("smx init "))
    cd = next(c for c in commands if c.startswith("cd "))
    assert init.split()[-1] == cd.split()[-1] != "."  # a folder of its own, entered


def test_the_user_line_installs_and_launches_comfyui_in_a_fresh_home(
        tmp_path: Path, offline_pip: None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    user, _contributor = get_started()
    install, rest = user.split(" && ", 1)
    assert install == "pipx install ."
    # pipx needs an index; the same effect for the test: an `smx` on PATH that runs this smx
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "smx").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m smx "$@"\n')
    (bindir / "smx").chmod(0o755)

    # ComfyUI's real URL answered by the test web UI (a git mirror); pip/uv see a local wheel
    # folder (offline_pip); the CPU-or-not torch index is pip's own configuration
    files = {name: (TESTUI / name).read_text(encoding="utf-8")
             for name in ("testui.py", "main.py")}
    files["requirements.txt"] = "torch\n"
    map_url(COMFYUI.git, GitRepo.create(tmp_path / "upstream", files, tag=COMFYUI.default_ref))
    home = tmp_path / "home"
    home.mkdir()
    record = tmp_path / "launched.json"
    env = {**os.environ,
           "HOME": str(home),
           # interpreters stay where they are installed, whatever HOME says
           "PYENV_ROOT": os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv"),
           "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
           "SMX_TORCH_INDEX": "pip",
           "SMX_DOCTOR_FAKE_FREE_BYTES": str(500 * 1000**3),
           "SMX_TEST_RECORD": str(record)}
    done = subprocess.run(["bash", "-c", rest], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

    target = Path(shlex.split(rest.split("&&", 1)[0])[-1].replace("~", str(home), 1))
    assert target.parent == home and (target / "smx.toml").is_file()
    started = read_record(record)
    checkout = target / "Data" / "Packages" / "comfyui"
    assert started["cwd"] == str(checkout)
    assert started["executable"] == str(checkout / "venv" / "bin" / "python")
    assert "next: cd " in done.stderr  # init said what to do next
    assert not (REPO / "Data").exists()  # nothing was made in the smx checkout
