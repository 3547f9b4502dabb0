"""Which ComfyUI node classes an installed ComfyUI and its custom nodes provide, read from their
sources without running them (no torch import, no GPU, no network).

ComfyUI registers a class under the keys of a module's ``NODE_CLASS_MAPPINGS`` (nodes.py
load_custom_node; the same for comfy_extras/, comfy_api_nodes/ and custom_nodes/), or, for
nodes written against the V3 API, under ``io.Schema(node_id=...)`` of each class
``comfy_entrypoint`` returns. So smx collects the string keys of ``NODE_CLASS_MAPPINGS = {…}``,
``NODE_CLASS_MAPPINGS["X"] = …`` and ``NODE_CLASS_MAPPINGS.update({…})``, and every
``node_id="X"`` keyword. A pack that builds its names at run time is not seen: callers treat
"not seen" as "maybe missing" and let the Registry say which pack it is (a pack already
installed is then not added again).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from smx.extensions.targets import DISABLED_SUFFIX

_MAX_FILE = 2 << 20  # generated tables beyond this are not node definitions
_SKIP_DIRS = {".git", "__pycache__", "venv", ".venv", "node_modules", "tests", "test", "web",
              "js", "docs", "models"}


@dataclass
class Provided:
    core: set[str] = field(default_factory=set)
    by_folder: dict[str, set[str]] = field(default_factory=dict)  # custom_nodes folder -> names

    def has(self, node_type: str) -> bool:
        return node_type in self.core or any(node_type in names
                                             for names in self.by_folder.values())

    def folder_of(self, node_type: str) -> str | None:
        return next((f for f, names in self.by_folder.items() if node_type in names), None)


def provided(checkout: Path, custom_nodes: str = "custom_nodes") -> Provided:
    """The node classes of the ComfyUI at ``checkout`` and of its enabled custom nodes."""
    found = Provided()
    for path in [checkout / "nodes.py", *_python_files(checkout / "comfy_extras"),
                 *_python_files(checkout / "comfy_api_nodes")]:
        found.core |= classes_in(path)
    base = checkout / custom_nodes
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            if entry.name.startswith((".", "__")) or entry.name.endswith(DISABLED_SUFFIX):
                continue  # nodes.py init_external_custom_nodes skips these
            files = [entry] if entry.suffix == ".py" and entry.is_file() else \
                _python_files(entry) if entry.is_dir() else []
            names: set[str] = set()
            for path in files:
                names |= classes_in(path)
            found.by_folder[entry.name] = names
    return found


def _python_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts[:-1]
        if not any(part in _SKIP_DIRS or part.startswith(".") for part in rel):
            out.append(path)
    return out


def classes_in(path: Path) -> set[str]:
    """Node class names one Python file registers (as far as its source says)."""
    try:
        if path.stat().st_size > _MAX_FILE:
            return set()
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    if "NODE_CLASS_MAPPINGS" not in text and "node_id" not in text:
        return set()
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if _is_mappings(target) and isinstance(node.value, ast.Dict):
                    names |= _dict_keys(node.value)
                elif isinstance(target, ast.Subscript) and _is_mappings(target.value):
                    key = _constant(target.slice)
                    if key:
                        names.add(key)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "update" and \
                    _is_mappings(func.value):
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        names |= _dict_keys(arg)
            for keyword in node.keywords:
                if keyword.arg == "node_id":
                    value = _constant(keyword.value)
                    if value:
                        names.add(value)
    return names


def _is_mappings(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else ""
    return name.endswith("NODE_CLASS_MAPPINGS")


def _dict_keys(node: ast.Dict) -> set[str]:
    return {key for key in (_constant(k) for k in node.keys if k is not None) if key}


def _constant(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
