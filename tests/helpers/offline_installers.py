"""pip and uv for tests that install packages: they see only a wheel folder the test builds.

No index, no machine or user config (every ``PIP_*``/``UV_*`` variable of the outer shell is
dropped), caches of their own, no interpreter downloads. Used by the autouse fixtures of the
areas that run real installs (packages, extensions, sync, launch).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def use_offline_installers(monkeypatch: pytest.MonkeyPatch, wheels: Path, caches: Path, *,
                           installer: str | None) -> None:
    """Point pip and uv at ``wheels`` only; ``installer`` is SMX_INSTALLER ("uv" for the fast
    path, None for smx's default choice)."""
    for var in list(os.environ):
        if var.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CACHE_DIR", str(caches / "pip"))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(caches / "uv"))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    if installer is None:
        monkeypatch.delenv("SMX_INSTALLER", raising=False)
    else:
        monkeypatch.setenv("SMX_INSTALLER", installer)
    monkeypatch.delenv("SMX_TORCH_REQUIREMENTS", raising=False)
