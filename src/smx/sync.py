"""Sync: desired state (smx.toml) vs actual (disk + smx.lock) -> a plan of steps -> execute.

Every mutating command is "edit smx.toml, then sync". Each area (packages, extensions,
models) contributes an *executor* that looks at the env and proposes steps; sync runs them in
order and saves smx.lock after each step that completed, so an interrupted sync resumes where it
stopped and the lock never records work that did not finish.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from smx.environment.env import Env
from smx.environment.lock import Lock
from smx.environment.manifest import ManifestEdit
from smx.errors import SmxError
from smx.packages.loadcheck import LoadChecks
from smx.reporter import NullReporter, Reporter
from smx.steps import Outcomes, Step, SyncContext, SyncOptions

__all__ = ["Step", "SyncContext", "SyncOptions", "SyncResult", "plan", "save", "sync"]

# Executors in the order their steps must run (a package before its extensions, …).
# "module:attribute" so nothing is imported before a sync needs it.
EXECUTORS: list[str] = [
    "smx.packages.executor:PackageExecutor",  # first: extensions and models need the package
    "smx.extensions.executor:ExtensionExecutor",  # into the package's venv and folder
    "smx.models.executor:ModelExecutor",
]


class Executor(Protocol):
    def plan(self, ctx: SyncContext) -> list[Step]: ...


def load_executors() -> list[Executor]:
    executors: list[Executor] = []
    for spec in EXECUTORS:
        module_name, _, attr = spec.partition(":")
        executors.append(getattr(importlib.import_module(module_name), attr)())
    return executors


def plan(ctx: SyncContext) -> list[Step]:
    from smx.packages import checking

    steps: list[Step] = []
    for executor in load_executors():
        steps.extend(executor.plan(ctx))
    return checking.plan([step for step in steps if _in_scope(step, ctx.options)], ctx)


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
    checks: LoadChecks | None = None  # what the load checks found (and kept, --keep-broken)
    outcomes: Outcomes = field(default_factory=Outcomes)  # what the steps did


def sync(env: Env, options: SyncOptions | None = None, reporter: Reporter | None = None, *,
         edit: ManifestEdit | None = None) -> SyncResult:
    """Plan and run. ``frozen``: first check that smx.lock pins everything smx.toml lists
    (and nothing else), naming every disagreement; nothing is resolved then. Otherwise what
    `smx lock` dropped while it was still on disk (smx.leftovers) is planned for removal.
    ``edit``: the command's smx.toml edit (``env.manifest`` already is the edited one), which
    the step that finishes its work writes (smx.apply)."""
    from smx import leftovers

    ctx = SyncContext(env=env, reporter=reporter or NullReporter(),
                      options=options or SyncOptions(), edit=edit)
    if ctx.options.frozen:
        from smx.agreement import check_frozen

        check_frozen(env, ctx.options.areas)
    pruning = ctx.options.prune and not ctx.options.frozen
    injected = leftovers.inject(env) if pruning else leftovers.Injected()
    done: list[Step] = []
    try:
        steps = plan(ctx)
        if ctx.options.dry_run:
            return SyncResult(planned=steps, done=[], checks=ctx.checks, outcomes=ctx.outcomes)
        for step in steps:
            try:
                step.run(ctx)
            except KeyboardInterrupt:
                from smx.errors import Interrupted

                raise Interrupted(f"interrupted during: {step.describe()}",
                                  hint="run the same command again; it resumes where it "
                                       "stopped") from None
            except SmxError:
                if step.saves_on_failure:
                    save(env, leftovers.visible_lock(env, injected))
                raise
            # after every completed step: an interrupted sync resumes from here
            save(env, leftovers.visible_lock(env, injected))
            done.append(step)
    finally:
        leftovers.settle(env, injected, write=pruning and not ctx.options.dry_run)
    return SyncResult(planned=steps, done=done, checks=ctx.checks, outcomes=ctx.outcomes)


def save(env: Env, lock: Lock) -> None:
    from smx.environment import lock as lockfile

    lockfile.save(env.layout.lockfile, lock)
