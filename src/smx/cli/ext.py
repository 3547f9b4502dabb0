"""`smx ext add/list/update/remove/enable/disable`: extensions and custom nodes of a package.

Each mutating command is "edit ``[packages.P.extensions]`` in smx.toml, then sync that entry"
(smx.extensions.manage), all or nothing, under the environment's process lock.
"""

from __future__ import annotations

from pathlib import Path

import typer

from smx.cli.check_cmd import render_checks
from smx.cli.complete import complete_ext_source, complete_extension, complete_package

ext_app = typer.Typer(help="Extensions (A1111/Forge) and custom nodes (ComfyUI) of a web UI: "
                           "add, list, update, remove, enable, disable.\n\n"
                           "Example: smx ext add animatediff --package a1111",
                      no_args_is_help=True)

_PACKAGE_HELP = "The package (name in smx.toml); may be left out when the env has one."


@ext_app.command("add")
def add(
    ctx: typer.Context,
    source: str | None = typer.Argument(
        None, autocompletion=complete_ext_source,
        help="A git URL; a known name: animatediff, controlnet, deforum (resolved for the "
             "package's kind); or a Comfy Registry id, ID[@VERSION] (ComfyUI)."),
    package: str | None = typer.Option(None, "--package", "-p", help=_PACKAGE_HELP,
                                       autocompletion=complete_package),
    ref: str | None = typer.Option(None, "--ref", help="Tag, branch or commit (default: the "
                                   "repository's default branch, pinned in smx.lock)."),
    name: str | None = typer.Option(None, "--name", help="Its name in smx.toml (default: the "
                                    "known name, or the repository's name)."),
    allow_unsafe_pickle: bool = typer.Option(
        False, "--allow-unsafe-pickle",
        help="Also set unsafe-pickle-ok = true under launch in smx.toml: smx launch then "
             "passes the web UI's "
             "--disable-safe-unpickle (needed by SDXL motion modules such as "
             "mm_sdxl_v10_beta.ckpt)."),
    allow_pin_change: bool = typer.Option(
        False, "--allow-pin-change", help="Let it change the web UI's own pinned packages "
        "(numpy, its requirements' == pins); torch always stays. Saved in smx.toml."),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Keep it even if it does "
                                     "not load in the web UI (the command still exits 5)."),
    from_workflow: Path | None = typer.Option(
        None, "--from-workflow", metavar="FILE", exists=True, dir_okay=False,
        help="ComfyUI: add the node packs a workflow needs (UI or API JSON, or a PNG/WebP "
             "ComfyUI saved), found through the Comfy Registry; lists the models it names "
             "that the store lacks."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --from-workflow: add without "
                             "asking."),
    json_out: bool = typer.Option(False, "--json", help="With --from-workflow: print the plan "
                                  "(and what was added) as JSON."),
) -> None:
    """Add an extension to a web UI, pinned, with its requirements installed.

    Clones it into the package's extension folder (A1111/Forge extensions/, ComfyUI
    custom_nodes/), pins the commit in smx.lock, installs its Python requirements into the
    package's venv the way the web UI does (install.py; ComfyUI: requirements.txt then
    install.py), and points it at the shared models. Requirements resolve as of the package's
    date and cannot move the web UI's own pins. Then the web UI's loader runs headless: if the
    extension does not load, everything is rolled back (exit 5). All or nothing.

    A Comfy Registry id installs that node pack's repository at the commit of the version
    (newest active unless @VERSION), or the version's archive when the Registry ties it to
    no commit.

    Example: smx ext add animatediff --package a1111

    Example: smx ext add https://github.com/Mikubill/sd-webui-controlnet --ref 56cec5b

    Example: smx ext add comfyui-animatediff-evolved@1.5.7 --package comfyui

    Example: smx ext add --from-workflow animation.json --yes
    """
    from smx.catalog.extensions import KNOWN_EXTENSIONS
    from smx.cli.state import locked_env, out
    from smx.errors import UsageError
    from smx.extensions import manage
    from smx.extensions.targets import looks_like_git_url
    from smx.packages.runner import show_path
    from smx.redact import redact

    if from_workflow is not None:
        if source is not None or ref is not None or name is not None:
            raise UsageError("--from-workflow adds what the workflow needs; give no SOURCE, "
                             "--ref or --name with it", hint="smx ext add --from-workflow FILE")
        from smx.cli.ext_workflow import add_from_workflow

        add_from_workflow(ctx, from_workflow, package, yes=yes, json_out=json_out)
        return
    if source is None:
        raise UsageError("smx ext add needs a SOURCE (git URL, known name or Comfy Registry "
                         "id) or --from-workflow FILE",
                         hint="smx ext add comfyui-animatediff-evolved --package comfyui")
    if json_out or yes:
        raise UsageError("--json and --yes go with --from-workflow",
                         hint="smx ext add --from-workflow FILE --yes --json")
    output = out(ctx)
    is_url = looks_like_git_url(source)
    from smx.cli.ext_registry import add_registry, registry_ref

    wanted = None if is_url or source in KNOWN_EXTENSIONS else registry_ref(source)
    if wanted is not None:
        if ref is not None:
            raise UsageError("a Comfy Registry pack takes a version, not --ref",
                             hint=f"smx ext add {wanted[0]}@1.2.3")
        add_registry(ctx, wanted[0], wanted[1], package=package, name=name,
                     allow_unsafe_pickle=allow_unsafe_pickle,
                     allow_pin_change=allow_pin_change, keep_broken=keep_broken)
        return
    if not is_url and source not in KNOWN_EXTENSIONS:
        raise UsageError(f"{source!r} is neither a git URL, a known extension nor a Comfy "
                         "Registry id", hint=f"known: {', '.join(KNOWN_EXTENSIONS)}; or give "
                         "the repository URL (https://github.com/OWNER/REPO)",
                         code="extension.unknown")
    key = name or manage.default_key(source, is_url=is_url)
    manage.check_name(key)
    with locked_env(ctx) as env:
        pkg = manage.package_of(env, package)
        target = manage.git_target(env, pkg, source, is_url=is_url, ref=ref, key=key)
        if target.builtin:
            note = target.variant.note if target.variant else ""
            output.success(f"nothing to add: {note or 'it is built into ' + pkg.name}")
            return
        assert target.git_url is not None
        output.warn(f"{redact(target.git_url)} is third-party code: it runs with your user's "
                    "rights (its install script now, and inside the web UI)")
        result = manage.add(env, output.reporter(), pkg.name, key,
                            {"git": target.git_url, "ref": ref,
                             "allow-pin-change": True if allow_pin_change else None},
                            allow_unsafe_pickle=allow_unsafe_pickle, keep_broken=keep_broken)
        locked = env.lock.packages[pkg.name].extensions[key]
        where = show_path(target.enabled_dir(env.layout))
    output.success(f"added {key} to {pkg.name}: {where} @ {locked.commit[:12]}")
    render_checks(output, result)
    if allow_unsafe_pickle:
        flag = target.catalog.unsafe_pickle_flag
        output.warn(f"[launch] unsafe-pickle-ok = true: smx launch passes {flag} and "
                    f"{target.catalog.title} loads pickle files without its own check"
                    if flag else f"{target.catalog.title} has no pickle check to turn off")


