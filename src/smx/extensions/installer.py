"""Add, update and remove one extension of an installed package: all or nothing.

install: (checks that need no network) -> clone into ``Data/.smx/extensions/`` -> check it is an
extension of the package's kind -> move it into the package's extension folder -> install its
Python requirements into the package's venv, the way the web UI (or ComfyUI-Manager) would ->
wire its model folders to the store -> enable/disable -> record in smx.lock.

Requirements, as each UI does it itself, so its first launch installs nothing:

- A1111/Forge (modules/launch_utils.py run_extension_installer): ``<venv python>
  <ext>/install.py`` with ``PYTHONPATH`` = the web UI folder (install.py scripts ``import
  launch`` and call ``launch.run_pip``), run from the web UI folder (the web UI's own working
  folder: ``run()`` passes no cwd). A1111 installs nothing else (no requirements.txt).
- ComfyUI (ComfyUI-Manager execute_install_script): ``pip install -r requirements.txt``, then
  ``<venv python> install.py``, both in the node's folder.

Every pip run of an extension is constrained to the torch the package has (smx.lock freeze), so
a node pack's requirements cannot swap the package's torch build. Before anything is installed
the venv is copied with hard links (instant); a failure puts it back and removes the new folder,
so the package is as it was. smx.lock records the extension only when all of it worked.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from smx.environment.env import Env
from smx.environment.layout import VENV_STEP_COPY, EnvLayout
from smx.environment.lock import LockedExtension, LockedPackage
from smx.errors import (
    AuthRequired,
    InstallError,
    NotFound,
    SmxError,
    SubprocessFailed,
    UsageError,
)
from smx.extensions import models as ext_models
from smx.extensions import toggle
from smx.extensions.shape import check_shape, unmet_comfyui_requirement
from smx.extensions.targets import ExtTarget
from smx.fsutil import remove_path, rmdir_empty
from smx.packages import git
from smx.packages.installer import not_installed
from smx.packages.marker import is_installed
from smx.packages.pkgenv import package_env
from smx.packages.protect import (
    TORCH_FAMILY,
    PinRequest,
    filter_requirements,
    protected_pins,
    requests_in_output,
)
from smx.packages.resolver import VenvResolver, log_since, resolution_date
from smx.packages.runner import StepLog, show_path
from smx.packages.venv import Installer, Venv, choose_installer, installed_distributions
from smx.packages.venvcopy import VenvCopy
from smx.redact import redact, short_url
from smx.reporter import NullReporter, Reporter


@dataclass
class ExtensionInstaller:
    env: Env
    reporter: Reporter = field(default_factory=NullReporter)
    installer: Installer | None = None
    frozen: bool = False  # `sync --frozen`: resolve as of the date smx.lock recorded

    @property
    def layout(self) -> EnvLayout:
        return self.env.layout

    # -- install ---------------------------------------------------------------------------
    def install(self, target: ExtTarget, *, commit: str | None = None) -> LockedExtension:
        """Clone (or reuse) the extension at ``commit`` or its ref, install its requirements,
        wire its models, and record it."""
        layout = self.layout
        pkg_locked = self._package(target)
        checkout = layout.package_dir(target.package)
        assert target.git_url is not None
        check_needs(target, checkout)
        self._step_copy(target.package).recover()
        wanted = commit or target.want_ref
        present = target.present_dir(layout)
        base_existed = target.base_dir(layout).exists()
        created = False
        label = f"{target.package}/{target.folder}"
        if present is not None:
            self._check_same_repo(target, present)
            with self.reporter.task(f"{label}: check out {wanted[:12]}"):
                head = self._checkout(target, present, wanted, force=False)
        else:
            staging = layout.extension_staging(target.package, target.folder)
            try:
                with self.reporter.task(f"{label}: clone {short_url(target.git_url)} @ "
                                        f"{wanted[:12] if commit else wanted}"):
                    head = self._checkout(target, staging, wanted, force=True)
                check_shape(staging, target.catalog.extension_style, target.catalog.title,
                            redact(target.git_url))
            except BaseException:
                remove_path(staging)
                rmdir_empty(staging.parent)
                raise
            present = target.enabled_dir(layout)
            present.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, present)
            rmdir_empty(staging.parent)
            created = True
        try:
            resolver = self._resolver(target, pkg_locked)
            changed = self._requirements(target, present, resolver)
        except BaseException:
            if created:
                remove_path(present)
                if not base_existed:
                    rmdir_empty(present.parent)
            raise
        self._after(target, present)
        return self._record(target, head, pkg_locked, changed, resolver)

    # -- update ----------------------------------------------------------------------------
    def update(self, target: ExtTarget, locked: LockedExtension, *, commit: str | None = None
               ) -> LockedExtension:
        """Move to ``commit``, else to what the ref names now; requirements again; any failure
        puts the previous commit and venv back."""
        layout = self.layout
        pkg_locked = self._package(target)
        present = target.present_dir(layout)
        if present is None or git.git_dir(present) is None:
            return self.install(target, commit=commit)
        assert target.git_url is not None
        if git.is_dirty(present):
            files = git.changed_files(present)
            raise InstallError(
                f"{target.name} has local edits in {show_path(present)} ({', '.join(files)}); "
                "not updating",
                hint=f"keep them with `git -C {show_path(present)} stash`, or drop them with "
                     f"`git -C {show_path(present)} checkout -- .`; then run the command again",
                code="extension.dirty")
        self._step_copy(target.package).recover()
        wanted = commit or target.want_ref
        with self.reporter.task(f"{target.package}/{target.folder}: update to "
                                f"{wanted[:12] if commit else wanted}"):
            head = self._checkout(target, present, wanted, force=False)
        try:
            changed = False
            resolver = self._resolver(target, pkg_locked)
            if head != locked.commit:
                changed = self._requirements(target, present, resolver)
        except BaseException:
            try:
                git.checkout(present, target.git_url, locked.commit, force=True,
                             branch=git.PINNED_BRANCH)
            except (SmxError, OSError) as undo:
                self.reporter.warn(f"{target.package}/{target.folder}: could not put it back "
                                   f"at {locked.commit[:12]} ({undo}); `smx sync` repairs it")
            raise
        self._after(target, present)
        return self._record(target, head, pkg_locked, changed, resolver)

    # -- a Comfy Registry archive -----------------------------------------------------------
    def install_archive(self, target: ExtTarget, url: str, *,
                        expected_sha256: str | None = None) -> LockedExtension:
        """Install a Registry version from its archive (smx.extensions.archive): download,
        check against ``expected_sha256`` (smx.lock), unpack beside the package, then the same
        steps as a clone; a failure puts the previous folder and venv back."""
        from smx.extensions import archive

        layout = self.layout
        pkg_locked = self._package(target)
        self._step_copy(target.package).recover()
        present = target.present_dir(layout)
        if present is not None and git.git_dir(present) is None and \
                archive.unpacked_sha256(present) is None:
            raise UsageError(f"{show_path(present)} already exists and smx did not put it there",
                             hint="move it away (or remove it) and run the command again",
                             code="extension.exists")
        what = f"{target.registry} {target.version}"
        staging = layout.extension_staging(target.package, target.folder)
        download = layout.registry_archive(target.folder, str(target.version))
        try:
            got = archive.download(url, download, what=what, reporter=self.reporter)
            archive.check_sha256(got, expected_sha256, what)
            with self.reporter.task(f"{target.package}/{target.folder}: unpack {what}"):
                archive.unpack(got.path, staging, got.sha256, what=what)
            check_shape(staging, target.catalog.extension_style, target.catalog.title, what)
        except BaseException:
            remove_path(staging)
            rmdir_empty(staging.parent)
            raise
        finally:
            with contextlib.suppress(OSError):
                download.unlink()
        final = present or target.enabled_dir(layout)
        aside = layout.extension_trash(target.package, target.folder)
        if present is not None:
            remove_path(aside)
            os.replace(present, aside)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        rmdir_empty(staging.parent)
        try:
            resolver = self._resolver(target, pkg_locked)
            changed = self._requirements(target, final, resolver)
        except BaseException:
            remove_path(final)
            if present is not None:
                os.replace(aside, present)
            raise
        remove_path(aside)
        self._after(target, final)
        return self._record(target, "", pkg_locked, changed, resolver,
                            archive_sha256=got.sha256)

    # -- remove ----------------------------------------------------------------------------
    def remove(self, package: str, name: str, folder: str, style: str) -> Path | None:
        """Delete the extension's folder (renamed aside first) and its lock entry; A1111: drop
        it from config.json's disabled list. Packages it pip-installed stay in the venv."""
        layout = self.layout
        base = layout.package_dir(package)
        from smx.catalog.packages import get_package

        catalog = get_package(self.env.lock.packages[package].source) \
            if package in self.env.lock.packages else None
        ext_base = base / (catalog.extensions_dir if catalog else "extensions")
        removed = None
        for path in (ext_base / folder, ext_base / f"{folder}.disabled"):
            layout.inside(path, ext_base, what="extension folder")
            if path.is_symlink():
                path.unlink()
                removed = path
            elif path.exists():
                trash = layout.extension_trash(package, folder)
                remove_path(trash)
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, trash)
                remove_path(trash)
                removed = path
        if style == "a1111" and (base / toggle.SETTINGS_FILE).is_file():

            def drop(data: dict[str, object]) -> None:
                listed = data.get("disabled_extensions")
                if isinstance(listed, list) and folder in listed:
                    data["disabled_extensions"] = [x for x in listed if x != folder]

            with contextlib.suppress(SmxError):
                toggle.update_settings(base, drop)
        pkg = self.env.lock.packages.get(package)
        if pkg is not None:
            pkg.extensions.pop(name, None)
        return removed

    # -- pieces ----------------------------------------------------------------------------
    def _step_copy(self, package: str) -> VenvCopy:
        return VenvCopy.of(self.layout, package, VENV_STEP_COPY)

    def _package(self, target: ExtTarget) -> LockedPackage:
        locked = self.env.lock.packages.get(target.package)
        if locked is None or not is_installed(self.layout, locked):
            # the words and exit code (2) `smx launch` uses for the same state
            why = ("smx.lock has no entry for it" if locked is None
                   else "its checkout or venv is missing or unfinished")
            raise NotFound(f"{target.package} is not installed ({why}), so its extension "
                           f"{target.name} cannot be installed or changed",
                           hint="run `smx sync` to install what smx.toml lists",
                           code="extension.package_missing")
        return locked

    def _check_same_repo(self, target: ExtTarget, present: Path) -> None:
        from smx.catalog.extensions import normalize_git_url

        where = show_path(present)
        if git.git_dir(present) is None:
            raise UsageError(f"{where} already exists and is not a git checkout",
                             hint="move it away (or remove it) and run the command again",
                             code="extension.exists")
        origin = git.origin_url(present) or ""
        if normalize_git_url(origin) != normalize_git_url(target.git_url or ""):
            raise UsageError(f"{where} already exists, cloned from {redact(origin)}",
                             hint="remove it first, or add the one already there by its URL",
                             code="extension.exists")

    def _checkout(self, target: ExtTarget, path: Path, ref: str, *, force: bool) -> str:
        assert target.git_url is not None
        import logging

        # GitPython logs "Git informed while fetching: * [new ref] -> origin/HEAD" as a
        # warning when the default branch is fetched; it is not news to the user
        quiet = logging.getLogger("git.remote")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            return git.checkout(path, target.git_url, ref, reporter=self.reporter,
                                label=target.folder, force=force, branch=git.PINNED_BRANCH)
        except AuthRequired as exc:
            raise AuthRequired(f"{redact(target.git_url)} needs credentials (git asked for a "
                               "user name or password; smx does not let git prompt)",
                               hint="check the URL; for a private repository set up a git "
                                    "credential helper or use a URL you can read",
                               code="extension.needs_credentials") from exc
        except NotFound as exc:
            if exc.code == "git.repo_not_found":
                raise NotFound(f"{redact(target.git_url)} is not a git repository (or does not "
                               "exist)", hint="check the URL (and any url.*.insteadOf in your "
                                              "git config)",
                               code="extension.not_a_repo") from exc
            raise
        finally:
            quiet.setLevel(level)

    def _resolver(self, target: ExtTarget, pkg_locked: LockedPackage) -> VenvResolver:
        """pip/uv in the package's venv as of its resolution date (which this extension's
        commit may move), holding the package's protected pins (the torch family only, with
        ``allow-pin-change``)."""
        from smx.environment.manifest import PackageSpec

        spec = self.env.manifest.packages.get(target.package) or PackageSpec(
            name=target.package, source=pkg_locked.source)
        date = resolution_date(self.env, target.package, target.catalog, spec,
                               frozen=self.frozen, frozen_stamp=pkg_locked.resolved_as_of,
                               reporter=self.reporter)
        venv = Venv(self.layout.venv_dir(target.package))
        resolver = VenvResolver(self.env, target.package, venv,
                                self.installer or choose_installer(), self.reporter, date)
        pins = protected_pins(target.package, self.layout.package_dir(target.package),
                              target.catalog, pkg_locked.freeze)
        if target.spec.allow_pin_change:
            let_through = {p.name for p in pins.pins if p.name not in TORCH_FAMILY}
            if let_through:
                self.reporter.warn(f"{target.name} may change {target.package}'s own pins "
                                   "(allow-pin-change); torch stays as it is")
            pins = pins.without(let_through)
        resolver.protect(pins)
        return resolver

    def _requirements(self, target: ExtTarget, ext_dir: Path, resolver: VenvResolver) -> bool:
        """Install what the extension needs, the web UI's way. True when anything ran."""
        style = target.catalog.extension_style
        install_py = ext_dir / "install.py"
        requirements = ext_dir / "requirements.txt"
        runs_requirements = style == "comfyui" and requirements.is_file()
        if not install_py.is_file() and not runs_requirements:
            return False
        layout = self.layout
        checkout = layout.package_dir(target.package)
        venv = resolver.venv
        pins = resolver.pins
        assert pins is not None
        log = StepLog.create(layout.logs, f"{target.package}-{target.folder}", "requirements")
        copy = self._step_copy(target.package)
        copy.take(self.reporter, f"{target.package}: keep the current venv for a rollback")
        label = f"{target.package}/{target.folder}"
        filtered_path = layout.extension_requirements(target.package, target.folder)
        try:
            if runs_requirements:
                filtered = filter_requirements(requirements, pins, target.name)
                for request in filtered.refused:
                    self.reporter.warn(f"{request.describe()}; the rest of its requirements "
                                       "install (allow-pin-change lets it through)")
                from smx.fsutil import atomic_write_text

                atomic_write_text(filtered_path, filtered.text)
                start = log.path.stat().st_size
                with self.reporter.task(f"{label}: requirements.txt") as task:
                    try:
                        resolver.install(["-r", str(filtered_path)], log=log, cwd=ext_dir,
                                         task=task,
                                         what=f"installing the requirements of {target.name}")
                    except SubprocessFailed as exc:
                        _explain_pins(exc, requests_in_output(log_since(log.path, start), pins,
                                                              target.name))
                        raise
            if install_py.is_file():
                extra: dict[str, str] = {}
                argv: list[str | os.PathLike[str]]
                if style == "a1111":
                    extra.update(package_env(layout, target.package, target.catalog))
                    extra["PYTHONPATH"] = os.path.abspath(checkout)
                    argv = [venv.python, os.path.abspath(install_py)]
                    cwd = checkout
                else:
                    argv, cwd = [venv.python, "install.py"], ext_dir
                start = log.path.stat().st_size
                with self.reporter.task(f"{label}: install.py") as task:
                    resolver.run_script(argv, log=log, cwd=cwd, extra_env=extra, task=task,
                                        what=f"{target.name}'s install.py")
                said = log_since(log.path, start)
                for request in requests_in_output(said, pins, target.name):
                    self.reporter.warn(f"{request.describe()} (allow-pin-change lets it "
                                       "through)")
                missed = not_installed(said)
                if missed:
                    # install.py scripts (sd-webui-controlnet's) report what failed and carry
                    # on; the web UI runs them again at every start and they fail again
                    self.reporter.warn(f"{target.name}'s install.py could not install "
                                       f"{', '.join(missed)}; it loads, but what needs them "
                                       f"will not work (details: {show_path(log.path)})")
        except BaseException as exc:
            log.note(f"\nFAILED: {type(exc).__name__}: {exc}; putting the venv back")
            copy.put_back()
            if isinstance(exc, SubprocessFailed) and "torch" in exc.message:
                torch_pins = ", ".join(p.line for p in pins.pins if p.name in TORCH_FAMILY)
                exc.hint = (f"smx keeps the package's torch ({torch_pins or 'torch'}) for "
                            "every extension; one that needs another torch cannot share this "
                            f"venv. {exc.hint or ''}").strip()
            raise
        finally:
            filtered_path.unlink(missing_ok=True)
        copy.drop()
        return True

    def _after(self, target: ExtTarget, present: Path) -> None:
        layout = self.layout
        checkout = layout.package_dir(target.package)
        if target.catalog.extension_style == "comfyui":
            problem = unmet_comfyui_requirement(present, checkout)
            if problem:
                older = f"`smx ext add {target.registry}@VERSION`" if target.registry else \
                    "--ref"
                self.reporter.warn(f"{target.name} may not load in {target.package}: {problem}; "
                                   f"update the package (`smx update {target.package} --ref "
                                   f"…`) or pin an older {target.name} with {older}")
        for message in ext_models.apply(layout, target.catalog, checkout,
                                        target.enabled_dir(layout), target.variant):
            self.reporter.info(f"{target.name}: {message}")
        toggle.set_enabled(layout, target, target.spec.enabled)

    def _record(self, target: ExtTarget, head: str, pkg_locked: LockedPackage,
                venv_changed: bool, resolver: VenvResolver, *,
                archive_sha256: str | None = None) -> LockedExtension:
        if resolver.date is not None:
            pkg_locked.resolved_as_of = resolver.date.stamp
        if venv_changed:
            with self.reporter.task(f"{target.package}: record in smx.lock"):
                before = pkg_locked.freeze
                pkg_locked.freeze = installed_distributions(
                    Venv(self.layout.venv_dir(target.package)))
            changed = changed_versions(before, pkg_locked.freeze)
            if changed:
                # an extension's pins replacing the web UI's own is how a UI breaks a day
                # later; say which ones, so a failing start can be traced back here
                self.reporter.warn(f"{target.name} changed packages {target.package} already "
                                   f"had: {', '.join(changed[:8])}"
                                   + (" …" if len(changed) > 8 else ""))
        # the venv as it is now is what later runs protect
        resolver.protect(protected_pins(target.package,
                                        self.layout.package_dir(target.package),
                                        target.catalog, pkg_locked.freeze))
        locked = LockedExtension(name=target.name, git=target.locked_git, commit=head,
                                 ref=target.ref, enabled=target.spec.enabled,
                                 registry=target.registry, version=target.version,
                                 archive_sha256=archive_sha256)
        pkg_locked.extensions[target.name] = locked
        return locked


