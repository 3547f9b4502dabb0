"""Which code a Comfy Registry version is: its repository at a commit, or its archive.

The Registry's version records carry no commit (NodeVersion has ``downloadUrl``, no git
field), so smx ties a version to a commit of the pack's ``repository`` the way versions are
published: `comfy node publish` (and the publish-node GitHub action, which runs on a push that
changes pyproject.toml) uploads ``[project] version`` of pyproject.toml at that commit. So:

1. a tag named ``v<version>`` or ``<version>`` in the repository (``git ls-remote``, no clone);
2. else the commit that set pyproject.toml's ``[project] version`` to the version (the
   oldest commit of the newest run of commits whose pyproject.toml says that version), read
   from the default branch's history, fetched into ``Data/Cache/registry/<id>`` (kept, so the
   next upgrade fetches only what is new);
3. else (no repository, one smx cannot read, or no commit says that version) the version's
   archive, whose SHA-256 smx.lock records.

A version the lock already pins is not looked up again: its commit (or archive hash) is what
the lock says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smx.environment.env import Env
from smx.environment.lock import LockedExtension
from smx.errors import AuthRequired, NotFound, UsageError
from smx.extensions.registry import RegistryClient, RegistryNode, RegistryVersion, choose
from smx.extensions.targets import ExtTarget
from smx.redact import redact, short_url
from smx.reporter import Reporter


@dataclass(frozen=True)
class RegistryPick:
    node: RegistryNode
    version: RegistryVersion
    git_url: str | None  # the repository, when the version's commit is known
    commit: str | None
    how: str  # how the code was tied to the version, for messages

    @property
    def archive_url(self) -> str | None:
        return None if self.git_url else self.version.download_url


def pick(env: Env, target: ExtTarget, *, locked: LockedExtension | None = None,
         upgrade: bool = False, reporter: Reporter,
         client: RegistryClient | None = None) -> RegistryPick:
    """Ask the Registry for ``target``'s node pack and choose its version: smx.toml's, else
    the one smx.lock pins (unless ``upgrade``), else the newest active one."""
    from smx.extensions import registry

    assert target.registry is not None
    own = client is None
    client = client or registry.client(env.manifest.sources)
    try:
        reporter.info(f"asking the Comfy Registry about {target.registry} …")
        node = client.node(target.registry)
        pinned = locked if (locked is not None and locked.registry == target.registry
                            and locked.version and not upgrade
                            and target.version in (None, locked.version)) else None
        wanted = target.version or (pinned.version if pinned else None)
        version = choose(node, client.versions(target.registry), wanted,
                         allow_deprecated=pinned is not None and wanted == pinned.version)
    finally:
        if own:
            client.close()
    if version.refusal is not None:  # deprecated since smx.lock pinned it
        reporter.warn(f"{node.id} {version.version} is {version.refusal} (Comfy Registry); "
                      f"`smx ext update {target.name}` moves to the newest active version")
    elif version.status != registry.ACTIVE:
        reporter.warn(f"{node.id} {version.version} is not reviewed by the Comfy Registry yet "
                      f"({version.status.removeprefix('NodeVersionStatus').lower()})")
    if pinned is not None and pinned.version == version.version:
        if pinned.commit and pinned.git:
            return RegistryPick(node, version, pinned.git, pinned.commit, "smx.lock")
        return _archive(node, version)
    if node.repository:
        found = version_commit(env, node, version.version, reporter)
        if found is not None:
            commit, how = found
            return RegistryPick(node, version, node.repository, commit, how)
    return _archive(node, version)


def _archive(node: RegistryNode, version: RegistryVersion) -> RegistryPick:
    if not version.download_url:
        raise UsageError(f"{node.id} {version.version}: the Comfy Registry gives neither a "
                         "repository commit nor an archive for it",
                         hint="give the pack's git URL instead", code="registry.no_source")
    return RegistryPick(node, version, None, None, "the Registry's archive")


def version_commit(env: Env, node: RegistryNode, version: str, reporter: Reporter
                   ) -> tuple[str, str] | None:
    """(commit, how) of ``version`` in the pack's repository, or None (then: the archive)."""
    from smx.packages import git

    url = node.repository
    assert url is not None
    try:
        for tag in (f"v{version}", version):
            try:
                resolved = git.resolve(url, tag)
            except NotFound as exc:
                if exc.code == "git.repo_not_found":
                    raise
                continue
            if resolved.kind == "tag" and resolved.commit:
                return resolved.commit, f"tag {tag}"
        history = env.layout.registry_history(node.id)
        with reporter.task(f"{node.id}: find version {version} in {short_url(url)}"):
            fetch_history(history, url)
            commit = commit_setting_version(history, version)
    except (NotFound, AuthRequired) as exc:
        reporter.warn(f"{node.id}: cannot read its repository {redact(url)} ({exc.message}); "
                      "using the Registry's archive")
        return None
    if commit is None:
        reporter.warn(f"{node.id}: no commit of {redact(url)} has version {version} in "
                      "pyproject.toml (and no tag names it); using the Registry's archive")
        return None
    return commit, f"pyproject.toml version at {commit[:12]}"


HISTORY_REF = "refs/heads/registry-history"


def fetch_history(path: Path, url: str) -> None:
    """The default branch's history into the bare repository ``path``, without file contents
    (``--filter=blob:none``: commits and trees only; the few pyproject.toml versions read
    later are fetched on demand). A server without filters sends everything, which works too."""

    import git as gitpython

    from smx.packages.git import failure, git_errors, stall_env

    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        repo = gitpython.Repo.init(path, bare=True)
        with repo.config_writer() as cfg:
            cfg.set_value('remote "origin"', "url", url)
            cfg.set_value('remote "origin"', "promisor", "true")
            cfg.set_value('remote "origin"', "partialclonefilter", "blob:none")
    repo = gitpython.Repo(path)
    repo.git.update_environment(**stall_env())
    with repo.config_writer() as cfg:
        cfg.set_value('remote "origin"', "url", url)
    try:
        repo.git.fetch("--filter=blob:none", "--no-tags", "origin", f"+HEAD:{HISTORY_REF}")
    except git_errors() as exc:
        raise failure(exc, "fetch", url) from exc


def commit_setting_version(repo_path: Path, version: str, ref: str = HISTORY_REF
                           ) -> str | None:
    """The newest commit of ``ref``'s history whose change to pyproject.toml set ``[project]
    version`` to ``version``, or None.

    Read from the patches (``git log -p`` fetches the blobs it needs in one batch in a
    partial clone), and confirmed by reading that commit's pyproject.toml."""
    import re

    from smx.packages.git import git_errors, open_repo

    repo = open_repo(repo_path)
    try:
        text: str = repo.git.log("--format=commit %H", "-p", "--no-color", "--no-ext-diff",
                            "--unified=0", ref, "--", "pyproject.toml")
    except git_errors():
        return None
    added = re.compile(r"^\+\s*version\s*=\s*[\"']([^\"']+)[\"']")
    current = None
    for line in text.splitlines():
        if line.startswith("commit "):
            current = line.split()[1]
            continue
        match = added.match(line)
        if match and current is not None and _same_version(match.group(1), version):
            says = _pyproject_version(repo, current)
            if says is not None and _same_version(says, version):
                return current
    return None


def _pyproject_version(repo: Any, sha: str) -> str | None:
    import sys

    from smx.packages.git import git_errors

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        blob = repo.commit(sha).tree / "pyproject.toml"
        data = tomllib.loads(blob.data_stream.read().decode("utf-8"))
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    except git_errors():
        return None
    value = data.get("project", {}).get("version") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) else None


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b

