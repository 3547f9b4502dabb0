"""One ``[packages.P.extensions.NAME]`` entry, resolved: which repository, which ref, which folder.

``git`` given: that repository (a known one still brings its model wiring). ``git`` absent: the
name must be a known extension (catalog.extensions), resolved for the package's kind; a variant
without a repository is built into the package and is never cloned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from smx.catalog.extensions import (
    KNOWN_EXTENSIONS,
    NEVER_LOADED,
    ExtensionVariant,
    KnownExtension,
    known_by_url,
)
from smx.catalog.packages import CatalogPackage, get_package
from smx.environment.layout import EnvLayout
from smx.environment.manifest import ExtensionSpec, PackageSpec
from smx.errors import ConfigError, UsageError
from smx.redact import redact

_FOLDER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")
DISABLED_SUFFIX = ".disabled"  # ComfyUI nodes.py init_external_custom_nodes skips these


@dataclass(frozen=True)
class ExtTarget:
    package: str  # the package's name in smx.toml
    catalog: CatalogPackage
    name: str  # the extension's name in smx.toml
    spec: ExtensionSpec
    git_url: str | None  # None: built into the package
    ref: str | None  # None: the repository's default branch
    folder: str  # its folder under the package's extension folder
    known: KnownExtension | None
    variant: ExtensionVariant | None
    never_loaded: str | None = None  # why the package never loads this folder, if it does not

    @property
    def builtin(self) -> bool:
        return self.git_url is None

    @property
    def want_ref(self) -> str:
        """What to resolve: the ref, or the remote's HEAD (its default branch)."""
        return self.ref or "HEAD"

    @property
    def locked_git(self) -> str:
        return redact(self.git_url or "")

    def base_dir(self, layout: EnvLayout) -> Path:
        return layout.package_dir(self.package) / self.catalog.extensions_dir

    def enabled_dir(self, layout: EnvLayout) -> Path:
        return self.base_dir(layout) / self.folder

    def disabled_dir(self, layout: EnvLayout) -> Path:
        return self.base_dir(layout) / (self.folder + DISABLED_SUFFIX)

    def present_dir(self, layout: EnvLayout) -> Path | None:
        """Where the checkout is now (ComfyUI: maybe under its .disabled name), or None."""
        for path in (self.enabled_dir(layout), self.disabled_dir(layout)):
            if path.exists():
                return path
        return None


def repo_folder(url: str) -> str:
    """``https://github.com/o/sd-webui-x.git`` -> ``sd-webui-x`` (what ``git clone`` names it,
    and what A1111's and ComfyUI-Manager's installers use)."""
    text = url.strip().rstrip("/").replace("\\", "/")
    name = text.rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    if not _FOLDER_RE.match(name) or name in (".", ".."):
        raise UsageError(f"cannot tell the extension's folder from {redact(url)!r}",
                         hint="give the repository's URL, e.g. "
                              "https://github.com/OWNER/REPO", code="extension.bad_url")
    return name


def looks_like_git_url(text: str) -> bool:
    return "://" in text or text.startswith("git@") or text.endswith(".git") or (
        "/" in text and Path(text).expanduser().exists())


def resolve(pkg: PackageSpec, spec: ExtensionSpec) -> ExtTarget:
    catalog = get_package(pkg.source)
    where = f"packages.{pkg.name}.extensions.{spec.name}"
    if catalog.extension_style not in ("a1111", "comfyui"):
        raise ConfigError(f"{where}: {catalog.title} has no extensions",
                          hint="remove the entry", code="extension.unsupported")
    known: KnownExtension | None
    variant: ExtensionVariant | None
    if spec.git:
        found = known_by_url(spec.git, catalog.name)
        known, variant = found if found else (None, None)
        url: str | None = spec.git
    else:
        known = KNOWN_EXTENSIONS.get(spec.name)
        if known is None:
            raise ConfigError(
                f"{where} has no git URL and {spec.name!r} is not a known extension",
                hint=f"add git = \"https://…\", or use a known name: "
                     f"{', '.join(KNOWN_EXTENSIONS)}", code="extension.unknown")
        variant = known.variants.get(catalog.name)
        if variant is None:
            kinds = ", ".join(known.variants)
            raise ConfigError(f"{where}: smx knows no {known.title} for {catalog.title} "
                              f"(only for {kinds})",
                              hint="give its repository with git = \"https://…\"",
                              code="extension.no_variant")
        url = variant.git
    ref = spec.ref or (variant.ref if variant is not None else None)
    folder = repo_folder(url) if url else spec.name
    never = NEVER_LOADED.get(catalog.name, {}).get(folder) if url else None
    return ExtTarget(package=pkg.name, catalog=catalog, name=spec.name, spec=spec, git_url=url,
                     ref=ref, folder=folder, known=known, variant=variant, never_loaded=never)


def refuse_never_loaded(target: ExtTarget) -> None:
    """`smx ext add` of a folder the package never loads: it would fail silently."""
    if target.never_loaded:
        raise UsageError(f"{target.catalog.title} never loads an extension folder named "
                         f"{target.folder}: {target.never_loaded}",
                         hint="nothing was added; smx already points it at the shared store",
                         code="extension.never_loaded")
