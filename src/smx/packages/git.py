"""Git for packages and extensions: clone or reuse a checkout, put it at an exact commit.

Reusable by anything that keeps a git checkout (web UI packages, A1111 extensions, ComfyUI
custom nodes, the repositories A1111 clones on first run):

- :func:`checkout` — make ``path`` a checkout of ``url`` at ``ref`` (tag, branch or commit SHA,
  short SHAs too), shallow where the ref allows, reusing whatever an earlier, interrupted run
  left there. Returns the commit SHA.
- :func:`resolve` — what ``ref`` means on the remote right now (``git ls-remote``), no clone.
- :func:`head_commit` — the checked-out commit, read from ``.git`` files without spawning git
  (cheap enough for a no-op sync plan).
- :func:`is_dirty` — does the checkout have edits to tracked files.

Everything runs the user's own ``git`` through GitPython, so the user's git config applies:
``url.<mirror>.insteadOf`` rewrites, credentials helpers, proxies (``http.proxy``). The remote
URL stored in ``.git/config`` is the URL smx was given, never the rewritten one. Errors come
out as :mod:`smx.errors` classes (missing ref -> NotFound, unreachable -> NetworkError, …) with
secrets redacted.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smx.environment.layout import VENV, VENV_CHECK_COPY, VENV_STEP_COPY
from smx.errors import (
    AuthRequired,
    InstallError,
    NetworkError,
    NotFound,
    SmxError,
    SubprocessFailed,
    UsageError,
)
from smx.gitcheck import REF_HINT, URL_HINT, ref_problem, url_problem
from smx.redact import redact
from smx.reporter import NullReporter, Reporter

if TYPE_CHECKING:
    import git

FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA_RE = re.compile(r"^[0-9a-f]{4,39}$")

# Paths git should never show as untracked in a package checkout: the venv smx puts inside it,
# its copies, and smx's own bookkeeping. Written to .git/info/exclude (local, never committed).
LOCAL_EXCLUDES = (f"/{VENV}/", f"/{VENV_STEP_COPY}/", f"/{VENV_CHECK_COPY}/", "/.smx-*")

# The local branch an extension checkout is left on. A1111's Extensions tab reads the
# checkout's active branch (modules/extensions.py), which a detached HEAD does not have: it
# then reports "Failed reading extension data from Git repository" at every start.
PINNED_BRANCH = "smx-pinned"

# Slower than this many bytes a second for SMX_HTTP_TIMEOUT seconds counts as a stalled
# remote (git over HTTP would otherwise wait for a dead connection for minutes).
_STALL_BYTES_PER_S = 1000


def stall_env() -> dict[str, str]:
    """git's low-speed abort set to smx's stall timeout, unless the user set their own."""
    from smx.timeouts import stall_timeout_s

    wanted = {"GIT_HTTP_LOW_SPEED_LIMIT": str(_STALL_BYTES_PER_S),
              "GIT_HTTP_LOW_SPEED_TIME": str(max(1, round(stall_timeout_s()))),
              "GIT_TERMINAL_PROMPT": "0"}
    return {k: v for k, v in wanted.items() if k not in os.environ}


@dataclass(frozen=True)
class ResolvedRef:
    """What a ref names on the remote. ``commit`` is None for a short SHA (not advertised)."""

    ref: str
    kind: str  # tag | branch | commit
    commit: str | None


# --- reading a checkout without spawning git --------------------------------------------------
def git_dir(path: Path) -> Path | None:
    """The ``.git`` folder of a checkout (follows a ``gitdir:`` file), or None."""
    dot = Path(path) / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            return target if target.is_absolute() else (Path(path) / target)
    return None


def head_commit(path: Path) -> str | None:
    """The commit checked out at ``path``, from .git/HEAD (and refs/packed-refs); None if none.

    No subprocess: a sync plan calls this for every package on every run.
    """
    gdir = git_dir(path)
    if gdir is None:
        return None
    try:
        head = (gdir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if FULL_SHA_RE.match(head):
        return head
    if not head.startswith("ref:"):
        return None
    return _read_ref(gdir, head[4:].strip())


def _read_ref(gdir: Path, ref: str) -> str | None:
    loose = gdir / ref
    if loose.is_file():
        value = loose.read_text(encoding="utf-8").strip()
        if FULL_SHA_RE.match(value):
            return value
        if value.startswith("ref:"):
            return _read_ref(gdir, value[4:].strip())
    packed = gdir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1].strip() == ref and FULL_SHA_RE.match(parts[0]):
                return parts[0]
    return None


def origin_url(path: Path) -> str | None:
    """``remote.origin.url`` as stored in the checkout (the URL smx was given)."""
    gdir = git_dir(path)
    if gdir is None:
        return None
    import configparser

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(gdir / "config", encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    section = 'remote "origin"'
    return parser.get(section, "url", fallback=None) if parser.has_section(section) else None


# --- running git ------------------------------------------------------------------------------
def check_url(url: str) -> None:
    """Refuse a URL git would read as an option or a remote helper (smx.gitcheck)."""
    why = url_problem(url)
    if why is not None:
        raise UsageError(f"git URL {redact(str(url))!r} refused: {why}", hint=URL_HINT,
                         code="git.bad_url")


def check_ref(ref: str) -> None:
    why = ref_problem(ref)
    if why is not None:
        raise UsageError(f"git ref {ref!r} refused: {why}", hint=REF_HINT, code="git.bad_ref")


def git_errors() -> tuple[type[Exception], ...]:
    """What GitPython raises when git fails (a command, a missing object, a broken
    repository); anything else is a bug and is not caught as a git failure."""
    import git
    import gitdb.exc

    return git.exc.GitError, gitdb.exc.ODBError, OSError, ValueError


def open_repo(path: Path) -> git.Repo:
    import git

    repo = git.Repo(path)
    repo.git.update_environment(**stall_env())
    return repo


def is_dirty(path: Path) -> bool:
    """True when tracked files differ from the checked-out commit (untracked files don't count:
    web UIs write config and outputs into their folder)."""
    if git_dir(path) is None:
        return False
    try:
        return open_repo(path).is_dirty(untracked_files=False)
    except git_errors() as exc:
        raise failure(exc, "inspect", str(path)) from exc


def changed_files(path: Path, limit: int = 10) -> list[str]:
    """Tracked files with local edits (for the "refusing to update" message)."""
    out = open_repo(path).git.status("--porcelain", "--untracked-files=no")
    return [line[3:] for line in out.splitlines() if line.strip()][:limit]


def resolve(url: str, ref: str, *, cwd: Path | None = None) -> ResolvedRef:
    """Ask the remote what ``ref`` is: a tag, a branch, or (if it looks like one) a commit."""
    check_url(url)
    check_ref(ref)
    import git

    runner = git.Git(str(cwd) if cwd else None)
    runner.update_environment(**stall_env())
    try:
        listing = str(runner.ls_remote("--", url, ref, f"refs/tags/{ref}^{{}}"))
    except git_errors() as exc:
        raise failure(exc, "look up refs of", url) from exc
    refs: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        refs[name.strip()] = sha.strip()
    peeled = refs.get(f"refs/tags/{ref}^{{}}")
    if f"refs/tags/{ref}" in refs:
        return ResolvedRef(ref, "tag", peeled or refs[f"refs/tags/{ref}"])
    if f"refs/heads/{ref}" in refs:
        return ResolvedRef(ref, "branch", refs[f"refs/heads/{ref}"])
    if ref == "HEAD" and "HEAD" in refs:
        return ResolvedRef(ref, "branch", refs["HEAD"])
    lowered = ref.lower()
    if FULL_SHA_RE.match(lowered):
        return ResolvedRef(lowered, "commit", lowered)
    if SHORT_SHA_RE.match(lowered):
        return ResolvedRef(lowered, "commit", None)
    raise NotFound(f"ref {ref!r} not found in {redact(url)}",
                   hint=f"a tag, a branch or a commit SHA of that repository "
                        f"(list them with `git ls-remote {redact(url)}`)",
                   code="git.ref_not_found")


def checkout(path: Path, url: str, ref: str, *, reporter: Reporter | None = None,
             label: str | None = None, force: bool = False, shallow: bool = True,
             branch: str | None = None) -> str:
    """Make ``path`` a checkout of ``url`` at ``ref`` and return the commit SHA.

    Reuses an existing checkout of any URL at ``path`` (an interrupted earlier run, or the
    previous commit on update): objects already there are not downloaded again, and the
    ``origin`` URL is set to ``url``. Fetches only the one commit when the ref allows it (a tag,
    a branch, a full SHA); a short SHA needs the full history. ``force`` discards edits to
    tracked files (used for fresh installs; updates check :func:`is_dirty` first and refuse).
    ``branch``: leave a local branch of that name at the commit instead of a detached HEAD.
    """
    check_url(url)
    check_ref(ref)
    if branch is not None:
        check_ref(branch)
    reporter = reporter or NullReporter()
    label = label or Path(path).name
    repo = _open_or_init(Path(path), url)
    lowered = ref.lower()
    if FULL_SHA_RE.match(lowered) and _has_commit(repo, lowered):
        commit = lowered  # already here: no network at all
    else:
        resolved = resolve(url, ref, cwd=Path(path))
        if resolved.commit is not None and _has_commit(repo, resolved.commit):
            commit = resolved.commit
            if resolved.kind == "tag":  # keep the tag name for `git describe`
                _fetch(repo, [f"+refs/tags/{ref}:refs/tags/{ref}"], reporter, label,
                       shallow=shallow)
        else:
            commit = _fetch_resolved(repo, resolved, reporter, label, shallow=shallow)
    try:
        args = ["-B", branch, commit, "--"] if branch else ["--detach", commit, "--"]
        if force:
            args.insert(0, "--force")
        repo.git.checkout(*args)
    except git_errors() as exc:
        raise failure(exc, f"check out {commit[:12]} in", str(path)) from exc
    return repo.head.commit.hexsha


def _open_or_init(path: Path, url: str) -> git.Repo:
    import git

    if git_dir(path) is not None:
        repo = open_repo(path)
        if "origin" in [r.name for r in repo.remotes]:
            if repo.remotes.origin.url != url:
                repo.remotes.origin.set_url(url)
        else:
            repo.create_remote("origin", url)
        return repo
    if path.exists() and any(path.iterdir()):
        raise InstallError(f"{path} exists and is not a git checkout",
                           hint="move it away, or install under another name with --name",
                           code="install.path_taken")
    path.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(path)
    repo.git.update_environment(**stall_env())
    repo.create_remote("origin", url)
    # core.filemode=false: what A1111's own git_clone sets; Windows/FAT copies stay clean
    with repo.config_writer() as cfg:
        cfg.set_value("core", "filemode", "false")
    exclude = Path(repo.git_dir) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as handle:
        handle.write("\n# smx: the package venv and smx's bookkeeping\n")
        handle.write("\n".join(LOCAL_EXCLUDES) + "\n")
    return repo


def _has_commit(repo: git.Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", "--", f"{sha}^{{commit}}")
        return True
    except git_errors():
        return False


def _fetch_resolved(repo: git.Repo, resolved: ResolvedRef, reporter: Reporter, label: str,
                    *, shallow: bool) -> str:
    ref = resolved.ref
    if resolved.kind == "tag":
        _fetch(repo, [f"+refs/tags/{ref}:refs/tags/{ref}"], reporter, label, shallow=shallow)
        return repo.commit(f"refs/tags/{ref}^{{commit}}").hexsha
    if resolved.kind == "branch":
        target = "HEAD" if ref == "HEAD" else f"refs/heads/{ref}"
        local = "refs/remotes/origin/HEAD" if ref == "HEAD" else f"refs/remotes/origin/{ref}"
        _fetch(repo, [f"+{target}:{local}"], reporter, label, shallow=shallow)
        return repo.commit(f"{local}^{{commit}}").hexsha
    if resolved.commit is not None:
        try:
            _fetch(repo, [resolved.commit], reporter, label, shallow=shallow)
            return resolved.commit
        except NotFound:
            pass  # a server that refuses unadvertised SHAs: fall back to the full history
    _fetch(repo, ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
           reporter, label, shallow=False)
    try:
        return repo.commit(f"{ref}^{{commit}}").hexsha
    except git_errors() as exc:
        raise NotFound(f"commit {ref!r} not found in {redact(repo.remotes.origin.url)}",
                       hint="check the SHA; a tag or branch name also works",
                       code="git.ref_not_found") from exc


def _fetch(repo: git.Repo, refspecs: list[str], reporter: Reporter, label: str,
           *, shallow: bool) -> None:
    kwargs: dict[str, Any] = {}
    if shallow:
        kwargs["depth"] = 1
    elif (Path(repo.git_dir) / "shallow").exists():
        kwargs["unshallow"] = True
    with reporter.task(f"fetch {label}", unit="objects") as task:
        progress = _Progress(task, label)
        try:
            repo.remotes.origin.fetch(refspecs, progress=progress, **kwargs)
        except git_errors() as exc:
            raise failure(exc, "fetch", repo.remotes.origin.url) from exc


class _Progress:
    """GitPython's RemoteProgress, forwarded to a reporter task (created lazily: import git)."""

    def __new__(cls, task: Any, label: str) -> Any:
        import git

        class Forward(git.RemoteProgress):
            def update(self, op_code: int, cur_count: Any, max_count: Any = None,
                       message: str = "") -> None:
                stage = {git.RemoteProgress.COUNTING: "counting",
                         git.RemoteProgress.COMPRESSING: "compressing",
                         git.RemoteProgress.RECEIVING: "receiving",
                         git.RemoteProgress.RESOLVING: "resolving"}.get(
                             op_code & git.RemoteProgress.OP_MASK, "")
                with contextlib.suppress(TypeError, ValueError):
                    task.update(completed=float(cur_count or 0),
                                total=float(max_count) if max_count else None,
                                description=f"fetch {label}: {stage}".rstrip(": "))

        return Forward()