def check_needs(target: ExtTarget, checkout: Path) -> None:
    """Refuse a known variant that cannot load in this checkout (catalog ``needs``): checked
    before anything is cloned, since the failure would otherwise only show in the UI's log."""
    variant = target.variant
    if variant is None or not variant.needs:
        return
    missing = [p for p in variant.needs if not (checkout / p).exists()]
    if missing:
        title = target.known.title if target.known else target.name
        raise UsageError(
            f"{title} for {target.catalog.title} ({short_url(target.git_url or '')}) would "
            f"not load in {target.package}: {variant.needs_why} (this checkout has no "
            f"{', '.join(missing)})",
            hint="nothing was added; use a web UI it supports (e.g. ComfyUI with "
                 "AnimateDiff-Evolved, or A1111), or give --ref/--git for a version that "
                 "fits", code="extension.incompatible")


def changed_versions(before: list[str], after: list[str]) -> list[str]:
    """``name old -> new`` for each distribution whose pinned version changed."""
    def pins(lines: list[str]) -> dict[str, str]:
        return dict(line.split("==", 1) for line in lines if "==" in line)

    old, new = pins(before), pins(after)
    return [f"{name} {old[name]} -> {new[name]}" for name in sorted(old)
            if name in new and new[name] != old[name]]


def _explain_pins(exc: SubprocessFailed, requests: list[PinRequest]) -> None:
    """Say which protected pin a failed resolution ran into, and how to let it through."""
    if not requests:
        return
    exc.message = f"{exc.message.splitlines()[0]}\n  " + "\n  ".join(
        r.describe() for r in requests[:4])
    exc.hint = (f"smx keeps the web UI's own pins so the extension cannot break it; "
                f"`smx ext add … --allow-pin-change` lets it change them. {exc.hint or ''}"
                ).strip()
