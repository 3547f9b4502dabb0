"""`smx init`: create an environment."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    ctx: typer.Context,
    directory: Path = typer.Argument(Path("."), help="Folder for the environment."),
    name: str | None = typer.Option(None, "--name", help="Environment name in smx.toml."),
    adopt: Path | None = typer.Option(
        None, "--adopt", metavar="PATH",
        help="Make a Stability Matrix library (the folder with Data/, or Data/ itself) an smx "
             "environment in place: register its packages, extensions and models; nothing is "
             "copied or downloaded."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create smx.toml and the Data/ folders (Packages, Models/<kind>, Cache, Logs).

    Running it again is safe: an existing smx.toml is kept as it is. With --adopt, an existing
    Stability Matrix library becomes the environment (run it again to pick up new things).

    Example: smx init ~/sd && cd ~/sd && smx install comfyui

    Example: smx init --adopt ~/StabilityMatrix
    """
    if adopt is not None:
        from smx.cli.adopt_cmd import run_adopt

        run_adopt(ctx, adopt, json_out, directory)
        return
    from smx.cli.state import out
    from smx.environment.env import init_env
    from smx.environment.layout import EnvLayout

    output = out(ctx, json_out)
    existed = EnvLayout(directory).manifest.exists()
    env = init_env(directory, name)
    if output.json_mode:
        output.emit_json("init", {"root": str(env.root.resolve()), "created": not existed})
    elif existed:
        output.success(f"{env.layout.manifest} already exists; Data/ folders checked")
    else:
        output.success(f"created {env.layout.manifest} and {env.layout.data}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
