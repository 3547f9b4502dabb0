"""The contract between sync and its executors: what one sync is asked to do
(:class:`SyncOptions`), the context every step runs with (:class:`SyncContext`: the env, the
reporter, the command's smx.toml edit, what the steps report back), and the step itself. Its
own module so executors and checks can import it without importing the sync loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smx.environment.env import Env
from smx.environment.manifest import ManifestEdit
from smx.packages.loadcheck import LoadChecks
from smx.reporter import Reporter

if TYPE_CHECKING:
    from smx.models.outcome import PullOutcome
    from smx.models.settings import Services
    from smx.models.sources import ResolvedFile

# (package, extension): extension names repeat across packages
ExtensionKey = tuple[str, str]


@dataclass
class SyncOptions:
    """What a sync is asked to do: the scope, and the command's inputs to its steps."""

    frozen: bool = False  # install exactly smx.lock (smx.agreement refuses a disagreement)
    dry_run: bool = False
    upgrade: set[str] | None = None  # names to re-resolve; empty set = everything
    only: set[str] | None = None  # restrict to steps for these names (install/pull commands)
    areas: set[str] | None = None  # restrict to these areas: {"package", "extension", "model"}
    prune: bool = True  # remove what smx.toml no longer lists
    keep_broken: bool = False  # keep changes that do not load (smx.packages.checking)
    # extensions: restrict their steps to these entries (`smx ext …`), and the entries to
    # move to what their ref (or the Comfy Registry) names now (`smx ext update`)
    extensions: set[ExtensionKey] | None = None
    upgrade_extensions: set[ExtensionKey] = field(default_factory=set)
    # models
    allow_unsafe: bool = False  # place (or record) files the pickle scan refuses
    connections: int | None = None  # parallel connections per download (None: adaptive)
    resolved: dict[str, ResolvedFile] = field(default_factory=dict)  # resolved by the command
    services: Services | None = None  # endpoints and tokens the command made (notices said)


@dataclass
class Outcomes:
    """What the steps did, for the command's report."""

    models: dict[str, PullOutcome] = field(default_factory=dict)
    extensions: dict[ExtensionKey, str] = field(default_factory=dict)  # installed, updated, …


@dataclass
class SyncContext:
    env: Env
    reporter: Reporter
    options: SyncOptions
    checks: LoadChecks = field(default_factory=LoadChecks)
    # the command's smx.toml edit, written by the step that finishes its work (smx.apply)
    edit: ManifestEdit | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
    # said once per sync
    warned_never_loads: set[ExtensionKey] = field(default_factory=set)
    pickle_notice_shown: bool = False
    _services: Services | None = field(default=None, repr=False)

    def work_done(self) -> None:
        """A step finished the work the command's smx.toml edit asks for (a removal: is about
        to start it): the edit is written now, before sync writes smx.lock."""
        if self.edit is not None:
            self.edit.write()

    def services(self) -> Services:
        """The model services of this command: made once, their notices said once."""
        if self._services is None:
            self._services = self.options.services
        if self._services is None:
            from smx.models.settings import told

            self._services = told(self.env.manifest.sources, self.reporter.warn)
        return self._services


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
