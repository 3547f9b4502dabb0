"""Git URLs and refs from smx.toml, smx.lock or the command line never reach git as options or
remote helpers: `--upload-pack=…`, `ext::`, `fd::` and friends get one clean error (exit 2),
and the command they carry never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.gitrepo import GitRepo
from smx.errors import SmxError, UsageError
from smx.packages import git as smx_git

UPLOAD_PACK = "--upload-pack=touch X;:"
HOSTILE_URLS = [
    (UPLOAD_PACK, "it starts with '-'"),
    ("ext::sh -c touch% X", "'ext::' URLs run a git remote helper"),
    ("fd::7", "'fd::' URLs run a git remote helper"),
    ("ssh://-oProxyCommand=touch% X/x", "its host starts with '-'"),
    ("-oProxyCommand=touch X:x", "it starts with '-'"),
    ("http://127.0.0.1:9/x.git", "plain http://"),
    ("gopher://example.org/x", "the gopher:// scheme"),
]


def no_x_anywhere(*folders: Path) -> bool:
    return not any(p.name == "X" for folder in folders for p in folder.rglob("*"))


def write_package(env: Path, git: str, ref: str = "main") -> Path:
    manifest = env / "smx.toml"
    escaped = git.replace("\\", "\\\\").replace('"', '\\"')
    manifest.write_text(manifest.read_text().replace(
        "[packages]\n", f'[packages.comfy]\nsource = "comfyui"\ngit = "{escaped}"\n'
                        f'ref = "{ref}"\n\n', 1))
    return manifest


@pytest.mark.parametrize(("url", "why"), HOSTILE_URLS)
def test_a_hostile_git_url_in_smx_toml_is_refused_where_it_stands(
        smx, env_dir: Path, tmp_path: Path, url: str, why: str) -> None:
    write_package(env_dir, url)
    for command in (["lock"], ["sync"], ["status"], ["update", "comfy"]):
        result = smx("--env", str(env_dir), *command, cwd=tmp_path)
        assert result.exit_code == 2, (command, result.output)
        assert "smx.toml:" in result.stderr and "packages.comfy.git is refused" in result.stderr
        assert why in result.stderr
        assert "unexpected error" not in result.output
    assert no_x_anywhere(tmp_path)
    assert not (env_dir / "Data/Packages/comfy").exists()


@pytest.mark.parametrize("ref", ["--orphan", "-b", "main..dev", "x y", "@{-1}"])
def test_a_ref_git_would_read_as_an_option_is_refused(smx, env_dir: Path, ref: str) -> None:
    write_package(env_dir, "https://github.com/comfyanonymous/ComfyUI.git", ref=ref)
    result = smx("--env", str(env_dir), "lock")
    assert result.exit_code == 2 and "packages.comfy.ref is refused" in result.stderr


def test_the_command_line_gets_the_same_clean_error(smx, env_dir: Path, tmp_path: Path) -> None:
    before = (env_dir / "smx.toml").read_bytes()
    for args in (["install", "comfyui", "--git", "ext::sh -c touch% X"],
                 ["install", "comfyui", f"--git={UPLOAD_PACK}"],
                 ["install", "comfyui", "--ref=--orphan"]):
        result = smx("--env", str(env_dir), *args, cwd=tmp_path)
        assert result.exit_code == 2, (args, result.output)
        assert "is refused" in result.stderr and "unexpected" not in result.output
    assert (env_dir / "smx.toml").read_bytes() == before
    assert no_x_anywhere(tmp_path)


@pytest.mark.parametrize(("url", "why"), HOSTILE_URLS)
def test_git_helpers_refuse_hostile_urls_before_running_git(tmp_path: Path, url: str,
                                                            why: str) -> None:
    for call in (lambda: smx_git.resolve(url, "main", cwd=tmp_path),
                 lambda: smx_git.checkout(tmp_path / "co", url, "main")):
        with pytest.raises(UsageError, match="refused") as info:
            call()
        assert why in info.value.message and info.value.code == "git.bad_url"
    assert no_x_anywhere(tmp_path)
    assert not (tmp_path / "co").exists()


def test_git_reads_the_url_as_a_url_even_past_the_check(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--` before the positionals: were a hostile URL ever to slip past smx.gitcheck, git
    would take it for a repository name, never for an option."""
    monkeypatch.setattr(smx_git, "url_problem", lambda url: None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SmxError) as info:
        smx_git.resolve(UPLOAD_PACK, "main", cwd=tmp_path)
    assert info.value.exit_code != 1
    assert no_x_anywhere(tmp_path)


def test_ordinary_urls_and_refs_still_work(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "remote", {"a.txt": "1\n"}, tag="v1.0")
    assert smx_git.resolve(repo.url, "v1.0").commit == repo.head
    assert smx_git.resolve(str(repo.path), "main").commit == repo.head  # a local path
    assert smx_git.checkout(tmp_path / "co", repo.url, "v1.0") == repo.head
    from smx.gitcheck import ref_problem, url_problem

    for url in ("https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://git@h/o/r",
                "git://h/o/r", "file:///srv/r.git", "../r", "C:\\repos\\r", "https://***@h/r"):
        assert url_problem(url) is None, url
    for ref in ("v1.10.1", "main", "feature/x", "HEAD", "a" * 40, "82a973c"):
        assert ref_problem(ref) is None, ref