@ext_app.command("list")
def list_extensions(
    ctx: typer.Context,
    package: str | None = typer.Option(None, "--package", "-p", help="Only this package.",
                                       autocompletion=complete_package),
    check: bool = typer.Option(False, "--check", help="Ask each remote whether its ref moved "
                               "(git ls-remote; the only option that uses the network)."),
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the extensions of the environment's packages.

    Name, package, repository, commit, enabled, state; with --check, whether an update is
    available.

    Example: smx ext list --check
    """
    from smx.cli.state import open_env, out
    from smx.extensions.listing import rows
    from smx.extensions.manage import package_of
    from smx.redact import short_url

    output = out(ctx, json_out)
    env = open_env(ctx)
    if package is not None:
        package_of(env, package)
    found = rows(env, package=package, check=check)
    if output.json_mode:
        output.emit_json("ext list", {"extensions": found})
        return
    if not found:
        output.print("no extensions yet; add one with: smx ext add animatediff")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    columns = ["name", "package", "repository", "commit", "enabled", "state"]
    if check:
        columns.append("update")
    for column in columns:
        table.add_column(column)
    for r in found:
        source = f"registry {r['registry']} {r['version'] or ''}".rstrip() if r["registry"] \
            else short_url(r["git"]) if r["git"] else "(built in)"
        pin = r["commit"] or (f"sha256:{r['archive_sha256']}" if r["archive_sha256"] else "-")
        cells = [r["name"], r["package"], source, pin[:12], "yes" if r["enabled"] else "no",
                 r["state"]]
        if check:
            avail = r["update_available"]
            newer = r.get("remote_version") or (r["remote_commit"] or "")[:12]
            cells.append("-" if avail is None else f"yes ({newer})" if avail else "no")
        table.add_row(*cells)
    output.table(table)


@ext_app.command("update")
def update(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Extension name (default: all).",
                                      autocompletion=complete_extension),
    package: str | None = typer.Option(None, "--package", "-p", help=_PACKAGE_HELP,
                                       autocompletion=complete_package),
    ref: str | None = typer.Option(None, "--ref", help="Move to this tag, branch or commit "
                                   "(written to smx.toml)."),
    allow_pin_change: bool = typer.Option(
        False, "--allow-pin-change", help="Let it change the web UI's own pinned packages "
        "(torch always stays). Saved in smx.toml."),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Keep the update even if "
                                     "it does not load (the command still exits 5)."),
) -> None:
    """Update extensions to what their ref names now, or one of them to --ref.

    Requirements run again, then the load check; a failure (or an extension that stops
    loading) puts the previous commits and venv back.

    Example: smx ext update animatediff --ref v2.0.1
    """
    from smx.cli.state import locked_env, out
    from smx.errors import UsageError
    from smx.extensions import manage

    output = out(ctx)
    if ref is not None and name is None:
        raise UsageError("--ref needs an extension name", hint="smx ext update NAME --ref REF")
    with locked_env(ctx) as env:
        pairs = manage.entries(env, name, package)
        if not pairs:
            output.success("no extensions to update")
            return
        if ref is not None and env.manifest.packages[pairs[0][0]].extensions[
                pairs[0][1]].registry:
            raise UsageError(f"{name} comes from the Comfy Registry: it takes a version, not a "
                             "ref", hint=f"set version = \"1.2.3\" in its smx.toml entry, or "
                                         f"run `smx ext update {name}` for the newest",
                             code="registry.ref_not_version")
        before = {p: manage.locked_commit(env, *p) for p in pairs}
        result = manage.update(env, output.reporter(), pairs, ref=ref,
                               allow_pin_change=allow_pin_change, keep_broken=keep_broken)
        for pname, ename in pairs:
            after = manage.locked_commit(env, pname, ename)
            old = before[(pname, ename)]
            if after is None:
                continue
            if old != after:
                output.success(f"updated {ename} ({pname}): {(old or '-')[:12]} -> "
                               f"{after[:12]}")
            else:
                output.success(f"{ename} ({pname}) is up to date ({after[:12]})")
    render_checks(output, result)


@ext_app.command("remove")
def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Extension name in smx.toml.",
                               autocompletion=complete_extension),
    package: str | None = typer.Option(None, "--package", "-p", help=_PACKAGE_HELP,
                                       autocompletion=complete_package),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove an extension: its folder, its smx.toml entry and its lock entry.

    Python packages it installed stay in the package's venv; models in Data/Models are never
    touched.

    Example: smx ext remove deforum --yes
    """
    from smx.cli.confirm import confirmed
    from smx.cli.state import locked_env, out
    from smx.extensions import manage

    output = out(ctx)
    with locked_env(ctx) as env:
        (pname, ename), = manage.entries(env, name, package, allow_locked=True)
        if not confirmed(output, yes=yes, what=f"removing {ename} deletes its folder in {pname}",
                         question=f"Delete the extension {ename} of {pname}?",
                         retry=f"smx ext remove {ename} --yes"):
            return
        manage.remove(env, output.reporter(), (pname, ename))
    output.success(f"removed {ename} from {pname} (Python packages it installed stay in the "
                   "venv)")


@ext_app.command("enable")
def enable(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Extension name in smx.toml.",
                               autocompletion=complete_extension),
    package: str | None = typer.Option(None, "--package", "-p", help=_PACKAGE_HELP,
                                       autocompletion=complete_package),
    keep_broken: bool = typer.Option(False, "--keep-broken", help="Keep it enabled even if "
                                     "it does not load (the command still exits 5)."),
) -> None:
    """Let the web UI load a disabled extension again.

    A1111/Forge: removed from config.json disabled_extensions; ComfyUI: the .disabled suffix
    is taken off its folder.

    Then the web UI's loader runs headless; if it does not load, it is disabled again
    (exit 5).

    Example: smx ext enable deforum
    """
    _toggle(ctx, name, package, True, keep_broken)


@ext_app.command("disable")
def disable(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Extension name in smx.toml.",
                               autocompletion=complete_extension),
    package: str | None = typer.Option(None, "--package", "-p", help=_PACKAGE_HELP,
                                       autocompletion=complete_package),
) -> None:
    """Keep an extension installed but have the web UI skip it.

    The web UI's own way: A1111/Forge list it in config.json disabled_extensions; ComfyUI
    skips folders named NAME.disabled.

    Example: smx ext disable deforum
    """
    _toggle(ctx, name, package, False)


def _toggle(ctx: typer.Context, name: str, package: str | None, enabled: bool,
            keep_broken: bool = False) -> None:
    from smx.cli.state import locked_env, out
    from smx.extensions import manage

    output = out(ctx)
    with locked_env(ctx) as env:
        (pname, ename), = manage.entries(env, name, package)
        result = manage.set_enabled(env, output.reporter(), (pname, ename), enabled,
                                    keep_broken=keep_broken)
    output.success(f"{ename} is {'enabled' if enabled else 'disabled'} in {pname}")
    render_checks(output, result)


def register(app: typer.Typer) -> None:
    app.add_typer(ext_app, name="ext")
