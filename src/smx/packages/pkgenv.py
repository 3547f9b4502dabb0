"""The environment variables a package's processes need (install step, load check, launch):
the replacement URLs of the repositories the web UI clones, smx's local clones of the archives
it pip-installs, and the catalog's known fixes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smx.catalog.packages import CatalogPackage
from smx.environment.layout import EnvLayout
from smx.packages.pins import github_archive, read_env_defaults


def package_env(layout: EnvLayout, name: str, catalog: CatalogPackage) -> dict[str, str]:
    """Environment variables the package needs to start without fetching anything itself:
    the replacement URLs of the repositories it clones, smx's local clones of the archives it
    pip-installs, and the known fixes' variables. The launcher sets the same."""
    env: dict[str, str] = {}
    for repo in catalog.extra_repos:
        env[repo.url_env] = os.environ.get(repo.url_env) or repo.url
    pins = pins_of(layout.package_dir(name), catalog)
    for archive in catalog.pip_archives:
        git_url, commit = archive_source(archive, pins)
        clone = layout.git_archive_clone(git_url, commit)
        if clone.is_dir() and not os.environ.get(archive.url_env):  # the user's choice wins
            env[archive.url_env] = str(clone)
    for fix in catalog.known_fixes:
        env.update(dict(fix.env))
    return env


def pins_of(pkg_dir: Path, catalog: CatalogPackage) -> dict[str, str]:
    """The UI's pins: its file's defaults, overridden by the same environment variables the UI
    itself reads (``BLIP_COMMIT_HASH=…`` in webui-user.sh works for smx too)."""
    if not catalog.pins_file:
        return {}
    pins = read_env_defaults(pkg_dir / catalog.pins_file)
    for name in pins:
        if os.environ.get(name):
            pins[name] = os.environ[name]
    return pins


def archive_source(archive: Any, pins: dict[str, str]) -> tuple[str, str]:
    parsed = github_archive(pins.get(archive.url_env, ""))
    return parsed if parsed else (archive.git, archive.commit)
