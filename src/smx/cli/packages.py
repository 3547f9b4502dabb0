"""`smx install`, `smx update`, `smx remove`, `smx list`: web UI packages.

Each mutating command is "edit smx.toml, then sync that package" (smx.packages.manage), all or
nothing, under the environment's process lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from smx.cli.check_cmd import render_checks
from smx.cli.complete import complete_catalog_package, complete_package

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.environment.env import Env

_BACKENDS = ("auto", "cuda", "rocm", "cpu", "mps")


def install(
    ctx: typer.Context,
    package: str = typer.Argument(..., help="Catalog name: a1111, forge, comfyui or fooocus.",
                                  autocompletion=complete_catalog_package),
    name: str | None = typer.Option(None, "--name", help="Install under this name (folder and "
                                    "smx.toml key), e.g. a second copy: --name a1111-dev."),
    ref: str | None = typer.Option(None, "--ref", help="Tag, branch or commit SHA (default: the "
                                   "catalog's pinned release)."),
    git_url: str | None = typer.Option(None, "--git", metavar="URL",
                                       help="A fork's git URL instead of the upstream one."),
    backend: str | None = typer.Option(None, "--backend", metavar="BACKEND",
                                       help="Torch build: auto, cuda, rocm, cpu or mps "
                                       "(default: [torch] backend in smx.toml)."),
    python: str | None = typer.Option(None, "--python", metavar="VERSION|PATH",
                                      help="Base Python for the venv: 3.10, or a path."),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Record it even if the "
                                     "web UI does not load (the command still exits 5)."),
) -> None:
    """Install a web UI: clone at a pinned commit, venv, torch, requirements, its own install
    step, then a load check (its own loader, headless); then record it in smx.lock. All or
    nothing: a failure leaves smx.toml and smx.lock as they were, and running the same command
    again finishes the job.

    Requirements resolve as of the web UI's own date (its newest commit plus a week; set
    resolve-as-of in smx.toml to change it), so an old release gets the dependencies it was
    made with.

    In a folder without smx.toml this creates the environment there (like `smx init`).
    Installer: uv when available, else pip (SMX_INSTALLER=pip|uv forces one). Torch index:
    [torch] index in smx.toml or SMX_TORCH_INDEX (auto | pip | URL).

    Example: smx install comfyui --backend cpu
    """
    from smx.catalog.packages import get_package
    from smx.cli.state import locked_env, out
    from smx.environment.manifest import NAME_RE
    from smx.packages import manage

    output = out(ctx)
    catalog = get_package(package)
    key = name or package
    if not NAME_RE.match(key):
        from smx.errors import UsageError

        raise UsageError(f"invalid package name {key!r}",
                         hint="letters, digits, '.', '_' and '-' (at most 64)")
    if backend is not None and backend not in _BACKENDS:
        from smx.errors import UsageError

        raise UsageError(f"--backend {backend!r} is not one of {', '.join(_BACKENDS)}")
    _ensure_env(ctx, output)
    with locked_env(ctx) as env:
        existing = env.manifest.packages.get(key)
        if existing is not None and existing.source != package:
            from smx.errors import UsageError

            raise UsageError(f"{key!r} is already in smx.toml as a {existing.source} package",
                             hint=f"pick another name: smx install {package} --name "
                                  f"{package}-2")
        fields = {"source": package, "ref": ref, "git": git_url, "backend": backend,
                  "python": python}
        if existing is None and ref is None:
            fields["ref"] = catalog.default_ref  # pinned in smx.toml: reproducible as written
        result = manage.change(env, output.reporter(), key, fields, keep_broken=keep_broken)
        locked = env.lock.packages.get(key)
    if locked is None:  # pragma: no cover - sync raises when a step fails
        return
    where = env.layout.package_dir(key)
    render_checks(output, result)
    if result.done:
        output.success(f"installed {key} ({catalog.title}) {locked.ref or ''} @ "
                       f"{locked.commit[:12]} in {_show(where)} (Python {locked.python}, "
                       f"torch: {locked.backend})")
    else:
        output.success(f"{key} is already installed ({locked.ref or ''} @ {locked.commit[:12]})")
    output.info(f"start it with: smx launch {key}")


def update(
    ctx: typer.Context,
    package: str | None = typer.Argument(None, help="Package name in smx.toml (default: all).",
                                         autocompletion=complete_package),
    ref: str | None = typer.Option(None, "--ref", help="Move to this tag, branch or commit."),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Keep the update even if "
                                     "the web UI or an extension stops loading (exit 5)."),
) -> None:
    """Update a web UI to what its ref names now (a branch's new head), or to --ref.

    Refuses when the checkout has local edits to tracked files. Requirements are re-installed
    only when they changed; then the load check runs, and a failure (or a web UI or extension
    that stops loading) puts the previous commit and venv back.

    Example: smx update a1111 --ref v1.10.1
    """
    from smx.cli.state import locked_env, out
    from smx.errors import NotFound, UsageError
    from smx.packages import manage

    output = out(ctx)
    if ref is not None and package is None:
        raise UsageError("--ref needs a package name", hint="smx update PACKAGE --ref REF")
    with locked_env(ctx) as env:
        names = [package] if package else list(env.manifest.packages)
        if package is not None and package not in env.manifest.packages:
            raise NotFound(f"no package {package!r} in smx.toml", hint=_known(env, package))
        if not names:
            output.success("nothing to update: smx.toml lists no packages (install one with "
                           "`smx install comfyui`)")
            return
        before = {n: p.commit for n, p in env.lock.packages.items()}
        result = manage.change(env, output.reporter(), package, {"ref": ref} if ref else {},
                               upgrade=set(names), only=set(names) if package else None,
                               keep_broken=keep_broken)
        render_checks(output, result)
        for n in names:
            locked = env.lock.packages.get(n)
            if locked is None:
                continue
            if before.get(n) != locked.commit:
                old = (before.get(n) or "-")[:12]
                output.success(f"updated {n}: {old} -> {locked.commit[:12]} ({locked.ref})")
            else:
                output.success(f"{n} is up to date ({locked.ref} @ {locked.commit[:12]})")


def remove(
    ctx: typer.Context,
    package: str = typer.Argument(..., help="Package name in smx.toml.",
                                  autocompletion=complete_package),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a web UI: its checkout and venv, its smx.toml entry and its lock entry. Models
    in Data/Models are shared and never removed.

    Example: smx remove a1111-dev --yes
    """
    from smx.cli.confirm import confirmed
    from smx.cli.state import locked_env, out
    from smx.errors import NotFound
    from smx.packages import manage

    output = out(ctx)
    with locked_env(ctx) as env:
        if package not in env.manifest.packages and package not in env.lock.packages:
            raise NotFound(f"no package {package!r} in smx.toml",
                           hint=_known(env, package, install=False))
        where = env.layout.package_dir(package)
        if not confirmed(output, yes=yes, what=f"removing {package} deletes {_show(where)}",
                         question=f"Delete {_show(where)} (checkout and venv; models are "
                                  "kept)?", retry=f"smx remove {package} --yes"):
            return
        manage.change(env, output.reporter(), package, None)
    output.success(f"removed {package} ({_show(where)}); shared models in Data/Models are kept")


def list_packages(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the web UIs of this environment: ref, commit, backend, Python, size, and whether
    the checkout has local edits.

    Example: smx list --json
    """
    from smx.cli.state import open_env, out
    from smx.packages.manage import names, row

    output = out(ctx, json_out)
    env = open_env(ctx)
    if output.interactive:
        # sizing a venv that holds torch walks tens of thousands of files: say so on a terminal
        with output.err_console.status("measuring the package folders…"):
            rows = [row(env, n) for n in names(env)]
    else:
        rows = [row(env, n) for n in names(env)]
    if output.json_mode:
        output.emit_json("list", {"packages": rows})
        return
    if not rows:
        output.print("no packages yet; install one with: smx install comfyui")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "package", "ref", "commit", "backend", "python", "size", "state"):
        table.add_column(column)
    for r in rows:
        state = r["state"] + (" (local edits)" if r["dirty"] else "")
        table.add_row(r["name"], r["source"], r["ref"] or "-", (r["commit"] or "-")[:12],
                      r["backend"] or "-", r["python"] or "-", _size(r["size_bytes"]), state)
    output.table(table)


# --- helpers ----------------------------------------------------------------------------------
def _ensure_env(ctx: typer.Context, output: Output) -> None:
    """A first `smx install` in a folder without smx.toml creates the environment there."""
    import os

    from smx.cli.state import env_root, state
    from smx.environment.env import init_env
    from smx.errors import EnvNotFound

    try:
        env_root(ctx)
    except EnvNotFound:
        chosen = state(ctx).env_path or os.environ.get("SMX_ENV") or "."
        root = Path(chosen).expanduser()
        if root.name == "smx.toml":
            root = root.parent
        init_env(root)
        output.info(f"created a new environment in {_show(root.resolve())} (smx.toml, Data/)")


def _size(n: int) -> str:
    from smx.words import human_bytes

    return human_bytes(n) if n else "-"


def _known(env: Env, typed: str, *, install: bool = True) -> str:
    from smx.catalog.packages import missing_package_hint

    return missing_package_hint(typed, list(env.manifest.packages), install=install)


def _show(path: Path) -> str:
    from smx.packages.runner import show_path

    return show_path(path)


def register(app: typer.Typer) -> None:
    app.command("install")(install)
    app.command("update")(update)
    app.command("remove")(remove)
    app.command("list")(list_packages)
