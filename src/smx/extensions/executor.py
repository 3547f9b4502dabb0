"""The extensions part of `smx sync`: runs after the packages, before the models.

Planning is cheap and offline (smx.toml, smx.lock, .git files and A1111's config.json are read;
nothing is spawned): a sync with nothing to do touches no network. Only ``--upgrade`` asks the
remote what a ref names now, and only for the extensions being upgraded.

Per ``[packages.P.extensions.NAME]`` of a package in smx.toml:
- built into the package (Forge's ControlNet) -> nothing to do;
- no lock entry -> install (resolving the ref);
- lock entry for another URL or ref -> update;
- the package has no finished install (it is installed, repaired or reinstalled in this sync,
  maybe with a new venv), or the checkout is missing / at another commit -> install at the locked
  commit (repair; requirements again);
- enabled in smx.toml but not on disk (or the other way) -> enable / disable;
- its model folders are not (or no longer) wired to the store -> wire (smx.extensions.models);
- upgrade requested (``options.upgrade_extensions``, or ``upgrade`` = everything) and the
  ref names another commit now -> update;
- ``frozen``: the locked commit (a missing or disagreeing lock entry was refused before
  planning: smx.agreement).
A lock entry that left smx.toml is removed (``prune``).

``options.extensions`` = {(package, extension)} restricts the plan to those entries (what
`smx ext add/update/…` sync), since extension names repeat across packages.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from smx.agreement import extension_fits
from smx.environment.lock import LockedExtension
from smx.extensions import models as ext_models
from smx.extensions import toggle
from smx.extensions.installer import ExtensionInstaller
from smx.extensions.targets import ExtTarget, locked_folder, present_identity, resolve
from smx.packages import git
from smx.packages.checking import guard_extension
from smx.packages.marker import is_installed
from smx.steps import Step, SyncContext


class ExtensionExecutor:
    def plan(self, ctx: SyncContext) -> list[Step]:
        env, options = ctx.env, ctx.options
        only = options.extensions
        steps: list[Step] = []
        for pname, pkg in env.manifest.packages.items():
            if options.only is not None and pname not in options.only and not any(
                    e in options.only for e in pkg.extensions):
                continue
            locked_pkg = env.lock.packages.get(pname)
            locked_exts = locked_pkg.extensions if locked_pkg else {}
            for ename, spec in pkg.extensions.items():
                if only is not None and (pname, ename) not in only:
                    continue
                target = resolve(pkg, spec)
                step = self._plan_one(ctx, target, locked_exts.get(ename),
                                      is_installed(env.layout, locked_pkg))
                if step is not None:
                    steps.append(step)
            if options.prune and not options.frozen and locked_pkg is not None:
                for ename in sorted(set(locked_exts) - set(pkg.extensions)):
                    if only is not None and (pname, ename) not in only:
                        continue
                    gone = locked_exts[ename]
                    steps.append(Step("extension", ename, "remove",
                                      f"no longer in smx.toml: delete {pkg.name}'s "
                                      f"{_folder_of(gone)}", run=_remove(pname, ename, gone),
                                      package=pname))
        self._pickle_notice(ctx)
        return steps

    def _plan_one(self, ctx: SyncContext, target: ExtTarget, locked: LockedExtension | None,
                  package_ready: bool) -> Step | None:
        options, layout = ctx.options, ctx.env.layout
        if target.builtin:
            return None
        name, pname = target.name, target.package
        if target.never_loaded and (pname, name) not in ctx.warned_never_loads:
            ctx.warned_never_loads.add((pname, name))
            ctx.reporter.warn(f"{pname}: {target.catalog.title} never loads {target.folder} "
                              f"({target.never_loaded}); `smx ext remove {name}` drops it")
        same = locked is not None and extension_fits(target, locked)
        where = f"{pname}/{target.catalog.extensions_dir}/{target.folder}"
        if target.registry is not None:
            wanted = target.version or "newest active version"
            if locked is None:
                return Step("extension", name, "install",
                            f"Comfy Registry {target.registry} {wanted} -> {where}",
                            run=_install_registry(target), package=pname)
            if not same and not options.frozen:
                return Step("extension", name, "update",
                            f"{locked.registry} {locked.version} -> {target.registry} "
                            f"{wanted}", run=_install_registry(target), package=pname)
        elif locked is None:
            return Step("extension", name, "install",
                        f"{target.locked_git} @ {target.want_ref} -> {where}",
                        run=_install(target), package=pname)
        elif not same and not options.frozen:
            return Step("extension", name, "update",
                        f"{locked.ref or locked.commit[:12]} -> {target.want_ref}",
                        run=_update(target), package=pname)
        assert locked is not None
        present = target.present_dir(layout)
        if not package_ready or present is None or present_identity(present) != \
                locked.identity:
            why = "the package is (re)installed" if not package_ready else "repair"
            pinned = f"{locked.version} " if locked.version else ""
            run = _install_registry(target) if target.registry is not None else \
                _install(target, commit=locked.commit)
            return Step("extension", name, "install",
                        f"{pinned}{locked.identity[:12]} ({why})", run=run, package=pname)
        # `smx ext update` names pairs; an unscoped upgrade of everything includes extensions
        wants = not options.frozen and ((pname, name) in options.upgrade_extensions
                                        or options.upgrade == set())
        if wants and target.registry is not None:
            step = _registry_upgrade(ctx, target, locked)
            if step is not None:
                return step
        elif wants:
            assert target.git_url is not None
            resolved = git.resolve(target.git_url, target.want_ref, cwd=present)
            if resolved.commit is None or resolved.commit != locked.commit:
                return Step("extension", name, "update",
                            f"{target.want_ref}: {locked.commit[:12]} -> "
                            f"{(resolved.commit or target.want_ref)[:12]}",
                            run=_update(target), package=pname)
        if toggle.is_enabled(layout, target) != target.spec.enabled or \
                locked.enabled != target.spec.enabled:
            action = "enable" if target.spec.enabled else "disable"
            return Step("extension", name, action, where, run=_toggle(target), package=pname)
        work = ext_models.wiring_left(layout, target.catalog, layout.package_dir(pname),
                                  target.enabled_dir(layout), target.variant)
        if work is not None:
            return Step("extension", name, "wire", f"{where}: {work}", run=_wire(target),
                        package=pname)
        return None

    def _pickle_notice(self, ctx: SyncContext) -> None:
        """Say once per sync when a listed model needs the A1111 pickle check off (the user
        opts in with [launch] unsafe-pickle-ok)."""
        if ctx.pickle_notice_shown:
            return
        from smx.catalog.packages import get_package
        from smx.extensions.models import pickle_notice

        for pkg in ctx.env.manifest.packages.values():
            if not any("animatediff" in (e.name + (e.git or "")).lower()
                       for e in pkg.extensions.values()):
                continue
            note = pickle_notice(ctx.env.layout, get_package(pkg.source),
                                 opted_in=ctx.env.manifest.launch.unsafe_pickle_ok)
            if note:
                ctx.reporter.warn(note)
                ctx.pickle_notice_shown = True
                return


def _folder_of(locked: LockedExtension) -> str:
    return locked_folder(locked)


def _registry_upgrade(ctx: SyncContext, target: ExtTarget, locked: LockedExtension
                      ) -> Step | None:
    """A Registry pack whose version smx.toml leaves open: is there a newer active one?"""
    if target.version is not None:
        return None
    from smx.extensions import registry

    with registry.client(ctx.env.manifest.sources) as client:
        node = client.node(target.registry or "")
        newest = registry.choose(node, client.versions(node.id), None)
    if newest.version == locked.version:
        return None
    return Step("extension", target.name, "update",
                f"{target.registry}: {locked.version} -> {newest.version}",
                run=_install_registry(target, upgrade=True), package=target.package)


def _outcome(ctx: SyncContext, target: ExtTarget, action: str) -> None:
    ctx.outcomes.extensions[(target.package, target.name)] = action


def _guard(ctx: SyncContext, target: ExtTarget) -> AbstractContextManager[None]:
    """Keep the package's state until its load check passes (smx.packages.checking)."""
    layout = ctx.env.layout
    present = target.present_dir(layout)
    return guard_extension(ctx, target.package, target.folder, present,
                           toggle.is_enabled(layout, target) if present is not None else None)


