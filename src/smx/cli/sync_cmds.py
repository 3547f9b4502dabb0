"""`smx sync`: make the disk match smx.toml (and smx.lock)."""

from __future__ import annotations

import typer

from smx.words import count


def sync(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    frozen: bool = typer.Option(False, "--frozen",
                                help="Install exactly smx.lock; fail if smx.toml disagrees."),
    no_models: bool = typer.Option(False, "--no-models",
                                   help="Skip models (e.g. a container image whose models "
                                        "live in a volume)."),
    json_out: bool = typer.Option(False, "--json", help="Print the plan/result as JSON."),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Keep changes even when "
                                     "the web UI or an extension does not load (exit 5)."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe",
                                      help="Place (or record, for local: models) pickles the "
                                           "scan refuses: code they import runs when a web UI "
                                           "loads them."),
) -> None:
    """Make the environment folder match smx.toml, resolving only what smx.lock does not pin.

    What smx.lock pins and smx.toml still asks for is installed as pinned; new or changed
    entries are resolved and recorded, each as soon as its step completed (an interrupted sync
    resumes where it stopped). --frozen installs exactly smx.lock (commits, pip freeze, model
    SHA-256s) and refuses, naming every difference, when smx.toml and smx.lock disagree. With
    nothing to do it is offline and spawns nothing. After a change to a web UI's venv or
    extensions, the web UI's own loader runs headless; what does not load is rolled back
    (exit 5) unless --keep-broken.

    Example: smx sync --dry-run
    """
    from smx.apply import apply
    from smx.cli.state import locked_env, open_env, out
    from smx.steps import SyncOptions
    from smx.sync import sync as run_sync

    output = out(ctx, json_out)
    options = SyncOptions(frozen=frozen, dry_run=dry_run, keep_broken=keep_broken,
                          areas={"package", "extension"} if no_models else None,
                          allow_unsafe=allow_unsafe)
    if dry_run:
        result = run_sync(open_env(ctx), options, output.reporter())
    else:
        with locked_env(ctx) as env:
            # nothing to edit; each completed step is kept, so a rerun resumes
            result = apply(env, None, options, output.reporter(), atomic=False)
    steps = result.planned if dry_run else result.done
    if not dry_run:
        from smx.cli.check_cmd import render_checks

        render_checks(output, result)
    if output.json_mode:
        output.emit_json("sync", {
            "dry_run": dry_run,
            "frozen": frozen,
            "steps": [{"area": s.area, "target": s.target, "action": s.action,
                       "detail": s.detail} for s in steps],
        })
        return
    if not steps:
        output.success("nothing to do: the environment matches smx.toml")
        return
    if dry_run:
        output.print(f"{count(len(steps), 'step')} would run:")
        for step in steps:
            output.print(f"  {step.describe()}", markup=False)
    else:
        output.success(f"{count(len(steps), 'step')} done")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
