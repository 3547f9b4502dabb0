"""`smx init`: create an environment."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    ctx: typer.Context,
    directory: Path = typer.Argument(Path("."), help="Folder for the environment."),
    name: str | None = typer.Option(None, "--name", help="Environment name in smx.toml."),
) -> None:
    """Create smx.toml and the Data/ folders (Packages, Models/<kind>, Cache, Logs).

    Running it again is safe: an existing smx.toml is kept as it is.

    Example: smx init ~/sd && cd ~/sd && smx install comfyui
    """
    from smx.cli.state import out
    from smx.environment.env import init_env
    from smx.environment.layout import EnvLayout

    output = out(ctx)
    existed = EnvLayout(directory).manifest.exists()
    env = init_env(directory, name)
    if existed:
        output.success(f"{env.layout.manifest} already exists; Data/ folders checked")
    else:
        output.success(f"created {env.layout.manifest} and {env.layout.data}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
