"""How an extension sees the shared model store, when no package flag or config key covers it.

Order of mechanisms (cheapest and safest first): a package flag (``--controlnet-dir``, set by
smx launch from catalog.packages), a package config key (ComfyUI's extra_model_paths yaml key
``animatediff_models``, also from the catalog), then, per the extension's catalog entry
(catalog.extensions ``ModelWiring``): the extension's own setting in A1111's config.json
(``animatediff_model_path``, a path relative to the web UI folder), else a link of its own model
folder to the store (smx.extensions.links; probed first, never over a folder holding files).

The same decision is made at sync time (:func:`apply`, which writes the setting or makes the
link so that starting the UI without smx works too) and at launch (:func:`extension_models`, a
launch wiring contributor that keeps the setting in place and says what it found).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from smx.catalog.extensions import (
    KNOWN_EXTENSIONS,
    SAFE_UNPICKLE_REFUSES,
    ExtensionVariant,
    ModelWiring,
)
from smx.catalog.packages import CatalogPackage
from smx.environment.layout import EnvLayout
from smx.errors import ConfigError
from smx.words import count


@dataclass(frozen=True)
class Decision:
    wiring: ModelWiring
    store: Path
    how: str  # setting | keep-user-setting | link | none
    value: str | None = None  # the setting's value (relative to the web UI folder)
    note: str = ""


def variant_for_repo(repo: str, package: CatalogPackage) -> ExtensionVariant | None:
    """The known variant whose repository is named ``repo`` (an extension folder's origin),
    preferring the package's own variant."""
    found = None
    for known in KNOWN_EXTENSIONS.values():
        for pkg_name, variant in known.variants.items():
            if variant.git and _repo_name(variant.git) == repo.lower():
                if pkg_name == package.name:
                    return variant
                found = found or variant
    return found


def _repo_name(url: str) -> str:
    return url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1].lower()


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(start))).as_posix()


def _same_folder(checkout: Path, value: str, store: Path) -> bool:
    candidate = Path(value) if os.path.isabs(value) else checkout / value
    try:
        return os.path.samefile(candidate, store)
    except OSError:
        return os.path.normpath(os.path.abspath(candidate)) == os.path.normpath(
            os.path.abspath(store))


def decide(layout: EnvLayout, package: CatalogPackage, checkout: Path, ext_dir: Path,
           variant: ExtensionVariant | None, settings: dict[str, Any] | None
           ) -> list[Decision]:
    """What to do for each model kind the extension reads from a folder of its own.
    ``settings``: A1111's config.json, or None when it cannot be read (then no setting)."""
    decisions = []
    for wiring in variant.models if variant else ():
        store = Path(os.path.abspath(layout.model_folder(wiring.kind)))
        if package.model_wiring == "flags" and wiring.kind in package.model_flags:
            continue  # a package flag covers it
        if package.model_wiring != "flags" and wiring.kind in package.model_config_keys:
            continue  # the package's own config file covers it
        if wiring.setting and package.extension_style == "a1111" and settings is not None:
            current = settings.get(wiring.setting)
            value = _relative(store, checkout)
            if current in (None, "") or (isinstance(current, str)
                                         and _same_folder(checkout, current, store)):
                decisions.append(Decision(wiring, store, "setting", value if current in (
                    None, "") else current))
                continue
            decisions.append(Decision(
                wiring, store, "keep-user-setting", str(current),
                note=f"{wiring.setting} in config.json is {current!r} (your setting): smx "
                     f"leaves it, so {_relative(store, layout.root)} is not seen there"))
            continue
        if wiring.folder:
            decisions.append(Decision(wiring, store, "link"))
            continue
        decisions.append(Decision(wiring, store, "none",
                                  note=f"no way to point it at {_relative(store, layout.root)}"))
    return decisions


