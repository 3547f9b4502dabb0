"""What `smx ext add` reports as added loads in the web UI: requirements resolve as of the
package's date, an extension cannot move the web UI's own pins, and one that does not load is
refused and rolled back.

A loopback package index (PEP 691 JSON with upload times) serves ``smx-dated-dep`` twice:
1.0, uploaded in 2023, has ``solutions``; 2.0, uploaded in 2025, does not (as mediapipe 1.x
dropped ``mediapipe.solutions``). The fake web UIs and extensions are dated 2024-01-01, so
their resolution date is 2024-01-08.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from extfakes import Installed, state_of, venv_has

from helpers.gitrepo import GitRepo, map_url
from helpers.pkgindex import PackageIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATED_URL = "https://github.com/someone/sd-webui-dated"
NODE_URL = "https://github.com/someone/ComfyUI-dated-nodes"
BROKEN_NODE_URL = "https://github.com/someone/ComfyUI-broken-nodes"
GREEDY_URL = "https://github.com/someone/ComfyUI-greedy-nodes"

_USES_SOLUTIONS = "import smx_dated_dep\nsmx_dated_dep.solutions  # noqa: B018\n"
# like sd-webui-controlnet's install.py: each requirement on its own, failures only warned
_A1111_INSTALL = '''\
import launch

for package in ("smx-dated-dep",):
    if not launch.is_installed(package.replace("-", "_")):
        try:
            launch.run_pip(f"install {package}", package)
        except Exception as e:
            print(f"Warning: Failed to install {package}, some preprocessors may not work.")
'''


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _version(python: Path, dist: str) -> str | None:
    import subprocess

    code = ("import importlib.metadata as m, sys\ntry:\n print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError:\n print('')")
    out = subprocess.run([str(python), "-c", code, dist], capture_output=True, text=True)
    return out.stdout.strip() or None


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    """pip and uv resolve against the loopback index (and the test wheel folder)."""
    with PackageIndex(tmp_path / "index") as served:
        served.publish("smx-dated-dep", "1.0", uploaded="2023-06-01",
                       files={"smx_dated_dep/__init__.py": "solutions = object()\n"})
        served.publish("smx-dated-dep", "2.0", uploaded="2025-06-01",
                       files={"smx_dated_dep/__init__.py": "# solutions moved away\n"})
        served.publish("smx-core", "1.0", uploaded="2023-01-01")
        served.publish("smx-core", "2.0", uploaded="2023-02-01")
        served.publish("smx-greedy", "1.0", uploaded="2023-03-01", requires=("smx-core>=2",))
        served.publish("smx-companion", "1.0", uploaded="2023-03-01")
        monkeypatch.delenv("PIP_NO_INDEX", raising=False)
        monkeypatch.setenv("PIP_INDEX_URL", served.url)
        yield served


def _repo(tmp_path: Path, url: str, name: str, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.create(tmp_path / "more" / name, files)
    map_url(url, repo)
    return repo


def _add(smx, env: Path, *args: str):
    return smx("--env", str(env), "ext", "add", *args)


# --- resolution as of the package's date ------------------------------------------------------
def test_an_extensions_install_py_resolves_as_of_the_packages_date(
        smx, a1111: Installed, index: PackageIndex, tmp_path: Path) -> None:
    _repo(tmp_path, DATED_URL, "sd-webui-dated",
          {"install.py": _A1111_INSTALL, "scripts/dated.py": _USES_SOLUTIONS})

    result = _add(smx, a1111.env, DATED_URL)

    assert result.exit_code == 0, result.output
    assert _version(a1111.python, "smx-dated-dep") == "1.0"  # what pip gave in January 2024
    assert "resolving requirements as of 2024-01-08" in result.output
    # the test's local wheel folder has no upload dates: said, once
    assert result.output.count("local package sources have no upload dates") == 1
    assert "ext-wheelhouse" in result.output
    assert "a1111 loads with 1 extension" in result.output
    locked = _toml(a1111.env / "smx.lock")["packages"]["a1111"]
    assert locked["resolved_as_of"] == "2024-01-08T00:00:00Z"


def test_resolving_now_instead_takes_the_release_that_breaks_it_and_nothing_is_kept(
        smx, a1111: Installed, index: PackageIndex, tmp_path: Path) -> None:
    toml = a1111.env / "smx.toml"
    toml.write_text(toml.read_text().replace('source = "a1111"',
                                             'source = "a1111"\nresolve-as-of = "now"'))
    _repo(tmp_path, DATED_URL, "sd-webui-dated",
          {"install.py": _A1111_INSTALL, "scripts/dated.py": _USES_SOLUTIONS})
    before = state_of(a1111.env)

    result = _add(smx, a1111.env, DATED_URL)

    assert result.exit_code == 5, result.output
    assert "a1111 does not load: sd-webui-dated: Error loading script: dated.py " \
           "(AttributeError: module 'smx_dated_dep' has no attribute 'solutions')" \
           in result.output
    assert "rolled back: removed sd-webui-dated, venv put back" in result.output
    log = result.output.split("the web UI's own output: ", 1)[1].split(";")[0].strip()
    assert "Error loading script: dated.py" in Path(log).read_text()
    assert state_of(a1111.env) == before  # folder, venv, smx.toml and smx.lock as they were
    assert _version(a1111.python, "smx-dated-dep") is None


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_node_packs_requirements_resolve_as_of_the_date_with_either_installer(
        smx, comfyui: Installed, index: PackageIndex, tmp_path: Path, installer: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMX_INSTALLER", installer)
    _repo(tmp_path, NODE_URL, "ComfyUI-dated-nodes",
          {"__init__.py": _USES_SOLUTIONS + "NODE_CLASS_MAPPINGS = {}\n",
           "requirements.txt": "smx-dated-dep\n"})

    result = _add(smx, comfyui.env, NODE_URL)

    assert result.exit_code == 0, result.output
    assert _version(comfyui.python, "smx-dated-dep") == "1.0"
    assert "comfyui loads with 1 extension" in result.output


def test_an_index_without_upload_times_is_said_once_and_resolution_goes_on(
        smx, comfyui: Installed, index: PackageIndex, tmp_path: Path) -> None:
    index.upload_times = False  # an old mirror
    _repo(tmp_path, NODE_URL, "ComfyUI-dated-nodes",
          {"__init__.py": "import smx_dated_dep\nNODE_CLASS_MAPPINGS = {}\n",
           "requirements.txt": "smx-dated-dep\n"})

    result = _add(smx, comfyui.env, NODE_URL)

    assert result.exit_code == 0, result.output
    assert result.output.count("gives no upload times") == 1
    assert _version(comfyui.python, "smx-dated-dep") == "2.0"  # the date could not apply


# --- protected pins ---------------------------------------------------------------------------
@pytest.fixture
def pinned_comfyui(comfyui: Installed, index: PackageIndex) -> Installed:
    """ComfyUI whose own requirements pin smx-core==1.0 (installed in its venv)."""
    import subprocess

    subprocess.run([str(comfyui.python), "-m", "pip", "install", "-q", "smx-core==1.0"],
                   check=True, capture_output=True)
    (comfyui.checkout / "requirements.txt").write_text("smx-core==1.0\n")
    lock_path = comfyui.env / "smx.lock"
    from smx.environment import lock as lockfile

    lock = lockfile.load(lock_path)
    lock.packages["comfyui"].freeze = ["smx-core==1.0", "torch==2.1.2"]
    lockfile.save(lock_path, lock)
    return comfyui


def test_a_node_pack_cannot_move_the_web_uis_own_pin_and_gets_the_rest(
        smx, pinned_comfyui: Installed, tmp_path: Path) -> None:
    env = pinned_comfyui.env
    _repo(tmp_path, GREEDY_URL, "ComfyUI-greedy-nodes",
          {"__init__.py": "import smx_companion\nNODE_CLASS_MAPPINGS = {}\n",
           "requirements.txt": "smx-core>=2\nsmx-companion\n"})

    result = _add(smx, env, GREEDY_URL)

    assert result.exit_code == 0, result.output
    assert "ComfyUI-greedy-nodes asked for smx-core>=2; kept smx-core==1.0 (comfyui's own " \
           "pin)" in result.output
    assert "allow-pin-change" in result.output
    assert _version(pinned_comfyui.python, "smx-core") == "1.0"
    assert _version(pinned_comfyui.python, "smx-companion") == "1.0"  # the rest went in
    pins = (env / "Data" / ".smx" / "packages" / "comfyui.constraints.txt").read_text()
    assert "smx-core==1.0" in pins and "torch==2.1.2" in pins


def test_a_pin_conflict_deeper_down_names_who_asked_and_what_was_kept(
        smx, pinned_comfyui: Installed, tmp_path: Path) -> None:
    env = pinned_comfyui.env
    _repo(tmp_path, GREEDY_URL, "ComfyUI-greedy-nodes",
          {"__init__.py": "NODE_CLASS_MAPPINGS = {}\n", "requirements.txt": "smx-greedy\n"})
    before = state_of(env)

    result = _add(smx, env, GREEDY_URL)

    assert result.exit_code == 5, result.output
    assert "smx-core==1.0 (comfyui's own pin)" in result.output
    assert "--allow-pin-change" in result.output
    assert state_of(env) == before


def test_allow_pin_change_lets_it_through_and_is_saved_in_smx_toml(
        smx, pinned_comfyui: Installed, tmp_path: Path) -> None:
    env = pinned_comfyui.env
    _repo(tmp_path, GREEDY_URL, "ComfyUI-greedy-nodes",
          {"__init__.py": "NODE_CLASS_MAPPINGS = {}\n", "requirements.txt": "smx-greedy\n"})

    result = _add(smx, env, GREEDY_URL, "--allow-pin-change")

    assert result.exit_code == 0, result.output
    assert _version(pinned_comfyui.python, "smx-core") == "2.0"
    assert "changed packages comfyui already had: smx-core 1.0 -> 2.0" in result.output
    entry = _toml(env / "smx.toml")["packages"]["comfyui"]["extensions"]["ComfyUI-greedy-nodes"]
    assert entry["allow-pin-change"] is True
    # the web UI's own pin no longer holds, so it is no longer protected; torch still is
    pins = (env / "Data" / ".smx" / "packages" / "comfyui.constraints.txt").read_text()
    assert "smx-core" not in pins and "torch==2.1.2" in pins


# --- what does not load is refused ------------------------------------------------------------
def test_a_node_pack_that_fails_to_import_is_refused_and_rolled_back(
        smx, comfyui: Installed, index: PackageIndex, tmp_path: Path) -> None:
    _repo(tmp_path, BROKEN_NODE_URL, "ComfyUI-broken-nodes",
          {"__init__.py": "import smx_not_installed\nNODE_CLASS_MAPPINGS = {}\n",
           "requirements.txt": "smx-companion\n"})
    before = state_of(comfyui.env)

    result = _add(smx, comfyui.env, BROKEN_NODE_URL)

    assert result.exit_code == 5, result.output
    assert "comfyui does not load: ComfyUI-broken-nodes: IMPORT FAILED (No module named " \
           "'smx_not_installed')" in result.output
    assert "--keep-broken" in result.output
    assert state_of(comfyui.env) == before
    assert not venv_has(comfyui.python, "smx_companion")  # the venv is as it was
    guards = list((comfyui.env / "Data" / ".smx").rglob("*.guard.json"))
    assert guards == []


def test_keep_broken_keeps_it_records_it_and_still_fails(
        smx, comfyui: Installed, index: PackageIndex, tmp_path: Path) -> None:
    _repo(tmp_path, BROKEN_NODE_URL, "ComfyUI-broken-nodes",
          {"__init__.py": "import smx_not_installed\nNODE_CLASS_MAPPINGS = {}\n"})

    result = _add(smx, comfyui.env, BROKEN_NODE_URL, "--keep-broken")

    assert result.exit_code == 5, result.output
    assert "the change was kept (--keep-broken)" in result.output
    assert comfyui.ext_dir("ComfyUI-broken-nodes").is_dir()
    assert "ComfyUI-broken-nodes" in _toml(comfyui.env / "smx.toml")["packages"]["comfyui"][
        "extensions"]
    assert "ComfyUI-broken-nodes" in _toml(comfyui.env / "smx.lock")["packages"]["comfyui"][
        "extensions"]
    # and `smx check` says so on demand, as JSON too
    check = smx("--env", str(comfyui.env), "check", "--json")
    assert check.exit_code == 5, check.output
    data = json.loads(check.stdout)
    _matches_the_documented_schema(data)
    assert data["status"] == "error"
    (package,) = data["data"]["packages"]
    assert package["package"] == "comfyui" and package["loads"] is False
    assert package["problems"] == [{"extension": "ComfyUI-broken-nodes",
                                    "folder": "ComfyUI-broken-nodes", "builtin": False,
                                    "what": "IMPORT FAILED",
                                    "error": "No module named 'smx_not_installed'"}]


def _matches_the_documented_schema(document: dict) -> None:
    """docs/json/check.md promises this shape (and docs/json/index.md the envelope)."""
    import re

    jsonschema = pytest.importorskip("jsonschema")
    docs = Path(__file__).resolve().parents[2] / "docs" / "json"

    def schema(page: str) -> dict:
        blocks = re.findall(r"```json\n(.*?)```", (docs / page).read_text(), re.DOTALL)
        return next(json.loads(b) for b in blocks if '"$schema"' in b)

    jsonschema.validate(document, schema("index.md"))
    jsonschema.validate(document["data"], schema("check.md"))


def test_smx_check_passes_on_a_package_whose_extensions_load(
        smx, a1111: Installed, repos) -> None:
    assert smx("--env", str(a1111.env), "ext", "add", "animatediff").exit_code == 0

    result = smx("--env", str(a1111.env), "check", "a1111")

    assert result.exit_code == 0, result.output
    assert "a1111 loads with 1 extension" in result.output


def test_enabling_an_extension_that_does_not_load_disables_it_again(
        smx, a1111: Installed, index: PackageIndex, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path, DATED_URL, "sd-webui-dated",
          {"install.py": _A1111_INSTALL, "scripts/dated.py": _USES_SOLUTIONS})
    assert _add(smx, a1111.env, DATED_URL).exit_code == 0
    assert smx("--env", str(a1111.env), "ext", "disable", "sd-webui-dated").exit_code == 0
    # meanwhile the dependency is replaced by hand with the release that breaks it
    import subprocess

    subprocess.run([str(a1111.python), "-m", "pip", "install", "-q", "smx-dated-dep==2.0",
                    "--index-url", index.url], check=True, capture_output=True,
                   env={k: v for k, v in __import__("os").environ.items()
                        if not k.startswith("PIP_")})
    before = state_of(a1111.env)

    result = smx("--env", str(a1111.env), "ext", "enable", "sd-webui-dated")

    assert result.exit_code == 5, result.output
    assert "sd-webui-dated: Error loading script: dated.py" in result.output
    assert state_of(a1111.env) == before
    settings = json.loads((a1111.checkout / "config.json").read_text())
    assert "sd-webui-dated" in settings["disabled_extensions"]


def test_a_change_killed_before_its_load_check_is_checked_by_the_next_sync(
        smx, comfyui: Installed) -> None:
    """kill -9 between an extension step and the check: the guard on disk remembers the state
    before, `smx status` says the change is unchecked, and the next sync checks it (and here,
    since it does not load, rolls it back)."""
    from smx.environment.env import Env
    from smx.packages import guard
    from smx.reporter import NullReporter

    env = Env.open(comfyui.env)
    kept = guard.begin(env, "comfyui", NullReporter())
    kept.note_folder(env.layout, "ComfyUI-half-added", None, None)
    node = comfyui.ext_dir("ComfyUI-half-added")
    node.mkdir(parents=True)
    (node / "__init__.py").write_text("import smx_not_installed\n")

    status = smx("--env", str(comfyui.env), "status")
    assert status.exit_code == 1, status.output
    assert "not load-checked yet" in status.output

    result = smx("--env", str(comfyui.env), "sync")

    assert result.exit_code == 5, result.output
    assert "ComfyUI-half-added: IMPORT FAILED" in result.output
    assert not node.exists()
    assert not guard.unchecked(env.layout, "comfyui")
    assert smx("--env", str(comfyui.env), "status").exit_code == 0


def test_what_an_install_py_could_not_install_is_said_and_it_still_loads(
        smx, a1111: Installed, tmp_path: Path) -> None:
    """sd-webui-controlnet's install.py fetches some wheels from GitHub releases and only
    prints a warning when that fails; the extension loads without them."""
    _repo(tmp_path, DATED_URL, "sd-webui-dated", {
        "install.py": "print(\"Couldn't install sd-webui-dated requirement: handrefiner.\")\n"
                      "print('Warning: Failed to install depth_anything. Some processors will "
                      "not work.')\n",
        "scripts/dated.py": "# loads\n"})

    result = _add(smx, a1111.env, DATED_URL)

    assert result.exit_code == 0, result.output
    assert "sd-webui-dated's install.py could not install handrefiner, depth_anything; it " \
           "loads, but what needs them will not work" in result.output
