"""Adopt a Stability Matrix library: its ``Data/`` folder becomes an smx environment in place.

Stability Matrix keeps web UIs as git checkouts in ``Data/Packages/<name>/`` (each with its own
``venv/``) and models in ``Data/Models/<SharedFolderType>/`` — the layout smx uses. Adopting
writes smx.toml and smx.lock next to ``Data/`` and registers what is there; nothing is copied,
moved or downloaded:

- packages: which web UI a folder is comes from Stability Matrix's ``settings.json``
  (``InstalledPackages[].PackageName``/``LibraryPath``), else the git remote, else the files in
  the checkout. The lock gets the checked-out commit, the venv's Python and ``freeze``.
- extensions (A1111/Forge ``extensions/``, ComfyUI ``custom_nodes/``) that are git checkouts.
- models directly inside a store folder that maps to an smx kind, hashed once. A model with a
  Stability Matrix ``.cm-info.json`` sidecar (Civitai ids and hashes) is declared as
  ``civitai:MODEL@VERSION``; any other as ``local:FOLDER/FILE`` with its sha256.

Running it again adds only what is new; nothing already in smx.lock is hashed twice. What is
not adopted is returned with the reason, never dropped silently.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from smx.environment.env import Env, init_env
from smx.environment.layout import MANIFEST_NAME
from smx.environment.lock import LockedExtension, LockedModel, LockedPackage
from smx.errors import SmxError, UsageError
from smx.reporter import NullReporter, Reporter
from smx.words import count

# Stability Matrix's package names (its BasePackage.Name) for the web UIs smx knows.
SM_PACKAGE_NAMES = {
    "stable-diffusion-webui": "a1111",
    "stable-diffusion-webui-forge": "forge",
    "ComfyUI": "comfyui",
    "Fooocus": "fooocus",
}

CM_INFO_SUFFIX = ".cm-info.json"  # Stability Matrix's ConnectedModelInfo sidecar
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class AdoptedExtension:
    name: str
    git: str
    commit: str
    ref: str | None
    enabled: bool = True


@dataclass
class AdoptedPackage:
    name: str
    source: str  # catalog name
    git: str  # the checkout's remote (credentials stripped)
    fork: bool  # git differs from the catalog's repository
    commit: str
    ref: str | None
    python: str | None = None
    backend: str | None = None
    torch: list[str] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)
    extensions: list[AdoptedExtension] = field(default_factory=list)
    has_venv: bool = False


@dataclass
class AdoptedModel:
    name: str
    kind: str
    source: str  # civitai:M@V or local:FOLDER/FILE
    filename: str
    size: int
    sha256: str
    base_model: str | None = None
    civitai: dict[str, int] = field(default_factory=dict)
    renamed: bool = False  # stored under another name than the source's (keep it on re-sync)
    mtime_ns: int | None = None  # the file's mtime when it was hashed (for diskstate)
    trigger_words: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    path: str  # relative to the environment root
    reason: str


@dataclass
class AdoptResult:
    root: Path
    created: bool  # smx.toml was written by this run
    packages: list[AdoptedPackage] = field(default_factory=list)
    models: list[AdoptedModel] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # names already in smx.toml
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "created": self.created,
            "packages": [{"name": p.name, "source": p.source, "git": p.git, "commit": p.commit,
                          "ref": p.ref, "python": p.python, "venv": p.has_venv,
                          "extensions": [e.name for e in p.extensions]}
                         for p in self.packages],
            "models": [{"name": m.name, "kind": m.kind, "source": m.source,
                        "filename": m.filename, "size": m.size, "sha256": m.sha256}
                       for m in self.models],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "already": self.already,
            "warnings": self.warnings,
        }


# --- finding the library -----------------------------------------------------------------------
def library_root(path: Path) -> Path:
    """The folder that contains ``Data/`` (``path`` itself, or its parent when it *is* Data/)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder",
                         hint="pass the Stability Matrix folder that contains Data/")
    if (path / "Data").is_dir():
        return path.resolve()
    if path.name == "Data" and ((path / "Packages").is_dir() or (path / "Models").is_dir()):
        return path.resolve().parent
    raise UsageError(f"{path} does not look like a Stability Matrix library: no Data/ folder",
                     hint="pass the folder that contains Data/ (with Data/Packages and "
                          "Data/Models), or Data/ itself")


@dataclass(frozen=True)
class SmInstalled:
    """One ``InstalledPackages`` entry of Stability Matrix's settings.json."""

    package_name: str  # Stability Matrix's BasePackage.Name, e.g. "ComfyUI"
    release: str | None  # the release tag it installed, when it installed one


