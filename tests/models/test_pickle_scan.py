"""The pickle scan is a property of the bytes, not of the route: every way a file enters the
store (download, re-link of bytes already there, ``local:``, adoption) is scanned; files are
recognised by content as well as by name; only globals model files use are allowed; what the
scan cannot read to the end is refused; verdicts are cached by SHA-256."""

from __future__ import annotations

import hashlib
import json
import pickle
import pickletools
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.hostile import (
    PROTO2,
    call_pickle,
    checkpoint,
    ext_opcode,
    int_base0_then_global,
    legacy_torch,
    stack_global_via_memo,
    state_dict_pickle,
    tar_with,
    torch_zip,
)
from smx.errors import IntegrityError, UnsafeFile
from smx.models.safety import inspect

EVIL = call_pickle("os", "system")

HOSTILE = {
    # name as stored: (bytes, what the refusal names)
    "runsource.ckpt": (checkpoint(call_pickle("code", "InteractiveInterpreter.runsource")),
                       "code.InteractiveInterpreter.runsource"),
    "builtins-exec.pt": (checkpoint(call_pickle("builtins", "exec")), "builtins.exec"),
    "int-base0.ckpt": (int_base0_then_global("os", "system"), "cannot read to the end"),
    "int-base0-proto2.pth": (PROTO2 + int_base0_then_global("os", "system"),
                             "cannot read to the end"),
    "memo.bin": (stack_global_via_memo("os", "system"), "os.system"),
    "ext.pt": (ext_opcode(), "<copyreg extension 1>"),
    "model.pt2": (torch_zip({"archive/data.pkl": EVIL}), "os.system"),
    "nested.pt2": (torch_zip({"archive/serialized_state_dict.pt": checkpoint(EVIL)}),
                   "os.system"),
    "twice.ckpt": (torch_zip([("archive/data.pkl", state_dict_pickle()),
                              ("archive/data.pkl", state_dict_pickle("other"))]),
                   "two entries named archive/data.pkl"),
    "other-member.ckpt": (torch_zip({"archive/data.pkl": state_dict_pickle(),
                                     "archive/extra/hook.pkl": EVIL}), "os.system"),
    "legacy.pt": (legacy_torch(EVIL), "os.system"),
    "raw.pth": (EVIL, "os.system"),
    "trailing.bin": (state_dict_pickle() + b"c" + b"os\nsystem\n", "os.system"),
    "garbage-after.bin": (state_dict_pickle() + b"garbage", "cannot read to the end"),
    "old-format.ckpt": (tar_with("pickle", EVIL), "tar archive"),
    # no torch.load suffix, but the bytes are a pickle or a zip holding one
    "weights.model": (EVIL, "os.system"),
    "weights.zip": (torch_zip({"archive/data.pkl": EVIL}), "os.system"),
}

CLEAN = {
    "state.ckpt": checkpoint(state_dict_pickle("model.diffusion_model.w", "first_stage.w")),
    "state.pt2": torch_zip({"archive/data.pkl": state_dict_pickle()}),
    "float8.pt": checkpoint(state_dict_pickle("w", float8=True)),
    "legacy.pt": legacy_torch(state_dict_pickle(), raw=b"\x80\x02garbage-is-storage-data"),
    "plain.bin": pickle.dumps({"step": 3, "names": ["a", "b"], "w": [0.5] * 8}, protocol=2),
    "lightning.ckpt": checkpoint(PROTO2 + b"c" + b"pytorch_lightning.callbacks.model_checkpoint"
                                 b"\nModelCheckpoint\n)\x81}b."),
    "notes.yaml": b"cond_stage_config:\n  target: x\n",  # not a pickle name, not a pickle
}


def test_the_hostile_variants_are_real() -> None:
    """The tricks work on the real unpickler (shown with a harmless callable) and defeat a
    scanner built on pickletools alone."""
    trick = int_base0_then_global("builtins", "len", "abc")
    with pytest.raises(ValueError):
        list(pickletools.genops(trick))
    assert pickle.loads(trick) == 3  # the C unpickler ran builtins.len after I0x1
    assert pickle.loads(stack_global_via_memo("builtins", "len")) == len("echo pwned")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_variant_is_refused(tmp_path: Path, name: str) -> None:
    data, named = HOSTILE[name]
    path = tmp_path / "download.part"
    path.write_bytes(data)
    with pytest.raises(UnsafeFile) as info:
        inspect(path, name)
    assert named in info.value.message and "--allow-unsafe" in (info.value.hint or "")
    assert inspect(path, name, allow_unsafe=True).dangerous  # the user may override it


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_model_files_using_only_allowed_globals_pass(tmp_path: Path, name: str) -> None:
    path = tmp_path / "download.part"
    path.write_bytes(CLEAN[name])
    assert inspect(path, name).dangerous == []


def test_a_file_named_like_a_pickle_that_is_none_is_refused_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "page.part"
    path.write_bytes(b"<!DOCTYPE html><html>Not here</html>")
    with pytest.raises(IntegrityError, match="neither a torch zip archive nor a pickle"):
        inspect(path, "mm.ckpt")


# --- every route into the store ----------------------------------------------------------------
def store_has_no(env: Path, name: str) -> bool:
    return not [p for p in (env / "Data").rglob(name)]


@pytest.mark.parametrize("name", ["runsource.ckpt", "int-base0.ckpt", "model.pt2",
                                  "twice.ckpt", "weights.model"])
