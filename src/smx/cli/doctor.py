"""`smx doctor`: what this machine has, what smx will install on it, and what blocks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.environment.manifest import Manifest
    from smx.system.doctor import DoctorReport

_MARK = {"ok": "✓", "info": "·", "warn": "!", "fail": "✗"}
_STYLE = {"ok": "green", "info": "dim", "warn": "yellow", "fail": "bold red"}


def doctor(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="One JSON document (docs/json/doctor.md)."),
    online: bool = typer.Option(False, "--online",
                                help="Also check that GitHub, Civitai and Hugging Face answer "
                                "(HF_ENDPOINT, SMX_CIVITAI_ENDPOINT, [sources])."),
) -> None:
    """Check GPUs, drivers, disk, git and Python, and show the torch build and launch flags
    smx picks for each package. Exit 1 when something blocks, 0 otherwise.

    Works inside an environment (its packages, its [torch] settings, its disk) or anywhere
    (every catalog package, the current folder's disk). No network unless --online.

    Example: smx doctor --json | jq '.data.packages[].torch.index_url'
    """
    from smx.cli.state import out
    from smx.errors import CheckFailed
    from smx.system.disk import probe_from_environment
    from smx.system.doctor import DoctorInput, run_doctor

    output = out(ctx, json_mode=json_out)
    root, manifest, problem = _find_env(ctx)
    from contextlib import nullcontext

    # probing interpreters (and endpoints with --online) can take seconds: a spinner on a
    # terminal; nothing in logs and pipes, where the report follows at once
    busy = (output.reporter().task("checking GPUs, Python interpreters, disk"
                                   + (" and endpoints" if online else ""))
            if output.interactive else nullcontext())
    with busy:
        report = run_doctor(DoctorInput(cwd=Path.cwd(), env_root=root, manifest=manifest,
                                        env_problem=problem,
                                        disk_probe=probe_from_environment(), online=online))
    blocked = CheckFailed("smx doctor found a blocker", code="doctor.blocked",
                          reported=True) if report.blocked else None
    if json_out:
        from smx.cli.doctor_json import report_to_json

        errors = [{"code": f"doctor.{c.id}", "message": c.summary}
                  for c in report.checks if c.status == "fail"]
        output.emit_json("doctor", report_to_json(report),
                         exit_code=blocked.exit_code if blocked else 0, errors=errors)
    else:
        _render(output, report)
    if blocked is not None:
        raise blocked


def _find_env(ctx: typer.Context) -> tuple[Path | None, Manifest | None, str | None]:
    """The environment, if there is one. An explicit --env/SMX_ENV that is wrong is an error;
    no smx.toml upwards is fine; a broken smx.toml becomes a failing check, not a crash."""
    import os

    from smx.cli.state import state
    from smx.environment.discovery import find_env_root
    from smx.errors import ConfigError, EnvNotFound

    explicit = state(ctx).env_path
    try:
        root = find_env_root(explicit=explicit)
    except EnvNotFound:
        if explicit is not None or os.environ.get("SMX_ENV"):
            raise
        return None, None, None
    from smx.environment import manifest as manifest_mod
    from smx.environment.layout import EnvLayout

    try:
        manifest = manifest_mod.load(EnvLayout(root).manifest)
    except ConfigError as exc:
        return root, None, exc.message
    return root, manifest, None


def _render(output: Output, report: DoctorReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    from smx.words import human_bytes

    checks = Table(title="smx doctor", show_header=True, header_style="bold", expand=False)
    checks.add_column("", width=1)
    checks.add_column("check")
    checks.add_column("result")
    for check in report.checks:
        result = escape(check.summary)
        if check.hint and check.status in ("warn", "fail"):
            result += f"\n[dim]→ {escape(check.hint)}[/dim]"
        style = _STYLE[check.status]
        checks.add_row(f"[{style}]{_MARK[check.status]}[/{style}]", escape(check.id), result)
    output.table(checks)

    if report.gpus.gpus:
        gpus = Table(title="GPUs", header_style="bold")
        for column in ("#", "GPU", "VRAM", "free", "compute cap.", "seen by"):
            gpus.add_column(column)
        for g in report.gpus.gpus:
            gpus.add_row(str(g.index), escape(g.name), _gib(g.vram_total), _gib(g.vram_free),
                         g.compute_capability_text or "-", g.source)
        output.table(gpus)

    plan = Table(title="What smx will use", header_style="bold")
    for column in ("package", "torch build", "wheel index", "launch flags", "python"):
        plan.add_column(column, overflow="fold")
    for pkg in report.packages:
        if pkg.torch is None:
            plan.add_row(escape(pkg.name), "[red]-[/red]", escape(pkg.problem or ""), "-", "-")
            continue
        flags = " ".join(pkg.launch.flags) if pkg.launch and pkg.launch.flags else "-"
        python = f"{pkg.python.version}" if pkg.python else "[red]none[/red]"
        plan.add_row(escape(pkg.name), escape(pkg.torch.backend_key),
                     escape(_short_index(pkg.torch.index_url)), escape(flags), python)
    output.table(plan)
    # why each choice: one line per distinct reason (four web UIs, one CPU: one line)
    reasons: dict[str, list[str]] = {}
    for pkg in report.packages:
        if pkg.torch is not None:
            why = pkg.torch.reason + (f"; {pkg.launch.reason}" if pkg.launch else "")
            reasons.setdefault(why, []).append(pkg.name)
    for why, names in reasons.items():
        output.print(f"[dim]{escape(', '.join(names))}: {escape(why)}[/dim]")

    failing = [c for c in report.checks if c.status == "fail"]
    if failing:
        output.error(f"{len(failing)} problem{'s' if len(failing) > 1 else ''} block smx: "
                     + ", ".join(c.id for c in failing))
    else:
        output.success(f"nothing blocks smx here (disk: {human_bytes(report.disk.free_bytes)} "
                       "free)")


def _short_index(url: str | None) -> str:
    if url is None:
        return "PyPI / pip config"
    from smx.redact import redact

    return redact(url).removeprefix("https://").removeprefix("download.pytorch.org/whl/")


def _gib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024**3:.1f} GiB"


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
