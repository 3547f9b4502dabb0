"""`smx install/update/remove/list` as core operations: the edit of ``[packages.NAME]`` in
smx.toml, "edit, then sync that package" (smx.apply: all or nothing, smx.toml written once
the package is really there), and one package's row of `smx list`."""

from __future__ import annotations

from typing import Any

from smx.apply import apply
from smx.environment.env import Env
from smx.errors import SmxError
from smx.reporter import Reporter
from smx.steps import SyncOptions
from smx.sync import SyncResult

FIELDS = ("source", "git", "ref", "backend", "python")  # what commands write, in this order


def change(env: Env, reporter: Reporter, name: str | None, fields: dict[str, Any] | None, *,
           upgrade: set[str] | None = None, only: set[str] | None = None,
           keep_broken: bool = False) -> SyncResult:
    """Set ``fields`` of ``[packages.NAME]`` (None: delete the entry), then sync it (``only``:
    these packages instead; ``upgrade``: re-resolve these)."""
    edits = name is not None and (fields is None or any(v is not None for v in fields.values()))
    scope = only if only is not None else ({name} if name is not None else None)
    options = SyncOptions(upgrade=upgrade, only=scope, keep_broken=keep_broken)

    def edit(doc: Any) -> None:
        assert name is not None
        set_entry(doc, name, fields)

    return apply(env, edit if edits else None, options, reporter)


def set_entry(doc: Any, name: str, fields: dict[str, Any] | None) -> None:
    """Add or change ``[packages.NAME]`` (None values are left as they are), or delete it
    (``fields`` None, and ``[launch] package`` when it names it)."""
    import tomlkit

    from smx.environment.manifest import table_for

    packages = table_for(doc, "packages")
    if fields is None:
        if name in packages:
            del packages[name]
        launch = doc.get("launch")
        if launch is not None and launch.get("package") == name:
            del launch["package"]
        return
    if name not in packages:
        table = tomlkit.table()
        for key in FIELDS:
            if fields.get(key) is not None:
                table[key] = fields[key]
        table.add(tomlkit.nl())  # a blank line before whatever table follows
        packages[name] = table
        return
    table = packages[name]
    for key in FIELDS:
        value = fields.get(key)
        if value is not None and table.get(key) != value:
            table[key] = value


def names(env: Env) -> list[str]:
    """The packages of smx.toml, then those only smx.lock still has."""
    return list(env.manifest.packages) + [n for n in env.lock.packages
                                          if n not in env.manifest.packages]


def row(env: Env, name: str) -> dict[str, Any]:
    """One package of `smx list --json` (docs/json/list.md)."""
    from smx.fsutil import folder_size
    from smx.packages import git
    from smx.packages.target import Target
    from smx.status import package_state

    spec = env.manifest.packages.get(name)
    locked = env.lock.packages.get(name)
    pkg_dir = env.layout.package_dir(name)
    head = git.head_commit(pkg_dir)
    state, code = package_state(env, name)
    dirty = False
    if head is not None:
        try:
            dirty = git.is_dirty(pkg_dir)
        except SmxError:
            dirty = False
    ref = spec.ref if spec and spec.ref else (locked.ref if locked else None)
    if spec is not None and ref is None:
        ref = Target.of(spec).ref
    return {
        "name": name,
        "source": spec.source if spec else (locked.source if locked else "?"),
        "ref": ref,
        "commit": locked.commit if locked else head,
        "checkout": head,
        "backend": locked.backend if locked else (spec.backend if spec else None),
        "python": locked.python if locked else None,
        "path": env.layout.relative(pkg_dir) if pkg_dir.exists() else None,
        "size_bytes": folder_size(pkg_dir) if pkg_dir.exists() else 0,
        "dirty": dirty,
        "state": state,
        "state_code": code,
    }
