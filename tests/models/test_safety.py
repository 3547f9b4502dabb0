"""What is checked before a file may enter the store: pickle imports, safetensors headers, and
whether an add-on fits the environment's checkpoints."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes, safetensors_bytes
from smx.errors import IntegrityError
from smx.models.safety import base_mismatch, inspect

MiB = 1 << 20


def _hlen(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


def test_a_pickle_importing_os_system_is_refused(hub: FakeHub, env_dir: Path, smx) -> None:
    hub.hf_commit("bad/actor", {"mm_evil.ckpt": ckpt_bytes(dangerous=True)})
    before = (env_dir / "smx.toml").read_bytes()
    result = pull(smx, env_dir, "hf:bad/actor/mm_evil.ckpt")
    assert result.exit_code == 4
    assert "mm_evil.ckpt is a pickle that imports dangerous code" in result.stderr
    assert "system" in result.stderr and "--allow-unsafe" in result.stderr
    assert not list((env_dir / "Data/Models").rglob("*.ckpt"))
    assert not list((env_dir / "Data/Cache/downloads").iterdir())
    assert (env_dir / "smx.toml").read_bytes() == before


def test_allow_unsafe_places_it_with_a_warning(hub: FakeHub, env_dir: Path, smx) -> None:
    hub.hf_commit("bad/actor", {"mm_evil.ckpt": ckpt_bytes(dangerous=True)})
    result = pull(smx, env_dir, "hf:bad/actor/mm_evil.ckpt", "--allow-unsafe")
    assert result.exit_code == 0, result.output
    assert "placed despite what the pickle scan refuses (posix.system)" in result.stderr
    assert (env_dir / "Data/Models/AnimateDiff/mm_evil.ckpt").exists()


def test_a_clean_checkpoint_pickle_is_placed(hub: FakeHub, env_dir: Path, smx) -> None:
    hub.hf_commit("good/actor", {"mm_sd_v15_v2.ckpt": ckpt_bytes(pad_to=MiB)})
    result = pull(smx, env_dir, "hf:good/actor/mm_sd_v15_v2.ckpt")
    assert result.exit_code == 0, result.output


def test_civitai_flagging_a_file_dangerous_stops_before_downloading(hub: FakeHub,
                                                                   env_dir: Path, smx) -> None:
    version = hub.civitai_publish(9, 90, ckpt_bytes(), filename="x.ckpt", name="v1")
    version.files[0].pickle_scan = "Danger"
    result = pull(smx, env_dir, "civitai:9")
    assert result.exit_code == 4 and "Civitai's own scan flags" in result.stderr
    assert hub.requests_to("cdn") == []


def test_an_error_page_saved_as_safetensors_is_refused(hub: FakeHub, env_dir: Path,
                                                       smx) -> None:
    url = hub.url_file("/dl/lora_x.safetensors", b"<!DOCTYPE html><html>Not here</html>")
    result = pull(smx, env_dir, url)
    assert result.exit_code == 4
    assert "lora_x.safetensors is not a valid .safetensors file" in result.stderr
    assert not list((env_dir / "Data/Models").rglob("*.safetensors"))


@pytest.mark.parametrize(("mangle", "why"), [
    (lambda d: d[:8] + b"[1,2,3]".ljust(_hlen(d)) + d[8 + _hlen(d):], "not a JSON object"),
    (lambda d: d[:8] + b"{\xff" + d[10:], "not JSON"),
    (lambda d: struct.pack("<Q", 1 << 40) + d[8:], "does not fit"),
    (lambda d: d[: len(d) // 2], "outside the file"),
])
def test_safetensors_headers_are_checked(tmp_path: Path, mangle, why: str) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(mangle(safetensors_bytes(64 * 1024)))
    with pytest.raises(IntegrityError, match=why):
        inspect(path, "m.safetensors")


@pytest.mark.parametrize(("family", "metadata", "expected"), [
    ("SDXL", None, "SDXL"), ("SD 1.x", None, "SD 1.x"),
    (None, {"modelspec.architecture": "stable-diffusion-xl-v1-base"}, "SDXL"),
    (None, {"ss_base_model_version": "sd_v1"}, "SD 1.x"),
    (None, None, None),
])
def test_the_header_tells_the_base_architecture(tmp_path: Path, family, metadata,
                                                expected) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes(64 * 1024, family=family, metadata=metadata))
    assert inspect(path, "m.safetensors").family == expected


def test_an_sd15_motion_module_next_to_sdxl_checkpoints_gets_a_warning(
        hub: FakeHub, env_dir: Path, smx) -> None:
    hub.civitai_publish(261336, 597138, safetensors_bytes(MiB), name="v5.0.0",
                        base_model="SDXL 1.0")
    assert pull(smx, env_dir, "civitai:261336", "--name", "animapencil-xl").exit_code == 0
    hub.hf_commit("guoyww/animatediff", {"mm_sd_v15_v2.ckpt": ckpt_bytes(pad_to=MiB)})
    result = pull(smx, env_dir, "hf:guoyww/animatediff/mm_sd_v15_v2.ckpt")
    assert result.exit_code == 0, result.output
    assert ("warning: mm_sd_v15_v2 is an SD 1.x motion module, but this environment's "
            "checkpoints are animapencil-xl (SDXL 1.0)") in result.stderr
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    fits = pull(smx, env_dir, "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt")
    assert fits.exit_code == 0 and "warning" not in fits.stderr


def test_a_controlnet_header_contradicting_civitai_is_reported() -> None:
    assert base_mismatch("cn", "controlnet", "SD 1.x", [("xl", "Pony")]) is not None
    assert base_mismatch("cn", "controlnet", "SDXL", [("xl", "Pony"), ("v15", "SD 1.5")]) is None
    assert base_mismatch("lora", "lora", "SD 1.x", [("xl", "SDXL 1.0")]) is None
    assert base_mismatch("cn", "controlnet", "SD 1.x", []) is None