def sm_installed(data: Path, warnings: list[str]) -> dict[str, SmInstalled]:
    """Folder name under Data/Packages → what settings.json says about it (absent: empty)."""
    settings = data / "settings.json"
    if not settings.is_file():
        return {}
    try:
        raw = json.loads(settings.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        warnings.append(f"could not read Data/settings.json ({exc}); recognising packages by "
                        "their git remote and files instead")
        return {}
    entries = raw.get("InstalledPackages") if isinstance(raw, dict) else None
    found: dict[str, SmInstalled] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("PackageName"), str):
            continue
        # LibraryPath is relative to Data/ ("Packages/ComfyUI", "Packages\\ComfyUI" on
        # Windows); older settings have an absolute Path instead.
        location = entry.get("LibraryPath") or entry.get("Path") or entry.get("DisplayName")
        if not isinstance(location, str) or not location.strip("\\/"):
            continue
        version: dict[str, Any] = entry["Version"] if isinstance(entry.get("Version"), dict) \
            else {}
        release = version.get("InstalledReleaseVersion") or (
            entry.get("PackageVersion") if not entry.get("InstalledBranch") else None)
        folder = re.split(r"[\\/]", location.rstrip("\\/"))[-1]
        found[folder] = SmInstalled(entry["PackageName"],
                                    release if isinstance(release, str) and release else None)
    return found


# --- packages ----------------------------------------------------------------------------------
def _strip_credentials(url: str) -> str:
    """A remote URL without user:password@ (Stability Matrix users sometimes clone with a token)."""
    from smx.redact import redact

    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return redact(url)


