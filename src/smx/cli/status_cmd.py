"""`smx status`: drift between the disk, smx.lock and smx.toml."""

from __future__ import annotations

import typer

from smx.words import count


def status(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Show where the disk, smx.lock and smx.toml disagree.

    Reports packages, extensions or models missing or extra on disk, checkouts at another
    commit or with local edits, model files of the wrong size or changed since smx checked
    them, and entries in only one of smx.toml and smx.lock. Offline and read-only; no file is
    hashed (`smx model verify` does that).

    Exit code: 0 when everything matches, 1 when drift is found.

    Example: smx status --json
    """
    from smx.cli.state import open_env, out
    from smx.errors import CheckFailed
    from smx.status import status as compute

    output = out(ctx, json_out)
    env = open_env(ctx)
    report = compute(env)
    drift = None if report.in_sync else CheckFailed(
        f"{count(len(report.issues), 'difference')} between the disk, smx.lock and smx.toml",
        hint=_hint(report), code="env.drift", reported=True)
    if output.json_mode:
        errors = [] if drift is None else [{"code": drift.code, "message": drift.message,
                                            "hint": _hint(report)}]
        output.emit_json("status", report.to_json(),
                         exit_code=drift.exit_code if drift else 0, errors=errors)
        if drift is not None:
            raise drift
        return
    counts = (f"{count(report.packages, 'package')}, "
              f"{count(report.extensions, 'extension')}, {count(report.models, 'model')}")
    if report.in_sync:
        if not env.layout.lockfile.exists():
            output.success("nothing to compare yet: smx.toml lists no packages, extensions or "
                           "models, and there is no smx.lock (the first `smx install` or "
                           "`smx sync` writes it)")
        else:
            output.success(f"in sync: {counts} match smx.lock and smx.toml")
        return
    from rich.table import Table
    from rich.text import Text

    output.print(f"{count(len(report.issues), 'difference')} ({counts} in smx.toml):")
    table = Table(box=None, pad_edge=False, show_header=True)
    for column in ("what", "name", "state", "detail"):
        table.add_column(column, overflow="fold")
    for issue in report.issues:
        name = f"{issue.name} ({issue.package})" if issue.package else issue.name
        table.add_row(issue.area, Text(name), issue.state, Text(issue.detail))
    output.table(table)
    output.info(f"hint: {_hint(report)}")
    assert drift is not None
    raise drift


def _hint(report: object) -> str:
    states = {i.state for i in report.issues}  # type: ignore[attr-defined]
    if states <= {"dirty", "extra"}:
        return ("local edits and extra files are yours: smx never deletes them; commit, move "
                "or remove them by hand")
    return "`smx sync` makes the disk match smx.toml (and records it in smx.lock)"


def register(app: typer.Typer) -> None:
    app.command("status")(status)
