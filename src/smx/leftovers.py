"""What `smx lock` dropped from smx.lock while it is still on disk, for the next sync to remove.

`smx sync` removes what left smx.toml by looking at smx.lock: a lock entry with no smx.toml
entry is a package, extension or model to delete. `smx lock` makes smx.lock match smx.toml
without touching the disk, so it drops those entries; to keep "remove it from smx.toml, then
sync" working after a `smx lock` in between, the dropped entries whose files are still there
are kept in ``Data/.smx/leftovers.lock`` (smx.lock's format; machine-local, never committed).

A sync (not ``--frozen``, with pruning) puts them back into the in-memory lock before it plans,
so the executors plan their removal as usual; they are never written to smx.lock
(:func:`visible_lock`), and whatever is not removed (out of the sync's scope, or back in
smx.toml) stays here or is forgotten.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from smx.environment import lock as lockfile
from smx.environment.env import Env
from smx.environment.layout import EnvLayout
from smx.environment.lock import Lock, LockedPackage
from smx.errors import SmxError


def load(layout: EnvLayout) -> Lock:
    path = layout.leftovers
    if not path.is_file():
        return Lock()
    try:
        return lockfile.load(path, holders=True)
    except (SmxError, OSError):  # damaged bookkeeping must not block a sync: forget it
        return Lock()


def save(layout: EnvLayout, lock: Lock) -> None:
    path = layout.leftovers
    if not lock.packages and not lock.models:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lockfile.save(path, lock)


@dataclass
class Injected:
    """The leftovers put into ``env.lock`` for one sync."""

    packages: set[str] = field(default_factory=set)
    extensions: set[tuple[str, str]] = field(default_factory=set)  # (package, extension)
    models: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.packages or self.extensions or self.models)


def add(layout: EnvLayout, dropped: Lock, on_disk: Injected) -> None:
    """Keep the entries of ``dropped`` named in ``on_disk`` (called by `smx lock`)."""
    kept = load(layout)
    for name in on_disk.packages:
        kept.packages[name] = copy.deepcopy(dropped.packages[name])
    for pname, ename in on_disk.extensions:
        holder = kept.packages.get(pname)
        if holder is None:
            source = dropped.packages[pname]
            holder = _holder(pname, source)
            kept.packages[pname] = holder
        holder.extensions[ename] = copy.deepcopy(dropped.packages[pname].extensions[ename])
    for name in on_disk.models:
        kept.models[name] = copy.deepcopy(dropped.models[name])
    save(layout, kept)


def inject(env: Env) -> Injected:
    """Put the leftovers that are in neither smx.toml nor smx.lock into ``env.lock``."""
    kept = load(env.layout)
    injected = Injected()
    if not kept.packages and not kept.models:
        return injected
    manifest, lock = env.manifest, env.lock
    for name, entry in kept.packages.items():
        if name in manifest.packages:
            # the package is wanted (again): only its dropped extensions can be leftovers
            target = lock.packages.get(name)
            if target is None:
                continue
            for ename, ext in entry.extensions.items():
                if ename not in manifest.packages[name].extensions and \
                        ename not in target.extensions:
                    target.extensions[ename] = copy.deepcopy(ext)
                    injected.extensions.add((name, ename))
        elif name not in lock.packages and entry.commit:
            lock.packages[name] = copy.deepcopy(entry)
            injected.packages.add(name)
    for name, model in kept.models.items():
        if name not in manifest.models and name not in lock.models:
            lock.models[name] = copy.deepcopy(model)
            injected.models.add(name)
    return injected


def visible_lock(env: Env, injected: Injected) -> Lock:
    """``env.lock`` without the injected leftovers still in it: what smx.lock may hold."""
    if not injected:
        return env.lock
    shown = Lock(packages=dict(env.lock.packages), models=dict(env.lock.models),
                 version=env.lock.version)
    for name in injected.packages:
        shown.packages.pop(name, None)
    for pname, ename in injected.extensions:
        entry = shown.packages.get(pname)
        if entry is not None and ename in entry.extensions:
            entry = copy.copy(entry)
            entry.extensions = {k: v for k, v in entry.extensions.items() if k != ename}
            shown.packages[pname] = entry
    for name in injected.models:
        shown.models.pop(name, None)
    return shown


def settle(env: Env, injected: Injected, *, write: bool) -> None:
    """After a sync: take the leftovers out of ``env.lock`` again; keep in the file only those
    still not removed and still unwanted."""
    if not injected:
        if write:
            _forget_wanted(env)
        return
    remaining = Lock()
    for name in injected.packages:
        entry = env.lock.packages.pop(name, None)
        if entry is not None:
            remaining.packages[name] = entry
    for pname, ename in injected.extensions:
        holder = env.lock.packages.get(pname)
        ext = holder.extensions.pop(ename, None) if holder is not None else None
        if ext is not None and holder is not None:
            keep = remaining.packages.get(pname)
            if keep is None:
                keep = _holder(pname, holder)
                remaining.packages[pname] = keep
            keep.extensions[ename] = ext
    for name in injected.models:
        model = env.lock.models.pop(name, None)
        if model is not None:
            remaining.models[name] = model
    if write:
        save(env.layout, _without_wanted(env, remaining))


def _forget_wanted(env: Env) -> None:
    kept = load(env.layout)
    if kept.packages or kept.models:
        trimmed = _without_wanted(env, kept)
        if (trimmed.packages, trimmed.models) != (kept.packages, kept.models):
            save(env.layout, trimmed)


def _without_wanted(env: Env, kept: Lock) -> Lock:
    """Leftovers that smx.toml lists again are not leftovers any more."""
    out = Lock()
    for name, entry in kept.packages.items():
        spec = env.manifest.packages.get(name)
        if spec is None:
            out.packages[name] = entry
            continue
        exts = {k: v for k, v in entry.extensions.items() if k not in spec.extensions}
        if exts:
            holder = _holder(name, entry)
            holder.extensions = exts
            out.packages[name] = holder
    out.models = {k: v for k, v in kept.models.items() if k not in env.manifest.models}
    return out


def _holder(name: str, like: LockedPackage) -> LockedPackage:
    """An entry that only carries leftover extensions of a package smx.toml still lists: no
    commit, so it is never taken for a leftover package itself."""
    return LockedPackage(name=name, source=like.source, git=like.git, commit="")
