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
from smx.extensions.targets import ExtTarget, resolve
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
            target = resolve(pkg, ExtensionSpec(name=ename, git=gone.git, ref=gone.ref))
            row = _row(env, target, gone, check=False)
            row["state"] = "not in smx.toml (removed by the next sync)"
            found.append(row)
    return found


def _row(env: Env, target: ExtTarget, locked: Any, check: bool) -> dict[str, Any]:
    layout = env.layout
    present = None if target.builtin else target.present_dir(layout)
    head = git.head_commit(present) if present is not None else None
    if target.builtin:
        state = "built in"
    elif locked is None:
        state = "not installed"
    elif head != locked.commit:
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
        "git": target.locked_git or None,
        "ref": target.ref,
        "commit": locked.commit if locked is not None else head,
        "checkout": head,
        "enabled": enabled,
        "builtin": target.builtin,
        "state": state,
        "path": layout.relative(present) if present is not None else None,
        "update_available": None,
        "remote_commit": None,
    }
    if check and not target.builtin and target.git_url:
        try:
            resolved = git.resolve(target.git_url, target.want_ref, cwd=present)
        except SmxError as exc:
            row["check_error"] = exc.message
        else:
            row["remote_commit"] = resolved.commit
            if resolved.commit is not None and row["commit"] is not None:
                row["update_available"] = resolved.commit != row["commit"]
    return row

