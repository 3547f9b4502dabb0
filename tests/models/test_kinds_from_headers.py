"""`smx model pull` reads a .safetensors file's header with a ranged request before the
download, so a file says itself what it is: the README tutorial's pulls need no --kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import realheaders as rh
from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes

MiB = 1 << 20
README = Path(__file__).resolve().parents[2] / "README.md"
CONTROL = "lllyasviel/sd_control_collection"
FIRST_RANGE = "bytes=0-262143"


def pull(smx, env: Path, *args: str):
    return smx("--env", str(env), "model", "pull", *args)


def tutorial_pulls() -> list[list[str]]:
    """The `smx model pull` lines of the README's tutorial, as written there."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Tutorial", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].split()[3:] for line in block.splitlines()
            if line.startswith("smx model pull ")]


@pytest.fixture
def tutorial_hub(hub: FakeHub) -> FakeHub:
    """The four models of the tutorial, with the layouts of the real files."""
    hub.civitai_publish(261336, 597138, rh.safetensors_file(rh.checkpoint("SDXL"), pad_to=MiB),
                        name="v5.0.0", filename="animaPencilXL_v500.safetensors")
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    hub.hf_commit(CONTROL, {
        "thibaud_xl_openpose.safetensors": rh.safetensors_file(
            rh.controlnet_diffusers("SDXL"), pad_to=MiB, fill=1),
        "diffusers_xl_depth_full.safetensors": rh.safetensors_file(
            rh.controlnet_diffusers("SDXL"), pad_to=MiB, fill=2)})
    return hub


def test_the_tutorials_four_pulls_need_no_kind(tutorial_hub: FakeHub, env_dir: Path, smx,
                                                read_toml) -> None:
    pulls = tutorial_pulls()
    assert len(pulls) == 4 and not any("--kind" in args for args in pulls)
    for args in pulls:
        result = pull(smx, env_dir, *args)
        assert result.exit_code == 0, result.output
    models = read_toml(env_dir / "smx.toml")["models"]
    assert models == {
        "anima_pencil-xl": {"source": "civitai:261336"},  # Civitai's type says checkpoint
        "mm_sdxl_v10_beta": {"source": "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt",
                             "kind": "motion-module"},
        "thibaud_xl_openpose": {"source": f"hf:{CONTROL}/thibaud_xl_openpose.safetensors",
                                "kind": "controlnet"},
        "diffusers_xl_depth_full": {
            "source": f"hf:{CONTROL}/diffusers_xl_depth_full.safetensors",
            "kind": "controlnet"}}
    store = env_dir / "Data/Models"
    assert (store / "StableDiffusion/animaPencilXL_v500.safetensors").is_file()
    assert (store / "AnimateDiff/mm_sdxl_v10_beta.ckpt").is_file()
    assert (store / "ControlNet/thibaud_xl_openpose.safetensors").is_file()
    assert (store / "ControlNet/diffusers_xl_depth_full.safetensors").is_file()
    locked = read_toml(env_dir / "smx.lock")["models"]
    assert {n: m["base_model"] for n, m in locked.items()} == {
        "anima_pencil-xl": "SDXL 1.0", "mm_sdxl_v10_beta": "SDXL",
        "thibaud_xl_openpose": "SDXL", "diffusers_xl_depth_full": "SDXL"}
    # headers were read only where nothing else said the kind: the two ControlNets
    peeks = [r for r in tutorial_hub.requests_to("cdn") if r.headers.get("range") == FIRST_RANGE]
    assert len(peeks) == 2


def test_what_decided_the_kind_is_said(tutorial_hub: FakeHub, env_dir: Path, smx) -> None:
    control = pull(smx, env_dir, f"hf:{CONTROL}/thibaud_xl_openpose.safetensors")
    assert ("thibaud_xl_openpose.safetensors: controlnet (SDXL), read from its header "
            "(controlnet_cond_embedding.conv_in.weight)") in control.stderr
    # a pickle is never opened to classify it: AnimateDiff's motion modules are named mm_*
    motion = pull(smx, env_dir, "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt")
    assert "mm_sdxl_v10_beta.ckpt: motion-module, from its file name" in motion.stderr
    ckpt_requests = [r for r in tutorial_hub.requests_to("cdn") if "range" in r.headers
                     and r.headers["range"] == FIRST_RANGE]
    assert len(ckpt_requests) == 1  # the ControlNet's only


def test_the_header_is_read_with_one_small_range_request(hub: FakeHub, env_dir: Path,
                                                          smx) -> None:
    data = rh.safetensors_file(rh.kohya_lora("SDXL"), pad_to=2 * MiB)
    hub.hf_commit("someone/loras", {"detail.safetensors": data})
    result = pull(smx, env_dir, "hf:someone/loras/detail.safetensors")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/Lora/detail.safetensors").read_bytes() == data
    peek, *download = hub.requests_to("cdn")
    assert (peek.headers["range"], peek.status) == (FIRST_RANGE, 206)
    assert rh.header_size(data) < 256 * 1024 and download  # then the real download


