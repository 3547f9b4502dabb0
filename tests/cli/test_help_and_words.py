"""The command line as typed by a person: help that fits 80 columns, examples one per line,
`-v` that reads as a counter, global options accepted after the command as uv does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main

from smx.cli.main import app
from smx.cli.parsing import hoist_global_options


def _commands() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [("", typer.main.get_command(app))]

    def walk(group, prefix: tuple[str, ...]) -> None:
        for name, cmd in group.commands.items():
            path = (*prefix, name)
            found.append((" ".join(path), cmd))
            if hasattr(cmd, "commands"):
                walk(cmd, path)

    walk(found[0][1], ())
    return found


COMMANDS = _commands()
# rich cuts a cell that does not fit with "…", followed by padding or the panel's border
# (an ellipsis in the text itself, "local:… do this", is followed by one space and a word)
_CUT = re.compile(r"…(\s{2,}|\s*│)")


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p or "smx" for p, _ in COMMANDS])
def test_help_at_80_columns_cuts_no_option_name_and_no_word(
        path: str, command, smx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = smx(*path.split(), "--help")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    cut = [line for line in lines if _CUT.search(line)]
    assert not cut, "\n".join(cut)
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            for name in param.opts:
                assert re.search(rf"(^|[\s,│]){re.escape(name)}(\s|,|$)", result.stdout), (
                    f"`smx {path} --help` does not show {name} whole")


def _example_paragraphs(help_text: str) -> list[str]:
    return [p.split(":", 1)[1].strip() for p in re.split(r"\n\s*\n", help_text or "")
            if re.match(r"\s*Examples?:", p)]


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p or "smx" for p, _ in COMMANDS])
def test_each_example_is_one_command_line(path: str, command) -> None:
    """Two examples in one paragraph run together once the help is re-flowed."""
    for example in _example_paragraphs(command.help):
        for part in re.split(r"&&|\|\||\||;", example):
            assert len(re.findall(r"(^|\s)smx\s", part)) <= 1, (
                f"`smx {path} --help`: {example!r} holds two examples; give each its own "
                "'Example:' paragraph")


def test_verbose_is_a_counter_not_a_number(smx, env_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    help_line = next(line for line in smx("--help").stdout.splitlines() if "--verbose" in line)
    assert "<int>" not in help_line and "default" not in help_line
    assert smx("--env", str(env_dir), "-vv", "status").exit_code == 0
    assert smx("--env", str(env_dir), "status", "-v").exit_code == 0


def test_global_options_work_after_the_command(smx, env_dir: Path, tmp_path: Path) -> None:
    listed = smx("model", "list", "--env", str(env_dir), "--json", cwd=tmp_path)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["command"] == "model list"

    quiet = smx("status", f"--env={env_dir}", "-q", cwd=tmp_path)
    assert quiet.exit_code == 0 and quiet.output == ""

    flag_first = smx("--json", "status", "--env", str(env_dir), cwd=tmp_path)
    assert json.loads(flag_first.stdout)["command"] == "status"


def _hoist(*words: str) -> list[str]:
    group = typer.main.get_command(app)
    ctx = group.make_context("smx", ["status"], resilient_parsing=True)
    return hoist_global_options(group, ctx, list(words))


def test_what_moves_and_what_stays() -> None:
    assert _hoist("status", "--env", "d", "-q") == ["--env", "d", "-q", "status"]
    assert _hoist("-q", "model", "pull", "x", "--debug", "--name", "n") == \
        ["-q", "--debug", "model", "pull", "x", "--name", "n"]
    # a value of the command's own option is not a global option
    assert _hoist("model", "pull", "x", "--name", "-q") == ["model", "pull", "x", "--name", "-q"]
    # after --, words belong to the web UI
    assert _hoist("launch", "a1111", "--", "--env", "x", "-v") == \
        ["launch", "a1111", "--", "--env", "x", "-v"]
    assert _hoist("--json", "launch", "--dry-run", "--", "-q") == \
        ["launch", "--dry-run", "--json", "--", "-q"]
    # unknown words are left for the parser to report as typed
    assert _hoist("--nope", "status") == ["--nope", "status"]


def test_no_help_text_loses_a_placeholder() -> None:
    """--help renders Markdown, where `<package>` is an HTML tag and vanishes
    ("(default: smx-cli==)", "export/.tar.gz"): write PACKAGE instead."""
    def texts(group, prefix: str):
        for name, cmd in group.commands.items():
            yield f"{prefix}{name}", cmd.help or ""
            for param in cmd.params:
                yield f"{prefix}{name} {param.name}", getattr(param, "help", "") or ""
            if hasattr(cmd, "commands"):
                yield from texts(cmd, f"{prefix}{name} ")

    lost = [(where, tag) for where, text in texts(typer.main.get_command(app), "")
            for tag in re.findall(r"<[A-Za-z][^>]*>", text)]
    assert lost == []
