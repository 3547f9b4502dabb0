"""How a package sees the shared model store (Data/Models), assembled from contributions.

A *contributor* is a function ``(WiringContext) -> Contribution | None`` named in
:data:`CONTRIBUTORS` as ``"module:function"`` (imported only when a launch needs it, like
``sync.EXECUTORS``). The built-in one, :func:`shared_model_folders`, maps every model kind the
catalog knows for the package; extension-specific wiring (an AnimateDiff motion-module folder,
a ControlNet setting) is another contributor that looks at ``ctx.extensions`` and adds what it
needs:

- ``args``: command-line arguments (A1111/Forge folder flags);
- ``model_paths``: config key -> store folders, rendered in the package's own format
  (``model_wiring`` in the catalog): ComfyUI's extra_model_paths yaml, Fooocus's config.txt;
- ``env``: environment variables;
- ``files``: other files to write in the checkout, as a function of their old text.

Everything written inside the env uses paths relative to the checkout (the folder the UI runs
in), so the env folder can be moved; argv may hold absolute paths because it is rebuilt at every
launch and stored nowhere.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from smx.catalog.packages import CatalogPackage
from smx.environment.layout import EnvLayout
from smx.errors import ConfigError

# The ComfyUI file smx generates, in the checkout; passed with --extra-model-paths-config. Not the
# root extra_model_paths.yaml (ComfyUI main.py loads that one by itself, and it belongs to the
# user: their own folders there keep working next to smx's).
COMFYUI_YAML = "extra_model_paths.smx.yaml"
FOOOCUS_CONFIG = "config.txt"
# Fooocus modules/config.py (v2.5.5) reads these two as lists, every other path_* as one folder.
_FOOOCUS_LIST_KEYS = ("path_checkpoints", "path_loras")

CONTRIBUTORS: list[str] = [
    "smx.launch.wiring:shared_model_folders",
    "smx.extensions.models:extension_models",  # extension settings/links, pickle notice
]


@dataclass(frozen=True)
class PresentExtension:
    """An extension (A1111) or custom node (ComfyUI) folder found in the checkout."""

    folder: str  # its folder name
    repo: str  # repository name from its origin URL (sd-webui-controlnet), else the folder name
    enabled: bool


@dataclass(frozen=True)
class FileEdit:
    """A file to (re)write before the UI starts: ``update(old text or None) -> new text``."""

    path: Path
    what: str  # shown to the user: "ComfyUI model folders"
    update: Callable[[str | None], str]


@dataclass
class Contribution:
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    model_paths: dict[str, list[Path]] = field(default_factory=dict)
    files: list[FileEdit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WiringContext:
    layout: EnvLayout
    name: str  # the package's name in smx.toml
    package: CatalogPackage
    checkout: Path
    extensions: tuple[PresentExtension, ...]
    user_args: tuple[str, ...]  # smx.toml args + command-line flags + extra arguments

    def has_extension(self, repo: str) -> bool:
        return any(e.enabled and e.repo.lower() == repo.lower() for e in self.extensions)

    def store(self, kind: str) -> Path:
        return Path(os.path.abspath(self.layout.model_folder(kind)))

    def relative(self, path: Path) -> str:
        """``path`` relative to the checkout, with forward slashes (for generated files)."""
        return Path(os.path.relpath(path, os.path.abspath(self.checkout))).as_posix()

    def user_sets(self, flag: str) -> bool:
        return any(a == flag or a.startswith(flag + "=") for a in self.user_args)


@dataclass(frozen=True)
class PendingFile:
    path: Path
    what: str
    old: str | None
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class Wiring:
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    files: list[PendingFile] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # store folders the UI is pointed at
    notes: list[str] = field(default_factory=list)


# --- the built-in contributor ---------------------------------------------------------------
def shared_model_folders(ctx: WiringContext) -> Contribution:
    """Every model kind the catalog maps for this package, pointed at its store folder."""
    out = Contribution()
    pkg = ctx.package
    if pkg.model_wiring == "flags":
        for kind, flag in pkg.model_flags.items():
            provider = pkg.flags_from_extensions.get(flag)
            if provider is not None and not ctx.has_extension(provider):
                out.notes.append(f"{flag} not passed: the {provider} extension that adds it is "
                                 f"not installed (enabled) in {ctx.name}")
                continue
            if ctx.user_sets(flag):
                out.notes.append(f"{flag} not set by smx: your arguments set it")
                continue
            out.args += [flag, str(ctx.store(kind))]
    else:
        for kind, key in pkg.model_config_keys.items():
            out.model_paths.setdefault(key, []).append(ctx.store(kind))
    return out


# --- assembling -----------------------------------------------------------------------------
def _load(spec: str) -> Callable[[WiringContext], Contribution | None]:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def wire(ctx: WiringContext, contributors: Iterable[str] | None = None) -> Wiring:
    merged = Contribution()
    for spec in CONTRIBUTORS if contributors is None else contributors:
        part = _load(spec)(ctx)
        if part is None:
            continue
        merged.args += part.args
        merged.env.update(part.env)
        for key, folders in part.model_paths.items():
            bucket = merged.model_paths.setdefault(key, [])
            bucket.extend(f for f in folders if f not in bucket)
        merged.files += part.files
        merged.notes += part.notes

    wiring = Wiring(args=merged.args, env=merged.env, notes=merged.notes)
    wiring.folders = [Path(a) for a in _flag_folders(ctx.package, merged.args)]
    edits = list(merged.files)
    if merged.model_paths:
        wiring.folders += [f for fs in merged.model_paths.values() for f in fs]
        edits += _render_model_paths(ctx, merged.model_paths, wiring)
    for edit in edits:
        old = _read(edit.path)
        wiring.files.append(PendingFile(edit.path, edit.what, old, edit.update(old)))
    return wiring


def _flag_folders(pkg: CatalogPackage, args: list[str]) -> list[str]:
    flags = set(pkg.model_flags.values())
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in flags]


def _render_model_paths(ctx: WiringContext, paths: dict[str, list[Path]], wiring: Wiring,
                        ) -> list[FileEdit]:
    relative = {key: [ctx.relative(f) for f in folders] for key, folders in paths.items()}
    style = ctx.package.model_wiring
    if style == "extra_model_paths":
        text = comfyui_yaml(relative)
        wiring.args += ["--extra-model-paths-config", COMFYUI_YAML]
        return [FileEdit(ctx.checkout / COMFYUI_YAML, "ComfyUI model folders",
                         lambda _old: text)]
    if style == "config_txt":
        target = ctx.checkout / FOOOCUS_CONFIG
        for key, values in relative.items():
            if len(values) > 1 and key not in _FOOOCUS_LIST_KEYS:
                wiring.notes.append(f"Fooocus reads one folder for {key}: {values[0]} "
                                    f"(not {', '.join(values[1:])})")
        return [FileEdit(target, "Fooocus model folders (path_* keys)",
                         lambda old: fooocus_config(old, relative, target))]
    # A flags package has no config file to carry folders.
    wiring.notes.append(f"{ctx.package.title} takes model folders as flags only; ignored: "
                        f"{', '.join(paths)}")
    return []


def comfyui_yaml(paths: dict[str, list[str]]) -> str:
    """ComfyUI extra_model_paths format, one ``smx:`` section. utils/extra_config.py splits each
    value on newlines, so several folders are a ``|`` block, never a YAML list."""
    lines = [
        "# Written by smx at each `smx launch`: ComfyUI's view of the shared model store.",
        "# Paths are relative to this file (the ComfyUI folder), so the env folder can move.",
        "# Edits here are replaced; add your own folders to extra_model_paths.yaml instead.",
        "smx:",
    ]
    for key, values in paths.items():
        if len(values) == 1:
            lines.append(f"  {key}: {json.dumps(values[0])}")
        else:
            lines.append(f"  {key}: |")
            lines += [f"    {value}" for value in values]
    return "\n".join(lines) + "\n"


def fooocus_config(old: str | None, paths: dict[str, list[str]], where: Path) -> str:
    """Fooocus config.txt (JSON) with its path_* keys set; every other key kept as it was."""
    data: object = {}
    if old is not None and old.strip():
        try:
            data = json.loads(old)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})",
                              hint="fix it, or delete it (Fooocus writes a new one and smx sets "
                                   "its path_* keys at each launch)",
                              code="launch.fooocus_config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object",
                          hint="delete it; Fooocus writes a new one",
                          code="launch.fooocus_config")
    for key, values in paths.items():
        data[key] = list(values) if key in _FOOOCUS_LIST_KEYS else values[0]
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# --- what is installed in the checkout ------------------------------------------------------
def present_extensions(checkout: Path, package: CatalogPackage) -> tuple[PresentExtension, ...]:
    """Extension folders in the checkout and whether the UI will load them.

    A1111/Forge (modules/launch_utils.py list_extensions): config.json ``disabled_extensions``
    and ``disable_all_extensions``. ComfyUI (nodes.py): a ``.disabled`` suffix.
    """
    if not package.extensions_dir or package.extension_style not in ("a1111", "comfyui"):
        return ()
    try:
        entries = sorted((e for e in os.scandir(checkout / package.extensions_dir)
                          if e.is_dir() and not e.name.startswith((".", "__"))),
                         key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    disabled: set[str] = set()
    all_off = False
    if package.extension_style == "a1111":
        settings = _json_object(checkout / "config.json")
        listed = settings.get("disabled_extensions", [])
        disabled = {x for x in listed if isinstance(x, str)} if isinstance(listed, list) else set()
        all_off = settings.get("disable_all_extensions", "none") not in ("none", None)
    found = []
    for entry in entries:
        name = entry.name
        if package.extension_style == "comfyui":
            base, enabled = name.removesuffix(".disabled"), not name.endswith(".disabled")
        else:
            base, enabled = name, not all_off and name not in disabled
        found.append(PresentExtension(name, _origin_repo(Path(entry.path)) or base, enabled))
    return tuple(found)


def _json_object(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _origin_repo(folder: Path) -> str | None:
    """The repository name of a checkout's ``origin`` remote (read from .git, no git run)."""
    from smx.packages.git import origin_url

    url = origin_url(folder)
    if not url:
        return None
    name = url.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or None
