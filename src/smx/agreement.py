"""Does smx.lock still pin what smx.toml asks for? (no disk, no network)

The one place of these rules: :func:`package_fits`, :func:`extension_fits` and
:func:`model_fits` say whether a lock entry still fits its smx.toml entry (the executors and
`smx lock` re-resolve an entry that does not); :func:`check_frozen` is the rule of
`smx sync --frozen` (which must install exactly smx.lock, so any disagreement is an error
that names every one), checked once before a frozen sync plans anything; :func:`compare`
lists the disagreements for both it and `smx status` (which reports them as drift).

What counts, per entry:
- packages: present in one file only; ``source``, git URL or ``ref`` changed;
- extensions: present in one file only (built-in ones are never locked); git URL, ``ref`` or
  ``enabled`` changed;
- models: present in one file only; ``kind``, ``sha256``, ``filename`` changed, or a ``source``
  (or Civitai ``file``) the locked identity no longer satisfies.

A disagreement is exactly what the fit rules refuse (plus ``enabled`` of an extension), so
`--frozen` refuses exactly what a plain sync would re-resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

from smx.environment.env import Env
from smx.environment.lock import LockedExtension, LockedModel, LockedPackage
from smx.environment.manifest import ModelSpec
from smx.errors import LockOutOfDate, SmxError
from smx.extensions.targets import ExtTarget
from smx.models.refs import CivitaiRef, HfRef, LocalRef, UrlRef, parse_model_ref
from smx.packages.target import Target
from smx.redact import redact

HINT = "run `smx lock` to update smx.lock, or drop --frozen"


@dataclass(frozen=True)
class Disagreement:
    area: str  # package | extension | model
    name: str
    state: str  # toml-only | lock-only | changed
    detail: str  # what differs, for "changed"
    package: str | None = None  # the package of an extension

    @property
    def subject(self) -> str:
        if self.area == "extension":
            return f"extension {self.name!r} of {self.package!r}"
        return f"{self.area} {self.name!r}"

    def describe(self) -> str:
        if self.state == "toml-only":
            return f"{self.subject} is in smx.toml but not in smx.lock"
        if self.state == "lock-only":
            return f"{self.subject} is in smx.lock but not in smx.toml"
        return f"{self.subject}: {self.detail}"


# --- does the lock entry still fit? ----------------------------------------------------------
def package_fits(target: Target, locked: LockedPackage) -> bool:
    """The lock entry pins the package smx.toml asks for: same source, git URL and ref."""
    return (locked.source, locked.git, locked.ref) == (target.spec.source,
                                                       redact(target.git_url), target.ref)


def extension_fits(target: ExtTarget, locked: LockedExtension) -> bool:
    """The lock entry pins the extension smx.toml asks for (before any upgrade): the same
    Registry pack and a version smx.toml allows, or the same git URL and ref."""
    if target.registry is not None:
        return locked.registry == target.registry and target.version in (None, locked.version)
    return not locked.registry and locked.git == target.locked_git and locked.ref == target.ref


def model_fits(spec: ModelSpec, locked: LockedModel) -> bool:
    """The locked file is one smx.toml's entry asks for: its kind, SHA-256 and file name when
    the entry sets them, and an identity its ``source`` (and Civitai ``file``) names."""
    if spec.kind is not None and spec.kind != locked.kind:
        return False
    if spec.sha256 is not None and spec.sha256 != locked.sha256:
        return False
    if spec.filename is not None and spec.filename != locked.filename:
        return False
    try:
        ref = parse_model_ref(spec.source)
    except SmxError:  # a bad source is reported by the manifest check, not here
        return False
    if isinstance(ref, CivitaiRef):
        ids = locked.civitai
        if not ids:
            return False
        if ref.model_id is not None and ref.model_id != ids.get("model_id"):
            return False
        if ref.version_id is not None and ref.version_id != ids.get("version_id"):
            return False
        return spec.file is None or spec.file.lower() in (
            locked.filename.lower(), str(ids.get("file_id")), str(ids.get("file", "")).lower())
    if isinstance(ref, HfRef):
        hf = locked.hf
        if not hf or hf.get("repo") != ref.repo or hf.get("path") != ref.path:
            return False
        wanted = ref.revision
        if wanted is None:
            return not hf.get("ref")
        return wanted in (hf.get("ref"), hf.get("revision"))
    if isinstance(ref, UrlRef):
        return locked.url == ref.url
    if isinstance(ref, LocalRef):
        return locked.source == str(ref)
    return False


# --- every disagreement -------------------------------------------------------------------
def compare(env: Env, areas: set[str] | None = None) -> list[Disagreement]:
    """Every disagreement between smx.toml and smx.lock, in smx.toml order."""
    found: list[Disagreement] = []
    if areas is None or "package" in areas or "extension" in areas:
        found += _packages(env, areas)
    if areas is None or "model" in areas:
        found += _models(env)
    return found


def check_frozen(env: Env, areas: set[str] | None = None, *,
                 on_a_fresh_machine: bool = False) -> None:
    """Raise :class:`LockOutOfDate` naming every disagreement (``--frozen``).
    ``on_a_fresh_machine``: as where nothing is installed yet (the image of `smx export`)."""
    problems = compare(env, areas)
    if problems:
        shown = [p.describe() for p in problems[:6]]
        more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
        raise LockOutOfDate("smx.toml and smx.lock disagree, so --frozen cannot install "
                            f"exactly smx.lock: {'; '.join(shown)}{more}", hint=HINT)
    if areas is None or "package" in areas:
        _check_package_lists(env, on_a_fresh_machine)


def _changed(field: str, toml: object, lock: object) -> str:
    return f"{field} is {_show(toml)} in smx.toml, {_show(lock)} in smx.lock"


def _show(value: object) -> str:
    return "not set" if value is None else repr(value)


def _packages(env: Env, areas: set[str] | None) -> list[Disagreement]:
    from smx.extensions.targets import resolve as resolve_extension

    want_packages = areas is None or "package" in areas
    want_extensions = areas is None or "extension" in areas
    found: list[Disagreement] = []
    lock = env.lock.packages
    for name, spec in env.manifest.packages.items():
        locked = lock.get(name)
        if locked is None:
            if want_packages:
                found.append(Disagreement("package", name, "toml-only", ""))
            continue
        target = Target.of(spec)
        if want_packages:
            for field, toml, locked_value in (
                    ("source", spec.source, locked.source),
                    ("git URL", redact(target.git_url), locked.git),
                    ("ref", target.ref, locked.ref)):
                if toml != locked_value:
                    found.append(Disagreement("package", name, "changed",
                                              _changed(field, toml, locked_value)))
        if not want_extensions:
            continue
        for ename, espec in spec.extensions.items():
            ext = resolve_extension(spec, espec)
            if ext.builtin:
                continue
            locked_ext = locked.extensions.get(ename)
            if locked_ext is None:
                found.append(Disagreement("extension", ename, "toml-only", "", package=name))
                continue
            pairs: list[tuple[str, object, object]]
            if ext.registry is not None:
                pairs = [("registry", ext.registry, locked_ext.registry),
                         ("enabled", espec.enabled, locked_ext.enabled)]
                if ext.version is not None:  # else: the version smx.lock pins
                    pairs.insert(1, ("version", ext.version, locked_ext.version))
            else:
                pairs = [("git URL", ext.locked_git, locked_ext.git),
                         ("ref", ext.ref, locked_ext.ref),
                         ("enabled", espec.enabled, locked_ext.enabled)]
            for what, wanted, pinned in pairs:
                if wanted != pinned:
                    found.append(Disagreement("extension", ename, "changed",
                                              _changed(what, wanted, pinned), package=name))
        for ename in locked.extensions:
            if ename not in spec.extensions:
                found.append(Disagreement("extension", ename, "lock-only", "", package=name))
    if want_packages:
        for name in lock:
            if name not in env.manifest.packages:
                found.append(Disagreement("package", name, "lock-only", ""))
    return found


def _models(env: Env) -> list[Disagreement]:
    found: list[Disagreement] = []
    for name, spec in env.manifest.models.items():
        locked = env.lock.models.get(name)
        if locked is None:
            found.append(Disagreement("model", name, "toml-only", ""))
            continue
        detail = model_difference(spec, locked)
        if detail is not None:
            found.append(Disagreement("model", name, "changed", detail))
    for name in env.lock.models:
        if name not in env.manifest.models:
            found.append(Disagreement("model", name, "lock-only", ""))
    return found


def model_difference(spec: ModelSpec, locked: LockedModel) -> str | None:
    """What about ``spec`` the locked model no longer fits, or None."""
    if model_fits(spec, locked):
        return None
    if spec.kind is not None and spec.kind != locked.kind:
        return _changed("kind", spec.kind, locked.kind)
    if spec.sha256 is not None and spec.sha256 != locked.sha256:
        return _changed("sha256", spec.sha256, locked.sha256)
    if spec.filename is not None and spec.filename != locked.filename:
        return _changed("filename", spec.filename, locked.filename)
    what = f"source is {spec.source!r}" + (f" (file {spec.file!r})" if spec.file else "")
    return f"{what} in smx.toml, but smx.lock pins {locked.source!r}"


def _check_package_lists(env: Env, on_a_fresh_machine: bool = False) -> None:
    """A package whose commit `smx lock` pinned but that was never installed at it has no
    ``freeze`` yet: --frozen cannot know which versions to install."""
    from smx.packages.marker import is_installed

    for name in env.manifest.packages:
        locked = env.lock.packages.get(name)
        if locked is not None and not locked.freeze and (
                on_a_fresh_machine or not is_installed(env.layout, locked)):
            raise LockOutOfDate(
                f"smx.lock pins package {name!r} at {locked.commit[:12]} but does not record "
                "its Python packages yet (it was pinned without an install, by `smx lock` or "
                "an adoption; the list is known only after one), so --frozen cannot install "
                "exactly smx.lock",
                hint="run `smx sync` once without --frozen (it installs that commit and "
                     "records the list), then commit smx.lock",
                code="lock.incomplete")
