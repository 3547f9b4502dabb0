"""Resolution as of a date: what "pip install X" would have given when the web UI was current.

Old releases break because their requirements are open-ended (``mediapipe``, ``numpy>=1.23``):
resolved today they pick releases made years after the web UI was written. Every resolver run
in a package venv therefore sees only distributions uploaded before the package's *resolution
date*: smx's own pip/uv runs, the web UI's install step, extension ``install.py`` scripts and
``requirements.txt`` files, launches. Scripts call pip themselves, so the date travels as
environment variables (``PIP_UPLOADED_PRIOR_TO`` for pip >= 26, ``UV_EXCLUDE_NEWER`` for uv).

The date is, in order: ``resolve-as-of`` in smx.toml (a date, an RFC 3339 time, or ``now``);
under ``sync --frozen`` the date smx.lock recorded; else the newest commit date among the
package and its extensions plus :data:`MARGIN`.

Why a week of margin: the newest commit is the last moment its authors ran it against the
index, and its users installed it in the days after, with whatever the index had then. A week
takes in the hotfix releases dependencies push within days of a breaking release, while the
next minor or major release of a dependency (months apart as a rule) stays out. The tutorial's
A1111 v1.10.1 (2024-07-27) with sd-webui-animatediff (2024-09-22 UTC) resolves as of 2024-09-29.

An index that gives no upload times (a local wheel folder, a ``file://`` index or an old mirror)
cannot honour the date: pip refuses such an index outright and uv skips its files, so the run is
repeated without the date and smx says so once (:class:`IndexWithoutTimes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from smx.errors import ConfigError

MARGIN = timedelta(days=7)
NOW = "now"

# pip (26.x, package_finder.py): "Index <url> does not provide upload-time metadata."
# uv: "warning: `<file>` is missing an upload date, but user provided: <date>"
_NO_TIMES = re.compile(r"does not provide upload-time metadata|is missing an upload date")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ResolutionDate:
    """``when`` (UTC) and why it is that date, for messages."""

    when: datetime
    why: str  # "resolve-as-of in smx.toml", "smx.lock", "newest commit: X, date, + 7 days"
    # False for resolve-as-of = "now": today's index as it is (the moment is still recorded
    # in smx.lock, so `sync --frozen` elsewhere resolves as of it)
    filters: bool = True

    @property
    def stamp(self) -> str:
        """RFC 3339 in UTC, second precision: what pip, uv and smx.lock get."""
        return self.when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def day(self) -> str:
        return self.when.astimezone(timezone.utc).strftime("%Y-%m-%d")

    def environ(self) -> dict[str, str]:
        """For every process smx starts in the package venv (scripts call pip themselves)."""
        if not self.filters:
            return {}
        return {"PIP_UPLOADED_PRIOR_TO": self.stamp, "UV_EXCLUDE_NEWER": self.stamp}


def parse_setting(value: str) -> datetime | None:
    """``resolve-as-of`` from smx.toml: None for ``now`` (resolve against today's index), else
    the moment (a bare date means the start of that day, UTC). Raises ValueError."""
    text = value.strip()
    if text.lower() == NOW:
        return None
    if _DATE_ONLY.match(text):
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_stamp(value: str, where: str) -> datetime:
    """A date recorded in smx.lock."""
    try:
        moment = parse_setting(value)
    except ValueError:
        moment = None
    if moment is None:
        raise ConfigError(f"{where}: {value!r} is not a date",
                          hint="smx.lock is machine-written; restore it from version control "
                               "or run `smx lock` to rebuild it")
    return moment


@dataclass(frozen=True)
class CommitDate:
    label: str  # "a1111", "sd-webui-animatediff"
    when: datetime


def from_commits(commits: list[CommitDate]) -> ResolutionDate | None:
    """The newest commit plus the margin (None when no checkout could be read)."""
    if not commits:
        return None
    newest = max(commits, key=lambda c: c.when)
    return ResolutionDate(newest.when + MARGIN,
                          f"newest commit: {newest.label}, "
                          f"{newest.when.astimezone(timezone.utc):%Y-%m-%d}, + 7 days")


def choose(setting: str | None, commits: list[CommitDate], *, locked: str | None,
           frozen: bool) -> ResolutionDate | None:
    """The date for one package (None: nothing to date it by). Under ``frozen`` the lock's
    date wins: it is what the packages in smx.lock were resolved as of."""
    if frozen and locked:
        return ResolutionDate(parse_stamp(locked, "smx.lock"), "smx.lock")
    if setting is not None:
        moment = parse_setting(setting)
        if moment is None:
            return ResolutionDate(datetime.now(timezone.utc).replace(microsecond=0),
                                  'resolve-as-of = "now" in smx.toml', filters=False)
        return ResolutionDate(moment, "resolve-as-of in smx.toml")
    return from_commits(commits)


def index_gives_no_times(output: str) -> bool:
    """Did pip or uv say the index has no upload times (so the date cannot apply)?"""
    return bool(_NO_TIMES.search(output))


def commit_dates(checkouts: list[tuple[str, Path]]) -> list[CommitDate]:
    """Committer dates of the checked-out commits (skipping folders that are not checkouts)."""
    from smx.packages import git

    found: list[CommitDate] = []
    for label, path in checkouts:
        when = git.commit_date(path)
        if when is not None:
            found.append(CommitDate(label, when))
    return found
