"""`smx completion SHELL`: print the shell completion script (for installs without a checkout)."""

from __future__ import annotations

import typer


def _complete_shell(incomplete: str) -> list[str]:
    from smx.cli.completion_scripts import SHELLS

    return [shell for shell in SHELLS if shell.startswith(incomplete)]


def completion(
    shell: str = typer.Argument(..., help="bash, zsh, fish or powershell.",
                                autocompletion=_complete_shell),
) -> None:
    """Print the completion script for SHELL; Tab then completes commands, options, and the
    package, extension and model names of the current environment.

    Example: smx completion bash > ~/.local/share/bash-completion/completions/smx
    """
    from smx.cli.completion_scripts import script_for

    typer.echo(script_for(shell), nl=False)


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
