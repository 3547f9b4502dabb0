"""`smx check`: start each web UI's own loader headless and say what does not load; and how
every mutating command renders the load checks its sync ran."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from smx.cli.complete import complete_package
from smx.words import count

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.environment.env import Env
    from smx.packages.loadcheck import LoadReport
    from smx.sync import SyncResult


def check(
    ctx: typer.Context,
    package: str | None = typer.Argument(None, help="Package name in smx.toml (default: all "
                                         "installed ones).", autocompletion=complete_package),
    json_out: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
) -> None:
    """Check that the installed web UIs and their extensions load.

    Runs each web UI's own loader without a server, a model or the network (A1111/Forge: the
    extension script loader and the UI; ComfyUI: --quick-test-for-ci, which imports every
    custom node; Fooocus: its imports) and reports what failed, per extension. The same check
    runs after every install, update, `ext add` and sync that changed a venv.

    Exit code: 0 when everything loads, 5 when something does not.

    Example: smx check a1111 --json
    """
    from smx.catalog.packages import get_package
    from smx.cli.state import open_env, out
    from smx.errors import NotFound
    from smx.packages import loadcheck
    from smx.packages.loadcheck import LoadCheckFailed
    from smx.packages.marker import is_installed
    from smx.packages.resolver import package_environ

    output = out(ctx, json_out)
    env = open_env(ctx)
    names = [package] if package else [n for n in env.manifest.packages
                                       if is_installed(env.layout, env.lock.packages.get(n))]
    if package is not None:
        spec = env.manifest.packages.get(package)
        if spec is None or not is_installed(env.layout, env.lock.packages.get(package)):
            raise NotFound(f"{package!r} is not an installed package of this environment",
                           hint=f"install it with `smx install {package}`, or see `smx list`",
                           code="check.not_installed")
    reports: list[LoadReport] = []
    for name in names:
        spec = env.manifest.packages[name]
        locked = env.lock.packages[name]
        reports.append(loadcheck.run(env, name, get_package(spec.source),
                                     reporter=output.reporter(),
                                     environ=package_environ(env, name),
                                     backend=locked.backend))
    failed = [r for r in reports if not r.ok]
    verdict = LoadCheckFailed(f"{count(len(failed), 'package')} of {len(reports)} do not load",
                              reported=True) if failed else None
    if output.json_mode:
        errors = [{"code": LoadCheckFailed.code,
                   "message": f"{r.package} does not load: "
                              + "; ".join(p.describe(_names(env, r.package))
                                          for p in r.problems),
                   "hint": f"the web UI's own output: {_rel(env, r.log)}"} for r in failed]
        output.emit_json("check", {"packages": [_json(env, r) for r in reports]},
                         exit_code=verdict.exit_code if verdict else 0, errors=errors)
        if verdict is not None:
            raise verdict
        return
    if not reports:
        output.print("no installed packages to check; install one with: smx install comfyui")
        return
    for report in reports:
        if report.ok:
            output.success(f"{report.package} loads"
                           + (f" with {count(len(report.folders), 'extension')}"
                              if report.folders
                              else "") + f" ({report.loader}, {report.seconds:.0f} s)")
            continue
        output.error(f"{report.package} does not load:")
        for problem in report.problems:
            output.print(f"  {problem.describe(_names(env, report.package))}", markup=False)
        output.info(f"the web UI's own output: {_rel(env, report.log)}")
    if verdict is not None:
        raise verdict


def _json(env: Env, report: LoadReport) -> dict[str, Any]:
    names = _names(env, report.package)
    return {
        "package": report.package,
        "loads": report.ok,
        "loader": report.loader,
        "seconds": round(report.seconds, 1),
        "log": _rel(env, report.log),
        "extensions": list(report.folders),
        "problems": [{"extension": names.get(p.folder or "", p.folder) if p.folder else None,
                      "folder": p.folder, "builtin": p.builtin, "what": p.what,
                      "error": p.error} for p in report.problems],
    }


def _names(env: Env, package: str) -> dict[str, str]:
    """Extension folder -> its name in smx.toml."""
    from smx.extensions.targets import folder_names

    spec = env.manifest.packages.get(package)
    return folder_names(spec) if spec is not None else {}


def _rel(env: Env, path: Any) -> str:
    try:
        return env.layout.relative(path)
    except ValueError:
        return str(path)


# --- for the mutating commands ----------------------------------------------------------------
def render_checks(output: Output, result: SyncResult | None) -> None:
    """After a command's sync: say what loaded; a change kept with --keep-broken fails the
    command (exit 5) once smx.toml and smx.lock record it."""
    from smx.packages.loadcheck import LoadCheckFailed

    if result is None or result.checks is None:
        return
    for report in result.checks.passed:
        extra = (f" with {count(len(report.folders), 'extension')}" if report.folders
                 else "")
        output.info(f"{report.package} loads{extra} (checked: {report.loader}, "
                    f"{report.seconds:.0f} s)")
    kept = result.checks.kept_broken
    if kept:
        report = kept[0]
        raise LoadCheckFailed(
            f"{report.package} does not load, and the change was kept (--keep-broken): "
            + "; ".join(p.describe() for p in report.problems[:4]),
            hint=f"`smx check {report.package}` runs the check again; the web UI's own output: "
                 f"{report.log}")


def register(app: typer.Typer) -> None:
    app.command("check")(check)
