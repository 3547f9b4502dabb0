"""The contract between sync and its executors: the options of one sync, the context every
step runs with, and the step itself. Its own module so executors and checks can import it
without importing the sync loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smx.environment.env import Env
from smx.packages.loadcheck import LoadChecks
from smx.reporter import Reporter


@dataclass
class SyncOptions:
    frozen: bool = False  # install exactly smx.lock; refuse when smx.toml disagrees
    dry_run: bool = False
    upgrade: set[str] | None = None  # names to re-resolve; empty set = everything
    only: set[str] | None = None  # restrict to steps for these names (install/pull commands)
    areas: set[str] | None = None  # restrict to these areas: {"package", "extension", "model"}
    prune: bool = True  # remove what smx.toml no longer lists
    extra: dict[str, Any] = field(default_factory=dict)  # per-command switches (e.g. allow_unsafe)
    keep_broken: bool = False  # keep changes that do not load (smx.packages.checking)


@dataclass
class SyncContext:
    env: Env
    reporter: Reporter
    options: SyncOptions
    checks: LoadChecks = field(default_factory=LoadChecks)


@dataclass
class Step:
    area: str  # package | extension | model
    target: str  # the name in smx.toml
    action: str  # install | update | remove | pull | relink | …
    detail: str  # one line for `smx sync --dry-run`
    run: Callable[[SyncContext], None] = field(repr=False)
    package: str | None = None  # the package a step belongs to (packages and extensions)
    # a step that leaves smx.lock consistent even when it fails (a rolled-back load check):
    # sync saves the lock before passing its error on
    saves_on_failure: bool = False

    def describe(self) -> str:
        return f"{self.action} {self.area} {self.target}: {self.detail}"
