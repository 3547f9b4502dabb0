"""smx.lock: what smx resolved, as identities and hashes.

Pinned: commit SHAs, Python version, ``pip freeze`` per venv, Civitai model/version/file ids,
Hugging Face repo + revision commit + path, sizes and SHA-256s. Never written: download URLs
(signed CDN URLs expire; endpoints and mirrors are the user's setting) and secrets. The file is
machine-written with tomli-w, sorted, so diffs stay small and stable.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smx.environment import lockcheck
from smx.errors import ConfigError
from smx.fsutil import atomic_write_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOCK_VERSION = 1


@dataclass
class LockedExtension:
    """A git extension: ``git`` + ``commit``. A Comfy Registry node pack also records
    ``registry`` + ``version``, and either its repository at the version's commit (``git`` +
    ``commit``) or, when the Registry ties the version to no commit, the SHA-256 of the
    version's archive (``archive_sha256``; ``git`` and ``commit`` empty)."""

    name: str
    git: str = ""
    commit: str = ""
    ref: str | None = None
    enabled: bool = True
    registry: str | None = None
    version: str | None = None
    archive_sha256: str | None = None

    @property
    def identity(self) -> str:
        """What the folder on disk must match: the commit, or the archive's SHA-256."""
        return self.commit or self.archive_sha256 or ""


@dataclass
class LockedPackage:
    name: str
    source: str
    git: str
    commit: str
    ref: str | None = None
    python: str | None = None  # full version of the venv interpreter, e.g. "3.10.13"
    backend: str | None = None  # cuda | rocm | cpu | mps
    torch: list[str] = field(default_factory=list)  # the torch requirement lines installed
    requirements_sha256: str | None = None  # of the requirements files, to skip unchanged pip runs
    freeze: list[str] = field(default_factory=list)  # `pip freeze` of the venv
    extensions: dict[str, LockedExtension] = field(default_factory=dict)
    # the date requirements were resolved as of (RFC 3339, UTC): scripts get it again under
    # `sync --frozen` (smx.packages.asof)
    resolved_as_of: str | None = None


@dataclass
class LockedModel:
    name: str
    source: str  # normalised reference, e.g. "civitai:261336@597138"
    kind: str
    filename: str
    size: int
    sha256: str
    base_model: str | None = None
    civitai: dict[str, int] = field(default_factory=dict)  # model_id, version_id, file_id
    hf: dict[str, str] = field(default_factory=dict)  # repo, revision (commit), path
    url: str | None = None  # only for plain-URL models, where the URL *is* the identity
    trigger_words: list[str] = field(default_factory=list)  # Civitai's trainedWords


@dataclass
class Lock:
    packages: dict[str, LockedPackage] = field(default_factory=dict)
    models: dict[str, LockedModel] = field(default_factory=dict)
    version: int = LOCK_VERSION

    def to_toml(self) -> str:
        import tomli_w

        data: dict[str, Any] = {"version": self.version}
        data["packages"] = {name: _package_table(pkg) for name, pkg in
                            sorted(self.packages.items())}
        data["models"] = {name: _clean(asdict(model)) for name, model in
                          sorted(self.models.items())}
        header = "# smx.lock: written by smx; do not edit. Commit it with smx.toml.\n"
        return header + tomli_w.dumps(data)


def _clean(value: Any) -> Any:
    """Drop None and empty containers: TOML has no null, and empty keys are noise."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "name":
                continue
            cleaned = _clean(item)
            if cleaned is None or cleaned == {} or (cleaned == [] and key != "freeze"):
                continue
            out[key] = cleaned
        return out
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _package_table(pkg: LockedPackage) -> dict[str, Any]:
    table: dict[str, Any] = _clean(asdict(pkg))
    for entry in table.get("extensions", {}).values():
        for key in ("git", "commit"):  # an archive-installed node pack has neither
            if entry.get(key) == "":
                del entry[key]
    return table


def load(path: Path, *, holders: bool = False) -> Lock:
    """Read and check smx.lock; ``holders``: also accept packages with an empty commit (the
    entries Data/.smx/leftovers.lock keeps only to carry dropped extensions)."""
    if not path.exists():
        return Lock()
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", hint=lockcheck.HINT,
                          code="lock.invalid") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not a valid lock file ({exc})",
                          hint="smx.lock is machine-written; restore it from version control "
                               "or delete it and run `smx lock`") from None
    return parse(path, text, data, holders=holders)


def parse(path: Path, text: str, data: dict[str, Any], *, holders: bool = False) -> Lock:
    """The lock in ``data`` (parsed from ``text``), every value checked (environment.lockcheck)."""
    check = lockcheck.LockChecker(path, text)
    version = data.get("version", LOCK_VERSION)
    if version != LOCK_VERSION:
        raise ConfigError(f"{path}: lock version {version} is not supported by this smx",
                          hint="upgrade smx, or delete smx.lock and run `smx lock`")
    lock = Lock()
    for name, raw in check.entries(data.get("packages", {}), ("packages",)).items():
        where = ("packages", name)
        pkg = check.build(LockedPackage, name, raw, where, skip=("extensions",))
        if not (holders and pkg.commit == ""):
            lockcheck.check_git(check, where, pkg.git, pkg.commit, pkg.ref)
        exts = check.entries(raw.get("extensions", {}), (*where, "extensions"))
        for ename, eraw in exts.items():
            ewhere = (*where, "extensions", ename)
            ext = check.build(LockedExtension, ename, eraw, ewhere)
            if ext.archive_sha256 is not None and not ext.git and not ext.commit:
                lockcheck.check_archive(check, ewhere, ext.archive_sha256)
            else:
                lockcheck.check_git(check, ewhere, ext.git, ext.commit, ext.ref)
            pkg.extensions[ename] = ext
        lock.packages[name] = pkg
    for name, raw in check.entries(data.get("models", {}), ("models",)).items():
        where = ("models", name)
        model = check.build(LockedModel, name, raw, where)
        lockcheck.check_model(check, where, model.kind, model.filename, model.size,
                              model.sha256, model.source, model.url)
        lock.models[name] = model
    return lock


def save(path: Path, lock: Lock) -> None:
    atomic_write_text(path, lock.to_toml())
