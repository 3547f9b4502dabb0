"""`smx ext add <registry-id>[@version]`: ComfyUI node packs by their Comfy Registry id, against
a loopback Registry that answers like api.comfy.org (tests/helpers/fakeregistry.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from extfakes import NODE_INSTALL, Installed, state_of, venv_has

from helpers.fakeregistry import FakeRegistry, fake_registry, zip_of  # noqa: F401
from helpers.gitrepo import GitRepo, git, map_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACK_URL = "https://github.com/someone/ComfyUI-Frame-Tools"
PACK = "comfyui-frame-tools"
NODES = "NODE_CLASS_MAPPINGS = {'FrameInterp': object, 'FrameBlend': object}\n"


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _pyproject(version: str) -> str:
    return (f'[project]\nname = "{PACK}"\nversion = "{version}"\n\n'
            f'[project.urls]\nRepository = "{PACK_URL}"\n\n[tool.comfy]\nPublisherId = '
            '"someone"\n')


@pytest.fixture
def pack_repo(tmp_path: Path) -> dict[str, str]:
    """A node pack published the Registry way: each version is the commit that bumped
    pyproject.toml's version (1.0.0, then a fix without a bump, then 1.1.0)."""
    repo = GitRepo.create(tmp_path / "upstream" / "ComfyUI-Frame-Tools", {
        "__init__.py": NODES, "requirements.txt": "smx-node-dep\n", "install.py": NODE_INSTALL,
        "pyproject.toml": _pyproject("1.0.0"), ".gitignore": "/install-ran.txt\n"},
        message="1.0.0")
    commits = {"1.0.0": repo.head}
    commits["1.0.0-fix"] = repo.commit({"README.md": "fix\n",
                                        "pyproject.toml": _pyproject("1.0.0") + "\n"}, "fix")
    commits["1.1.0"] = repo.commit({"pyproject.toml": _pyproject("1.1.0")}, "1.1.0")
    map_url(PACK_URL, repo.path)
    map_url(PACK_URL + ".git", repo.path)
    commits["path"] = str(repo.path)
    return commits


@pytest.fixture
def published(fake_registry: FakeRegistry, pack_repo: dict[str, str]) -> FakeRegistry:  # noqa: F811
    for version in ("1.0.0", "1.1.0"):
        fake_registry.publish(PACK, version, repository=PACK_URL, name="Frame Tools",
                              files={"__init__.py": NODES}, classes=["FrameInterp"])
    return fake_registry


def _ext(env: Path, name: str = PACK) -> dict:
    return _toml(env / "smx.lock")["packages"]["comfyui"]["extensions"][name]


def test_add_by_id_checks_out_the_repository_at_the_newest_active_versions_commit(
        smx, comfyui: Installed, published: FakeRegistry, pack_repo) -> None:
    result = smx("--env", str(comfyui.env), "ext", "add", PACK)

    assert result.exit_code == 0, result.output
    assert "Frame Tools" in result.output and "third-party code" in result.output
    entry = _toml(comfyui.env / "smx.toml")["packages"]["comfyui"]["extensions"][PACK]
    assert entry == {"registry": PACK}  # no version: the newest active, pinned in the lock
    assert _ext(comfyui.env) == {"registry": PACK, "version": "1.1.0", "enabled": True,
                                 "git": PACK_URL, "commit": pack_repo["1.1.0"]}
    folder = comfyui.ext_dir(PACK)  # named by its id, as ComfyUI-Manager names Registry packs
    assert git("rev-parse", "HEAD", cwd=folder) == pack_repo["1.1.0"]
    assert (folder / "install-ran.txt").is_file() and venv_has(comfyui.python, "smx_node_dep")

    again = smx("--env", str(comfyui.env), "sync")
    assert again.exit_code == 0 and "nothing to do" in again.output, again.output


def test_a_version_is_the_commit_that_set_it_in_pyproject_toml_not_a_later_one(
        smx, comfyui: Installed, published: FakeRegistry, pack_repo) -> None:
    result = smx("--env", str(comfyui.env), "ext", "add", f"{PACK}@1.0.0")

    assert result.exit_code == 0, result.output
    assert _ext(comfyui.env)["commit"] == pack_repo["1.0.0"]  # not the later fix commit
    entry = _toml(comfyui.env / "smx.toml")["packages"]["comfyui"]["extensions"][PACK]
    assert entry == {"registry": PACK, "version": "1.0.0"}


def test_a_tag_naming_the_version_wins(smx, comfyui: Installed, published: FakeRegistry,
                                       pack_repo) -> None:
    git("tag", "v1.0.0", pack_repo["1.0.0-fix"], cwd=Path(pack_repo["path"]))

    assert smx("--env", str(comfyui.env), "ext", "add", f"{PACK}@1.0.0").exit_code == 0
    assert _ext(comfyui.env)["commit"] == pack_repo["1.0.0-fix"]


