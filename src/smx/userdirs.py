"""The user's config and cache folders (outside any environment). SMX_CONFIG_DIR and
SMX_CACHE_DIR override platformdirs' choice (tests and portable setups use them)."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    override = os.environ.get("SMX_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_path

    return user_config_path("smx", appauthor=False)


def cache_dir() -> Path:
    override = os.environ.get("SMX_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_path

    return user_cache_path("smx", appauthor=False)
