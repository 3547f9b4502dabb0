"""Import cycles among a package's modules, read from the source (nothing is imported).

Every import counts, those inside functions too (a function-level import only defers a cycle),
except those under ``if TYPE_CHECKING:``. A cycle is a strongly connected component of more
than one module."""

from __future__ import annotations

import ast
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    """``root`` (a package folder) -> {dotted module name: file}."""
    found = {}
    for file in sorted(root.rglob("*.py")):
        name = ".".join(file.relative_to(root.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = file
    return found


def _targets(current: str, node: ast.Import | ast.ImportFrom, mods: dict[str, Path]
             ) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = current.split(".")
    if node.level:
        package = base if mods[current].name == "__init__.py" else base[:-1]
        base = package[:len(package) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    mods = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in mods}
    for name, file in mods.items():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        skipped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(inner) for part in node.body for inner in ast.walk(part)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skipped:
                continue
            for target in _targets(name, node, mods):
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def cycles(root: Path) -> list[list[str]]:
    """Each group of modules that import each other (directly or around a loop), sorted."""
    edges = graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return sorted(found)
