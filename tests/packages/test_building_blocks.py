"""The reusable parts under `smx install`: git helpers, pins, the installer switch, logs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers.gitrepo import GitRepo, git, map_url
from smx.errors import NotFound, SubprocessFailed
from smx.packages import git as smx_git
from smx.packages.pins import github_archive, read_env_defaults
from smx.packages.runner import StepLog, run_logged
from smx.packages.venv import Installer, Venv


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    repo = GitRepo.create(tmp_path / "remote", {"a.txt": "1\n"}, tag="v1")
    repo.commit({"a.txt": "2\n"}, "two")
    repo.tag("v2", annotated=True)
    repo.commit({"a.txt": "3\n"}, "three")
    return repo


def test_resolve_tells_tags_branches_and_commits_apart(remote: GitRepo) -> None:
    v2 = git("rev-parse", "v2^{commit}", cwd=remote.path)

    assert smx_git.resolve(remote.url, "v2") == smx_git.ResolvedRef("v2", "tag", v2)
    assert smx_git.resolve(remote.url, "main").commit == remote.head
    assert smx_git.resolve(remote.url, remote.head).kind == "commit"
    assert smx_git.resolve(remote.url, remote.head[:8]).commit is None  # short: not advertised
    with pytest.raises(NotFound, match="ref 'v3' not found"):
        smx_git.resolve(remote.url, "v3")


def test_checkout_is_shallow_for_a_tag_and_keeps_the_tag(remote: GitRepo, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"

    commit = smx_git.checkout(dest, remote.url, "v2")

    assert commit == git("rev-parse", "v2^{commit}", cwd=remote.path)
    assert (dest / ".git" / "shallow").is_file()
    assert git("describe", "--tags", cwd=dest) == "v2"
    assert (dest / "a.txt").read_text() == "2\n"


def test_checkout_of_a_short_sha_fetches_history_and_reuses_the_folder(
        remote: GitRepo, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    first = git("rev-parse", "v1", cwd=remote.path)
    smx_git.checkout(dest, remote.url, "main")

    assert smx_git.checkout(dest, remote.url, first[:7]) == first
    assert (dest / "a.txt").read_text() == "1\n"


def test_checkout_goes_through_a_mirror_but_records_the_real_url(remote: GitRepo,
                                                                 tmp_path: Path) -> None:
    real = "https://github.com/example/webui.git"
    map_url(real, remote)

    smx_git.checkout(tmp_path / "checkout", real, "v1")

    assert smx_git.origin_url(tmp_path / "checkout") == real


def test_head_commit_reads_git_files_for_branches_packed_refs_and_detached_heads(
        remote: GitRepo) -> None:
    assert smx_git.head_commit(remote.path) == remote.head  # on a branch (loose ref)
    git("pack-refs", "--all", cwd=remote.path)
    assert smx_git.head_commit(remote.path) == remote.head  # packed
    git("checkout", "-q", "--detach", "v1", cwd=remote.path)
    assert smx_git.head_commit(remote.path) == git("rev-parse", "v1", cwd=remote.path)
    assert smx_git.head_commit(remote.path.parent) is None


def test_local_edits_are_seen_but_untracked_files_are_not(remote: GitRepo) -> None:
    (remote.path / "outputs.png").write_bytes(b"new file")
    assert not smx_git.is_dirty(remote.path)
    (remote.path / "a.txt").write_text("edited\n")
    assert smx_git.is_dirty(remote.path)
    assert smx_git.changed_files(remote.path) == ["a.txt"]


def test_pins_come_from_active_lines_only(tmp_path: Path) -> None:
    source = tmp_path / "launch_utils.py"
    source.write_text(
        "    blip = os.environ.get('BLIP_COMMIT_HASH', \"48211a15\")\n"
        "    # sd = os.environ.get('STABLE_DIFFUSION_COMMIT_HASH', \"cf1d67a6\")\n"
        "    clip = os.environ.get(\n        'CLIP_PACKAGE',\n"
        "        \"https://github.com/openai/CLIP/archive/" + "d" * 40 + ".zip\"\n    )\n")

    pins = read_env_defaults(source)

    assert pins == {"BLIP_COMMIT_HASH": "48211a15",
                    "CLIP_PACKAGE": "https://github.com/openai/CLIP/archive/" + "d" * 40 + ".zip"}
    assert github_archive(pins["CLIP_PACKAGE"]) == ("https://github.com/openai/CLIP.git", "d" * 40)
    assert github_archive("https://example.com/clip.zip") is None


def test_uv_gets_the_users_pip_settings(tmp_path: Path) -> None:
    uv = Installer("uv", "/usr/bin/uv")
    venv = Venv(tmp_path / "venv")
    env = uv.env({"PIP_FIND_LINKS": "/a /b", "PIP_INDEX_URL": "https://mirror/simple",
                  "PIP_NO_INDEX": "1"})

    assert env["UV_FIND_LINKS"] == "/a,/b"
    assert env["UV_INDEX_URL"] == "https://mirror/simple"
    argv = uv.install_argv(venv, ["x"], env)
    assert argv[:5] == ["/usr/bin/uv", "pip", "install", "--python", str(venv.python)]
    assert "--no-index" in argv
    assert Installer("pip").install_argv(venv, ["x"])[:4] == [str(venv.python), "-m", "pip",
                                                             "install"]


def test_a_failed_command_names_the_telling_line_and_keeps_the_whole_log(tmp_path: Path) -> None:
    log = StepLog.create(tmp_path / "Logs", "demo", "install")
    script = ("import sys\nfor i in range(30): print('line', i)\n"
              "print('ERROR: No matching distribution found for nothing==1')\nsys.exit(1)\n")

    with pytest.raises(SubprocessFailed) as failure:
        run_logged(["python3", "-c", script], log=log, what="installing demo")

    assert str(failure.value).startswith("installing demo failed (exit 1): ERROR: No matching")
    assert "line 29" in str(failure.value) and "line 0" not in str(failure.value)
    assert str(log.path) in (failure.value.hint or "") or log.path.name in (failure.value.hint
                                                                             or "")
    assert "line 0" in log.path.read_text()


def test_child_processes_do_not_outlive_smx(tmp_path: Path) -> None:
    """run_logged's children get SIGKILL when smx dies (Linux): a rerun never races them."""
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    marker = tmp_path / "child.pid"
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import os, sys, time\n"
                       "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
                       "time.sleep(60)\n")
    parent_script = tmp_path / "parent.py"
    parent_script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from smx.packages.runner import StepLog, run_logged\n"
        "log = StepLog.create(Path(sys.argv[1]), 'x', 'y')\n"
        "run_logged([sys.executable, sys.argv[2], sys.argv[3]], log=log, what='sleep')\n")
    parent = subprocess.Popen([sys.executable, str(parent_script), str(tmp_path), str(sleeper),
                               str(marker)])
    import os
    import signal
    import time

    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(marker.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            break  # gone
        if "\nState:\tZ" in status:
            break  # killed, waiting for its new parent to reap it
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its parent")
