"""Every `smx …` command the README and the docs show parses with the real command line: a
renamed option or a command that no longer exists fails here, not in a reader's terminal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer import _click

from smx.cli.main import app

REPO = Path(__file__).resolve().parents[2]


def _shown_commands() -> list[tuple[str, str]]:
    found = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|\|\||[|;]", line):
                    part = part.strip()
                    if part.startswith("smx ") and "<" not in part and "…" not in part:
                        found.append((str(page.relative_to(REPO)), part))
    return found


SHOWN = _shown_commands()


def _parse(words: list[str]) -> None:
    """What click does before running a command, without running it."""
    group = typer.main.get_command(app)
    ctx = group.make_context("smx", list(words))
    args = [*ctx._protected_args, *ctx.args]
    command = group
    while hasattr(command, "resolve_command") and args:
        name, command, args = command.resolve_command(ctx, args)
        ctx = command.make_context(name, list(args), parent=ctx)
        args = [*getattr(ctx, "_protected_args", []), *ctx.args] \
            if hasattr(command, "resolve_command") else []


def test_the_docs_show_many_commands() -> None:
    assert len(SHOWN) > 60


@pytest.mark.parametrize("where,command", SHOWN, ids=[f"{w}:{c[:60]}" for w, c in SHOWN])
def test_each_command_shown_in_the_docs_parses(where: str, command: str) -> None:
    words = shlex.split(command, comments=True)[1:]
    for i, word in enumerate(words):  # a shell redirection ends the command's own words
        if re.match(r"^\d?>", word):
            words = words[:i]
            break
    try:
        _parse(words)
    except _click.exceptions.BadParameter as exc:
        if "does not exist" not in exc.format_message():  # the example's own file is fine
            pytest.fail(f"{where}: `{command}` does not parse: {exc.format_message()}")
    except _click.exceptions.UsageError as exc:
        pytest.fail(f"{where}: `{command}` does not parse: {exc.format_message()}")
    except typer.Exit as exc:  # --version, --help end early; a parse error is rendered, 2
        assert exc.exit_code == 0, f"{where}: `{command}` does not parse"