def test_without_a_repository_the_archive_is_installed_and_its_sha256_pinned(
        smx, comfyui: Installed, fake_registry: FakeRegistry) -> None:  # noqa: F811
    import hashlib

    files = {"__init__.py": "NODE_CLASS_MAPPINGS = {'Zip': object}\n",
             "requirements.txt": "smx-node-dep\n", "sub/util.py": "X = 1\n"}
    archive = zip_of(files, top="zip-nodes-1.0.0")  # one top folder: stripped
    fake_registry.publish("zip-nodes", "1.0.0", archive=archive, name="Zip Nodes")

    result = smx("--env", str(comfyui.env), "ext", "add", "zip-nodes")

    assert result.exit_code == 0, result.output
    locked = _ext(comfyui.env, "zip-nodes")
    assert locked == {"registry": "zip-nodes", "version": "1.0.0", "enabled": True,
                      "archive_sha256": hashlib.sha256(archive).hexdigest()}
    folder = comfyui.ext_dir("zip-nodes")
    assert (folder / "sub" / "util.py").read_text() == "X = 1\n"
    assert venv_has(comfyui.python, "smx_node_dep")
    assert smx("--env", str(comfyui.env), "status").exit_code == 0

    # the Registry now serves other bytes for the same version: a repair refuses them
    import shutil

    shutil.rmtree(folder)
    fake_registry.packs["zip-nodes"].versions[0].archive = zip_of({"__init__.py": "evil\n"})
    before = state_of(comfyui.env)
    repair = smx("--env", str(comfyui.env), "sync")
    assert repair.exit_code == 4, repair.output
    assert "smx.lock pins" in repair.output and "SHA-256" in repair.output
    assert state_of(comfyui.env) == before


def test_lock_upgrade_moves_to_the_newest_active_version_and_the_next_sync_takes_it(
        smx, comfyui: Installed, published: FakeRegistry, pack_repo) -> None:
    assert smx("--env", str(comfyui.env), "ext", "add", PACK).exit_code == 0
    repo = GitRepo(Path(pack_repo["path"]))
    newer = repo.commit({"pyproject.toml": _pyproject("1.2.0")}, "1.2.0")
    published.publish(PACK, "1.2.0", files={"__init__.py": NODES})
    later = repo.commit({"pyproject.toml": _pyproject("1.3.0")}, "1.3.0")
    published.publish(PACK, "1.3.0", files={"__init__.py": NODES})
    published.set_status(PACK, "1.3.0", "NodeVersionStatusPending")  # not reviewed yet

    plain = smx("--env", str(comfyui.env), "lock")
    assert plain.exit_code == 0 and _ext(comfyui.env)["version"] == "1.1.0", plain.output

    upgraded = smx("--env", str(comfyui.env), "lock", "--upgrade", PACK)
    assert upgraded.exit_code == 0, upgraded.output
    assert (_ext(comfyui.env)["version"], _ext(comfyui.env)["commit"]) == ("1.2.0", newer)
    assert later != newer
    planned = smx("--env", str(comfyui.env), "sync", "--dry-run")  # the next sync installs it
    assert planned.exit_code == 0 and f"1.2.0 {newer[:12]}" in planned.output, planned.output


def test_ext_update_moves_an_open_version_and_ext_list_shows_the_registry(
        smx, comfyui: Installed, published: FakeRegistry, pack_repo) -> None:
    assert smx("--env", str(comfyui.env), "ext", "add", PACK).exit_code == 0
    repo = GitRepo(Path(pack_repo["path"]))
    newer = repo.commit({"pyproject.toml": _pyproject("1.2.0")}, "1.2.0")
    published.publish(PACK, "1.2.0", files={"__init__.py": NODES})

    from helpers.jsondocs import check

    result = smx("--env", str(comfyui.env), "ext", "list", "--check", "--json")
    listed = check(result.stdout, result.exit_code, "ext-list.md",
                   "ext list")["data"]["extensions"][0]
    assert (listed["registry"], listed["version"], listed["remote_version"],
            listed["update_available"]) == (PACK, "1.1.0", "1.2.0", True)

    result = smx("--env", str(comfyui.env), "ext", "update", PACK)
    assert result.exit_code == 0, result.output
    assert _ext(comfyui.env)["commit"] == newer
    assert git("rev-parse", "HEAD", cwd=comfyui.ext_dir(PACK)) == newer


