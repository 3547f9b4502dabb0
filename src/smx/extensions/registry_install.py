"""Install or move a Comfy Registry node pack, through :class:`ExtensionInstaller`.

The Registry picks the version (smx.extensions.registry_source); the code then takes the same
path as any extension: a git checkout at the version's commit (``install``/``update``, with
their rollback), or the version's archive (``install_archive``). A folder that came from an
archive and now comes from the repository (or the other way) is set aside first and put back
if anything fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from smx.environment.env import Env
from smx.environment.lock import LockedExtension
from smx.extensions.archive import unpacked_sha256
from smx.extensions.installer import ExtensionInstaller
from smx.extensions.registry_source import pick
from smx.extensions.targets import ExtTarget, with_source
from smx.fsutil import remove_path
from smx.packages import git
from smx.reporter import Reporter


def install(env: Env, target: ExtTarget, *, locked: LockedExtension | None, upgrade: bool,
            reporter: Reporter, frozen: bool = False) -> LockedExtension:
    chosen = pick(env, target, locked=locked, upgrade=upgrade, reporter=reporter)
    version = chosen.version.version
    concrete = with_source(target, git_url=chosen.git_url, version=version)
    reporter.info(f"{target.registry} {version}: "
                  + (f"{chosen.how}" if chosen.git_url else "the Registry's archive"))
    installer = ExtensionInstaller(env, reporter, frozen=frozen)
    present = concrete.present_dir(env.layout)
    if chosen.git_url is None:
        same = locked is not None and locked.registry == target.registry and \
            locked.version == version
        assert chosen.archive_url is not None
        return installer.install_archive(concrete, chosen.archive_url,
                                         expected_sha256=locked.archive_sha256 if same and
                                         locked is not None else None)
    assert chosen.commit is not None
    commit = chosen.commit
    if present is not None and git.git_dir(present) is None and unpacked_sha256(present):
        return _replacing(env, concrete, present,
                          lambda: installer.install(concrete, commit=commit))
    if locked is not None and present is not None and locked.commit and \
            locked.commit != commit:
        return installer.update(concrete, locked, commit=commit)
    return installer.install(concrete, commit=commit)  # new, or a repair: requirements again


def _replacing(env: Env, target: ExtTarget, present: Path,
               work: Callable[[], LockedExtension]) -> LockedExtension:
    aside = env.layout.extension_trash(target.package, target.folder)
    remove_path(aside)
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(present, aside)
    try:
        result = work()
    except BaseException:
        for leftover in (target.enabled_dir(env.layout), target.disabled_dir(env.layout)):
            remove_path(leftover)
        os.replace(aside, present)
        raise
    remove_path(aside)
    return result
