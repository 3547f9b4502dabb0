"""The packages part of `smx sync`: which web UIs to install, update, repair or remove.

Planning is cheap and offline: it compares smx.toml with smx.lock and with the disk (the
checkout's HEAD read from .git files, the venv's pyvenv.cfg, the in-progress marker), so a
sync with nothing to do spawns no process and touches no network. Only ``--upgrade`` asks the
remote what a ref names now (``git ls-remote``), and only for the packages being upgraded.

Decisions per ``[packages.NAME]``:
- no lock entry -> install (resolving the ref);
- lock entry for another git URL or ref than smx.toml says -> update to the new ref;
- upgrade requested and the ref now names another commit -> update;
- lock entry, and the package installed at another commit (`smx lock` moved the pin) ->
  update to the locked commit (requirements again, ``freeze`` recorded anew);
- lock entry, but the disk does not match it (interrupted run, deleted venv) -> install at
  the locked commit (repair);
- ``frozen``: exactly the lock's commit and package list (a missing or disagreeing lock
  entry was refused before planning: smx.agreement).
A lock entry whose package left smx.toml is removed (``prune``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from smx.agreement import package_fits
from smx.environment.lock import LockedPackage
from smx.fsutil import remove_path
from smx.packages import git
from smx.packages.checking import guard_package
from smx.packages.installer import PackageInstaller
from smx.packages.marker import Marker, is_installed
from smx.packages.target import Target, requirements_sha256
from smx.packages.venv import Venv
from smx.steps import Step, SyncContext


class PackageExecutor:
    def plan(self, ctx: SyncContext) -> list[Step]:
        env, options = ctx.env, ctx.options
        steps: list[Step] = []
        for name, spec in env.manifest.packages.items():
            if options.only is not None and name not in options.only:
                continue
            target = Target.of(spec)
            locked = env.lock.packages.get(name)
            step = self._plan_one(ctx, target, locked)
            if step is not None:
                steps.append(step)
        if options.prune and not options.frozen:
            for name in sorted(set(env.lock.packages) - set(env.manifest.packages)):
                if options.only is None or name in options.only:
                    steps.append(Step("package", name, "remove",
                                      f"no longer in smx.toml: delete Data/Packages/{name}",
                                      run=_remove(name), package=name))
            for leftover in sorted(env.layout.package_trash_names()):
                steps.append(Step("package", leftover, "remove",
                                  "finish an interrupted removal", run=_clean_trash(leftover),
                                  package=leftover))
        return steps

    def _plan_one(self, ctx: SyncContext, target: Target,
                  locked: LockedPackage | None) -> Step | None:
        layout, options, name = ctx.env.layout, ctx.options, target.name
        if options.frozen and locked is not None:  # (smx.agreement: it fits)
            if is_installed(layout, locked):
                return None
            return Step("package", name, "install", f"{locked.commit[:12]} (frozen)",
                        run=_install(target, frozen=locked), package=name)
        if locked is None:
            return Step("package", name, "install", f"{target.git_url} @ {target.ref}",
                        run=_install(target), package=name)
        if not package_fits(target, locked):
            return Step("package", name, "update",
                        f"{locked.ref or locked.commit[:12]} -> {target.ref}",
                        run=_update(target), package=name)
        head = git.head_commit(layout.package_dir(name))
        if head is not None and head != locked.commit and not Marker.of(layout, name).exists() \
                and Venv(layout.venv_dir(name)).exists():
            # installed, at another commit than smx.lock pins (`smx lock` moved it): go there
            return Step("package", name, "update",
                        f"to the commit smx.lock pins: {head[:12]} -> {locked.commit[:12]} "
                        f"({target.ref})", run=_update(target, commit=locked.commit),
                        package=name)
        if not is_installed(layout, locked):
            return Step("package", name, "install",
                        f"finish/repair at {locked.commit[:12]} ({target.ref})",
                        run=_install(target, commit=locked.commit), package=name)
        wants_upgrade = options.upgrade is not None and (not options.upgrade
                                                         or name in options.upgrade)
        if wants_upgrade:
            resolved = git.resolve(target.git_url, target.ref,
                                   cwd=layout.package_dir(name))
            if resolved.commit is None or resolved.commit != locked.commit:
                return Step("package", name, "update",
                            f"{target.ref}: {locked.commit[:12]} -> "
                            f"{(resolved.commit or target.ref)[:12]}",
                            run=_update(target), package=name)
        if requirements_sha256(layout.package_dir(name), target.catalog) \
                != locked.requirements_sha256:
            # a few small file reads: the catalog's fixes or the requirement files changed
            return Step("package", name, "update", "requirements changed: re-install them",
                        run=_refresh(target), package=name)
        return None


# Each step writes the command's smx.toml edit (smx.apply) only when its work is done (a
# removal: before it starts), so a kill -9 mid-way leaves smx.toml as it was.
def _installer(ctx: SyncContext) -> PackageInstaller:
    return PackageInstaller(ctx.env, ctx.reporter, keep_broken=ctx.options.keep_broken)


def _install(target: Target, *, frozen: LockedPackage | None = None,
             commit: str | None = None) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        installer = _installer(ctx)
        installer.install(target, frozen=frozen, commit=commit)
        ctx.checks.ran(installer.last_report)
        ctx.work_done()

    return run


def _update(target: Target, *, commit: str | None = None) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        installer = _installer(ctx)
        locked = ctx.env.lock.packages.get(target.name)
        with guard_package(ctx, target.name):
            if commit is not None and locked is not None:
                # to the commit smx.lock pins; a failure puts back the commit that is there now
                head = git.head_commit(ctx.env.layout.package_dir(target.name))
                installer.update(target, replace(locked, commit=head or locked.commit),
                                 commit=commit)
            elif locked is None or not is_installed(ctx.env.layout, locked):
                installer.install(target)
            else:
                installer.update(target, locked)
        ctx.checks.ran(installer.last_report)
        ctx.work_done()

    return run


def _refresh(target: Target) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        locked = ctx.env.lock.packages[target.name]
        installer = _installer(ctx)
        with guard_package(ctx, target.name):
            installer.update(target, locked, move=False)
        ctx.checks.ran(installer.last_report)
        ctx.work_done()

    return run


def _remove(name: str) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        ctx.work_done()
        PackageInstaller(ctx.env, ctx.reporter).remove(name)

    return run


def _clean_trash(name: str) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        remove_path(ctx.env.layout.package_trash(name))

    return run
