"""Install, update and remove a web UI package: the steps, in order, all-or-nothing.

install: clone -> checkout the exact commit -> venv (Python from the catalog's range) -> torch
(from the backend's index) -> requirements -> what the UI's own first run would fetch (A1111's
repositories/, CLIP/open_clip from git) -> the UI's own install step (``launch.py --exit``) ->
smoke check (the UI imports everything it needs) -> record in smx.lock.

Nothing half-done counts as installed: a package is installed when smx.lock says so and the
checkout is at the locked commit, and the lock entry is written only after every step passed.
A marker in ``Data/.smx/packages/`` says "work in progress" so a run killed with -9 is finished
by the next one, which reuses the clone, the venv and pip's cache. Every subprocess writes to a
log in ``Data/Logs/``; a failure names the step, the telling line, and the log.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.environment.env import Env
from smx.environment.layout import VENV_STEP_COPY, EnvLayout
from smx.environment.lock import LockedPackage
from smx.errors import DiskSpaceError, InstallError, NotFound, SmxError, SubprocessFailed
from smx.fsutil import remove_path
from smx.packages import git
from smx.packages.loadcheck import LoadReport
from smx.packages.marker import Marker
from smx.packages.pins import github_archive
from smx.packages.pkgenv import archive_source, package_env, pins_of
from smx.packages.protect import protected_pins, requests_in_output
from smx.packages.resolver import VenvResolver, log_since
from smx.packages.runner import StepLog, child_env, show_path
from smx.packages.target import Target, requirements_sha256
from smx.packages.torch import TorchPlan, plan_torch
from smx.packages.venv import (
    Installer,
    Venv,
    choose_installer,
    create_venv,
    installed_distributions,
)
from smx.packages.venvcopy import VenvCopy
from smx.redact import redact, short_url
from smx.reporter import NullReporter, Reporter

TORCH_REQUIREMENTS_ENV = "SMX_TORCH_REQUIREMENTS"  # like A1111's TORCH_COMMAND: override pins
_GB = 1000**3


# --- the installer ----------------------------------------------------------------------------
@dataclass
class PackageInstaller:
    env: Env
    reporter: Reporter = field(default_factory=NullReporter)
    installer: Installer | None = None
    keep_broken: bool = False  # record it even when the web UI itself does not load
    # the load check of the latest install/update (a sync's check step reuses it)
    last_report: LoadReport | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.installer is None:
            self.installer = choose_installer()

    @property
    def layout(self) -> EnvLayout:
        return self.env.layout

    # -- install ---------------------------------------------------------------------------
    def install(self, target: Target, *, frozen: LockedPackage | None = None,
                commit: str | None = None) -> LockedPackage:
        """Install ``target`` (or finish an interrupted install). ``frozen``: exactly that lock
        entry (commit, Python minor, ``--no-deps`` of its freeze list). ``commit``: this commit
        instead of resolving the ref (repairing a locked package)."""
        layout, name = self.layout, target.name
        pkg_dir = layout.package_dir(name)
        previous = self.env.lock.packages.get(name)
        self._check_disk(target, pkg_dir)
        fresh = previous is None and not pkg_dir.exists() and not pkg_dir.is_symlink()
        marker = Marker.of(layout, name)
        marker.write({"action": "install", "ref": target.ref})
        self._step_copy(name).recover()
        log = StepLog.create(layout.logs, name, "install")
        try:
            wanted = frozen.commit if frozen else (commit or target.ref)
            try:
                # --force only for a package smx never finished: a repair keeps the user's edits
                head = self._checkout(target, wanted, force=previous is None)
            except SmxError as exc:
                # no such ref or repository, or nothing fetched yet (the remote did not
                # answer): nothing to resume, so nothing stays behind
                if fresh and (isinstance(exc, NotFound) or not git.has_objects(pkg_dir)):
                    self._discard(name)
                raise
            venv = self._venv(target, log, frozen.python if frozen else None)
            torch = self._torch_plan(target)
            resolver = self._resolver(target, venv, frozen=frozen)
            resolver.protect(protected_pins(name, pkg_dir, target.catalog, [], own_too=False))
            if frozen:
                self._install_frozen(target, resolver, frozen, torch, log)
            else:
                self._install_torch(target, resolver, torch, log)
                self._protect(target, resolver, own_too=False)
                self._install_requirements(target, resolver, log)
            self._protect(target, resolver, own_too=True)
            self._finish(target, resolver, log, torch.backend)
            locked = self._record(target, head, venv, torch, previous, resolver)
        except BaseException as exc:
            log.note(f"\nFAILED: {type(exc).__name__}: {exc}")
            raise
        marker.clear()
        return locked

    # -- update ----------------------------------------------------------------------------
    def update(self, target: Target, locked: LockedPackage, *, move: bool = True,
               commit: str | None = None) -> LockedPackage:
        """Move an installed package to what ``target.ref`` names now (or to ``commit``: the
        one smx.lock pins after `smx lock`). Refuses when tracked files were edited; re-runs
        requirements only when they changed; on any failure puts the previous commit
        (``locked.commit``) and venv back. ``move=False``: stay at the locked commit and only
        re-install changed requirements (a catalog fix, or the user's own edit of them)."""
        layout, name = self.layout, target.name
        pkg_dir = layout.package_dir(name)
        if move and git.is_dirty(pkg_dir):
            files = git.changed_files(pkg_dir)
            raise InstallError(
                f"{name} has local edits in {show_path(pkg_dir)} "
                f"({', '.join(files)}{', …' if len(files) >= 10 else ''}); not updating",
                hint=f"keep them with `git -C {show_path(pkg_dir)} stash` (or commit them), or "
                     f"drop them with `git -C {show_path(pkg_dir)} checkout -- .`; then run "
                     f"`smx update {name}` again", code="package.dirty")
        venv = Venv(layout.venv_dir(name))
        marker = Marker.of(layout, name)
        marker.write({"action": "update", "from": locked.commit, "ref": target.ref})
        copy = self._step_copy(name)
        copy.recover()
        log = StepLog.create(layout.logs, name, "update")
        try:
            head = self._checkout(target, commit or target.ref, force=False) if move \
                else locked.commit
            torch = self._torch_plan(target)
            changed = (requirements_sha256(pkg_dir, target.catalog) != locked.requirements_sha256
                       or locked.git != redact(target.git_url) or not venv.exists())
            if changed:
                copy.take(self.reporter, f"{name}: keep the current venv for a rollback")
                if not venv.exists():
                    venv = self._venv(target, log, None)
            resolver = self._resolver(target, venv, frozen=None)
            if changed:
                self._protect(target, resolver, own_too=False)
                self._install_requirements(target, resolver, log)
            self._protect(target, resolver, own_too=True)
            self._finish(target, resolver, log, torch.backend)
            new = self._record(target, head, venv, torch, locked, resolver)
        except BaseException as exc:
            log.note(f"\nFAILED: {type(exc).__name__}: {exc}; putting {locked.commit[:12]} back")
            self._rollback(target, locked, copy, checkout=move)
            raise
        copy.drop()
        marker.clear()
        return new

    # -- remove ----------------------------------------------------------------------------
    def remove(self, name: str) -> None:
        """Delete the checkout and its venv (never Data/Models), and the lock entry. The folder
        is first renamed aside, so an interrupted removal never leaves a half-deleted package
        that looks installed."""
        layout = self.layout
        pkg_dir = layout.package_dir(name)
        if pkg_dir.exists() or pkg_dir.is_symlink():
            with self.reporter.task(f"{name}: remove {show_path(pkg_dir)}"):
                if pkg_dir.is_symlink():
                    pkg_dir.unlink()
                else:
                    trash = layout.package_trash(name)
                    remove_path(trash)
                    os.replace(pkg_dir, trash)
                    remove_path(trash)
        remove_path(layout.package_trash(name))
        Marker.of(layout, name).clear()
        self.env.lock.packages.pop(name, None)

    def _discard(self, name: str) -> None:
        """Remove what a failed first install of ``name`` created (folder, marker)."""
        remove_path(self.layout.package_dir(name))
        Marker.of(self.layout, name).clear()
        self.layout.constraints_file(name).unlink(missing_ok=True)

    # -- steps -----------------------------------------------------------------------------
    def _resolver(self, target: Target, venv: Venv, *,
                  frozen: LockedPackage | None) -> VenvResolver:
        """pip/uv for this venv as of the package's resolution date (told when it moves)."""
        from smx.packages.resolver import resolution_date

        assert self.installer is not None
        date = resolution_date(self.env, target.name, target.catalog, target.spec,
                               frozen_stamp=frozen.resolved_as_of if frozen else None,
                               frozen=frozen is not None, reporter=self.reporter)
        return VenvResolver(self.env, target.name, venv, self.installer, self.reporter, date)

    def _protect(self, target: Target, resolver: VenvResolver, *, own_too: bool) -> None:
        """Hold what the venv has now: only the torch family while the web UI's own
        requirements are being resolved (``own_too=False``), all protected pins after."""
        resolver.protect(protected_pins(target.name, self.layout.package_dir(target.name),
                                        target.catalog, installed_distributions(resolver.venv),
                                        own_too=own_too))

    def _check_disk(self, target: Target, pkg_dir: Path) -> None:
        from smx.system.disk import existing_folder, probe_from_environment
        from smx.words import human_bytes

        need = int(target.catalog.disk_gb * _GB)
        if Venv(pkg_dir / "venv").exists():
            need //= 4  # finishing or repairing: the big downloads are mostly done
        where = existing_folder(pkg_dir)
        free = probe_from_environment()(where)
        if free < need:
            raise DiskSpaceError(
                f"not enough disk space for {target.name}: {human_bytes(free)} free on "
                f"{where}, {target.catalog.title} needs about {human_bytes(need)}",
                hint="free some space (or move the environment to a bigger disk) and run the "
                     "same command again")

    def _checkout(self, target: Target, ref: str, *, force: bool) -> str:
        pkg_dir = self.layout.package_dir(target.name)
        with self.reporter.task(f"{target.name}: clone {short_url(target.git_url)} @ {ref}"):
            return git.checkout(pkg_dir, target.git_url, ref, reporter=self.reporter,
                                label=target.name, force=force)

    def _venv(self, target: Target, log: StepLog, locked_python: str | None) -> Venv:
        venv = Venv(self.layout.venv_dir(target.name))
        interpreter = choose_interpreter(target, locked_python)
        wanted = ".".join(str(interpreter.version).split(".")[:2])
        have = venv.python_version()
        if have is not None and ".".join(have.split(".")[:2]) == wanted and venv.works():
            return venv
        with self.reporter.task(f"{target.name}: venv (Python {interpreter.version})"):
            return create_venv(venv.path, interpreter.path, log=log)

    def _torch_plan(self, target: Target) -> TorchPlan:
        manifest = self.env.manifest
        plan = plan_torch(target.catalog, target.spec.backend or manifest.torch.backend,
                          manifest.torch.index)
        override = os.environ.get(TORCH_REQUIREMENTS_ENV, "").split()
        if override:
            plan = TorchPlan(plan.backend, plan.backend_key, tuple(override), plan.index_url,
                             f"{plan.reason}; {TORCH_REQUIREMENTS_ENV} overrides the versions",
                             plan.warning)
        if plan.warning:
            self.reporter.warn(f"{target.name}: {plan.warning}")
        return plan

    def _pip(self, resolver: VenvResolver, args: list[str], log: StepLog, what: str,
             label: str, *, dated: bool = True) -> None:
        with self.reporter.task(f"{resolver.package}: {label}") as task:
            resolver.install(args, log=log, what=what, task=task, dated=dated,
                             cwd=self.layout.package_dir(resolver.package))

    def _install_torch(self, target: Target, resolver: VenvResolver, torch: TorchPlan,
                       log: StepLog) -> None:
        index = f" from {redact(torch.index_url)}" if torch.index_url else ""
        label = f"torch ({torch.backend}: {' '.join(torch.requirements)})"
        date = resolver.date
        if date is None or not date.filters:
            self._pip(resolver, torch.pip_args(), log, f"installing torch for {target.name}"
                      f"{index}", label, dated=False)
            return
        # A new GPU needs a new torch whatever the date: the torch family is the backend's
        # choice. What it pulls in (numpy, pillow, …) is resolved as of the date like any
        # requirement, or torchvision alone would bring today's numpy into an old web UI.
        self._pip(resolver, ["--no-deps", *torch.pip_args()], log,
                  f"installing torch for {target.name}{index}", label, dated=False)
        wanted = list(torch.requirements)
        try:
            self._pip(resolver, wanted, log, f"installing what torch needs for {target.name}",
                      f"{label}: what it needs, as of {date.day}")
        except SubprocessFailed:
            # a torch newer than the date pins CUDA libraries of its own time
            self._pip(resolver, wanted, log, f"installing what torch needs for {target.name}",
                      f"{label}: what it needs", dated=False)
            self.reporter.info(f"{target.name}: what torch {' '.join(wanted)} needs is newer "
                               f"than {date.day}; installed as torch asks")
        if not all("==" in req for req in wanted):
            self.reporter.info(f"{target.name}: torch is what the {torch.backend} build needs "
                               f"({' '.join(wanted)}), not what was current on {date.day}")

    def _install_requirements(self, target: Target, resolver: VenvResolver,
                              log: StepLog) -> None:
        pkg_dir = self.layout.package_dir(target.name)
        args: list[str] = []
        for rel in target.catalog.requirements:
            if not (pkg_dir / rel).is_file():
                raise InstallError(f"{target.name}: {rel} is missing in {show_path(pkg_dir)}",
                                   hint="is the ref right? `smx install --ref` takes a tag, "
                                        "branch or commit of this web UI")
            args += ["-r", rel]
        extra = [r for fix in target.catalog.known_fixes for r in fix.extra_requirements]
        self._pip(resolver, [*args, *extra], log,
                  f"installing the requirements of {target.name}",
                  f"requirements ({', '.join(target.catalog.requirements)})")

    def _install_frozen(self, target: Target, resolver: VenvResolver, frozen: LockedPackage,
                        torch: TorchPlan, log: StepLog) -> None:
        if not frozen.freeze:
            raise InstallError(f"smx.lock has no package list for {target.name}",
                               hint="run `smx sync` without --frozen to resolve it")
        path = self.layout.frozen_requirements(target.name)
        from smx.fsutil import atomic_write_text

        atomic_write_text(path, "\n".join(frozen.freeze) + "\n")
        args = ["--no-deps", "-r", str(path)]
        if torch.index_url:
            args += ["--extra-index-url", torch.index_url]
        # exact versions: the date would only hide the newer torch the lock may pin
        self._pip(resolver, args, log, f"installing the locked packages of {target.name}",
                  f"locked packages ({len(frozen.freeze)}, --no-deps)", dated=False)

    def _finish(self, target: Target, resolver: VenvResolver, log: StepLog,
                backend: str) -> None:
        """What the UI's own first run would fetch, then its install step, then the load check
        (the web UI's own loader, headless: smx.packages.loadcheck).

        On the CPU backend the load check gets the package's CPU flags (Forge's memory
        manager, for one, initialises CUDA at import unless told --always-cpu)."""
        self._extra_repos(target)
        self._pip_archives(target, resolver, log)
        pkg_dir = self.layout.package_dir(target.name)
        if target.catalog.install_step:
            with self.reporter.task(f"{target.name}: its own install step "
                                    f"({' '.join(target.catalog.install_step[:2])})") as task:
                start = log.path.stat().st_size
                output = resolver.run_script(
                    [resolver.venv.python, *target.catalog.install_step], log=log, cwd=pkg_dir,
                    extra_env=package_env(self.layout, target.name, target.catalog), task=task,
                    what=f"{target.name}'s own install step "
                         f"({' '.join(target.catalog.install_step)})")
            missed = not_installed(output)
            if missed:
                # A1111-style installers report failed optional installs and carry on (Forge's
                # built-in preprocessors fetch wheels from GitHub releases): say so now rather
                # than let every launch retry them silently
                self.reporter.warn(f"{target.name}: its own installer could not install "
                                   f"{', '.join(missed)}; the web UI starts, but features that "
                                   f"need them will not work (details: {show_path(log.path)})")
            if resolver.pins is not None:
                for request in requests_in_output(log_since(log.path, start), resolver.pins,
                                                  f"{target.name}'s own installer"):
                    self.reporter.warn(request.describe())
        self._load_check(target, resolver, backend)

    def _load_check(self, target: Target, resolver: VenvResolver, backend: str) -> None:
        """The web UI itself must load; what its extensions report is the sync's check step's
        business (they may be re-installed after this step)."""
        from smx.packages import loadcheck

        report = loadcheck.run(self.env, target.name, target.catalog, reporter=self.reporter,
                               environ=resolver.environ(), backend=backend)
        self.last_report = report
        own = [p for p in report.problems if p.folder is None or p.builtin]
        if not own:
            return
        if self.keep_broken:
            self.reporter.warn(loadcheck.failure(report, names={}, rolled_back=None,
                                                 keep_hint=False).message
                               + " (kept: --keep-broken)")
            return
        own_report = loadcheck.LoadReport(report.package, tuple(own), report.log,
                                          report.seconds, report.loader, report.folders)
        error = loadcheck.failure(own_report, names={}, rolled_back=None)
        error.hint = (f"{error.hint}. A module the web UI needs is missing or broken; if this "
                      f"is a known upstream problem, the catalog's known_fixes for "
                      f"{target.catalog.name} is where it gets fixed")
        raise error

    def _extra_repos(self, target: Target) -> None:
        catalog = target.catalog
        if not catalog.extra_repos:
            return
        pkg_dir = self.layout.package_dir(target.name)
        pins = pins_of(pkg_dir, catalog)
        for repo in catalog.extra_repos:
            commit = pins.get(repo.commit_env) if catalog.pins_file else repo.commit
            if catalog.pins_file and repo.commit_env not in pins:
                continue  # this version of the UI does not clone it
            if not commit:
                commit = repo.commit
            if not commit:
                continue
            dest = pkg_dir / "repositories" / repo.folder
            if git.head_commit(dest) == commit:
                continue
            with self.reporter.task(f"{target.name}: repositories/{repo.folder} @ {commit[:12]}"):
                git.checkout(dest, repo.url, commit, reporter=self.reporter,
                             label=repo.folder, force=True)

    def _pip_archives(self, target: Target, resolver: VenvResolver, log: StepLog) -> None:
        catalog = target.catalog
        venv = resolver.venv
        if not catalog.pip_archives:
            return
        pins = pins_of(self.layout.package_dir(target.name), catalog)
        for archive in catalog.pip_archives:
            if _venv_has_module(venv, archive.module):
                continue
            chosen = os.environ.get(archive.url_env)
            if chosen and github_archive(chosen) is None:
                # the user points the UI at their own package: its installer installs that
                self.reporter.info(f"{target.name}: {archive.url_env} is set; leaving "
                                   f"{archive.module} to the web UI's installer")
                continue
            git_url, commit = archive_source(archive, pins)
            clone = self.layout.git_archive_clone(git_url, commit)
            with self.reporter.task(f"{target.name}: {archive.module} from git @ {commit[:12]}"):
                git.checkout(clone, git_url, commit, reporter=self.reporter,
                             label=archive.module, force=True)
            if archive.build_requirements:
                self._pip(resolver, list(archive.build_requirements), log,
                          f"installing what {archive.module} builds with",
                          f"{archive.module}: build requirements")
            self._pip(resolver, ["--no-build-isolation", str(clone)], log,
                      f"installing {archive.module} for {target.name} from {show_path(clone)}",
                      f"{archive.module} (from its git clone)")

    def _record(self, target: Target, commit: str, venv: Venv, torch: TorchPlan,
                previous: LockedPackage | None, resolver: VenvResolver) -> LockedPackage:
        with self.reporter.task(f"{target.name}: record in smx.lock"):
            freeze = installed_distributions(venv)
        locked = LockedPackage(
            name=target.name, source=target.spec.source, git=redact(target.git_url),
            commit=commit, ref=target.ref, python=venv.python_version(), backend=torch.backend,
            torch=list(torch.requirements),
            requirements_sha256=requirements_sha256(self.layout.package_dir(target.name),
                                                    target.catalog),
            freeze=freeze, extensions=dict(previous.extensions) if previous else {},
            resolved_as_of=resolver.date.stamp if resolver.date else None)
        self.env.lock.packages[target.name] = locked
        return locked

    # -- update safety net -----------------------------------------------------------------
    def _step_copy(self, name: str) -> VenvCopy:
        return VenvCopy.of(self.layout, name, VENV_STEP_COPY)

    def _rollback(self, target: Target, locked: LockedPackage, copy: VenvCopy, *,
                  checkout: bool = True) -> None:
        """Put the previous commit and venv back; what cannot be put back is said (the marker
        then stays, so the next sync repairs the package)."""
        pkg_dir = self.layout.package_dir(target.name)
        if checkout:  # (update refused local edits, so --force loses nothing)
            try:
                git.checkout(pkg_dir, locked.git if "***" not in locked.git else target.git_url,
                             locked.commit, force=True)
            except (SmxError, OSError) as exc:
                self.reporter.warn(f"{target.name}: could not put its checkout back at "
                                   f"{locked.commit[:12]} ({exc}); `smx sync` repairs it")
        copy.put_back()
        if git.head_commit(pkg_dir) == locked.commit:
            Marker.of(self.layout, target.name).clear()


# --- helpers ----------------------------------------------------------------------------------
def choose_interpreter(target: Target, locked_python: str | None = None) -> Any:
    """The base Python for the package venv: ``--python`` (a version like 3.10, or a path),
    else the lock's minor version (frozen), else the catalog's preferred version within its
    range. Says which versions it found and how to get one when none fits."""
    from smx.system.pythons import Interpreter, find_interpreters, pick

    catalog = target.catalog
    requested = target.spec.python
    if requested and (os.sep in requested or "/" in requested):
        path = Path(requested).expanduser()
        if not path.exists():
            raise InstallError(f"--python {requested}: no such file",
                               hint="give a version (3.10) or the path of a python executable")
        from packaging.version import Version

        from smx.packages.venv import interpreter_version

        return Interpreter(path=path, version=Version(interpreter_version(path)), source="given")
    found = find_interpreters()
    if requested:
        spec, preferred, why = f"=={requested}.*" if requested.count(".") == 1 else \
            f"=={requested}", None, f"Python {requested} (--python)"
    elif locked_python:
        minor = ".".join(locked_python.split(".")[:2])
        spec, preferred, why = f"=={minor}.*", None, f"Python {minor} (smx.lock)"
    else:
        spec, preferred = catalog.python, catalog.preferred_python
        why = f"Python {catalog.python} (preferably {catalog.preferred_python})"
    chosen = pick(found, spec, preferred)
    if chosen is None:
        have = ", ".join(sorted({str(i.version) for i in found})) or "none"
        want = requested or (locked_python and ".".join(locked_python.split(".")[:2])) or \
            catalog.preferred_python
        raise InstallError(
            f"{target.name} needs {why}; found: {have}",
            hint=f"install Python {want} (e.g. `uv python install {want}` or `pyenv install "
                 f"{want}`), or point at one with --python /path/to/python{want}",
            code="python.not_found")
    return chosen  # an explicit --python outside the range is the user's call


_COULD_NOT_INSTALL = re.compile(r"(?:Couldn't install|Failed to install|Unable to install) "
                                r"(?:(?:[\w.\-]+ )*?requirement: )?([A-Za-z0-9_.\-]+)")


def not_installed(output: str) -> list[str]:
    """Names from "Couldn't install X" lines of an A1111-style installer's output."""
    found: list[str] = []
    for match in _COULD_NOT_INSTALL.finditer(output):
        name = match.group(1).rstrip(".")
        if name not in found:
            found.append(name)
    return found


def _venv_has_module(venv: Venv, module: str) -> bool:
    code = ("import importlib.util, sys; "
            f"sys.exit(0 if importlib.util.find_spec({module!r}) else 1)")
    try:
        return subprocess.run([str(venv.python), "-c", code], cwd=venv.path,
                              capture_output=True, env=child_env(venv=venv.path),
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
