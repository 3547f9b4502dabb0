"""Dynamic shell completion: names read from the current environment's smx.toml.

Each function here runs on every Tab press, inside a `smx` process started by the shell
script in completions/. So they must be cheap (read one TOML file, no validation, no git, no
network) and must never fail: any problem — no environment, a broken smx.toml, an unreadable
folder — simply means "no suggestions", never a traceback in the user's prompt.

The environment is found the way every command finds it: ``--env`` typed earlier on the same
command line, else ``SMX_ENV``, else the nearest smx.toml above the current folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

Suggestion = tuple[str, str]


def _env_option(ctx: Any) -> str | None:
    """The ``--env`` value typed on the command line (click parsed it before completing)."""
    node = ctx
    while node is not None:
        value = (getattr(node, "params", None) or {}).get("env")
        if isinstance(value, str) and value:
            return value
        node = node.parent
    return None


def _manifest_data(ctx: Any) -> dict[str, Any]:
    try:
        from smx.environment.discovery import find_env_root

        root = find_env_root(explicit=_env_option(ctx))
        text = (Path(root) / "smx.toml").read_text(encoding="utf-8")
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - 3.10 only
            import tomli as tomllib
        data = tomllib.loads(text)
    except Exception:  # completion must never break the prompt
        return {}
    return data if isinstance(data, dict) else {}


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _matching(items: list[Suggestion], incomplete: str) -> list[Suggestion]:
    return [(name, help_) for name, help_ in items if name.startswith(incomplete or "")]


def env_packages(ctx: Any) -> list[Suggestion]:
    packages = _table(_manifest_data(ctx).get("packages"))
    return [(name, str(_table(spec).get("source", ""))) for name, spec in packages.items()]


def env_extensions(ctx: Any, package: str | None = None) -> list[Suggestion]:
    found: list[Suggestion] = []
    packages = _table(_manifest_data(ctx).get("packages"))
    for pname, spec in packages.items():
        if package and pname != package:
            continue
        for ename in _table(_table(spec).get("extensions")):
            found.append((ename, f"extension of {pname}"))
    return found


def env_registry_ids(ctx: Any) -> list[Suggestion]:
    """Comfy Registry ids the environment knows: ``registry = "…"`` entries of smx.toml, and
    node packs in a ComfyUI package's custom_nodes/ whose pyproject.toml names them (packs
    ComfyUI-Manager or a hand install put there). Files only: no Registry call on Tab."""
    data = _manifest_data(ctx)
    found: dict[str, str] = {}
    for pname, spec in _table(data.get("packages")).items():
        for ename, ext in _table(_table(spec).get("extensions")).items():
            node = _table(ext).get("registry")
            if isinstance(node, str):
                found.setdefault(node, f"{ename} of {pname}")
    try:
        from smx.environment.discovery import find_env_root
        from smx.environment.layout import EnvLayout

        layout = EnvLayout(Path(find_env_root(explicit=_env_option(ctx))))
        for pname, spec in _table(data.get("packages")).items():
            if _table(spec).get("source") != "comfyui":
                continue
            for project in sorted((layout.package_dir(pname) / "custom_nodes")
                                  .glob("*/pyproject.toml"))[:500]:
                node = _project_name(project)
                if node:
                    found.setdefault(node, f"in {pname}/custom_nodes/{project.parent.name}")
    except Exception:  # completion must never break the prompt
        pass
    return sorted(found.items())


def _project_name(path: Path) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except Exception:
        return None
    name = _table(data.get("project")).get("name")
    return name.strip().lower() if isinstance(name, str) and name.strip() else None


def env_models(ctx: Any) -> list[Suggestion]:
    models = _table(_manifest_data(ctx).get("models"))
    found: list[Suggestion] = []
    for name, spec in models.items():
        table = _table(spec)
        help_ = " ".join(str(part) for part in (table.get("kind"), table.get("source")) if part)
        found.append((name, help_))
    return found


# --- the callbacks commands pass as `autocompletion=` -------------------------------------
# Typer finds the arguments by name (ctx, incomplete), so keep these signatures.

def complete_package(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """Packages of the current environment (remove, update, launch, ext --package…)."""
    try:
        return _matching(env_packages(ctx), incomplete)
    except Exception:
        return []


def complete_catalog_package(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """Web UIs smx knows how to install (`smx install <Tab>`)."""
    try:
        from smx.catalog.packages import PACKAGES

        return _matching([(name, pkg.title) for name, pkg in PACKAGES.items()], incomplete)
    except Exception:
        return []


def complete_extension(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """Extensions in smx.toml; only those of ``--package`` when it was typed already."""
    try:
        package = (ctx.params or {}).get("package")
        return _matching(env_extensions(ctx, package if isinstance(package, str) else None),
                         incomplete)
    except Exception:
        return []


def complete_ext_source(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """`smx ext add <Tab>`: the known names (with ``--package`` typed already, those smx knows
    for that package's kind of web UI), and the Comfy Registry ids the env has."""
    try:
        from smx.catalog.extensions import KNOWN_EXTENSIONS

        package = (ctx.params or {}).get("package")
        source = dict(env_packages(ctx)).get(package) if isinstance(package, str) else None
        items = [(name, f"known: {known.title}") for name, known in KNOWN_EXTENSIONS.items()
                 if not source or source in known.variants]
        return _matching(items + [(node, f"Comfy Registry id ({where})")
                                  for node, where in env_registry_ids(ctx)], incomplete)
    except Exception:
        return []


def complete_model(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """Models in smx.toml (model remove/verify, …)."""
    try:
        return _matching(env_models(ctx), incomplete)
    except Exception:
        return []


def complete_env_name(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """Any package, extension or model name of the environment (`smx lock --upgrade NAME`)."""
    try:
        seen: dict[str, str] = {}
        for name, help_ in (*env_packages(ctx), *env_extensions(ctx), *env_models(ctx)):
            seen.setdefault(name, help_)
        return _matching(list(seen.items()), incomplete)
    except Exception:
        return []


def complete_model_kind(ctx: typer.Context, incomplete: str) -> list[Suggestion]:
    """The model kinds `--kind` accepts, with the store folder each maps to."""
    try:
        from smx.catalog.model_kinds import MODEL_KINDS

        return _matching([(k.name, f"{k.description} (Models/{k.folder})")
                          for k in MODEL_KINDS], incomplete)
    except Exception:
        return []


# --- wiring the shell protocol ---------------------------------------------------------------
COMPLETE_VAR = "_SMX_COMPLETE"


def enable_shell_completion() -> None:
    """Use Typer's completion classes for bash/zsh/fish/PowerShell.

    The root app is built with ``add_completion=False`` (no --install-completion options, and
    nothing imported for them at start-up), so Typer never registers its shell classes; the
    scripts in completions/ speak Typer's protocol, so register them when the shell asks.
    """
    from typer._completion_classes import completion_init

    completion_init()