def test_a_long_header_takes_a_second_request_for_exactly_the_rest(hub: FakeHub, env_dir: Path,
                                                                     smx, read_toml) -> None:
    data = rh.safetensors_file(rh.checkpoint("SDXL"), pad_to=MiB)
    end = rh.header_size(data)
    assert end > 256 * 1024  # an SDXL checkpoint's header: 2,513 tensors
    hub.hf_commit("stabilityai/stable-diffusion-xl-base-1.0", {"sd_xl_base_1.0.safetensors": data})
    result = pull(smx, env_dir, "hf:stabilityai/stable-diffusion-xl-base-1.0/"
                                "sd_xl_base_1.0.safetensors")
    assert result.exit_code == 0, result.output
    first, second = [r.headers.get("range") for r in hub.requests_to("cdn")][:2]
    assert (first, second) == (FIRST_RANGE, f"bytes=262144-{end - 1}")
    locked = read_toml(env_dir / "smx.lock")["models"]["sd_xl_base_1.0"]
    assert (locked["kind"], locked["base_model"]) == ("checkpoint", "SDXL")


def test_a_server_that_ignores_range_is_read_only_up_to_the_header(hub: FakeHub, env_dir: Path,
                                                                    smx, read_toml) -> None:
    data = rh.safetensors_file(rh.t2i_adapter_diffusers_xl(), pad_to=4 * MiB)
    url = hub.url_file("/files/diffusion_pytorch_model.safetensors", data)
    hub.cdn_ignore_range = True
    result = pull(smx, env_dir, url, "--name", "t2i-openpose-xl")
    assert result.exit_code == 0, result.output
    assert read_toml(env_dir / "smx.toml")["models"]["t2i-openpose-xl"]["kind"] == "t2i-adapter"
    assert hub.requests_to("cdn")[0].status == 200  # the whole body offered, the header taken


def test_the_file_beats_a_misleading_name(hub: FakeHub, env_dir: Path, smx, read_toml) -> None:
    hub.hf_commit("someone/misc", {"my_vae.safetensors": rh.safetensors_file(
        rh.kohya_lora("SD 1.x"), pad_to=MiB)})
    result = pull(smx, env_dir, "hf:someone/misc/my_vae.safetensors")
    assert result.exit_code == 0, result.output
    assert (env_dir / "Data/Models/Lora/my_vae.safetensors").is_file()


def test_the_header_read_sends_the_token_only_to_the_hub_never_to_the_cdn(
        hub: FakeHub, env_dir: Path, smx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_1234")
    hub.hf_tokens.add("hf_secret_token_1234")
    hub.hf_commit(CONTROL, {"thibaud_xl_openpose.safetensors": rh.safetensors_file(
        rh.controlnet_diffusers("SDXL"), pad_to=MiB)}, gated=True)
    hub.hf_repos[CONTROL].allowed_tokens.add("hf_secret_token_1234")
    result = pull(smx, env_dir, f"hf:{CONTROL}/thibaud_xl_openpose.safetensors")
    assert result.exit_code == 0, result.output
    assert all(r.headers.get("authorization") == "Bearer hf_secret_token_1234"
               for r in hub.requests_to("hf"))
    assert all("authorization" not in r.headers for r in hub.requests_to("cdn"))


def test_a_refused_header_read_fails_with_the_downloads_own_message(
        hub: FakeHub, env_dir: Path, smx) -> None:
    # Civitai's type "Other" says no kind, so the header is needed; the file needs a login
    hub.civitai_publish(555, 5550, rh.safetensors_file(rh.kohya_lora("SDXL"), pad_to=MiB),
                        model_name="odd-thing", model_type="Other", login_required=True)
    before = (env_dir / "smx.toml").read_bytes()
    result = pull(smx, env_dir, "civitai:555")
    assert result.exit_code == 3, result.output
    assert "Civitai requires you to be logged in to download" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before


def test_sync_and_lock_read_the_header_of_a_hand_written_entry(hub: FakeHub, env_dir: Path,
                                                               smx, read_toml) -> None:
    hub.hf_commit(CONTROL, {"thibaud_xl_openpose.safetensors": rh.safetensors_file(
        rh.controlnet_diffusers("SDXL"), pad_to=MiB)})
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[models]\n", '[models]\nopenpose = { '
                        f'source = "hf:{CONTROL}/thibaud_xl_openpose.safetensors" }}\n'))
    locked = smx("--env", str(env_dir), "lock")
    assert locked.exit_code == 0, locked.output
    assert read_toml(env_dir / "smx.lock")["models"]["openpose"]["kind"] == "controlnet"
    synced = smx("--env", str(env_dir), "sync")
    assert synced.exit_code == 0, synced.output
    assert (env_dir / "Data/Models/ControlNet/thibaud_xl_openpose.safetensors").is_file()


def test_the_readme_tutorial_says_how_the_motion_module_kind_is_known() -> None:
    text = README.read_text(encoding="utf-8")
    assert re.search(r"mm_.*name", text.split("## Tutorial", 1)[1].split("## ", 1)[0])


def test_a_controlnet_for_another_base_than_the_checkpoints_is_warned_about(
        tutorial_hub: FakeHub, env_dir: Path, smx) -> None:
    assert pull(smx, env_dir, "civitai:261336").exit_code == 0  # SDXL
    tutorial_hub.hf_commit("lllyasviel/ControlNet-v1-1", {
        "control_v11p_sd15_openpose.safetensors": rh.safetensors_file(
            rh.controlnet_ldm("SD 1.x"), pad_to=MiB)})
    result = pull(smx, env_dir, "hf:lllyasviel/ControlNet-v1-1/"
                                "control_v11p_sd15_openpose.safetensors")
    assert result.exit_code == 0, result.output
    assert ("control_v11p_sd15_openpose is an SD 1.x controlnet, but this environment's "
            "checkpoints are anima_pencil-xl (SDXL 1.0)") in result.stderr
