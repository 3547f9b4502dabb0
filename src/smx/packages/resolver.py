"""Every resolver run in one package venv, with the package's resolution date and pins.

:class:`VenvResolver` is what installers use instead of calling pip/uv or a package's own
install script directly:

- ``install(args)``: smx's own pip/uv run, with ``-c <protected pins>`` and the date;
- ``run_script(argv)``: a script that calls pip itself (the web UI's install step, an
  extension's ``install.py``), with the same date and pins as environment variables;
- ``environ()``: those variables, for launches.

When the index has no upload times (pip: "does not provide upload-time metadata", uv: "missing
an upload date"), the run is repeated without the date and the user is told once per command;
later runs of the same command go without the date straight away.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.catalog.packages import CatalogPackage
from smx.environment.env import Env
from smx.environment.manifest import PackageSpec
from smx.errors import ConfigError, SubprocessFailed
from smx.packages import asof
from smx.packages.asof import ResolutionDate, index_gives_no_times
from smx.packages.protect import ProtectedPins
from smx.packages.runner import StepLog, child_env, run_logged
from smx.packages.venv import Installer, Venv
from smx.reporter import Reporter


@dataclass
class VenvResolver:
    env: Env
    package: str
    venv: Venv
    installer: Installer
    reporter: Reporter
    date: ResolutionDate | None = None
    pins: ProtectedPins | None = None

    @property
    def constraints_path(self) -> Path:
        return self.env.layout.constraints_file(self.package)

    def protect(self, pins: ProtectedPins) -> None:
        """Hold these pins from now on (written where scripts and launches find them)."""
        from smx.fsutil import atomic_write_text

        self.pins = pins
        atomic_write_text(self.constraints_path, pins.text())

    def _say_undated_sources(self) -> None:
        """Once per command: wheel folders and ``file://`` indexes have no upload times, and
        pip and uv take what they hold whatever the date; say which ones are configured."""
        if self.env.notes.undated_sources_said or not self._dated():
            return
        self.env.notes.undated_sources_said = True
        found = undated_sources(self.venv)
        if found:
            assert self.date is not None
            self.reporter.warn(f"{self.package}: pip/uv also read {', '.join(found)}: local "
                               "package sources have no upload dates, so what they hold is "
                               f"installed whatever its date (not held to {self.date.day})")

    def _dated(self) -> bool:
        return self.date is not None and self.date.filters \
            and not self.env.notes.index_without_times

    def environ(self, *, dated: bool = True) -> dict[str, str]:
        """Variables for a process in this venv that may call pip or uv itself."""
        out: dict[str, str] = {}
        if dated and self._dated():
            assert self.date is not None
            out.update(self.date.environ())
        if self.pins is not None:
            path = str(self.constraints_path)
            out["PIP_CONSTRAINT"] = _joined(os.environ.get("PIP_CONSTRAINT"), path)
            out["UV_CONSTRAINT"] = _joined(os.environ.get("UV_CONSTRAINT"), path)
        return out

    # -- runs ------------------------------------------------------------------------------
    def install(self, args: Sequence[str], *, log: StepLog, what: str, cwd: Path | None = None,
                task: Any = None, dated: bool = True, constrained: bool = True) -> None:
        """``pip install ARGS`` in the venv (uv when chosen), the date and pins applied."""
        extra = ["-c", str(self.constraints_path)] if constrained and self.pins else []
        use_date = dated and self._dated()
        if use_date:
            self._say_undated_sources()
        start = _size(log.path)
        try:
            self.installer.install(self.venv, [*args, *extra], log=log, what=what, cwd=cwd,
                                   env=self.environ(dated=use_date), task=task)
        except SubprocessFailed:
            if not (use_date and index_gives_no_times(log_since(log.path, start))):
                raise
            self._without_times()
            self.installer.install(self.venv, [*args, *extra], log=log, what=what, cwd=cwd,
                                   env=self.environ(dated=False), task=task)
        else:
            if use_date and index_gives_no_times(log_since(log.path, start)):
                self._without_times()  # uv skipped undated files but found a solution

    def run_script(self, argv: Sequence[str | os.PathLike[str]], *, log: StepLog, what: str,
                   cwd: Path | None = None, extra_env: Mapping[str, str] | None = None,
                   task: Any = None) -> str:
        """Run a script that installs things itself; repeated without the date when the index
        gave no upload times (these scripts install what is missing, so a second run is safe)."""
        use_date = self._dated()
        if use_date:
            self._say_undated_sources()
        env = child_env({**(extra_env or {}), **self.environ(dated=use_date)},
                        venv=self.venv.path)
        start = _size(log.path)
        try:
            output = run_logged(argv, log=log, what=what, cwd=cwd, env=env, task=task)
        except SubprocessFailed:
            if not (use_date and index_gives_no_times(log_since(log.path, start))):
                raise
            output = ""
        if use_date and index_gives_no_times(log_since(log.path, start)):
            self._without_times()
            env = child_env({**(extra_env or {}), **self.environ(dated=False)},
                            venv=self.venv.path)
            output = run_logged(argv, log=log, what=what, cwd=cwd, env=env, task=task)
        return output

    def _without_times(self) -> None:
        if self.env.notes.index_without_times:
            return
        self.env.notes.index_without_times = True
        assert self.date is not None
        self.reporter.warn(f"{self.package}: the package index gives no upload times, so "
                           f"requirements are resolved without the date {self.date.day} "
                           "(a local wheel folder or an older mirror); resolving again "
                           "without it")


_LOCAL_KEYS = ("find-links", "index-url", "extra-index-url")
_ENV_SOURCES = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_FIND_LINKS",
                "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX")


def undated_sources(venv: Venv) -> list[str]:
    """Package sources pip or uv would read that have no upload times: local wheel folders
    (find-links) and ``file://`` indexes, from pip's configuration (all its files and
    variables, as the venv's pip reports them) and uv's variables."""
    import shlex
    import subprocess

    values: list[str] = [os.environ.get(var, "") for var in _ENV_SOURCES]
    try:
        listed = subprocess.run([str(venv.python), "-m", "pip", "config", "list"],
                                capture_output=True, text=True, timeout=60,
                                env=child_env(venv=venv.path)).stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ""
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.rsplit(".", 1)[-1] in _LOCAL_KEYS:
            values.append(value.strip().strip("'\""))
    found: list[str] = []
    for value in values:
        for item in shlex.split(value.replace(",", " ")) if value else []:
            if "=" in item and not item.startswith(("file:", "/", "http")):
                item = item.split("=", 1)[1]  # UV_INDEX="name=url"
            if item.startswith("file:") or item.startswith("/") or (
                    len(item) > 2 and item[1] == ":"):
                shown = item.removeprefix("file://")
                if shown not in found:
                    found.append(shown)
    return found


def resolution_date(env: Env, name: str, catalog: CatalogPackage, spec: PackageSpec, *,
                    frozen: bool = False, frozen_stamp: str | None = None,
                    extra: Sequence[tuple[str, Path]] = (),
                    reporter: Reporter | None = None) -> ResolutionDate | None:
    """The package's resolution date now: its checkout and extension checkouts (and
    ``extra``, an extension about to be added), or smx.toml's / smx.lock's date. Says so when
    it differs from the date smx.lock recorded."""
    layout = env.layout
    checkouts: list[tuple[str, Path]] = [(name, layout.package_dir(name))]
    if catalog.extensions_dir:
        base = layout.package_dir(name) / catalog.extensions_dir
        if base.is_dir():
            checkouts += [(p.name.removesuffix(".disabled"), p) for p in sorted(base.iterdir())
                          if p.is_dir() and not p.name.startswith(".")]
    checkouts += list(extra)
    date = asof.choose(spec.resolve_as_of, asof.commit_dates(checkouts),
                       locked=frozen_stamp, frozen=frozen)
    locked = env.lock.packages.get(name)
    before = locked.resolved_as_of if locked else None
    if reporter is not None and date is not None and date.filters and before != date.stamp:
        was = f" (was {before[:10]})" if before else ""
        reporter.info(f"{name}: resolving requirements as of {date.day}{was}: {date.why}")
    return date


def package_environ(env: Env, name: str) -> dict[str, str]:
    """The date and pins smx.lock and the constraints file hold for ``name``: for launches and
    load checks, which install nothing themselves but start code that may."""
    out: dict[str, str] = {}
    locked = env.lock.packages.get(name)
    if locked is not None and locked.resolved_as_of:
        try:
            moment = asof.parse_stamp(locked.resolved_as_of, "smx.lock")
        except ConfigError:  # a damaged stamp: launch without a date rather than not at all
            moment = None
        if moment is not None:
            out.update(ResolutionDate(moment, "smx.lock").environ())
    constraints = env.layout.constraints_file(name)
    if constraints.is_file():
        out["PIP_CONSTRAINT"] = _joined(os.environ.get("PIP_CONSTRAINT"), str(constraints))
        out["UV_CONSTRAINT"] = _joined(os.environ.get("UV_CONSTRAINT"), str(constraints))
    return out


def _joined(existing: str | None, value: str) -> str:
    return f"{existing} {value}" if existing and value not in existing.split() else value


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_since(path: Path, offset: int) -> str:
    """What a log gained since ``offset`` (one command's output, not the earlier ones')."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
