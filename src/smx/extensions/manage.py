"""`smx ext add/update/remove/enable/disable` as core operations: which package and which
entries a command acts on, the edit of ``[packages.P.extensions]`` in smx.toml, and "edit, then
sync those entries" (smx.apply: all or nothing, smx.toml written once the work is done)."""

from __future__ import annotations

from typing import Any

from smx.apply import Change, apply
from smx.environment.env import Env
from smx.environment.manifest import NAME_RE, ExtensionSpec, PackageSpec
from smx.errors import NotFound, UsageError
from smx.extensions.targets import ExtTarget, refuse_never_loaded, repo_folder, resolve
from smx.reporter import Reporter
from smx.steps import ExtensionKey, SyncOptions
from smx.sync import SyncResult


def package_of(env: Env, name: str | None) -> PackageSpec:
    """The package ``--package`` names, or the only one the environment has."""
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


def entries(env: Env, name: str | None, package: str | None, *, allow_locked: bool = False
            ) -> list[ExtensionKey]:
    """The (package, extension) entries a command acts on: ``name`` (in ``package``, or in
    the one package that has it), or every extension. ``allow_locked``: also entries only
    smx.lock still has (a removal finishes them)."""
    if package is not None:
        package_of(env, package)
    found: list[ExtensionKey] = []
    for pname, spec in env.manifest.packages.items():
        if package is not None and pname != package:
            continue
        names = set(spec.extensions)
        locked = env.lock.packages.get(pname)
        if allow_locked and locked is not None:
            names |= set(locked.extensions)
        found += [(pname, e) for e in sorted(names) if name is None or e == name]
    if name is None:
        return found
    if not found:
        where = f" of {package}" if package else ""
        raise NotFound(f"no extension {name!r}{where} in smx.toml",
                       hint="see `smx ext list`", code="extension.not_found")
    if len(found) > 1:
        raise UsageError(f"{name!r} is an extension of {', '.join(p for p, _ in found)}",
                         hint=f"name the package: --package {found[0][0]}",
                         code="extension.which_package")
    return found


def locked_commit(env: Env, package: str, name: str) -> str | None:
    pkg = env.lock.packages.get(package)
    locked = pkg.extensions.get(name) if pkg else None
    return locked.commit if locked else None


def check_name(key: str) -> None:
    if not NAME_RE.match(key):
        raise UsageError(f"invalid extension name {key!r}",
                         hint="letters, digits, '.', '_' and '-' (at most 64); choose one with "
                              "--name")


def refuse_existing(pkg: PackageSpec, key: str) -> None:
    if key in pkg.extensions:
        raise UsageError(f"{key!r} is already an extension of {pkg.name} in smx.toml",
                         hint=f"update it with `smx ext update {key}`, or add another copy "
                              "with --name", code="extension.exists")


def git_target(env: Env, pkg: PackageSpec, source: str, *, is_url: bool, ref: str | None,
               key: str) -> ExtTarget:
    """The extension `smx ext add SOURCE` would add to ``pkg`` (a git URL or a known name),
    refused before anything changes when it cannot be added there."""
    from smx.extensions.installer import check_needs

    refuse_existing(pkg, key)
    target = resolve(pkg, ExtensionSpec(name=key, git=source if is_url else None, ref=ref))
    refuse_never_loaded(target)
    if target.builtin:
        return target
    for other, spec in pkg.extensions.items():
        other_target = resolve(pkg, spec)
        if not other_target.builtin and other_target.folder == target.folder:
            raise UsageError(f"{pkg.name} already has {target.folder} (as {other!r})",
                             code="extension.exists")
    check_needs(target, env.layout.package_dir(pkg.name))
    return target


def default_key(source: str, *, is_url: bool) -> str:
    return repo_folder(source) if is_url else source


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


def add(env: Env, reporter: Reporter, package: str, key: str, fields: dict[str, Any], *,
        allow_unsafe_pickle: bool = False, keep_broken: bool = False) -> SyncResult:
    """Add ``[packages.PACKAGE.extensions] KEY = {fields}`` (and, ``allow_unsafe_pickle``,
    ``[launch] unsafe-pickle-ok = true``), then install it; all or nothing."""

    def edit(doc: Any) -> None:
        set_entry(doc, package, key, fields)
        if allow_unsafe_pickle:
            from smx.environment.manifest import table_for

            table_for(doc, "launch")["unsafe-pickle-ok"] = True

    return change(env, reporter, {(package, key)}, edit, keep_broken=keep_broken)


def update(env: Env, reporter: Reporter, keys: list[ExtensionKey], *, ref: str | None = None,
           allow_pin_change: bool = False, keep_broken: bool = False) -> SyncResult:
    """Move ``keys`` to what their ref (or the Registry) names now, the one of them to ``ref``
    when given (written to smx.toml, as ``allow-pin-change``)."""

    def edit(doc: Any) -> None:
        if ref is not None:
            (pname, ename), = keys
            set_entry(doc, pname, ename, {"ref": ref})
        if allow_pin_change:
            for pname, ename in keys:
                set_entry(doc, pname, ename, {"allow-pin-change": True})

    return change(env, reporter, set(keys), edit, upgrade=True, keep_broken=keep_broken)


def remove(env: Env, reporter: Reporter, key: ExtensionKey) -> SyncResult:
    """Drop the entry from smx.toml, then delete the extension's folder and lock entry."""
    package, name = key
    return change(env, reporter, {key}, lambda doc: set_entry(doc, package, name, None))


def set_enabled(env: Env, reporter: Reporter, key: ExtensionKey, enabled: bool, *,
                keep_broken: bool = False) -> SyncResult:
    """Enable (``enabled`` left out of the entry: the default) or disable an extension; one
    that starts loading is load-checked."""
    package, name = key

    def edit(doc: Any) -> None:
        set_entry(doc, package, name, {"enabled": None if enabled else False}, drop_none=True)

    return change(env, reporter, {key}, edit, keep_broken=keep_broken)


def change(env: Env, reporter: Reporter, keys: set[ExtensionKey], edit: Change, *,
           upgrade: bool = False, keep_broken: bool = False) -> SyncResult:
    """Edit smx.toml, then sync those entries (``upgrade``: to what their ref or the Registry
    names now) and check that the package still loads; all or nothing."""
    options = SyncOptions(areas={"extension"}, keep_broken=keep_broken, extensions=keys,
                          upgrade_extensions=set(keys) if upgrade else set())
    return apply(env, edit, options, reporter)
