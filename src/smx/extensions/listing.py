"""Rows for `smx ext list`: what smx.toml asks, what smx.lock pins, what is on disk.

Reading is offline (``.git`` files and config.json); ``check=True`` asks each remote what the
extension's ref names now (``git ls-remote``), the only network use.
"""

from __future__ import annotations

from typing import Any

from smx.environment.env import Env
from smx.environment.manifest import ExtensionSpec
from smx.errors import SmxError
from smx.extensions import toggle
from smx.extensions.targets import ExtTarget, present_identity, resolve
from smx.packages import git


def rows(env: Env, *, package: str | None = None, check: bool = False) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for pname, pkg in env.manifest.packages.items():
        if package is not None and pname != package:
            continue
        locked_pkg = env.lock.packages.get(pname)
        locked_exts = locked_pkg.extensions if locked_pkg else {}
        for ename, spec in pkg.extensions.items():
            found.append(_row(env, resolve(pkg, spec), locked_exts.get(ename), check))
        for ename in sorted(set(locked_exts) - set(pkg.extensions)):
            gone = locked_exts[ename]
            spec = ExtensionSpec(name=ename, registry=gone.registry) if gone.registry else \
                ExtensionSpec(name=ename, git=gone.git, ref=gone.ref)
            target = resolve(pkg, spec)
            row = _row(env, target, gone, check=False)
            row["state"] = "not in smx.toml (removed by the next sync)"
            found.append(row)
    return found


def _row(env: Env, target: ExtTarget, locked: Any, check: bool) -> dict[str, Any]:
    layout = env.layout
    present = None if target.builtin else target.present_dir(layout)
    head = git.head_commit(present) if present is not None else None
    identity = present_identity(present) if present is not None else None
    if target.builtin:
        state = "built in"
    elif locked is None:
        state = "not installed"
    elif identity != locked.identity:
        state = "differs from smx.lock (run `smx sync`)"
    else:
        state = "installed"
    try:
        enabled = True if target.builtin or present is None else toggle.is_enabled(layout,
                                                                                    target)
    except SmxError:
        enabled = target.spec.enabled
    row: dict[str, Any] = {
        "name": target.name,
        "package": target.package,
        "git": (locked.git if locked is not None else target.locked_git) or None,
        "ref": target.ref,
        "registry": target.registry,
        "version": (locked.version if locked is not None else None) or target.version,
        "archive_sha256": locked.archive_sha256 if locked is not None else None,
        "commit": (locked.commit or None) if locked is not None else head,
        "checkout": head,
        "enabled": enabled,
        "builtin": target.builtin,
        "state": state,
        "path": layout.relative(present) if present is not None else None,
        "update_available": None,
        "remote_commit": None,
    }
    if check and target.registry is not None:
        _check_registry(env, target, row)
    elif check and not target.builtin and target.git_url:
        try:
            resolved = git.resolve(target.git_url, target.want_ref, cwd=present)
        except SmxError as exc:
            row["check_error"] = exc.message
        else:
            row["remote_commit"] = resolved.commit
            if resolved.commit is not None and row["commit"] is not None:
                row["update_available"] = resolved.commit != row["commit"]
    return row



def _check_registry(env: Env, target: ExtTarget, row: dict[str, Any]) -> None:
    """--check for a Registry pack: the newest active version (when smx.toml leaves it open)."""
    from smx.extensions import registry

    try:
        with registry.client(env.manifest.sources) as client:
            node = client.node(target.registry or "")
            newest = registry.choose(node, client.versions(node.id), None)
    except SmxError as exc:
        row["check_error"] = exc.message
        return
    row["remote_version"] = newest.version
    if row["version"] is not None:
        row["update_available"] = target.version is None and newest.version != row["version"]