# --- sync side ---------------------------------------------------------------------------------
def apply(layout: EnvLayout, package: CatalogPackage, checkout: Path, ext_dir: Path,
          variant: ExtensionVariant | None) -> list[str]:
    """Wire the extension's model folders now. Returns messages for the user."""
    from smx.extensions import links, toggle

    messages: list[str] = []
    settings: dict[str, Any] | None
    try:
        settings = toggle.read_settings(checkout) if package.extension_style == "a1111" else {}
    except ConfigError as exc:
        settings = None
        messages.append(f"{exc.message}; using a link instead of its setting")
    for decision in decide(layout, package, checkout, ext_dir, variant, settings):
        wiring, store = decision.wiring, decision.store
        shown = _relative(store, layout.root)
        if decision.how == "setting":
            store.mkdir(parents=True, exist_ok=True)
            key, value = wiring.setting, decision.value
            assert key is not None and value is not None
            toggle.update_settings(checkout, partial(_set_setting, key, value))
            if wiring.folder:
                moved, refused = _rescue(ext_dir / wiring.folder, store)
                for name, why in refused:
                    messages.append(f"left {name} in "
                                    f"{_relative(ext_dir / wiring.folder, layout.root)}: the "
                                    f"pickle scan refuses it ({why}), so it does not go into "
                                    "the store")
                if moved:
                    messages.append(f"moved {count(len(moved), 'file')} from "
                                    f"{_relative(ext_dir / wiring.folder, layout.root)} into "
                                    f"{shown} ({', '.join(moved[:5])}): the extension now reads "
                                    "the store")
        elif decision.how == "link":
            assert wiring.folder is not None
            result = links.link_folder(ext_dir / wiring.folder, store)
            if result.moved:
                messages.append(f"moved {count(len(result.moved), 'file')} into {shown} before "
                                "linking")
            if not result.linked:
                messages.append(f"{wiring.kind} models: no link ({result.problem}); put them in "
                                f"{_relative(ext_dir / wiring.folder, layout.root)} yourself, "
                                f"or fix the filesystem and run `smx sync`")
        elif decision.note:
            messages.append(decision.note)
    return messages


def wiring_left(layout: EnvLayout, package: CatalogPackage, checkout: Path, ext_dir: Path,
            variant: ExtensionVariant | None) -> str | None:
    """What :func:`apply` would change now (a setting missing, files to move into the store, a
    link to make), or None. Cheap: reads config.json and lists a folder (a sync plan calls it)."""
    if variant is None or not variant.models:
        return None
    from smx.extensions import links, toggle

    try:
        settings = toggle.read_settings(checkout) if package.extension_style == "a1111" else {}
    except ConfigError:
        settings = None
    for decision in decide(layout, package, checkout, ext_dir, variant, settings):
        folder = ext_dir / decision.wiring.folder if decision.wiring.folder else None
        if decision.how == "setting":
            key = decision.wiring.setting
            if settings is None or key is None or settings.get(key) != decision.value:
                return f"set {key} to the store"
            if folder is not None and _model_files(folder):
                return f"move the files in {folder.name}/ into the store"
        elif decision.how == "link" and folder is not None and not links.points_to(
                folder, decision.store):
            return f"link {folder.name}/ to the store"
    return None


def _set_setting(key: str, value: Any, data: dict[str, Any]) -> None:
    data[key] = value


def _model_files(folder: Path) -> list[Path]:
    if folder.is_symlink() or not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()]