def _same_repo(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        url = url.strip().lower().rstrip("/")
        url = url.removesuffix(".git")
        return re.sub(r"^[a-z+]+://", "", url)

    return norm(a) == norm(b)


def _fingerprint(checkout: Path) -> str | None:
    """Which web UI a checkout is, from files only that web UI has."""
    if (checkout / "comfy").is_dir() and (checkout / "folder_paths.py").is_file():
        return "comfyui"
    if (checkout / "entry_with_update.py").is_file():
        return "fooocus"
    if (checkout / "launch.py").is_file() and (checkout / "modules_forge").is_dir():
        return "forge"
    if (checkout / "launch.py").is_file() and (checkout / "webui.py").is_file():
        return "a1111"
    return None


def _catalog_source(folder: Path, sm_name: str | None, url: str) -> tuple[str | None, str]:
    """(catalog name or None, why)."""
    from smx.catalog.packages import PACKAGES

    if sm_name is not None and sm_name in SM_PACKAGE_NAMES:
        return SM_PACKAGE_NAMES[sm_name], f"Stability Matrix package {sm_name!r}"
    for name, pkg in PACKAGES.items():
        if _same_repo(url, pkg.git):
            return name, "git remote"
    found = _fingerprint(folder)
    if found is not None:
        return found, "files in the checkout"
    if sm_name is not None:
        return None, (f"Stability Matrix package {sm_name!r} is not one smx supports "
                      f"({', '.join(PACKAGES)})")
    return None, f"not a web UI smx supports ({', '.join(PACKAGES)})"


def _ref_at_head(checkout: Path, preferred: str | None) -> str | None:
    """The tag (preferring Stability Matrix's recorded release) or branch at HEAD."""
    from smx.packages.git import git_dir, git_errors, open_repo

    tags: list[str] = []
    try:
        out = open_repo(checkout).git.tag("--points-at", "HEAD")
        tags = [t.strip() for t in out.splitlines() if t.strip()]
    except git_errors():  # no tags is an answer, not an error, here
        tags = []
    if preferred and preferred in tags:
        return preferred
    if tags:
        return sorted(tags)[-1]
    gdir = git_dir(checkout)
    if gdir is not None:
        try:
            head = (gdir / "HEAD").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if head.startswith("ref: refs/heads/"):
            return head.removeprefix("ref: refs/heads/")
    return None


def _torch_facts(freeze: list[str]) -> tuple[list[str], str | None]:
    """The torch lines of a venv and the backend its build says (``+cu121`` → cuda)."""
    lines = [line for line in freeze
             if line.split("==")[0] in ("torch", "torchvision", "torchaudio") and "==" in line]
    backend = None
    for line in lines:
        if line.startswith("torch=="):
            local = line.partition("+")[2]
            if local.startswith("cu"):
                backend = "cuda"
            elif local.startswith("rocm"):
                backend = "rocm"
            elif local.startswith("cpu"):
                backend = "cpu"
            elif not local and sys.platform == "darwin":
                backend = "mps"  # macOS wheels from PyPI are the MPS build
    return lines, backend


def _clone_folder(url: str) -> str | None:
    from smx.errors import SmxError
    from smx.extensions.targets import repo_folder

    try:
        return repo_folder(url)
    except SmxError:
        return None


def _extensions(checkout: Path, source: str, root: Path, skipped: list[Skipped]
                ) -> list[AdoptedExtension]:
    from smx.catalog.packages import PACKAGES
    from smx.packages.git import git_dir, head_commit, origin_url

    pkg = PACKAGES[source]
    if not pkg.extensions_dir:
        return []
    folder = checkout / pkg.extensions_dir
    if not folder.is_dir():
        return []
    disabled = set()
    config = checkout / "config.json"  # A1111/Forge: disabled extensions live here
    if pkg.extension_style == "a1111" and config.is_file():
        try:
            value = json.loads(config.read_text(encoding="utf-8")).get("disabled_extensions")
            disabled = {str(v) for v in value or []}
        except (OSError, ValueError, AttributeError):
            disabled = set()
    found = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name.startswith((".", "__")):
            continue
        rel = entry.relative_to(root).as_posix()
        if git_dir(entry) is None:
            skipped.append(Skipped(rel, "not a git checkout"))
            continue
        url, commit = origin_url(entry), head_commit(entry)
        if not url or not commit:
            skipped.append(Skipped(rel, "git checkout without an origin remote or a commit"))
            continue
        if not _NAME_RE.match(entry.name):
            skipped.append(Skipped(rel, "folder name is not usable as an smx name"))
            continue
        expected = _clone_folder(url)
        if expected != entry.name:
            # smx finds an extension in the folder `git clone URL` makes (as A1111's and
            # ComfyUI-Manager's installers do); any other name would be cloned again.
            skipped.append(Skipped(rel, f"its folder is not named after its repository "
                                        f"({expected}); rename it and adopt again"))
            continue
        found.append(AdoptedExtension(entry.name, _strip_credentials(url), commit,
                                      _ref_at_head(entry, None),
                                      enabled=entry.name not in disabled))
    return found


def _package(folder: Path, sm_name: str | None, sm_release: str | None, root: Path,
             skipped: list[Skipped], warnings: list[str], reporter: Reporter
             ) -> AdoptedPackage | None:
    from smx.catalog.packages import PACKAGES
    from smx.packages.git import git_dir, head_commit, origin_url

    rel = folder.relative_to(root).as_posix()
    if git_dir(folder) is None:
        skipped.append(Skipped(rel, "not a git checkout"))
        return None
    url, commit = origin_url(folder), head_commit(folder)
    if not url or not commit:
        skipped.append(Skipped(rel, "git checkout without an origin remote or a commit"))
        return None
    url = _strip_credentials(url)
    source, why = _catalog_source(folder, sm_name, url)
    if source is None:
        skipped.append(Skipped(rel, why))
        return None
    if not _NAME_RE.match(folder.name):
        skipped.append(Skipped(rel, f"{folder.name!r} is not usable as an smx name (letters, "
                                    "digits, '.', '_', '-'); rename the folder and adopt again"))
        return None
    fork = not _same_repo(url, PACKAGES[source].git)
    # Not a fork: record the catalog's URL exactly as smx itself would (sync compares them).
    adopted = AdoptedPackage(name=folder.name, source=source,
                             git=url if fork else PACKAGES[source].git, fork=fork,
                             commit=commit, ref=_ref_at_head(folder, sm_release))
    from smx.packages.venv import Venv, installed_distributions

    venv = Venv(folder / "venv")
    if venv.exists():
        adopted.has_venv = True
        adopted.python = venv.python_version()
        with reporter.task(f"reading the venv of {folder.name}"):
            try:
                adopted.freeze = installed_distributions(venv)
            except (SmxError, OSError) as exc:  # a broken venv is reported, not fatal
                warnings.append(f"{rel}/venv does not run ({exc}); `smx sync` will rebuild it")
        adopted.torch, adopted.backend = _torch_facts(adopted.freeze)
    else:
        warnings.append(f"{rel} has no venv/; `smx sync` will create it (downloads torch and "
                        "the requirements)")
    adopted.extensions = _extensions(folder, source, root, skipped)
    return adopted


# --- models ------------------------------------------------------------------------------------
def _civitai_info(model: Path) -> dict[str, Any] | None:
    """Stability Matrix's ConnectedModelInfo for ``model``, when it is a Civitai download."""
    stem = model.name[: -len(model.suffix)] if model.suffix else model.name
    sidecar = model.with_name(stem + CM_INFO_SUFFIX)
    if not sidecar.is_file():
        return None
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    source = info.get("Source", "Civitai")
    if source not in (None, "Civitai", 0):  # the enum is written by name (or its value 0)
        return None
    if not isinstance(info.get("ModelId"), int) or not isinstance(info.get("VersionId"), int):
        return None
    return info


def model_name(stem: str, taken: set[str]) -> str:
    """A valid, unused smx.toml name from a file name."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:60] or "model"
    if not base[0].isalnum():
        base = "m" + base
    name, n = base, 2
    while name in taken:
        name = f"{base[:60 - len(str(n)) - 1]}-{n}"
        n += 1
    taken.add(name)
    return name


def _models(env: Env, taken: set[str], skipped: list[Skipped], warnings: list[str],
            reporter: Reporter) -> list[AdoptedModel]:
    from smx.catalog.model_kinds import is_model_file, kind_for_folder
    from smx.models.classify import describe_mismatch
    from smx.models.headers import file_verdict
    from smx.models.safety import refusals
    from smx.models.store import hash_file

    root = env.root
    store = env.layout.models
    if not store.is_dir():
        return []
    locked = {(m.kind, m.filename) for m in env.lock.models.values()}
    found: list[AdoptedModel] = []
    for folder in sorted(p for p in store.iterdir() if p.is_dir()):
        files = [p for p in folder.rglob("*") if p.is_file() and is_model_file(p.name)]
        if not files:
            continue
        rel = folder.relative_to(root).as_posix()
        kind = kind_for_folder(folder.name)
        if kind is None:
            skipped.append(Skipped(rel, f"{count(len(files), 'model file')} in a folder with "
                                        "no smx kind (the web UIs may still use them)"))
            continue
        nested = [p for p in files if p.parent != folder]
        if nested:
            skipped.append(Skipped(rel, f"{count(len(nested), 'model file')} in sub-folders "
                                        "are not tracked (the web UIs still see them)"))
        for path in sorted(p for p in files if p.parent == folder):
            if (kind.name, path.name) in locked:
                continue
            before = path.stat()
            sha = hash_file(path, reporter, f"hashing {folder.name}/{path.name}")
            refused = refusals(path, path.name, sha256=sha)
            if refused:
                skipped.append(Skipped(f"{rel}/{path.name}", "the pickle scan refuses it ("
                                       f"{', '.join(refused[:3])}); smx does not track it (if "
                                       "you trust it: add it as local: to smx.toml and run "
                                       "`smx sync --allow-unsafe`)"))
                continue
            stem = path.name[: -len(path.suffix)]
            model = AdoptedModel(name=model_name(stem, taken), kind=kind.name,
                                 source=f"local:{folder.name}/{path.name}", filename=path.name,
                                 size=before.st_size, sha256=sha, mtime_ns=before.st_mtime_ns)
            verdict = file_verdict(path)
            if verdict is not None:
                model.base_model = verdict.family
                mismatch = describe_mismatch(f"{rel}/{path.name}", kind.name, verdict)
                if mismatch:
                    warnings.append(mismatch)
            info = _civitai_info(path)
            if info is not None:
                published = str((info.get("Hashes") or {}).get("SHA256") or "").lower()
                if published and published != sha:
                    warnings.append(f"{rel}/{path.name} differs from the file Civitai published "
                                    "(SHA-256 mismatch); adopted as local:")
                else:
                    model.source = f"civitai:{info['ModelId']}@{info['VersionId']}"
                    model.civitai = {"model_id": info["ModelId"],
                                     "version_id": info["VersionId"]}
                    if isinstance(info.get("RemoteFileId"), int):
                        model.civitai["file_id"] = info["RemoteFileId"]
                    if isinstance(info.get("BaseModel"), str):
                        model.base_model = info["BaseModel"]
                    remote_name = info.get("RemoteFileName")
                    model.renamed = isinstance(remote_name, str) and remote_name != path.name
            found.append(model)
    return found


def _identify(env: Env, models: list[AdoptedModel], reporter: Reporter) -> None:
    """Files without a Stability Matrix sidecar, looked up on Civitai by hash when it answers:
    the ones found are adopted as the Civitai versions they are."""
    from smx.models.identify import Identifier
    from smx.models.settings import services

    local = [m for m in models if m.source.startswith("local:")]
    if not local:
        return
    misses = []
    with Identifier(services(env.manifest.sources), reporter, explicit=False) as who:
        for model in local:
            if who.known_miss(model.sha256):
                continue
            match = who.lookup(model.sha256)
            if who.unreachable is not None:
                break
            if match is None:
                misses.append(model.name)
                continue
            model.source = match.source
            model.civitai = {"model_id": match.model_id, "version_id": match.version_id}
            if match.file_id:
                model.civitai["file_id"] = match.file_id
            model.base_model = match.base_model or model.base_model
            model.trigger_words = list(match.trigger_words)
            model.renamed = match.filename is not None and match.filename != model.filename
            reporter.info(f"{model.name}: on Civitai as {match.title} ({match.source})")
        who.report_misses(misses)
        who.report_unreachable()


# --- writing -----------------------------------------------------------------------------------
def _write(env: Env, result: AdoptResult) -> None:
    from smx.environment.manifest import edit, inline, table_for

    def change(doc: Any) -> None:
        import tomlkit

        packages = table_for(doc, "packages")
        for pkg in result.packages:
            table = tomlkit.table()
            table["source"] = pkg.source
            if pkg.fork:
                table["git"] = pkg.git
            table["ref"] = pkg.ref or pkg.commit
            if pkg.extensions:
                exts = tomlkit.table()
                for ext in pkg.extensions:
                    # ref as the lock records it: sync sees smx.toml and smx.lock agree
                    exts[ext.name] = inline({"git": ext.git, "ref": ext.ref,
                                             "enabled": None if ext.enabled else False})
                table["extensions"] = exts
            table.add(tomlkit.nl())
            packages[pkg.name] = table
        models = table_for(doc, "models")
        for model in result.models:
            local = model.source.startswith("local:")
            models[model.name] = inline({
                "source": model.source,
                "kind": model.kind,
                "sha256": model.sha256 if local else None,
                "file": str(model.civitai["file_id"]) if "file_id" in model.civitai else None,
                "filename": model.filename if model.renamed else None,
            })

    edit(env.layout.manifest, change)
    env.reload_manifest()
    for pkg in result.packages:
        env.lock.packages[pkg.name] = LockedPackage(
            name=pkg.name, source=pkg.source, git=pkg.git, commit=pkg.commit,
            ref=pkg.ref or pkg.commit, python=pkg.python, backend=pkg.backend,
            torch=pkg.torch, freeze=pkg.freeze,
            extensions={e.name: LockedExtension(name=e.name, git=e.git, commit=e.commit,
                                                ref=e.ref, enabled=e.enabled)
                        for e in pkg.extensions})
    for model in result.models:
        env.lock.models[model.name] = LockedModel(
            name=model.name, source=model.source, kind=model.kind, filename=model.filename,
            size=model.size, sha256=model.sha256, base_model=model.base_model,
            civitai=dict(model.civitai), trigger_words=list(model.trigger_words))
    env.save_lock()
    # hashed just now: a sync with nothing to do trusts these files without hashing them again
    from smx import diskstate

    diskstate.remember_all(env.layout, [(m.name, env.lock.models[m.name], m.mtime_ns)
                                        for m in result.models])


def adopt(path: Path, reporter: Reporter | None = None) -> AdoptResult:
    """Make the library at ``path`` an smx environment in place and register what it holds."""
    from smx.transaction import env_transaction

    reporter = reporter or NullReporter()
    root = library_root(path)
    created = not (root / MANIFEST_NAME).exists()
    env = init_env(root, root.name)
    result = AdoptResult(root=root, created=created)
    installed = sm_installed(env.layout.data, result.warnings)

    with env_transaction(env):
        packages_dir = env.layout.packages
        for folder in sorted(p for p in packages_dir.iterdir() if p.is_dir()
                             and not p.name.startswith(".")):
            if folder.name in env.manifest.packages:
                result.already.append(folder.name)
                continue
            info = installed.get(folder.name)
            pkg = _package(folder, info.package_name if info else None,
                           info.release if info else None, root, result.skipped,
                           result.warnings, reporter)
            if pkg is not None:
                result.packages.append(pkg)
        taken = set(env.manifest.models)
        result.models = _models(env, taken, result.skipped, result.warnings, reporter)
        _identify(env, result.models, reporter)
        if result.packages or result.models:
            _write(env, result)
    return result

