"""`smx launch`: start a web UI with its flags and the shared model folders."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

from smx.cli.complete import complete_package

_EXTRA = "smx.launch.extra"


class _LaunchCommand(TyperCommand):
    """Everything after ``--`` goes to the web UI untouched (click would otherwise take the
    first of those words as PACKAGE)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_EXTRA] = list(args[cut + 1:])
            args = args[:cut]
        return super().parse_args(ctx, args)


def _port(value: int | None) -> int | None:
    # checked here rather than with min/max, which would print a wide "[1<=x<=65535]" column
    # in --help and squeeze the option names at 80 columns
    if value is not None and not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port (1-65535)")
    return value


def launch(
    ctx: typer.Context,
    package: str | None = typer.Argument(
        None, metavar="PACKAGE", autocompletion=complete_package,
        help="Package name in smx.toml (default: launch.package in smx.toml, or the "
             "only package)."),
    share: bool = typer.Option(False, "--share",
                               help="Public gradio link (A1111, Forge, Fooocus)."),
    listen: bool = typer.Option(False, "--listen",
                                help="Answer on every network interface, not only this machine."),
    port: int | None = typer.Option(None, "--port", metavar="N", callback=_port,
                                    help="Port to serve on (1-65535)."),
    api: bool = typer.Option(False, "--api", help="Serve the UI's HTTP API too."),
    allow_extension_install: bool = typer.Option(
        False, "--allow-extension-install",
        help="A1111/Forge: while shared, still allow installing extensions from the UI "
             "(the web UI's insecure extension access flag)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Check and show what would run; start nothing."),
    json_out: bool = typer.Option(False, "--json", help="With --dry-run: the plan as JSON."),
    background: bool = typer.Option(
        False, "--background", "-b",
        help="Start it detached (log in Data/Logs/NAME.log) and return; see `smx ps`, "
             "`smx logs`, `smx stop`."),
    wait: bool = typer.Option(False, "--wait", help="With --background: return once its HTTP "
                              "endpoint answers (an error if it exits first)."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, metavar="SECONDS",
                                  help="With --wait: how long to wait for the endpoint."),
) -> None:
    """Start a web UI with its flags and the shared model folders.

    Checks first: installed at the locked commit, venv runs, models present, port free.
    Then prints the exact command and becomes the web UI (same process, same exit code).
    Arguments after -- go to the web UI untouched.

    With --background it runs detached instead, as a service: `smx ps` lists it, `smx logs`
    shows its output, `smx stop` ends it.

    Example: smx launch a1111 --share

    Example: smx launch comfyui -- --preview-method auto

    Example: smx launch comfyui --background --wait
    """
    from smx.cli.state import open_env, out
    from smx.errors import UsageError
    from smx.launch.argv import LaunchRequest, build_plan
    from smx.launch.preflight import run_preflight

    output = out(ctx, json_mode=json_out)
    if wait and not background:
        raise UsageError("--wait goes with --background",
                         hint="smx launch --background --wait", code="launch.wait_needs_background")
    if json_out and not dry_run:
        raise UsageError("--json describes a launch without starting it",
                         hint="add --dry-run: smx launch --dry-run --json",
                         code="launch.json_needs_dry_run")
    request = LaunchRequest(package=package, share=share, listen=listen, port=port, api=api,
                            allow_extension_install=allow_extension_install,
                            extra=tuple(ctx.meta.get(_EXTRA, ())))
    env = open_env(ctx)
    plan = build_plan(env, request)
    if background:  # before the port check: "already running" says more than "port busy"
        from smx.launch.background import refuse_if_running

        refuse_if_running(env.layout, plan.name)
    checks = run_preflight(env, plan)

    if json_out:
        from smx.launch.report import plan_json

        output.emit_json("launch", plan_json(env, plan, checks))
        return
    for warning in plan.warnings:
        output.warn(warning)
    for note in plan.notes:
        output.detail(note)
    if dry_run:
        for check in checks:
            output.detail(f"ok {check.name}: {check.detail}")
        for generated in plan.files:
            state = "would write" if generated.changed else "up to date:"
            output.info(f"{state} {env.layout.relative(generated.path)} ({generated.what})")
        output.info(f"in {plan.cwd}:")
        output.print(plan.command(), markup=False, emoji=False)
        return

    if background:
        from smx.cli.service import start_background

        start_background(output, env, plan, wait=wait, timeout=timeout)
        return
    from smx.launch.execute import prepare, start

    prepare(plan)
    output.info(f"starting {plan.name} in {env.layout.relative(plan.cwd)} ({plan.url}):")
    output.info(f"$ {plan.command()}")
    raise typer.Exit(start(plan))  # the web UI's own exit code, passed on


def register(app: typer.Typer) -> None:
    app.command("launch", cls=_LaunchCommand)(launch)
