"""`smx install`/`update` of a web UI: its requirements resolve as of its own date, its resolved
core is protected from its own installer's later runs, every process smx starts in the venv
carries the date and the pins, and a failure that cannot be resumed leaves nothing behind.

A loopback package index (PEP 691 JSON with upload times) serves ``smx-dated-dep`` 1.0 (2023)
and 2.0 (2025); the fake web UIs are dated 2024-01-01, so they resolve as of 2024-01-08.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pkgfakes import a1111_files, comfyui_files, pins_of, read_toml

from helpers.pkgindex import PackageIndex


def _version(python: Path, dist: str) -> str | None:
    code = ("import importlib.metadata as m, sys\ntry:\n print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError:\n print('')")
    out = subprocess.run([str(python), "-c", code, dist], capture_output=True, text=True)
    return out.stdout.strip() or None


def _python(env: Path, name: str) -> Path:
    return env / "Data" / "Packages" / name / "venv" / "bin" / "python"


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    with PackageIndex(tmp_path / "index") as served:
        served.publish("smx-dated-dep", "1.0", uploaded="2023-06-01")
        served.publish("smx-dated-dep", "2.0", uploaded="2025-06-01")
        monkeypatch.delenv("PIP_NO_INDEX", raising=False)
        monkeypatch.setenv("PIP_INDEX_URL", served.url)
        yield served


def test_a_web_uis_open_requirements_resolve_as_of_its_own_date(
        smx, pkg_env: Path, upstream, index: PackageIndex, installer: str) -> None:
    upstream.comfyui.commit(comfyui_files(requirements="torch\nsmx-fake-dep\nsmx-dated-dep\n"),
                            "an open-ended requirement")
    upstream.comfyui.tag("v0.3.65")

    result = smx("--env", str(pkg_env), "install", "comfyui", "--ref", "v0.3.65")

    assert result.exit_code == 0, result.output
    assert "comfyui: resolving requirements as of 2024-01-08" in result.output
    assert "newest commit: comfyui, 2024-01-01, + 7 days" in result.output
    assert _version(_python(pkg_env, "comfyui"), "smx-dated-dep") == "1.0"
    locked = read_toml(pkg_env / "smx.lock")["packages"]["comfyui"]
    assert locked["resolved_as_of"] == "2024-01-08T00:00:00Z"
    assert "smx-dated-dep==1.0" in locked["freeze"]
    # torch is what the backend needs, whatever the date: said, not hidden
    assert "torch is what the cpu build needs" in result.output


def test_what_the_torch_family_pulls_in_is_resolved_as_of_the_date(
        smx, pkg_env: Path, upstream, index: PackageIndex, installer: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """torch is the backend's choice whatever the date, but numpy and friends that it (or
    torchvision) depends on are not: an old web UI must not get today's numpy through torch."""
    index.publish("smx-torch-companion", "1.0", uploaded="2023-01-01",
                  requires=("smx-dated-dep",))
    monkeypatch.setenv("SMX_TORCH_REQUIREMENTS", "torch==2.1.2 smx-torch-companion==1.0")

    result = smx("--env", str(pkg_env), "install", "comfyui")

    assert result.exit_code == 0, result.output
    python = _python(pkg_env, "comfyui")
    assert _version(python, "smx-torch-companion") == "1.0"
    assert _version(python, "smx-dated-dep") == "1.0"  # not 2.0, uploaded after the date


def test_resolve_as_of_in_smx_toml_overrides_the_commit_date(
        smx, pkg_env: Path, upstream, index: PackageIndex, fast_installer: None) -> None:
    upstream.comfyui.commit(comfyui_files(requirements="torch\nsmx-fake-dep\nsmx-dated-dep\n"),
                            "an open-ended requirement")
    upstream.comfyui.tag("v0.3.65")
    toml = pkg_env / "smx.toml"
    toml.write_text(toml.read_text() + '\n[packages.comfyui]\nsource = "comfyui"\n'
                    'ref = "v0.3.65"\nresolve-as-of = "2025-12-01"\n')

    result = smx("--env", str(pkg_env), "sync")

    assert result.exit_code == 0, result.output
    assert "as of 2025-12-01" in result.output and "resolve-as-of in smx.toml" in result.output
    assert _version(_python(pkg_env, "comfyui"), "smx-dated-dep") == "2.0"


def test_a_bad_resolve_as_of_is_a_one_line_error_with_its_position(smx, pkg_env: Path) -> None:
    toml = pkg_env / "smx.toml"
    toml.write_text(toml.read_text() + '\n[packages.comfyui]\nsource = "comfyui"\n'
                    'resolve-as-of = "last tuesday"\n')

    result = smx("--env", str(pkg_env), "status")

    assert result.exit_code == 2, result.output
    assert "smx.toml:" in result.output
    assert "'last tuesday' is not a date for packages.comfyui.resolve-as-of" in result.output


