"""The user's own settings, ``<config dir>/config.toml`` (outside every environment).

Only what must not come from a shared smx.toml lives here: model service endpoints the user
vouches for, which then get the user's tokens like the official services do::

    [sources]
    civitai = "https://civitai.example.internal"
    huggingface = "https://hf-mirror.example.org"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from smx.errors import ConfigError
from smx.userdirs import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE_NAME = "config.toml"


@dataclass(frozen=True)
class UserSources:
    civitai: str | None = None
    huggingface: str | None = None


def path() -> Path:
    return config_dir() / FILE_NAME


def sources() -> UserSources:
    """``[sources]`` of the user's config.toml; empty when there is no such file."""
    file = path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return UserSources()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})",
                          hint="fix or delete your smx user config") from None
    table = data.get("sources", {})
    if not isinstance(table, dict) or any(
            k not in ("civitai", "huggingface") or not isinstance(v, str)
            for k, v in table.items()):
        raise ConfigError(f"{file}: [sources] takes civitai = \"URL\" and huggingface = \"URL\"",
                          hint="fix or delete your smx user config")
    return UserSources(civitai=table.get("civitai"), huggingface=table.get("huggingface"))
