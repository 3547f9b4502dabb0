"""`smx ps`, `smx stop`, `smx logs`: web UIs started with `smx launch --background`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from smx.cli.complete import complete_package

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.environment.env import Env
    from smx.launch.argv import LaunchPlan
    from smx.launch.background import RunState


def start_background(output: Output, env: Env, plan: LaunchPlan, *, wait: bool,
                     timeout: float) -> None:
    """The `smx launch --background [--wait]` part: start, maybe wait, say where it is."""
    from smx.launch import background

    record = background.start(env, plan)
    output.info(f"started {plan.name} in the background (pid {record.pid}); log: "
                f"{record.log}")
    output.detail(f"$ {record.command}")
    if wait:
        with output.reporter().task(f"waiting for {record.health_url}") as task:
            background.wait_until_up(env.layout, record, timeout,
                                     tick=lambda s: task.update(
                                         description=f"waiting for {record.health_url} "
                                                     f"({s:.0f} s)"))
        output.success(f"{plan.name} is up: {record.url}")
    else:
        output.success(f"{plan.name} is starting: {record.url} (`smx ps` says when it "
                       "answers)")
    output.print(record.url, markup=False)


def ps(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the web UIs running in the background from this environment.

    Name, PID, port, URL, uptime and health (its HTTP endpoint answering); one that crashed
    stays listed, with its exit code, until `smx stop NAME` or the next launch.

    Example: smx ps
    """
    from smx.cli.state import open_env, out
    from smx.launch import background

    output = out(ctx, json_out)
    env = open_env(ctx)
    states = [s for s in (background.state_of(env.layout, name)
                          for name in background.records(env.layout)) if s is not None]
    if output.json_mode:
        output.emit_json("ps", {"runs": [_row(s) for s in states]})
        return
    if not states:
        output.print("nothing runs in the background; start one with: smx launch --background")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "pid", "port", "url", "uptime", "health"):
        table.add_column(column)
    for s in states:
        health = s.health if s.running else background.describe_exit(s)
        table.add_row(s.record.name, str(s.ui_pid or s.record.pid), str(s.record.port),
                      s.record.url, _duration(s.uptime) if s.running else "-", health)
    output.table(table)
    for s in states:
        if s.health == "crashed":
            output.warn(f"{s.record.name} crashed (exit {s.exit_code}): `smx logs "
                        f"{s.record.name}` shows why")


def stop(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Package name (default: every one running "
                                      "from this environment).",
                                      autocompletion=complete_package),
    grace: float = typer.Option(10.0, "--grace", min=0, metavar="SECONDS",
                                help="How long to wait after TERM before KILL."),
) -> None:
    """Stop a web UI started with `smx launch --background`.

    Sends TERM to it (and to what it started), then KILL if it is still there after the grace
    period.

    Example: smx stop comfyui
    """
    from smx.cli.state import open_env, out
    from smx.launch import background

    output = out(ctx)
    env = open_env(ctx)
    names = background.check_name(env, name)
    if not names:
        output.success("nothing runs in the background")
        return
    for run in names:
        done = background.stop(env.layout, run, grace=grace)
        if done.how == "killed":
            output.warn(f"{run} did not end within {grace:.0f} s of TERM: killed")
        else:
            output.success(f"{run} {done.how}")


def logs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Package name.", autocompletion=complete_package),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing what it writes "
                                "until it ends (Ctrl-C to stop watching)."),
    lines: int | None = typer.Option(None, "--lines", "-n", min=0,
                                     help="Only the last N lines."),
) -> None:
    """Show the log of a web UI started with `smx launch --background` (Data/Logs/NAME.log).

    Example: smx logs comfyui -f
    """
    import sys

    from smx.cli.state import open_env
    from smx.launch import background

    env = open_env(ctx)
    if name not in env.manifest.packages:
        background.check_name(env, name)  # says "no package …"
    if not follow:
        sys.stdout.write(background.read_log(env.layout, name, lines=lines))
        return
    try:
        for text in background.follow_log(env.layout, name, lines=lines):
            sys.stdout.write(text)
            sys.stdout.flush()
    except KeyboardInterrupt:  # how one stops following: nothing to report
        from smx.errors import Interrupted

        raise Interrupted("stopped following the log", reported=True) from None


def _row(s: RunState) -> dict[str, Any]:
    return {"name": s.record.name, "pid": s.record.pid, "ui_pid": s.ui_pid,
            "port": s.record.port, "url": s.record.url, "health_url": s.record.health_url,
            "state": s.state, "health": s.health, "exit_code": s.exit_code,
            "uptime_s": round(s.uptime, 1), "started": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(s.record.started)), "log": s.record.log}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def register(app: typer.Typer) -> None:
    app.command("ps")(ps)
    app.command("stop")(stop)
    app.command("logs")(logs)
