"""Enable and disable extensions the way each package does it itself, so its own UI agrees.

- A1111/Forge: ``config.json`` (the web UI's settings file in its folder) lists folder names in
  ``disabled_extensions``; modules/launch_utils.py list_extensions skips them (no install.py
  run) and modules/extensions.py marks them disabled in the Extensions tab.
- ComfyUI: the folder is renamed ``<name>.disabled``; nodes.py init_external_custom_nodes
  skips such folders, and ComfyUI-Manager disables nodes the same way.

:func:`update_settings` is the one careful editor of A1111's config.json: every other key is
kept as it was, a file that is not a JSON object is never overwritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smx.environment.layout import EnvLayout
from smx.errors import ConfigError, InstallError
from smx.extensions.targets import ExtTarget
from smx.fsutil import atomic_write_text

SETTINGS_FILE = "config.json"


def read_settings(checkout: Path) -> dict[str, Any]:
    """A1111's config.json as a dict ({} when absent); raises when it is not a JSON object."""
    path = checkout / SETTINGS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); smx did "
                          "not change it", hint="fix it, or delete it (the web UI writes a new "
                          "one with its defaults)", code="extension.settings_invalid") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object; smx did not change it",
                          hint="delete it (the web UI writes a new one)",
                          code="extension.settings_invalid")
    return data


def update_settings(checkout: Path, change: Callable[[dict[str, Any]], None]) -> bool:
    """Apply ``change`` to config.json; write it (atomically, A1111's own format: indent 4)
    only when something changed. Returns whether it wrote."""
    data = read_settings(checkout)
    before = json.dumps(data, sort_keys=True)
    change(data)
    if json.dumps(data, sort_keys=True) == before:
        return False
    atomic_write_text(checkout / SETTINGS_FILE,
                      json.dumps(data, indent=4, ensure_ascii=False) + "\n")
    return True


def is_enabled(layout: EnvLayout, target: ExtTarget) -> bool:
    if target.catalog.extension_style == "comfyui":
        return target.enabled_dir(layout).exists()
    settings = read_settings(layout.package_dir(target.package))
    listed = settings.get("disabled_extensions") or []
    return not (isinstance(listed, list) and target.folder in listed)


def set_enabled(layout: EnvLayout, target: ExtTarget, enabled: bool) -> bool:
    """Make the package load (or skip) the extension. Returns whether anything changed."""
    if target.catalog.extension_style == "comfyui":
        on, off = target.enabled_dir(layout), target.disabled_dir(layout)
        source, dest = (off, on) if enabled else (on, off)
        if not source.exists():
            return False
        if dest.exists():
            raise InstallError(f"both {on.name} and {off.name} exist in {on.parent}",
                               hint="keep one of them (move the other away), then run the "
                                    "command again", code="extension.both_folders")
        os.replace(source, dest)
        return True

    def change(data: dict[str, Any]) -> None:
        listed = data.get("disabled_extensions")
        names = [x for x in listed if isinstance(x, str)] if isinstance(listed, list) else []
        if enabled:
            names = [x for x in names if x != target.folder]
        elif target.folder not in names:
            names.append(target.folder)
        if names or "disabled_extensions" in data:
            data["disabled_extensions"] = names

    return update_settings(layout.package_dir(target.package), change)