def test_a_download_of_a_hostile_file_places_nothing(hub: FakeHub, env_dir: Path, smx,
                                                     name: str) -> None:
    url = hub.url_file(f"/files/{name}", HOSTILE[name][0])
    before = (env_dir / "smx.toml").read_bytes()
    result = smx("--env", str(env_dir), "model", "pull", url, "--kind", "checkpoint")
    assert result.exit_code == 4, result.output
    assert HOSTILE[name][1] in result.stderr
    assert store_has_no(env_dir, name) and not list((env_dir / "Data/Cache/downloads").iterdir())
    assert (env_dir / "smx.toml").read_bytes() == before


def test_bytes_already_in_the_store_are_scanned_before_a_new_name_gets_them(
        hub: FakeHub, env_dir: Path, smx) -> None:
    data = HOSTILE["runsource.ckpt"][0]
    first = hub.url_file("/a/mm_trusted.ckpt", data)
    second = hub.url_file("/b/other_name.ckpt", data)
    sha = hashlib.sha256(data).hexdigest()
    trusted = smx("--env", str(env_dir), "model", "pull", first, "--kind", "motion-module",
                  "--sha256", sha, "--allow-unsafe")
    assert trusted.exit_code == 0, trusted.output
    before = (env_dir / "smx.toml").read_bytes()

    result = smx("--env", str(env_dir), "model", "pull", second, "--kind", "checkpoint",
                 "--sha256", sha)

    assert result.exit_code == 4, result.output
    assert "code.InteractiveInterpreter.runsource" in result.stderr
    assert store_has_no(env_dir, "other_name.ckpt")
    assert (env_dir / "smx.toml").read_bytes() == before
    assert hub.requests_to("cdn", "/b/other_name.ckpt") == []  # the store's copy was the one
    assert smx("--env", str(env_dir), "model", "pull", second, "--kind", "checkpoint",
               "--sha256", sha, "--allow-unsafe").exit_code == 0


def test_a_local_model_is_scanned_before_it_is_recorded(env_dir: Path, smx) -> None:
    (env_dir / "Data/Models/StableDiffusion/mine.ckpt").write_bytes(HOSTILE["memo.bin"][0])
    with (env_dir / "smx.toml").open("a") as handle:
        handle.write('mine = { source = "local:StableDiffusion/mine.ckpt" }\n')

    result = smx("--env", str(env_dir), "sync")

    assert result.exit_code == 4 and "os.system" in result.stderr
    lock = env_dir / "smx.lock"
    assert not lock.exists() or "mine" not in lock.read_text()
    allowed = smx("--env", str(env_dir), "sync", "--allow-unsafe")
    assert allowed.exit_code == 0, allowed.output
    assert "recorded despite what the pickle scan refuses (os.system)" in allowed.stderr


def test_adopting_a_library_leaves_a_hostile_file_untracked_and_says_why(
        tmp_path: Path, smx) -> None:
    library = tmp_path / "StabilityMatrix"
    (library / "Data/Packages").mkdir(parents=True)
    folder = library / "Data/Models/StableDiffusion"
    folder.mkdir(parents=True)
    (folder / "evil.ckpt").write_bytes(HOSTILE["legacy.pt"][0])
    (folder / "fine.ckpt").write_bytes(CLEAN["state.ckpt"])

    result = smx("init", "--adopt", str(library))

    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "not adopted: Data/Models/StableDiffusion/evil.ckpt: the pickle scan refuses it " \
           "(os.system)" in flat
    manifest = (library / "smx.toml").read_text()
    assert "fine.ckpt" in manifest and "evil.ckpt" not in manifest
    assert (folder / "evil.ckpt").exists()  # smx never deletes the user's file


def test_a_verdict_is_cached_by_sha256_so_the_same_bytes_are_walked_once(
        hub: FakeHub, env_dir: Path, smx, isolated_user: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = CLEAN["state.ckpt"]
    sha = hashlib.sha256(data).hexdigest()
    first, second = (hub.url_file(path, data) for path in ("/a/first.ckpt", "/b/second.ckpt"))
    assert smx("--env", str(env_dir), "model", "pull", first, "--kind",
               "checkpoint").exit_code == 0
    cache = json.loads((isolated_user / "cache/pickle-scans.json").read_text())
    assert cache["files"][f"{sha}:pickle-name"]["format"] == "zip"

    from smx.models import pickles

    def no_second_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("scanned twice")

    monkeypatch.setattr(pickles, "scan", no_second_walk)
    again = smx("--env", str(env_dir), "model", "pull", second, "--kind", "lora")
    assert again.exit_code == 0, again.output
    (isolated_user / "cache/pickle-scans.json").unlink()  # forgotten: walked again
    third = smx("--env", str(env_dir), "model", "pull", second, "--kind", "lora", "--name",
                "third")
    assert third.exit_code != 0 and "scanned twice" in third.output


def test_registering_a_local_file_scans_it_first(env_dir: Path, smx) -> None:
    (env_dir / "Data/Models/Lora/mine.pt").write_bytes(HOSTILE["ext.pt"][0])
    before = (env_dir / "smx.toml").read_bytes()

    result = smx("--env", str(env_dir), "model", "pull", "local:Lora/mine.pt")

    assert result.exit_code == 4 and "<copyreg extension 1>" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before
    allowed = smx("--env", str(env_dir), "model", "pull", "local:Lora/mine.pt", "--allow-unsafe")
    assert allowed.exit_code == 0, allowed.output
    assert "recorded despite what the pickle scan refuses" in allowed.stderr
