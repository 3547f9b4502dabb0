"""The load check inside a sync: one check step per package whose venv or extensions the sync
changed, after that package's last step, and the rollback when what it installed does not load.

- A package step (install, update) runs the web UI's loader itself and fails when the web UI
  does not load (smx.packages.installer); its report is reused here when nothing changed after.
- Before the first change to an installed package, its state is kept (smx.packages.guard).
- The check step runs the loader; a problem of the web UI, of an extension this sync added,
  updated or enabled, or of any extension when the package itself moved, fails the sync: the
  package is put back as the guard found it, smx.lock is saved that way, exit 5. Problems of
  extensions the sync did not touch are warnings. ``--keep-broken`` keeps the change and
  reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from smx.packages import guard
from smx.packages.loadcheck import LoadProblem, LoadReport, loader_label
from smx.steps import Step, SyncContext

_CHANGES = {("package", "install"), ("package", "update"), ("extension", "install"),
            ("extension", "update"), ("extension", "enable")}


def plan(steps: list[Step], ctx: SyncContext) -> list[Step]:
    """``steps`` with a check step after each changed package's last step (and one for a
    package whose guard a killed sync left behind)."""
    options, layout = ctx.options, ctx.env.layout
    if options.areas is not None and not options.areas & {"package", "extension"}:
        return steps
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        owner = step.package or step.target
        if (step.area, step.action) in _CHANGES and owner in ctx.env.manifest.packages:
            last[owner] = index
    for name in ctx.env.manifest.packages:
        in_scope = options.only is None or name in options.only
        if name not in last and in_scope and guard.unchecked(layout, name):
            last[name] = max((i for i, s in enumerate(steps)
                              if s.area in ("package", "extension")), default=-1)
    out = list(steps)
    for name, index in sorted(last.items(), key=lambda item: item[1], reverse=True):
        from smx.catalog.packages import get_package

        catalog = get_package(ctx.env.manifest.packages[name].source)
        out.insert(index + 1, Step("package", name, "check",
                                   f"load check ({loader_label(catalog)})",
                                   run=_check(name), package=name, saves_on_failure=True))
    return out


@contextmanager
def guard_package(ctx: SyncContext, package: str) -> Iterator[None]:
    """Around a step that moves an installed package (update, refresh): keep its state until
    the check step has seen the result."""
    kept, created = _begin(ctx, package)
    if kept is None:
        yield
        return
    if not kept.package_changed:
        kept.package_changed = True
        kept.save(ctx.env.layout)
    with _dropped_on_failure(ctx, package, created):
        yield


@contextmanager
def guard_extension(ctx: SyncContext, package: str, folder: str, path: Path | None,
                    enabled: bool | None) -> Iterator[None]:
    """Around an extension step that changes ``folder`` of an installed package."""
    kept, created = _begin(ctx, package)
    if kept is None:
        yield
        return
    kept.note_folder(ctx.env.layout, folder, path, enabled)
    with _dropped_on_failure(ctx, package, created):
        yield


def _begin(ctx: SyncContext, package: str) -> tuple[guard.PackageGuard | None, bool]:
    """The package's guard (and whether this call made it); None when the package is not
    installed yet (a fresh install has no state before to go back to)."""
    from smx.packages.marker import is_installed

    env = ctx.env
    ctx.checks.changed(package)
    if not is_installed(env.layout, env.lock.packages.get(package)):
        return None, False
    created = not guard.unchecked(env.layout, package)
    return guard.begin(env, package, ctx.reporter), created


@contextmanager
def _dropped_on_failure(ctx: SyncContext, package: str, created: bool) -> Iterator[None]:
    """A step that fails puts its own work back; when it was the first change to the package
    in this sync, nothing is left for a check to judge, so its guard goes too."""
    try:
        yield
    except BaseException:
        if created:
            guard.close(ctx.env.layout, package)
        raise


def _check(package: str) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        from smx.catalog.packages import get_package
        from smx.packages import loadcheck
        from smx.packages.resolver import package_environ

        env, reporter, layout = ctx.env, ctx.reporter, ctx.env.layout
        spec = env.manifest.packages.get(package)
        locked = env.lock.packages.get(package)
        if spec is None or locked is None:
            guard.close(layout, package)
            return
        catalog = get_package(spec.source)
        report = ctx.checks.fresh(package) or loadcheck.run(
            env, package, catalog, reporter=reporter, environ=package_environ(env, package),
            backend=locked.backend)
        ctx.checks.ran(report)
        kept = guard.PackageGuard.load(layout, package)
        names = _names(ctx, package)
        failing, other = _split(report, kept)
        for problem in other:
            reporter.warn(f"{package}: {problem.describe(names)} (not changed by this "
                          "command; `smx check` shows it again)")
        if not failing:
            guard.close(layout, package)
            ctx.checks.passed.append(report)
            return
        shown = LoadReport(report.package, tuple(failing), report.log, report.seconds,
                           report.loader, report.folders)
        if ctx.options.keep_broken:
            guard.close(layout, package)
            ctx.checks.kept_broken.append(shown)
            reporter.warn(loadcheck.failure(shown, names=names, rolled_back=None,
                                            keep_hint=False).message
                          + " (kept: --keep-broken)")
            return
        undone = guard.rollback(env, package, reporter) if kept is not None else None
        raise loadcheck.failure(shown, names=names, rolled_back=undone)

    return run


def _split(report: LoadReport, kept: guard.PackageGuard | None
           ) -> tuple[list[LoadProblem], list[LoadProblem]]:
    """Problems this sync caused (or cannot tell apart) vs. those of untouched extensions."""
    failing: list[LoadProblem] = []
    other: list[LoadProblem] = []
    for problem in report.problems:
        ours = (problem.folder is None or problem.builtin
                or (kept is not None and (kept.package_changed
                                          or problem.folder in kept.folders)))
        (failing if ours else other).append(problem)
    return failing, other


def _names(ctx: SyncContext, package: str) -> dict[str, str]:
    """Extension folder -> how messages name it: "controlnet (sd-webui-controlnet)"."""
    from smx.extensions.targets import folder_names

    spec = ctx.env.manifest.packages.get(package)
    if spec is None:
        return {}
    return {folder: name if name == folder else f"{name} ({folder})"
            for folder, name in folder_names(spec).items()}
