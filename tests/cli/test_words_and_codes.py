"""The same state gets the same words and exit code from every command, and nothing claims
what is not true (an smx.lock that does not exist, "1 difference(s)")."""

from __future__ import annotations

import json
from pathlib import Path


def _declare(env: Path, text: str) -> None:
    manifest = env / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n", text))


def test_a_package_not_installed_is_one_state_for_launch_and_ext(smx, env_dir: Path) -> None:
    _declare(env_dir, '[packages.a1111]\nsource = "a1111"\n\n[packages.a1111.extensions]\n'
                      'controlnet = {}\n\n')
    before = (env_dir / "smx.toml").read_bytes()
    launch = smx("--env", str(env_dir), "launch")
    disable = smx("--env", str(env_dir), "ext", "disable", "controlnet")
    assert launch.exit_code == disable.exit_code == 2
    for result in (launch, disable):
        assert "error: a1111 is not installed (smx.lock has no entry for it)" in result.stderr
        assert "hint: run `smx sync` to install what smx.toml lists" in result.stderr
    assert "cannot be added" not in disable.stderr
    assert (env_dir / "smx.toml").read_bytes() == before


def test_a_name_that_is_not_a_web_ui_is_never_offered_to_smx_install(smx, env_dir: Path
                                                                     ) -> None:
    for words in (["launch", "nope"], ["ext", "add", "animatediff", "--package", "nope"],
                  ["update", "nope"]):
        result = smx("--env", str(env_dir), *words)
        assert result.exit_code == 2, words
        assert "smx install nope" not in result.stderr
        assert "smx install comfyui" in result.stderr  # what would help instead
    remove = smx("--env", str(env_dir), "remove", "nope", "--yes")
    assert "hint: smx.toml lists no packages" in remove.stderr

    catalog_name = smx("--env", str(env_dir), "launch", "ComfyUI")
    assert "hint: install it first: smx install comfyui" in catalog_name.stderr


def test_install_suggests_the_lowercase_catalog_name(smx, tmp_path: Path) -> None:
    result = smx("install", "ComfyUI", cwd=tmp_path)
    assert result.exit_code == 2
    assert "hint: did you mean 'comfyui'?" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_fresh_environment_claims_no_lock_it_does_not_have(smx, env_dir: Path) -> None:
    status = smx("--env", str(env_dir), "status")
    assert status.exit_code == 0
    assert "there is no smx.lock" in status.stdout and "match smx.lock" not in status.stdout

    update = smx("--env", str(env_dir), "update")
    assert update.exit_code == 0 and "nothing to update" in update.stdout

    locked = smx("--env", str(env_dir), "lock")
    assert locked.exit_code == 0, locked.output
    assert "wrote smx.lock: nothing to pin yet" in locked.stdout
    assert (env_dir / "smx.lock").is_file()
    assert "up to date" in smx("--env", str(env_dir), "lock").stdout
    assert "in sync: 0 packages, 0 extensions, 0 models match smx.lock" in \
        smx("--env", str(env_dir), "status").stdout


def test_counts_are_words_not_parentheses(smx, env_dir: Path) -> None:
    _declare(env_dir, '[packages.comfyui]\nsource = "comfyui"\n\n')
    human = smx("--env", str(env_dir), "status")
    document = json.loads(smx("--env", str(env_dir), "status", "--json").stdout)
    assert "1 difference (1 package, 0 extensions, 0 models in smx.toml)" in human.stdout
    assert document["errors"][0]["message"].startswith("1 difference between")
    assert "(s)" not in human.output


def test_one_word_per_state_across_status_model_list_and_verify() -> None:
    import re

    from smx.status import STATES

    docs = Path(__file__).resolve().parents[2] / "docs" / "json"

    def enum_of(page: str, field: str) -> set[str]:
        text = (docs / page).read_text("utf-8")
        found = re.search(rf'"{field}": {{"enum": \[(.*?)\]', text, re.DOTALL)
        return set(json.loads("[" + found.group(1) + "]"))

    model_list = enum_of("model-list.md", "state") - {"ok"}
    assert model_list <= set(STATES), model_list - set(STATES)
    assert enum_of("status.md", "state") == set(STATES)
    assert "corrupt" in STATES and "corrupt" in (docs / "model-verify.md").read_text("utf-8")


def test_piped_tables_have_no_trailing_spaces(smx, env_dir: Path) -> None:
    _declare(env_dir, '[packages.comfyui]\nsource = "comfyui"\n\n[packages.a1111]\n'
                      'source = "a1111"\n\n[packages.a1111.extensions]\ncontrolnet = {}\n\n')
    for words in (["status"], ["list"], ["ext", "list"], ["doctor"]):
        result = smx("--env", str(env_dir), *words)
        lines = result.stdout.splitlines()
        assert len(lines) >= 2, (words, result.output)
        assert [line for line in lines if line != line.rstrip()] == [], words


def test_each_exit_code_means_one_thing(smx, env_dir: Path, monkeypatch) -> None:
    """Drift is a check's verdict (1), a declined question changes nothing (0), a bug in smx
    is neither (70), and --debug shows where it happened."""
    _declare(env_dir, '[packages.a1111]\nsource = "a1111"\n\n')
    drift = smx("--env", str(env_dir), "status", "--json")
    assert drift.exit_code == 1
    assert json.loads(drift.stdout)["errors"][0]["code"] == "env.drift"

    def broken(env: object) -> object:
        raise RuntimeError("a bug in smx")

    monkeypatch.setattr("smx.status.status", broken)
    crash = smx("--env", str(env_dir), "status")
    assert crash.exit_code == 70
    assert "error: unexpected error: RuntimeError: a bug in smx" in crash.stderr
    assert "Traceback" not in crash.stderr
    traced = smx("--env", str(env_dir), "--debug", "status", "--json")
    assert traced.exit_code == 70
    assert json.loads(traced.stdout)["errors"][0]["code"] == "internal"
    assert "Traceback" in traced.stderr and "in broken" in traced.stderr
