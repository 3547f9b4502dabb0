"""A hard-link copy of a package's venv, put back when what changed the venv has to be undone.

pip and uv replace files rather than rewrite them, so a copy made of hard links keeps the old
contents at no extra space, and is made in an instant. Two copies exist, each with its own
folder beside the venv (smx.environment.layout): one an install step keeps while it runs (the
package installer, an extension's requirements), one a sync keeps until the package's load
check has passed (smx.packages.guard). The copy is made under a ``.partial`` name and renamed
when whole, so after a kill -9 a copy that exists is a whole one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smx.environment.layout import EnvLayout
from smx.fsutil import hardlink_tree, remove_path
from smx.packages.venv import Venv
from smx.reporter import Reporter


@dataclass(frozen=True)
class VenvCopy:
    venv: Path
    path: Path  # the copy

    @classmethod
    def of(cls, layout: EnvLayout, package: str, which: str) -> VenvCopy:
        """``which``: :data:`smx.environment.layout.VENV_STEP_COPY` or ``VENV_CHECK_COPY``."""
        return cls(layout.venv_dir(package), layout.venv_copy(package, which))

    @property
    def partial(self) -> Path:
        return EnvLayout.partial(self.path)

    def exists(self) -> bool:
        return self.path.is_dir()

    def take(self, reporter: Reporter, what: str) -> bool:
        """Copy the venv as it is now (replacing an older copy); False when there is no venv
        to copy. ``what`` is the progress line."""
        if not Venv(self.venv).exists():
            return False
        for stale in (self.path, self.partial):
            remove_path(stale)
        with reporter.task(what):
            hardlink_tree(self.venv, self.partial)
            os.replace(self.partial, self.path)
        return True

    def put_back(self) -> bool:
        """Replace the venv by the copy (which is used up); False when there is no copy."""
        if not self.path.is_dir():
            return False
        remove_path(self.venv)
        os.replace(self.path, self.venv)
        return True

    def recover(self) -> bool:
        """After a run killed while it changed the venv: the venv may be half-changed, the
        copy (if any) is whole, so it goes back; a half-made copy is dropped."""
        remove_path(self.partial)
        return self.put_back()

    def drop(self) -> None:
        """The change is kept: the copy is no longer needed."""
        for path in (self.path, self.partial):
            remove_path(path)
