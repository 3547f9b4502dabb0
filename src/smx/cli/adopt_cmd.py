"""`smx init --adopt PATH`: render the adoption of a Stability Matrix library."""

from __future__ import annotations

from pathlib import Path

import typer

from smx.words import count, human_bytes


def run_adopt(ctx: typer.Context, path: Path, json_out: bool, directory: Path) -> None:
    from smx.adopt import adopt, library_root
    from smx.cli.state import out
    from smx.environment.layout import EnvLayout
    from smx.environment.process_lock import env_lock

    output = out(ctx, json_out)
    root = library_root(path)
    if directory != Path(".") and directory.resolve() != root:
        from smx.errors import UsageError

        raise UsageError(f"--adopt makes {root} the environment in place; it cannot create one "
                         f"in {directory}",
                         hint=f"run `smx init --adopt {path}` without a FOLDER")
    layout = EnvLayout(root)
    layout.state.mkdir(parents=True, exist_ok=True)
    with env_lock(layout.process_lock, on_wait=output.info):
        result = adopt(root, output.reporter())
    if output.json_mode:
        output.emit_json("init", {"root": str(root), "created": result.created,
                                  "adopted": result.to_json()})
        return
    for warning in result.warnings:
        output.warn(warning)
    for pkg in result.packages:
        exts = f", {count(len(pkg.extensions), 'extension')}" if pkg.extensions else ""
        venv = f", venv Python {pkg.python}" if pkg.python else ", no venv"
        output.success(f"package {pkg.name}: {pkg.source} at {pkg.ref or pkg.commit[:12]} "
                       f"({pkg.commit[:12]}{venv}{exts})")
    by_source = {"civitai": 0, "local": 0}
    for model in result.models:
        by_source["civitai" if model.source.startswith("civitai:") else "local"] += 1
    if result.models:
        size = sum(m.size for m in result.models)
        output.success(f"{count(len(result.models), 'model')}, {human_bytes(size)}: "
                       f"{by_source['civitai']} from Civitai, {by_source['local']} local-only")
    if result.already:
        output.info(f"already in smx.toml: {', '.join(result.already)}")
    for item in result.skipped:
        output.info(f"not adopted: {item.path}: {item.reason}")
    what = "created" if result.created else "updated"
    output.success(f"{what} {root / 'smx.toml'} and smx.lock; nothing was copied or downloaded")
    if result.packages:
        output.info(f"next: cd {root} && smx launch {result.packages[0].name}")