def _install(target: ExtTarget, *, commit: str | None = None) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        with _guard(ctx, target):
            ExtensionInstaller(ctx.env, ctx.reporter,
                               frozen=ctx.options.frozen).install(target, commit=commit)
        ctx.work_done()
        _outcome(ctx, target, "installed")

    return run


def _install_registry(target: ExtTarget, *, upgrade: bool = False
                      ) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        from smx.extensions import registry_install

        pkg = ctx.env.lock.packages.get(target.package)
        locked = pkg.extensions.get(target.name) if pkg else None
        with _guard(ctx, target):
            registry_install.install(ctx.env, target, locked=locked, upgrade=upgrade,
                                     reporter=ctx.reporter, frozen=ctx.options.frozen)
        ctx.work_done()
        _outcome(ctx, target, "installed" if locked is None else "updated")

    return run


def _update(target: ExtTarget) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        pkg = ctx.env.lock.packages.get(target.package)
        locked = pkg.extensions.get(target.name) if pkg else None
        installer = ExtensionInstaller(ctx.env, ctx.reporter, frozen=ctx.options.frozen)
        with _guard(ctx, target):
            if locked is None:
                installer.install(target)
            else:
                installer.update(target, locked)
        ctx.work_done()
        _outcome(ctx, target, "updated")

    return run


def _toggle(target: ExtTarget) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        if target.spec.enabled:  # an extension that starts loading is checked
            with _guard(ctx, target):
                toggle.set_enabled(ctx.env.layout, target, True)
        else:
            toggle.set_enabled(ctx.env.layout, target, False)
        pkg = ctx.env.lock.packages.get(target.package)
        if pkg is not None and target.name in pkg.extensions:
            pkg.extensions[target.name].enabled = target.spec.enabled
        ctx.work_done()
        _outcome(ctx, target, "enabled" if target.spec.enabled else "disabled")

    return run


def _wire(target: ExtTarget) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        layout = ctx.env.layout
        for message in ext_models.apply(layout, target.catalog,
                                        layout.package_dir(target.package),
                                        target.enabled_dir(layout), target.variant):
            ctx.reporter.info(f"{target.name}: {message}")
        _outcome(ctx, target, "wired")

    return run


def _remove(package: str, name: str, locked: LockedExtension) -> Callable[[SyncContext], None]:
    def run(ctx: SyncContext) -> None:
        from smx.catalog.packages import get_package

        ctx.work_done()  # a removal: smx.toml first, so a kill -9 cannot resurrect it
        spec = ctx.env.manifest.packages.get(package)
        style = get_package(spec.source).extension_style if spec else "a1111"
        ExtensionInstaller(ctx.env, ctx.reporter).remove(package, name, _folder_of(locked),
                                                         style)
        ctx.outcomes.extensions[(package, name)] = "removed"

    return run