@pytest.mark.parametrize(("status", "deprecated", "said"), [
    ("NodeVersionStatusActive", True, "deprecated: use 1.1.0, 1.0.0 leaks memory"),
    ("NodeVersionStatusBanned", False, "banned: malicious code"),
])
def test_a_deprecated_or_banned_version_is_refused_with_the_reason(
        smx, comfyui: Installed, published: FakeRegistry, status, deprecated, said) -> None:
    reason = "use 1.1.0, 1.0.0 leaks memory" if deprecated else "malicious code"
    published.set_status(PACK, "1.0.0", status, reason, deprecated=deprecated)
    before = state_of(comfyui.env)

    result = smx("--env", str(comfyui.env), "ext", "add", f"{PACK}@1.0.0")

    assert result.exit_code == 2, result.output
    assert said in result.output and f"smx ext add {PACK}@1.1.0" in result.output
    assert state_of(comfyui.env) == before


def test_a_banned_pack_is_refused(smx, comfyui: Installed, published: FakeRegistry) -> None:
    published.packs[PACK].status = "NodeStatusBanned"
    published.packs[PACK].status_detail = "impersonates another pack"

    result = smx("--env", str(comfyui.env), "ext", "add", PACK)

    assert result.exit_code == 2
    assert "banned on the Comfy Registry: impersonates another pack" in result.output


def test_an_unknown_id_gets_did_you_mean_from_a_registry_search(
        smx, comfyui: Installed, published: FakeRegistry) -> None:
    before = state_of(comfyui.env)

    result = smx("--env", str(comfyui.env), "ext", "add", "comfyui-frametools")

    assert result.exit_code == 2, result.output
    assert "no node pack 'comfyui-frametools'" in result.output
    assert f"did you mean '{PACK}' (Frame Tools)?" in result.output
    assert any(r.startswith("GET /nodes/search?") for r in published.requests)
    assert state_of(comfyui.env) == before


def test_an_unknown_version_lists_the_versions(smx, comfyui: Installed,
                                               published: FakeRegistry) -> None:
    result = smx("--env", str(comfyui.env), "ext", "add", f"{PACK}@9.9.9")

    assert result.exit_code == 2
    assert "has no version 9.9.9" in result.output and "1.1.0, 1.0.0" in result.output


def test_registry_ids_are_for_comfyui_packages(smx, a1111: Installed,
                                               published: FakeRegistry) -> None:
    result = smx("--env", str(a1111.env), "ext", "add", PACK)

    assert result.exit_code == 2
    assert "Comfy Registry ids are for ComfyUI packages; a1111 is not one" in result.output


def test_the_endpoint_comes_from_smx_toml_sources(smx, comfyui: Installed,
                                                  published: FakeRegistry, monkeypatch) -> None:
    monkeypatch.delenv("SMX_COMFY_REGISTRY")
    manifest = comfyui.env / "smx.toml"
    manifest.write_text(manifest.read_text().replace(
        "[packages]", f'[sources]\ncomfy-registry = "{published.url}"\n\n[packages]', 1))

    assert smx("--env", str(comfyui.env), "ext", "add", PACK).exit_code == 0


def test_frozen_sync_installs_the_pinned_version_on_another_machine(
        smx, comfyui: Installed, published: FakeRegistry, pack_repo, tmp_path: Path,
        install_package) -> None:
    assert smx("--env", str(comfyui.env), "ext", "add", PACK).exit_code == 0
    published.publish(PACK, "1.2.0", files={"__init__.py": NODES})  # newer: not taken
    other = tmp_path / "other"
    assert smx("init", str(other)).exit_code == 0
    install_package(other, "comfyui")
    (other / "smx.toml").write_text((comfyui.env / "smx.toml").read_text())
    lock = (comfyui.env / "smx.lock").read_text()
    (other / "smx.lock").write_text(lock)

    result = smx("--env", str(other), "sync", "--frozen")

    assert result.exit_code == 0, result.output
    assert git("rev-parse", "HEAD", cwd=other / "Data/Packages/comfyui/custom_nodes" / PACK) \
        == pack_repo["1.1.0"]


def test_tab_completes_registry_ids_the_env_has(comfyui: Installed, monkeypatch) -> None:
    from smx.cli.complete import complete_ext_source

    manifest = comfyui.env / "smx.toml"
    manifest.write_text(manifest.read_text() + f'\n[packages.comfyui.extensions]\nft = '
                        f'{{ registry = "{PACK}" }}\n')
    by_hand = comfyui.ext_dir("ComfyUI-Manager-installed")
    by_hand.mkdir(parents=True)
    (by_hand / "pyproject.toml").write_text('[project]\nname = "ComfyUI-Hand-Pack"\n')
    monkeypatch.chdir(comfyui.env)

    class Ctx:
        params = None
        parent = None

    found = [name for name, _ in complete_ext_source(Ctx(), "comfyui-")]  # type: ignore[arg-type]
    assert found == ["comfyui-frame-tools", "comfyui-hand-pack"]
    assert [n for n, _ in complete_ext_source(Ctx(), "anim")] == ["animatediff"]  # type: ignore[arg-type]
