"""Is a package installed? smx.lock says so, the disk agrees, and no install is in progress.

While smx installs or updates a package, a marker file says so (smx.environment.layout
``install_marker``): a run killed with -9 leaves it, and the next sync finishes the work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.environment.layout import EnvLayout
from smx.environment.lock import LockedPackage
from smx.packages import git
from smx.packages.venv import Venv


@dataclass
class Marker:
    """Present while smx works on a package."""

    path: Path

    @classmethod
    def of(cls, layout: EnvLayout, name: str) -> Marker:
        return cls(layout.install_marker(name))

    def exists(self) -> bool:
        return self.path.exists()

    def write(self, data: dict[str, Any]) -> None:
        from smx.fsutil import atomic_write_text

        atomic_write_text(self.path, json.dumps(data, indent=1))

    def read(self) -> dict[str, Any]:
        """What the interrupted run was doing (action, ref); {} when unreadable."""
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def is_installed(layout: EnvLayout, locked: LockedPackage | None) -> bool:
    """Cheap (no subprocess): the lock entry exists, the checkout is at its commit, the venv
    is there and no work is in progress."""
    if locked is None:
        return False
    pkg = layout.package_dir(locked.name)
    return (git.head_commit(pkg) == locked.commit
            and Venv(layout.venv_dir(locked.name)).exists()
            and not Marker.of(layout, locked.name).exists())
