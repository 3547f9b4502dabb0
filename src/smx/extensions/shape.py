"""Is a checkout an extension of this package's kind? A wrong one fails silently at launch.

- A1111/Forge (modules/extensions.py, modules/scripts.py): an extension contributes through
  ``scripts/*.py``, ``install.py``, ``preload.py``, ``javascript/`` or ``localizations/``; a
  folder with none of them does nothing.
- ComfyUI (nodes.py load_custom_node): a folder is imported through its ``__init__.py``; one
  without it fails to import.
"""

from __future__ import annotations

import re
from pathlib import Path

from smx.errors import UsageError

_A1111_MARKS = ("scripts", "install.py", "preload.py", "javascript", "localizations")
_NODE_MAPPINGS = re.compile(r"NODE_CLASS_MAPPINGS|comfy_entrypoint|WEB_DIRECTORY")


def looks_like_a1111(path: Path) -> bool:
    return any((path / mark).exists() for mark in _A1111_MARKS)


def looks_like_comfyui(path: Path) -> bool:
    init = path / "__init__.py"
    if not init.is_file():
        return False
    try:
        text = init.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_NODE_MAPPINGS.search(text)) or "[tool.comfy]" in _read(path / "pyproject.toml")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def check_shape(path: Path, style: str, title: str, what: str) -> None:
    """Raise when the checkout at ``path`` is not an extension of ``style`` (a1111 | comfyui).
    ``what`` names it in the message (the URL)."""
    if style == "a1111":
        if looks_like_a1111(path):
            return
        if looks_like_comfyui(path):
            why = "no install.py/scripts/ — looks like a ComfyUI node pack, not an A1111 extension"
        else:
            why = "no scripts/, install.py or preload.py — not an A1111 extension"
        raise UsageError(f"{what}: {why}",
                         hint=f"{title} loads extensions from extensions/ that have scripts/ "
                              "(check the URL, or add it to a ComfyUI package instead)",
                         code="extension.wrong_kind")
    if style == "comfyui":
        if (path / "__init__.py").is_file():
            return
        if looks_like_a1111(path):
            why = "no __init__.py — looks like an A1111 extension (scripts/), not a ComfyUI " \
                  "node pack"
        else:
            why = "no __init__.py — ComfyUI could not import it as a custom node"
        raise UsageError(f"{what}: {why}",
                         hint="check the URL, or add it to an A1111/Forge package instead",
                         code="extension.wrong_kind")


def comfyui_requirement(path: Path) -> str | None:
    """``[tool.comfy] requires-comfyui`` of a node pack's pyproject.toml (Comfy Registry
    metadata), e.g. ``">=0.3.68"``; None when absent or unreadable."""
    text = _read(path / "pyproject.toml")
    if "[tool.comfy]" not in text:
        return None
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    value = data.get("tool", {}).get("comfy", {}).get("requires-comfyui")
    return value if isinstance(value, str) and value.strip() else None


def comfyui_version(checkout: Path) -> str | None:
    """``__version__`` from ComfyUI's comfyui_version.py (generated from pyproject.toml)."""
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]",
                      _read(checkout / "comfyui_version.py"))
    return match.group(1) if match else None


def unmet_comfyui_requirement(node: Path, checkout: Path) -> str | None:
    """A warning when the node pack declares a ComfyUI version this checkout does not meet."""
    wanted = comfyui_requirement(node)
    have = comfyui_version(checkout)
    if not wanted or not have:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        if Version(have) in SpecifierSet(wanted):
            return None
    except (InvalidSpecifier, InvalidVersion):
        return None
    return f"it declares requires-comfyui = \"{wanted}\" (pyproject.toml), this ComfyUI is {have}"
