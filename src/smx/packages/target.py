"""One ``[packages.NAME]`` entry, resolved against the catalog: what a package step works on."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from smx.catalog.packages import CatalogPackage, get_package
from smx.environment.manifest import PackageSpec


@dataclass(frozen=True)
class Target:
    name: str
    spec: PackageSpec
    catalog: CatalogPackage
    git_url: str
    ref: str

    @classmethod
    def of(cls, spec: PackageSpec) -> Target:
        catalog = get_package(spec.source)
        return cls(name=spec.name, spec=spec, catalog=catalog,
                   git_url=spec.git or catalog.git, ref=spec.ref or catalog.default_ref)


def requirements_sha256(checkout: Path, catalog: CatalogPackage) -> str:
    """Of the requirement files and the catalog's fixes: unchanged = no pip run on update."""
    digest = hashlib.sha256()
    for rel in catalog.requirements:
        digest.update(rel.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update((checkout / rel).read_bytes())
        digest.update(b"\0")
    digest.update(repr(catalog.known_fixes).encode())
    return digest.hexdigest()