def _rescue(folder: Path, store: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Model files the user put in the extension's own folder would be hidden once the setting
    points elsewhere: move them into the store (never over a different file of that name, and
    never one the pickle scan refuses: every file that enters the store is scanned). Returns
    what moved and what stayed for the scan's reason."""
    from smx.models.safety import refusals

    moved: list[str] = []
    refused: list[tuple[str, str]] = []
    for entry in sorted(_model_files(folder)):
        dest = store / entry.name
        if dest.exists():
            continue  # same name in the store: leave the user's copy where it is
        why = refusals(entry, entry.name)
        if why:
            refused.append((entry.name, "; ".join(why[:2])))
            continue
        os.replace(entry, dest) if _same_device(entry, store) else _copy_then_remove(entry, dest)
        moved.append(entry.name)
    return moved, refused


def _same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False


def _copy_then_remove(src: Path, dest: Path) -> None:
    import shutil

    shutil.copy2(src, dest)
    src.unlink()


# --- launch side -------------------------------------------------------------------------------
def extension_models(ctx: Any) -> Any:
    """Launch wiring contributor (smx.launch.wiring.CONTRIBUTORS): keeps each known extension's
    model setting pointed at the store, reports links, and says when a listed model needs the
    pickle check turned off."""
    from smx.extensions import toggle
    from smx.launch.wiring import Contribution, FileEdit

    out = Contribution()
    package: CatalogPackage = ctx.package
    base = ctx.checkout / package.extensions_dir if package.extensions_dir else None
    settings_error = None
    try:
        settings = toggle.read_settings(ctx.checkout) if package.extension_style == "a1111" \
            else {}
    except ConfigError as exc:
        settings, settings_error = None, exc.message
    wanted: dict[str, str] = {}
    for ext in ctx.extensions:
        if not ext.enabled or base is None:
            continue
        variant = variant_for_repo(ext.repo, package)
        for decision in decide(ctx.layout, package, ctx.checkout, base / ext.folder, variant,
                               settings):
            if decision.how == "setting" and decision.wiring.setting and decision.value:
                wanted[decision.wiring.setting] = decision.value
            elif decision.how == "link":
                folder = base / ext.folder / (decision.wiring.folder or "")
                from smx.extensions.links import points_to

                if not points_to(folder, decision.store):
                    out.notes.append(f"{ext.folder}: {decision.wiring.kind} models are read from "
                                     f"{ctx.relative(folder)}, not the store (run `smx sync` to "
                                     "link it)")
            elif decision.note:
                out.notes.append(f"{ext.folder}: {decision.note}")
        if variant is not None and variant.models and settings_error:
            out.notes.append(settings_error)
    if wanted:
        path = ctx.checkout / toggle.SETTINGS_FILE

        def update(old: str | None) -> str:
            import json

            data = json.loads(old) if old and old.strip() else {}
            data.update(wanted)
            return json.dumps(data, indent=4, ensure_ascii=False) + "\n"

        current = settings or {}
        if any(current.get(k) != v for k, v in wanted.items()):
            out.files.append(FileEdit(path, "extension model folders (config.json)", update))
    note = pickle_notice(ctx.layout, package)
    if note:
        out.notes.append(note)
    return out


def models_needing_unsafe_pickle(layout: EnvLayout) -> list[str]:
    """File names in the env (smx.toml sources, smx.lock) that A1111's pickle check refuses."""
    from smx.environment import lock as lockfile
    from smx.environment import manifest as manifest_mod

    found: set[str] = set()
    try:
        manifest = manifest_mod.load(layout.manifest)
        lock = lockfile.load(layout.lockfile)
    except ConfigError:
        return []
    for spec in manifest.models.values():
        for name in SAFE_UNPICKLE_REFUSES:
            if spec.source.rstrip("/").split("@")[0].endswith(name) or spec.filename == name:
                found.add(name)
    for locked in lock.models.values():
        if locked.filename in SAFE_UNPICKLE_REFUSES:
            found.add(locked.filename)
    return sorted(found)


def pickle_notice(layout: EnvLayout, package: CatalogPackage,
                  opted_in: bool | None = None) -> str | None:
    """What to tell the user when a model of the env needs the A1111 family's pickle check off
    and they have not opted in (``[launch] unsafe-pickle-ok``)."""
    if package.unsafe_pickle_flag is None:
        return None
    if opted_in is None:
        from smx.environment import manifest as manifest_mod

        try:
            opted_in = manifest_mod.load(layout.manifest).launch.unsafe_pickle_ok
        except ConfigError:
            return None
    if opted_in:
        return None
    names = models_needing_unsafe_pickle(layout)
    if not names:
        return None
    what = ", ".join(f"{n} ({SAFE_UNPICKLE_REFUSES[n]})" for n in names)
    return (f"{package.title}'s own pickle check refuses {what}, so AnimateDiff cannot load "
            "it. smx scanned it when it placed it (a pickle importing anything beyond what model "
            "files use is refused). To let the UI load it, opt in with [launch] "
            "unsafe-pickle-ok = true in smx.toml (or --allow-unsafe-pickle on `smx ext add`); "
            "smx launch then passes "
            f"{package.unsafe_pickle_flag}")
