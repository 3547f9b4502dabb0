"""`smx init`: create an environment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from smx.environment.env import Env


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
    """Create smx.toml and the Data/ folders (Packages, Models/KIND, Cache, Logs).

    Running it again is safe: an existing smx.toml is kept as it is (--name sets its [env]
    name). Data/ gets a .gitignore: commit smx.toml and smx.lock, not Data/. A folder inside
    another environment's Data/ is refused. With --adopt, an existing Stability Matrix library
    becomes the environment (run it again to pick up new things).

    Example: smx init ~/sd && cd ~/sd && smx install comfyui

    Example: smx init --adopt ~/StabilityMatrix
    """
    if adopt is not None:
        from smx.cli.adopt_cmd import run_adopt

        if name is not None:
            from smx.errors import UsageError

            raise UsageError("--adopt names the environment after the library's folder; "
                             "--name does not go with it",
                             hint=f"smx init --adopt {adopt}, then: smx --env {adopt} init "
                                  f"{adopt} --name {name}")

        run_adopt(ctx, adopt, json_out, directory)
        return
    from smx.cli.state import out
    from smx.environment.env import init_env, rename_env
    from smx.environment.layout import EnvLayout

    output = out(ctx, json_out)
    existed = EnvLayout(directory).manifest.exists()
    env = init_env(directory, name)
    renamed = existed and name is not None and rename_env(env, name)
    if output.json_mode:
        output.emit_json("init", {"root": str(env.root.resolve()), "created": not existed})
        return
    if not existed:
        output.success(f"created {env.layout.manifest} and {env.layout.data} (Data/ is "
                       "git-ignored: commit smx.toml and smx.lock)")
    elif renamed:
        output.success(f"{env.layout.manifest} already exists; its [env] name is now {name!r}")
    else:
        output.success(f"{env.layout.manifest} already exists ([env] name {env.manifest.name!r});"
                       " Data/ folders checked")
    output.info(f"next: {_next_step(directory, env)}")


def _next_step(directory: Path, env: Env) -> str:
    """What a newcomer types next: go into the folder, check the machine, install a web UI."""
    import shlex

    here = Path.cwd().resolve() == env.root.resolve()
    cd = "" if here else f"cd {shlex.quote(str(directory))} && "
    if env.manifest.packages:
        return f"{cd}smx sync && smx launch"
    return f"{cd}smx doctor && smx install comfyui   (or a1111, forge, fooocus)"


def register(app: typer.Typer) -> None:
    app.command("init")(init)
