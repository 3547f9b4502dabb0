"""Find the environment the way git finds a repository."""

from __future__ import annotations

import os
from pathlib import Path

from smx.environment.layout import MANIFEST_NAME
from smx.errors import EnvNotFound


def find_env_root(start: Path | None = None, explicit: str | os.PathLike[str] | None = None,
                  ) -> Path:
    """``--env`` beats ``SMX_ENV`` beats walking up from ``start`` (the cwd) to an smx.toml."""
    chosen = explicit if explicit is not None else os.environ.get("SMX_ENV") or None
    if chosen:
        root = Path(chosen).expanduser()
        if root.is_file() and root.name == MANIFEST_NAME:
            root = root.parent
        if not (root / MANIFEST_NAME).is_file():
            source = "--env" if explicit is not None else "SMX_ENV"
            raise EnvNotFound(f"{source} points to {root}, which has no {MANIFEST_NAME}",
                              hint=f"run `smx init {root}` or fix {source}")
        return root.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    raise EnvNotFound(f"no {MANIFEST_NAME} in {here} or any parent folder",
                      hint="run `smx init` here, or pass --env PATH (or set SMX_ENV)")
