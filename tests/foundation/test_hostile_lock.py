"""A shared smx.lock is checked like smx.toml before smx acts on it: a crafted entry cannot make
smx delete, link or place anything outside the environment, and a value of the wrong type is a
config error (exit 2) naming smx.lock:line:col, never an "unexpected error"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from smx.environment.layout import EnvLayout, contained
from smx.errors import ConfigError

SHA = "c" * 64


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes (smx's process lock file aside: it is created empty and kept)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "env.lock"}


def model_entry(name: str, **values: object) -> str:
    fields = {"source": "https://example.org/x.safetensors", "kind": "checkpoint",
              "filename": "x.safetensors", "size": 10, "sha256": SHA,
              "url": "https://example.org/x.safetensors", **values}
    body = "\n".join(f"{k} = {_toml(v)}" for k, v in fields.items())
    return f"[models.{name}]\n{body}\n"


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def outside(env_dir: Path) -> Path:
    """A folder next to the environment holding a file a crafted lock aims at."""
    folder = env_dir.parent / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text("the user's file\n")
    return folder


def test_a_lock_file_name_reaching_outside_is_refused_by_every_command(
        smx, env_dir: Path, outside: Path) -> None:
    (env_dir / "smx.lock").write_text(
        "version = 1\n\n" + model_entry("gone", filename="../../../outside/victim.txt"))
    before = snapshot(outside)
    for command in (["sync"], ["status"], ["model", "list"], ["model", "remove", "gone",
                                                            "--yes"], ["model", "verify"]):
        result = smx("--env", str(env_dir), *command)
        assert result.exit_code == 2, (command, result.output)
        assert "smx.lock:6:12: models.gone.filename '../../../outside/victim.txt' is not a " \
               "plain file name" in result.stderr, result.stderr
        assert "unexpected" not in result.output
    assert snapshot(outside) == before


def test_a_lock_cannot_make_sync_link_an_outside_file_into_the_store(
        smx, env_dir: Path, outside: Path) -> None:
    secret = outside / "secret.safetensors"
    secret.write_bytes(b"not for the store")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    with (env_dir / "smx.toml").open("a") as handle:
        handle.write('x = { source = "https://example.org/x.safetensors", kind = "checkpoint" }\n')
    (env_dir / "smx.lock").write_text("version = 1\n\n" + model_entry(
        "other", filename="../../../../outside/secret.safetensors", size=17, sha256=digest))
    store = snapshot(env_dir / "Data/Models")

    result = smx("--env", str(env_dir), "sync")

    assert result.exit_code == 2 and "models.other.filename" in result.stderr
    assert snapshot(env_dir / "Data/Models") == store
    assert secret.stat().st_nlink == 1


@pytest.mark.parametrize(("entry", "message"), [
    ('[packages."../../outside"]\nsource = "comfyui"\ngit = "https://g/x.git"\n'
     f'commit = "{"a" * 40}"\n', "invalid name '../../outside' in packages"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "--upload-pack=touch X;:"\n'
     f'commit = "{"a" * 40}"\n', "packages.comfy.git: it starts with '-'"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "ext::sh -c touch% X"\n'
     f'commit = "{"a" * 40}"\n', "packages.comfy.git: 'ext::' URLs run a git remote helper"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\ncommit = "--orphan"\n',
     "packages.comfy.commit is not a full commit SHA"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\n'
     f'commit = "{"a" * 40}"\nref = "-b"\n', "packages.comfy.ref: it starts with '-'"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\n'
     f'commit = "{"a" * 40}"\n[packages.comfy.extensions."../x"]\ngit = "https://g/y.git"\n'
     f'commit = "{"b" * 40}"\n', "invalid name '../x' in packages.comfy.extensions"),
    (model_entry("m", filename=".hidden.safetensors"), "models.m.filename '.hidden"),
    (model_entry("m", filename="sub/x.safetensors"), "models.m.filename 'sub/x.safetensors'"),
    (model_entry("m", kind="../Lora"), "models.m.kind '../Lora' is not a model kind"),
    (model_entry("m", sha256="../x"), "models.m.sha256 is not a SHA-256"),
    (model_entry("m", source="file:///etc/passwd"), "models.m.source: malformed model"),
])
def test_names_and_git_arguments_in_the_lock_are_checked(smx, env_dir: Path, entry: str,
                                                         message: str) -> None:
    (env_dir / "smx.lock").write_text("version = 1\n\n" + entry)
    result = smx("--env", str(env_dir), "status")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "smx.lock:" in result.stderr and "smx lock" in result.stderr  # where, and the fix


@pytest.mark.parametrize(("entry", "message"), [
    (model_entry("m", size='"big"'), "smx.lock:7:8: expected an integer for models.m.size"),
    (model_entry("m", size="true"), "expected an integer for models.m.size"),
    (model_entry("m", filename=3), "smx.lock:6:12: expected a string for models.m.filename"),
    (model_entry("m") + 'civitai = "x"\n', "expected a table of integers for models.m.civitai"),
    (model_entry("m") + 'hf = { repo = 1 }\n', "expected a table of strings for models.m.hf"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\n'
     f'commit = "{"a" * 40}"\nfreeze = "torch"\n',
     "expected a list of strings for packages.comfy.freeze"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\n'
     f'commit = "{"a" * 40}"\nextensions = {{ x = {{ git = "https://g/y.git", commit = '
     f'"{"b" * 40}", enabled = "yes" }} }}\n',
     "expected true or false for packages.comfy.extensions.x.enabled"),
    ('[packages.comfy]\nsource = "comfyui"\ngit = "https://g/x.git"\n',
     "missing key packages.comfy.commit"),
    ("models = 3\n", "expected a table for models"),
])
@pytest.mark.parametrize("command", [["status"], ["sync"], ["model", "list"]])
def test_lock_values_of_the_wrong_type_are_config_errors(smx, env_dir: Path, entry: str,
                                                         message: str, command: list[str]
                                                         ) -> None:
    (env_dir / "smx.lock").write_text("version = 1\n\n" + entry.replace("'", '"'))
    before = snapshot(env_dir)
    result = smx("--env", str(env_dir), *command)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "unexpected" not in result.output
    assert snapshot(env_dir) == before


def test_the_containment_helper_follows_parents_but_not_the_last_link(tmp_path: Path) -> None:
    env = tmp_path / "env"
    layout = EnvLayout(env)
    layout.create()
    elsewhere = tmp_path / "big-disk" / "Lora"
    elsewhere.mkdir(parents=True)
    lora = layout.model_folder("lora")
    lora.rmdir()
    lora.symlink_to(elsewhere, target_is_directory=True)  # the store folder on another disk
    assert layout.model_file("lora", "x.safetensors") == lora / "x.safetensors"
    link = layout.models / "VAE" / "link.safetensors"
    os.symlink(tmp_path / "anything", link)  # a link in the store: removing it is fine
    assert contained(link, layout.models / "VAE") == link
    for escaping in (layout.models / "VAE" / ".." / ".." / ".." / "x",
                     layout.models / "VAE" / "..", lora / ".." / ".." / ".." / "x"):
        with pytest.raises(ConfigError, match="lies outside"):
            contained(escaping, layout.models)
    with pytest.raises(ConfigError, match="package folder lies outside"):
        layout.package_dir("../../x")


def test_a_bookkeeping_record_naming_an_outside_file_is_never_deleted(
        smx, env_dir: Path, outside: Path) -> None:
    from smx import diskstate
    from smx.environment.lock import Lock

    layout = EnvLayout(env_dir)
    victim = outside / "victim.txt"
    stat = victim.stat()
    diskstate.save(layout, {"../../outside/victim.txt": diskstate.Record(
        "m", stat.st_size, stat.st_mtime_ns, SHA)})
    assert diskstate.previous_files(layout, "m", Lock()) == []
