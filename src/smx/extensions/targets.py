"""One ``[packages.P.extensions.NAME]`` entry, resolved: which repository, which ref, which folder.

``git`` given: that repository (a known one still brings its model wiring). ``registry`` given
(ComfyUI only): a Comfy Registry node pack, in a folder named by its id (as ComfyUI-Manager
installs Registry packs); which repository and commit, or which archive, is only known after
asking the Registry (smx.extensions.registry_source). Neither: the name must be a known
extension (catalog.extensions), resolved for the package's kind; a variant without a repository
is built into the package and is never cloned.
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
from smx.environment.lock import LockedExtension
from smx.environment.manifest import ExtensionSpec, PackageSpec
from smx.errors import ConfigError, SmxError, UsageError
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
    registry: str | None = None  # Comfy Registry node id
    # the Registry version: smx.toml's (None = newest active); once resolved, the one picked
    version: str | None = None

    @property
    def builtin(self) -> bool:
        return self.git_url is None and self.registry is None

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
    if spec.registry:
        if catalog.extension_style != "comfyui":
            raise ConfigError(f"{where}: Comfy Registry node packs are ComfyUI custom nodes; "
                              f"{catalog.title} cannot load them",
                              hint="add it to a ComfyUI package, or give a git URL",
                              code="extension.registry_not_comfyui")
        return ExtTarget(package=pkg.name, catalog=catalog, name=spec.name, spec=spec,
                         git_url=None, ref=None, folder=spec.registry, known=None,
                         variant=None, registry=spec.registry, version=spec.version)
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


def with_source(target: ExtTarget, *, git_url: str | None, version: str) -> ExtTarget:
    """A Registry target once the Registry has answered: its repository (None: an archive)
    and the version picked. A known repository brings its catalog wiring."""
    import dataclasses

    found = known_by_url(git_url, target.catalog.name) if git_url else None
    known, variant = found if found else (None, None)
    return dataclasses.replace(target, git_url=git_url, version=version, known=known,
                               variant=variant)


def locked_folder(locked: LockedExtension) -> str:
    """The folder a lock entry's extension lives in (a Registry pack: its id)."""
    if locked.registry:
        return locked.registry
    try:
        return repo_folder(locked.git)
    except UsageError:
        return locked.name


def present_identity(path: Path) -> str | None:
    """What is in an extension folder: its checked-out commit, or the SHA-256 of the archive
    it was unpacked from (smx.extensions.archive); None when neither can be told."""
    from smx.extensions.archive import unpacked_sha256
    from smx.packages import git

    return git.head_commit(path) or unpacked_sha256(path)


def refuse_never_loaded(target: ExtTarget) -> None:
    """`smx ext add` of a folder the package never loads: it would fail silently."""
    if target.never_loaded:
        raise UsageError(f"{target.catalog.title} never loads an extension folder named "
                         f"{target.folder}: {target.never_loaded}",
                         hint="nothing was added; smx already points it at the shared store",
                         code="extension.never_loaded")


def folder_names(pkg: PackageSpec) -> dict[str, str]:
    """Each extension folder of ``pkg`` -> its name in smx.toml (entries that do not resolve,
    or are built in, name no folder)."""
    names: dict[str, str] = {}
    for spec in pkg.extensions.values():
        try:
            target = resolve(pkg, spec)
        except SmxError:
            continue
        if not target.builtin:
            names[target.folder] = spec.name
    return names
