"""One smx.toml validation for every command: all mistakes at once, in the order of the file,
each with file:line:col; what `smx status` accepts, `smx ext list` accepts too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smx.environment import manifest
from smx.errors import ConfigError

THREE_MISTAKES = """\
[torch]
backend = "cuad"

[packages.a]
source = "a1111"
reff = "v1"

[extra]
"""


def test_three_mistakes_are_three_errors_in_file_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "smx.toml"
    path.write_text(THREE_MISTAKES)
    with pytest.raises(ConfigError) as info:
        manifest.load(path)
    problems = info.value.problems  # type: ignore[attr-defined]
    assert [p.message.split(": ", 1)[0] for p in problems] == [
        "smx.toml:2:11", "smx.toml:6:1", "smx.toml:8:1"]
    assert [p.hint for p in problems] == [
        "did you mean 'cuda'?", "did you mean 'ref'?",
        "allowed keys: env, torch, sources, launch, packages, models"]


@pytest.mark.parametrize("command", [["status"], ["ext", "list"], ["sync", "--dry-run"],
                                     ["model", "list"], ["lock"], ["launch", "--dry-run"]])
def test_every_command_reports_all_of_them(smx, env_dir: Path, command: list[str]) -> None:
    (env_dir / "smx.toml").write_text(THREE_MISTAKES)
    human = smx("--env", str(env_dir), *command)
    errors = [line for line in human.stderr.splitlines() if line.startswith("error:")]
    assert human.exit_code == 2
    assert [e.split("smx.toml:")[1].split(":")[0] for e in errors] == ["2", "6", "8"]

    if command in (["status"], ["ext", "list"], ["model", "list"]):
        document = json.loads(smx("--env", str(env_dir), *command, "--json").stdout)
        assert [e["message"].split("smx.toml:")[1][:4] for e in document["errors"]] == [
            "2:11", "6:1:", "8:1:"]
        assert {e["code"] for e in document["errors"]} == {"config.invalid"}


def test_an_unknown_extension_without_git_is_refused_alike(smx, env_dir: Path) -> None:
    (env_dir / "smx.toml").write_text('[packages.a1111]\nsource = "a1111"\n\n'
                                      '[packages.a1111.extensions]\nmything = {}\n')
    said = set()
    for command in (["status"], ["ext", "list"], ["sync", "--dry-run"]):
        result = smx("--env", str(env_dir), *command)
        assert result.exit_code == 2, (command, result.output)
        said.add(result.stderr)
    (message,) = said  # the same words from every command
    assert "smx.toml:5:1: packages.a1111.extensions.mything has no git URL" in message


def test_a_known_extension_for_another_kind_of_web_ui_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "smx.toml"
    path.write_text('[packages.f]\nsource = "fooocus"\n\n[packages.f.extensions]\n'
                    'controlnet = {}\n')
    with pytest.raises(ConfigError, match=r"smx.toml:4:1: Fooocus has no extensions"):
        manifest.load(path)
