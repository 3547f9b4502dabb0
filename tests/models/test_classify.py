"""What a safetensors header tells: the kind of model and its base, from the tensor names and
shapes real files carry (tests/helpers/realheaders.py builds them, no metadata)."""

from __future__ import annotations

import pytest

from helpers import realheaders as rh
from smx.errors import UsageError
from smx.models.classify import Verdict, classify, decide_kind, describe_mismatch, parse_header


def verdict_of(tensors: rh.Tensors, metadata: dict[str, str] | None = None) -> Verdict:
    data = rh.safetensors_file(tensors)
    parsed, meta = parse_header(data[8:rh.header_size(data)])
    return classify(parsed, metadata or meta)


@pytest.mark.parametrize(("what", "tensors", "kind", "family"), [
    ("SD 1.5 checkpoint", rh.checkpoint("SD 1.x"), "checkpoint", "SD 1.x"),
    ("SD 2.1 checkpoint", rh.checkpoint("SD 2.x"), "checkpoint", "SD 2.x"),
    ("SDXL checkpoint", rh.checkpoint("SDXL"), "checkpoint", "SDXL"),
    ("SD 3 medium", rh.sd3_medium(), "checkpoint", "SD 3"),
    ("Flux dev, diffusion only", rh.flux_transformer(), "diffusion-model", "Flux"),
    ("SDXL UNet alone", rh.ldm_unet("SDXL", prefix=""), "diffusion-model", "SDXL"),
    ("control_v11p_sd15_openpose", rh.controlnet_ldm("SD 1.x"), "controlnet", "SD 1.x"),
    ("an SDXL ControlNet in ldm names", rh.controlnet_ldm("SDXL"), "controlnet", "SDXL"),
    ("thibaud_xl_openpose (diffusers)", rh.controlnet_diffusers("SDXL"), "controlnet", "SDXL"),
    ("an SD 1.5 ControlNet (diffusers)", rh.controlnet_diffusers("SD 1.x"), "controlnet",
     "SD 1.x"),
    ("t2i-adapter-openpose-sdxl", rh.t2i_adapter_diffusers_xl(), "t2i-adapter", "SDXL"),
    ("t2iadapter_openpose_sd14v1", rh.t2i_adapter_sd15(), "t2i-adapter", "SD 1.x"),
    ("mm_sd_v15_v2", rh.motion_module("SD 1.x"), "motion-module", "SD 1.x"),
    ("mm_sdxl_v10_beta", rh.motion_module("SDXL"), "motion-module", "SDXL"),
    ("v2_lora_ZoomIn", rh.motion_lora(), "motion-lora", "SD 1.x"),
    ("an SDXL LoRA (kohya)", rh.kohya_lora("SDXL"), "lora", "SDXL"),
    ("an SD 1.5 LoRA (kohya)", rh.kohya_lora("SD 1.x"), "lora", "SD 1.x"),
    ("an SD 2.1 LoRA (kohya)", rh.kohya_lora("SD 2.x"), "lora", "SD 2.x"),
    ("an SD 1.5 LoHa", rh.kohya_lora("SD 1.x", kind="loha"), "lycoris", "SD 1.x"),
    ("a Flux LoRA", rh.flux_lora(), "lora", "Flux"),
    ("sdxl_vae", rh.vae_ldm(), "vae", None),
    ("clip_l", rh.clip_text_hf(), "text-encoder", None),
    ("t5xxl_fp16", rh.t5_xxl_encoder(), "text-encoder", None),
    ("ViT-H image encoder", rh.clip_vision_h(), "clip-vision", None),
    ("ip-adapter_sd15", rh.ip_adapter("SD 1.x"), "ipadapter", "SD 1.x"),
    ("ip-adapter_sdxl", rh.ip_adapter("SDXL"), "ipadapter", "SDXL"),
    ("EasyNegative", rh.embedding("SD 1.x"), "embedding", "SD 1.x"),
    ("an SDXL embedding", rh.embedding("SDXL"), "embedding", "SDXL"),
    ("4x-UltraSharp", rh.esrgan_old_arch(), "upscaler", None),
])
def test_the_header_tells_kind_and_base(what: str, tensors: rh.Tensors, kind: str,
                                        family: str | None) -> None:
    verdict = verdict_of(tensors)
    assert (verdict.kind, verdict.family) == (kind, family), what
    assert verdict.evidence in tensors  # a real tensor of the file decided it


def test_a_header_of_no_known_layout_says_so() -> None:
    assert verdict_of({"weights": ("F32", [10, 10])}) == Verdict(None)


def test_metadata_names_the_base_only_when_the_shapes_do_not() -> None:
    vae = verdict_of(rh.vae_ldm(), {"modelspec.architecture": "stable-diffusion-xl-v1-base"})
    assert (vae.kind, vae.family) == ("vae", "SDXL")
    lora = verdict_of(rh.kohya_lora("SD 1.x"), {"ss_base_model_version": "sdxl_base_v1-0"})
    assert lora.family == "SD 1.x"  # the shapes win over what a training tool wrote


def test_the_kind_comes_from_the_user_then_the_source_then_the_header_then_the_name() -> None:
    header_read = []

    def header() -> Verdict:
        header_read.append(True)
        return Verdict("controlnet", "SDXL", "controlnet_cond_embedding.conv_in.weight")

    assert decide_kind("vae", "lora", "x.safetensors", "x", header=header).how == "declared"
    assert decide_kind(None, "lora", "x.safetensors", "x", header=header).how == "source"
    assert header_read == []  # never read when not needed (it costs a request)
    decision = decide_kind(None, None, "some_vae.safetensors", "x", header=header)
    assert (decision.kind, decision.how) == ("controlnet", "header")  # the file beats its name
    unknown = decide_kind(None, None, "some_vae.safetensors", "x", header=lambda: Verdict(None))
    assert (unknown.kind, unknown.how) == ("vae", "name")
    assert decide_kind(None, None, "mm_sdxl_v10_beta.ckpt", "x",
                       header=lambda: None).kind == "motion-module"


def test_nothing_to_go_by_asks_for_kind() -> None:
    with pytest.raises(UsageError) as caught:
        decide_kind(None, None, "weights.safetensors", "x", header=lambda: Verdict(None))
    assert "its header matches no model layout smx knows" in caught.value.message
    assert "--kind" in (caught.value.hint or "")


def test_a_file_in_another_kinds_folder_is_named_with_what_its_header_shows() -> None:
    lora = verdict_of(rh.kohya_lora("SDXL"))
    warning = describe_mismatch("StableDiffusion/x.safetensors", "checkpoint", lora)
    assert warning is not None and "its header shows a lora (SDXL)" in warning
    assert describe_mismatch("x.safetensors", "lycoris", lora) is None  # loaded from either
    assert describe_mismatch("x.safetensors", "lora", lora) is None