# --- errors -----------------------------------------------------------------------------------
def failure(exc: Exception, action: str, where: str) -> SmxError:
    if type(exc).__name__ in ("UnsafeProtocolError", "UnsafeOptionError"):
        # GitPython's own guard (smx.gitcheck refuses these first; this is the backstop)
        return UsageError(f"git could not {action} {redact(where)}: GitPython refused an "
                          f"unsafe URL or option ({exc})", hint=URL_HINT, code="git.bad_url")
    stderr = getattr(exc, "stderr", None) or str(exc)
    text = redact(str(stderr)).replace("stderr:", "").strip().strip("'\"").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = next((ln for ln in reversed(lines) if ln.startswith(("fatal:", "error:"))),
                  lines[-1] if lines else type(exc).__name__)
    low = text.lower()
    where = redact(where)
    message = f"git could not {action} {where}: {detail}"
    if "couldn't find remote ref" in low or "not our ref" in low or "unadvertised" in low:
        return NotFound(message, hint="check the tag, branch or commit", code="git.ref_not_found")
    if "repository not found" in low or "does not appear to be a git repository" in low or (
            "does not exist" in low and "repository" in low):
        return NotFound(message, hint="check the URL (and any url.*.insteadOf in your git config)",
                        code="git.repo_not_found")
    if "authentication failed" in low or "could not read username" in low or (
            "terminal prompts disabled" in low):
        return AuthRequired(message, hint="the repository needs credentials: set up a git "
                                          "credential helper or use a URL you can read")
    if "operation too slow" in low or "operation timed out" in low:
        waited = os.environ.get("GIT_HTTP_LOW_SPEED_TIME") or stall_env().get(
            "GIT_HTTP_LOW_SPEED_TIME", "?")
        return NetworkError(f"git could not {action} {where}: the remote sent (almost) nothing "
                            f"for {waited} s", hint="the server stopped answering; run the "
                            "same command again later. SMX_HTTP_TIMEOUT sets how long smx "
                            "waits")
    network_marks = ("could not resolve", "unable to access", "connection", "timed out",
                     "early eof", "the remote end hung up", "network is unreachable",
                     "operation too slow", "failed to connect", "rpc failed")
    if any(mark in low for mark in network_marks):
        return NetworkError(message, hint="check the network or proxy; a git mirror can be "
                                          "set with `git config --global url.<mirror>.insteadOf "
                                          "https://github.com/`; run again to resume")
    return SubprocessFailed(message, hint="run again with --debug for details")


def commit_date(path: Path) -> datetime | None:
    """The committer date of the commit checked out at ``path`` (UTC), or None when ``path``
    is not a checkout. Shallow clones have their HEAD commit object, so this works on them."""
    if head_commit(path) is None:
        return None
    try:
        seconds = open_repo(path).head.commit.committed_date
    except git_errors():  # a broken or half-written checkout: no date rather than a crash
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def has_objects(path: Path) -> bool:
    """Whether a checkout's repository holds any object yet (a fetch got somewhere)."""
    gdir = git_dir(path)
    if gdir is None:
        return False
    objects = gdir / "objects"
    if any((objects / "pack").glob("*.pack")):
        return True
    return any(p.is_dir() and len(p.name) == 2 and any(p.iterdir())
               for p in objects.iterdir()) if objects.is_dir() else False
