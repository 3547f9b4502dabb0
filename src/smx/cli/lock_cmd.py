"""`smx lock`: resolve smx.toml into smx.lock without installing anything."""

from __future__ import annotations

import typer

from smx.cli.complete import complete_env_name
from smx.words import count


def lock(
    ctx: typer.Context,
    names: list[str] | None = typer.Argument(
        None, help="With --upgrade: only these packages, extensions or models.",
        autocompletion=complete_env_name),
    upgrade: bool = typer.Option(False, "--upgrade", "-U",
                                 help="Re-resolve to the newest: a branch's head, a model's "
                                      "newest version (all, or the NAMEs given)."),
) -> None:
    """Pin what smx.toml asks for in smx.lock, without installing.

    Pins the commits of packages and extensions (git ls-remote of their ref), models'
    version, file, size and SHA-256 (the source's API). What smx.lock already pins is kept
    unless --upgrade names it.

    Python packages (`freeze`) are known only after an install: a package whose commit moves
    is installed, and its list recorded, by the next `smx sync`.

    Example: smx lock --upgrade

    Example: smx lock --upgrade comfyui animatediff
    """
    from smx.cli.state import locked_env, out
    from smx.errors import UsageError
    from smx.locking import lock as run_lock

    output = out(ctx)
    if names and not upgrade:
        raise UsageError("names pick what --upgrade re-resolves",
                         hint=f"smx lock --upgrade {' '.join(names)}")
    chosen = (set(names) if names else set()) if upgrade else None
    with locked_env(ctx) as env:
        result = run_lock(env, upgrade=chosen, reporter=output.reporter())
    if not result.changes:
        if result.written:
            output.success("wrote smx.lock: nothing to pin yet (smx.toml lists no packages or "
                           "models)")
        else:
            output.success("smx.lock is up to date with smx.toml" +
                           (" (nothing newer upstream)" if upgrade else ""))
        return
    for change in result.changes:
        output.print(f"  {change.describe()}", markup=False)
    pinned = [c for c in result.changes if c.action != "unpinned"]
    if pinned:
        output.success(f"smx.lock updated ({count(len(pinned), 'change')}); `smx sync` installs "
                       "it")


def register(app: typer.Typer) -> None:
    app.command("lock")(lock)