def test_the_web_uis_own_installer_runs_with_the_date_and_cannot_move_its_pins(
        smx, pkg_env: Path, upstream, fast_installer: None) -> None:
    """Forge's built-in preprocessors install more packages during launch.py, unpinned; those
    runs obey the web UI's own pins (here smx-fake-dep==1.0) and the date."""
    upstream.a1111.branch("greedy", switch=True)
    files = a1111_files(pins_of(upstream))
    files["extra-install.txt"] = "smx-fake-dep==2.0\n"
    upstream.a1111.commit(files, "its installer wants another smx-fake-dep")

    result = smx("--env", str(pkg_env), "install", "a1111", "--ref", "greedy")

    assert result.exit_code == 0, result.output
    assert "a1111's own installer asked for smx-fake-dep==2.0; kept smx-fake-dep==1.0 " \
           "(a1111's own pin)" in result.output
    assert _version(_python(pkg_env, "a1111"), "smx-fake-dep") == "1.0"
    seen = json.loads((pkg_env / "Data" / "Packages" / "a1111" / "launch-env.json").read_text())
    assert seen["PIP_UPLOADED_PRIOR_TO"] == "2024-01-08T00:00:00Z"
    assert seen["UV_EXCLUDE_NEWER"] == "2024-01-08T00:00:00Z"
    constraints = Path(seen["PIP_CONSTRAINT"].split()[-1])
    assert constraints.is_file()
    pins = constraints.read_text()
    assert "smx-fake-dep==1.0" in pins and "torch==2.1.2" in pins
    # and a launch gets the same, so A1111's start-up installs obey them too
    plan = smx("--env", str(pkg_env), "launch", "a1111", "--dry-run", "--json")
    assert plan.exit_code == 0, plan.output
    environ = json.loads(plan.stdout)["data"]["env"]["set"]
    assert environ["PIP_UPLOADED_PRIOR_TO"] == "2024-01-08T00:00:00Z"
    assert environ["PIP_CONSTRAINT"].endswith("a1111.constraints.txt")


def test_an_update_to_a_newer_commit_moves_the_date_and_says_so(
        smx, pkg_env: Path, upstream, fast_installer: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert smx("--env", str(pkg_env), "install", "comfyui").exit_code == 0
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-06-01T00:00:00+0000")
    upstream.comfyui.commit(comfyui_files(), "a later release")
    upstream.comfyui.tag("v0.4.0")

    result = smx("--env", str(pkg_env), "update", "comfyui", "--ref", "v0.4.0")

    assert result.exit_code == 0, result.output
    assert "comfyui: resolving requirements as of 2024-06-08 (was 2024-01-08)" in result.output
    locked = read_toml(pkg_env / "smx.lock")["packages"]["comfyui"]
    assert locked["resolved_as_of"] == "2024-06-08T00:00:00Z"


# --- failures that cannot be resumed leave nothing --------------------------------------------
@pytest.mark.parametrize("args", [
    ("--ref", "0123456789abcdef0123456789abcdef01234567"),
    ("--git", "https://github.com/nobody/no-such-comfyui"),
], ids=["a commit that does not exist", "a repository that does not exist"])
def test_a_ref_or_repository_that_does_not_exist_leaves_no_folder_no_marker_no_drift(
        smx, pkg_env: Path, upstream, snapshot_files, fast_installer: None,
        args: tuple[str, str], tmp_path: Path) -> None:
    from helpers.gitrepo import map_url

    map_url("https://github.com/nobody/no-such-comfyui", tmp_path / "no-such-repository")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--name", "broken", *args)

    assert result.exit_code in (2, 3), result.output
    assert snapshot_files(pkg_env) == before
    assert not (pkg_env / "Data" / "Packages" / "broken").exists()
    assert list((pkg_env / "Data" / ".smx").rglob("broken*")) == []
    status = smx("--env", str(pkg_env), "status")
    assert status.exit_code == 0, status.output


def test_a_remote_that_does_not_answer_before_anything_was_fetched_leaves_nothing(
        smx, pkg_env: Path, snapshot_files, fast_installer: None) -> None:
    """A network failure is resumable, but with nothing fetched yet there is nothing to
    resume from: no empty checkout is left to show up as drift."""
    from helpers.gitrepo import git

    git("config", "--global", "--add", "url.http://127.0.0.1:9/.insteadOf",
        "https://github.com/nobody/")
    before = snapshot_files(pkg_env)

    result = smx("--env", str(pkg_env), "install", "comfyui", "--name", "far",
                 "--git", "https://github.com/nobody/comfyui")

    assert result.exit_code == 3, result.output
    assert snapshot_files(pkg_env) == before
    assert not (pkg_env / "Data" / "Packages" / "far").exists()
    assert smx("--env", str(pkg_env), "status").exit_code == 0


def test_sync_frozen_elsewhere_resolves_as_of_the_date_smx_lock_recorded(
        smx, pkg_env: Path, upstream, index: PackageIndex, fast_installer: None,
        tmp_path: Path) -> None:
    upstream.comfyui.commit(comfyui_files(requirements="torch\nsmx-fake-dep\nsmx-dated-dep\n"),
                            "an open-ended requirement")
    upstream.comfyui.tag("v0.3.65")
    assert smx("--env", str(pkg_env), "install", "comfyui", "--ref", "v0.3.65").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("smx.toml", "smx.lock"):
        (elsewhere / name).write_bytes((pkg_env / name).read_bytes())

    result = smx("--env", str(elsewhere), "sync", "--frozen")

    assert result.exit_code == 0, result.output
    assert (elsewhere / "smx.lock").read_bytes() == (pkg_env / "smx.lock").read_bytes()
    assert _version(_python(elsewhere, "comfyui"), "smx-dated-dep") == "1.0"
