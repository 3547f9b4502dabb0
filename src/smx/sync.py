"""Sync: desired state (smx.toml) vs actual (disk + smx.lock) -> a plan of steps -> execute.

Every mutating command is "edit smx.toml, then sync". Each area (packages, extensions,
models) contributes an *executor* that looks at the env and proposes steps; sync runs them in
order and saves smx.lock after each step that completed, so an interrupted sync resumes where it
stopped and the lock never records work that did not finish.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from smx.environment.env import Env
from smx.environment.lock import Lock
from smx.errors import SmxError
from smx.reporter import NullReporter, Reporter

# Executors in the order their steps must run (a package before its extensions, …).
# "module:attribute" so nothing is imported before a sync needs it.
EXECUTORS: list[str] = [
    "smx.packages.executor:PackageExecutor",  # first: extensions and models need the package
    "smx.extensions.executor:ExtensionExecutor",  # into the package's venv and folder
    "smx.models.executor:ModelExecutor",
]


@dataclass
class SyncOptions:
    frozen: bool = False  # install exactly smx.lock; refuse when smx.toml disagrees
    dry_run: bool = False
    upgrade: set[str] | None = None  # names to re-resolve; empty set = everything
    only: set[str] | None = None  # restrict to steps for these names (install/pull commands)
    areas: set[str] | None = None  # restrict to these areas: {"package", "extension", "model"}
    prune: bool = True  # remove what smx.toml no longer lists
    extra: dict[str, Any] = field(default_factory=dict)  # per-command switches (e.g. allow_unsafe)


@dataclass
class SyncContext:
    env: Env
    reporter: Reporter
    options: SyncOptions


@dataclass
class Step:
    area: str  # package | extension | model
    target: str  # the name in smx.toml
    action: str  # install | update | remove | pull | relink | …
    detail: str  # one line for `smx sync --dry-run`
    run: Callable[[SyncContext], None] = field(repr=False)
    package: str | None = None  # the package a step belongs to (packages and extensions)

    def describe(self) -> str:
        return f"{self.action} {self.area} {self.target}: {self.detail}"


class Executor(Protocol):
    def plan(self, ctx: SyncContext) -> list[Step]: ...


def load_executors() -> list[Executor]:
    executors: list[Executor] = []
    for spec in EXECUTORS:
        module_name, _, attr = spec.partition(":")
        executors.append(getattr(importlib.import_module(module_name), attr)())
    return executors


def plan(ctx: SyncContext) -> list[Step]:
    steps: list[Step] = []
    for executor in load_executors():
        steps.extend(executor.plan(ctx))
    return [step for step in steps if _in_scope(step, ctx.options)]


def _in_scope(step: Step, options: SyncOptions) -> bool:
    if options.areas is not None and step.area not in options.areas:
        return False
    if options.only is not None:
        return step.target in options.only or (step.package is not None
                                                 and step.package in options.only)
    return True


@dataclass
class SyncResult:
    planned: list[Step]
    done: list[Step]


def sync(env: Env, options: SyncOptions | None = None,
         reporter: Reporter | None = None) -> SyncResult:
    """Plan and run. ``frozen``: first check that smx.lock pins everything smx.toml lists
    (and nothing else), naming every disagreement; nothing is resolved then. Otherwise what
    `smx lock` dropped while it was still on disk (smx.leftovers) is planned for removal."""
    from smx import leftovers

    ctx = SyncContext(env=env, reporter=reporter or NullReporter(),
                      options=options or SyncOptions())
    if ctx.options.frozen:
        from smx.agreement import check_frozen

        check_frozen(env, ctx.options.areas)
    pruning = ctx.options.prune and not ctx.options.frozen
    injected = leftovers.inject(env) if pruning else leftovers.Injected()
    done: list[Step] = []
    try:
        steps = plan(ctx)
        if ctx.options.dry_run:
            return SyncResult(planned=steps, done=[])
        for step in steps:
            try:
                step.run(ctx)
            except KeyboardInterrupt:
                from smx.errors import Interrupted

                raise Interrupted(f"interrupted during: {step.describe()}",
                                  hint="run the same command again; it resumes where it "
                                       "stopped") from None
            except SmxError:
                raise
            # after every completed step: an interrupted sync resumes from here
            save(env, leftovers.visible_lock(env, injected))
            done.append(step)
    finally:
        leftovers.settle(env, injected, write=pruning and not ctx.options.dry_run)
    return SyncResult(planned=steps, done=done)


def save(env: Env, lock: Lock) -> None:
    from smx.environment import lock as lockfile

    lockfile.save(env.layout.lockfile, lock)
