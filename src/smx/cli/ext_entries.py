"""What `smx ext` commands share: which package, the smx.toml entry edit, and "edit, then sync
those entries" in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.environment.env import Env
    from smx.environment.manifest import PackageSpec
    from smx.sync import SyncResult

def package_of(env: Env, name: str | None) -> PackageSpec:
    from smx.errors import NotFound, UsageError

    packages = env.manifest.packages
    if name is not None:
        if name not in packages:
            from smx.catalog.packages import missing_package_hint

            raise NotFound(f"no package {name!r} in smx.toml",
                           hint=missing_package_hint(name, list(packages)),
                           code="extension.unknown_package")
        return packages[name]
    if len(packages) == 1:
        return next(iter(packages.values()))
    if not packages:
        raise NotFound("smx.toml lists no packages to add extensions to",
                       hint="install one first, e.g. `smx install a1111`",
                       code="extension.no_package")
    raise UsageError(f"smx.toml has {len(packages)} packages: {', '.join(packages)}",
                     hint=f"name one with --package {next(iter(packages))}",
                     code="extension.which_package")


def set_entry(doc: Any, package: str, name: str, fields: dict[str, Any] | None, *,
               drop_none: bool = False) -> None:
    """Add, change (``fields``; None values skipped, or with ``drop_none`` deleted) or delete
    (``fields`` None) ``[packages.P.extensions] NAME = {…}``."""
    from smx.environment.manifest import inline, table_for

    table = table_for(doc, "packages", package, "extensions")
    if fields is None:
        if name in table:
            del table[name]
        return
    if name not in table:
        table[name] = inline(fields)
        return
    entry = table[name]
    for key, value in fields.items():
        if value is not None:
            entry[key] = value
        elif drop_none and key in entry:
            del entry[key]


def sync_entries(env: Env, output: Output, pairs: set[tuple[str, str]], change: Any, *,
                 extra: dict[str, Any] | None = None, keep_broken: bool = False) -> SyncResult:
    """Edit smx.toml (written by the step that finishes the work), then sync those entries
    and check that the package still loads; all or nothing."""
    from smx.extensions.executor import ONLY
    from smx.packages.pending import PENDING_KEY, PendingManifest
    from smx.sync import SyncOptions
    from smx.sync import sync as run_sync
    from smx.transaction import env_transaction

    with env_transaction(env):
        pending = PendingManifest.prepare(env, change)
        options = SyncOptions(areas={"extension"}, keep_broken=keep_broken,
                              extra={PENDING_KEY: pending, ONLY: pairs, **(extra or {})})
        result = run_sync(env, options, output.reporter())
        pending.write()
    return result


def show(path: Any) -> str:
    from smx.packages.runner import show_path

    return show_path(path)
