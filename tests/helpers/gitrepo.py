"""Real git repositories for tests, and git ``insteadOf`` mappings that make smx fetch them
through the real GitHub URLs the catalog names.

    repo = GitRepo.create(tmp_path / "webui", {"launch.py": "print('hi')"}, tag="v1.0")
    repo.commit({"launch.py": "print('v2')"}, "second")
    repo.tag("v2.0")
    map_url("https://github.com/AUTOMATIC1111/stable-diffusion-webui.git", repo)

Everything runs the real ``git`` with the test's isolated config (tests/conftest.py sets
GIT_CONFIG_GLOBAL to a temp file), so ``map_url`` writes into that file only.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FileContent = str | bytes | None  # None deletes the file


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git; raise with its output on failure; return stdout stripped."""
    env = dict(os.environ)
    # fixed dates: the same files give the same commit SHAs in every run
    env.setdefault("GIT_AUTHOR_DATE", "2024-01-01T00:00:00+0000")
    env.setdefault("GIT_COMMITTER_DATE", "2024-01-01T00:00:00+0000")
    # an identity of its own: session fixtures run before the per-test git config exists
    ident = ["-c", "user.name=smx tests", "-c", "user.email=tests@example.invalid",
             "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
    done = subprocess.run(["git", *ident, *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class GitRepo:
    path: Path

    @classmethod
    def create(cls, path: Path, files: Mapping[str, FileContent] | None = None, *,
               message: str = "initial", tag: str | None = None,
               branch: str = "main") -> GitRepo:
        """A new repository at ``path`` with one commit of ``files`` (and ``tag`` on it)."""
        path.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "-b", branch, str(path))
        repo = cls(path)
        repo.commit(files or {"README.md": f"# {path.name}\n"}, message)
        if tag:
            repo.tag(tag)
        return repo

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    @property
    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path)

    def write(self, files: Mapping[str, FileContent]) -> None:
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def commit(self, files: Mapping[str, FileContent], message: str = "change") -> str:
        """Write ``files`` and commit them; returns the new commit SHA."""
        self.write(files)
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        return self.head

    def tag(self, name: str, *, annotated: bool = False, ref: str = "HEAD") -> None:
        if annotated:
            git("tag", "-a", name, "-m", name, ref, cwd=self.path)
        else:
            git("tag", name, ref, cwd=self.path)

    def branch(self, name: str, *, switch: bool = False) -> None:
        git("branch", name, cwd=self.path)
        if switch:
            self.switch(name)

    def switch(self, name: str) -> None:
        git("checkout", "-q", name, cwd=self.path)


def map_url(real_url: str, repo: GitRepo | Path | str) -> None:
    """Make git fetch ``real_url`` from ``repo`` (``url.<local>.insteadOf <real>`` in the
    test's global git config), the way a user points git at a mirror."""
    local = repo.url if isinstance(repo, GitRepo) else Path(repo).resolve().as_uri()
    git("config", "--global", "--add", f"url.{local}.insteadOf", real_url)
