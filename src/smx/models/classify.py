"""Which kind of model a .safetensors file is, and for which base, from its header alone.

A safetensors file starts with an 8-byte little-endian length and a JSON header naming every
tensor with its dtype and shape; the weights follow. The tensor names are the layout of the
network that saved them, so the header tells a checkpoint from a LoRA or a ControlNet without a
byte of the weights, and the shapes tell the base: the width of the text context the UNet
attends to (``attn2.to_k`` takes 768 features in SD 1.x, 1024 in SD 2.x, 2048 in SDXL), SDXL's
extra conditioning (``label_emb`` / ``add_embedding`` taking 2816), the transformer blocks of
SD 3 (``joint_blocks``) and Flux (``double_blocks`` / ``single_blocks``).

Used before a download (models/peek.py reads the header with one or two Range requests), on
files already in the store (``local:`` models, `smx init --adopt`) and for the base-model
mismatch warning (models/safety.py). Pure: no I/O here.

Where the kind is decided, :func:`decide_kind` keeps one order: what the user declared, what
the source says (Civitai's type), the header, an unambiguous file-name rule, else ask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smx.catalog.model_kinds import KIND_NAMES
from smx.errors import UsageError
from smx.models.kinds import base_family, kind_from_filename

# The text-context width cross-attention reads (attn2.to_k's input features) -> base family.
CONTEXT_FAMILIES = {768: "SD 1.x", 1024: "SD 2.x", 1280: "SDXL", 2048: "SDXL"}
# Width of SDXL's extra conditioning vector (label_emb / add_embedding input): base, refiner.
SDXL_ADM = (2816, 2560)
# T2I-Adapter input channels (the hint image pixel-unshuffled): 8x8 in SD 1.x, 16x16 in SDXL.
T2I_FAMILIES = {64: "SD 1.x", 192: "SD 1.x", 256: "SDXL", 768: "SDXL"}
FLUX_WIDTH = 3072  # hidden size of Flux's transformer blocks (SD 3 uses 1536 or 2432)

_DOWN_SUFFIXES = (".lora_down.weight", ".lora_a.weight", ".lora.down.weight",
                  ".lora_linear_layer.down.weight", ".hada_w1_b", ".hada_w2_b")
_LORA_SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".lora_a.weight", ".lora_b.weight",
                  ".lora.down.weight", ".lora.up.weight", ".lora_linear_layer.down.weight",
                  ".lora_linear_layer.up.weight")
_LYCORIS_SUFFIXES = (".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".lokr_w1",
                     ".lokr_w1_a", ".lokr_w2", ".lokr_w2_a", ".oft_blocks", ".oft_diag")
_CHECKPOINT_PARTS = ("first_stage_model.", "cond_stage_model.", "conditioner.",
                     "text_encoders.")


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    """What a header says: ``kind`` (an smx kind name) and ``family`` ("SD 1.x", "SD 2.x",
    "SDXL", "SD 3", "Flux"), each None when the header does not tell; ``evidence`` is the
    tensor (or metadata key) that decided, for messages."""

    kind: str | None
    family: str | None = None
    evidence: str | None = None

    def describe(self) -> str:
        what = self.kind or "a model"
        return f"{what} ({self.family})" if self.family else what


UNKNOWN = Verdict(None)


# --- reading headers ---------------------------------------------------------------------------
def tensors_of(header: Mapping[str, Any]) -> dict[str, TensorInfo]:
    """The tensors of a parsed header (``__metadata__`` and malformed entries skipped)."""
    tensors: dict[str, TensorInfo] = {}
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        shape = info.get("shape")
        if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
            tensors[str(name)] = TensorInfo(str(info.get("dtype", "")), tuple(shape))
    return tensors


def parse_header(raw: bytes) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """The JSON header bytes (without the 8-byte length) -> tensors, metadata.

    Raises ValueError when they are not a safetensors header."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("__metadata__ is not an object")
    return tensors_of(header), {str(k): str(v) for k, v in metadata.items()}


# --- classifying ---------------------------------------------------------------------------------
class _Keys:
    """The tensor names, with the few questions the rules ask of them."""

    def __init__(self, tensors: Mapping[str, TensorInfo]) -> None:
        self.tensors = tensors
        self.names = list(tensors)
        self.lower = [n.lower() for n in self.names]

    def has(self, name: str) -> bool:
        return name in self.tensors

    def shape(self, name: str) -> tuple[int, ...]:
        info = self.tensors.get(name)
        return info.shape if info is not None else ()

    def first(self, test: Callable[[str], bool]) -> str | None:
        for name, low in zip(self.names, self.lower, strict=True):
            if test(low):
                return name
        return None

    def starting(self, *prefixes: str) -> str | None:
        return self.first(lambda n: n.startswith(prefixes))

    def containing(self, *parts: str) -> str | None:
        return self.first(lambda n: any(p in n for p in parts))

    def ending(self, *suffixes: str) -> str | None:
        return self.first(lambda n: n.endswith(suffixes))

    def count_starting(self, prefix: str) -> int:
        return sum(1 for n in self.lower if n.startswith(prefix))


def classify(tensors: Mapping[str, TensorInfo], metadata: Mapping[str, str] | None = None
             ) -> Verdict:
    """The kind and base family a header's tensors show; :data:`UNKNOWN` parts stay None."""
    keys = _Keys(tensors)
    verdict = UNKNOWN
    if keys.names:
        for rule in _RULES:
            found = rule(keys)
            if found is not None:
                verdict = found
                break
    if verdict.family is None and keys.names:  # an unknown layout may still show its base
        family = _unet_family(keys)
        if family:
            verdict = Verdict(verdict.kind, family, verdict.evidence)
    if verdict.family is None and metadata:
        for key in ("modelspec.architecture", "ss_base_model_version", "ss_sd_model_name"):
            family = base_family(metadata.get(key))
            if family:
                return Verdict(verdict.kind, family, verdict.evidence or key)
    return verdict


# --- base families from shapes -------------------------------------------------------------------
def _context_family(keys: _Keys) -> str | None:
    """From cross-attention's key projection: the weight [out, context] or a LoRA's down
    matrix [rank, context]."""
    for name, low in zip(keys.names, keys.lower, strict=True):
        if "attn2" not in low or "to_k" not in low:
            continue
        if not (low.endswith("to_k.weight") or low.endswith(_DOWN_SUFFIXES)):
            continue
        shape = keys.shape(name)
        if len(shape) == 2 and shape[-1] in CONTEXT_FAMILIES:
            return CONTEXT_FAMILIES[shape[-1]]
    return None


def _dit_family(keys: _Keys) -> str | None:
    """Flux's and SD 3's transformer layouts (original and diffusers names)."""
    if keys.containing("double_blocks.", "single_blocks.", "single_transformer_blocks.",
                       "double_blocks_", "single_blocks_", "guidance_in.", "guidance_embedder"):
        return "Flux"
    if keys.containing("joint_blocks.", "joint_blocks_", "pos_embed_input."):
        return "SD 3"
    if keys.has("pos_embed.proj.weight"):
        return "SD 3"
    return None


def _unet_family(keys: _Keys) -> str | None:
    for name in keys.names:
        if name.endswith(("label_emb.0.0.weight", "add_embedding.linear_1.weight")):
            shape = keys.shape(name)
            if len(shape) == 2 and shape[1] in SDXL_ADM:
                return "SDXL"
    return _context_family(keys) or _dit_family(keys)


# --- the rules, most specific first --------------------------------------------------------------
def _motion(keys: _Keys) -> Verdict | None:
    evidence = keys.containing(".motion_modules.")
    if evidence is None:
        return None
    # AnimateDiff for SD 1.x has four UNet levels (down_blocks.3) and v2 a mid block; the SDXL
    # motion modules have three levels and no mid block
    sd1 = keys.first(lambda n: n.startswith(("down_blocks.3.", "mid_block."))
                     or ".down_blocks.3." in n or ".mid_block." in n)
    family = "SD 1.x" if sd1 else "SDXL"
    lora = keys.first(lambda n: ".motion_modules." in n and (
        "_lora." in n or n.endswith(_LORA_SUFFIXES)))
    if lora:
        return Verdict("motion-lora", family, lora)
    if keys.starting("controlnet_cond_embedding."):  # SparseCtrl: a ControlNet with motion
        return Verdict("controlnet", family, "controlnet_cond_embedding.conv_in.weight")
    return Verdict("motion-module", family, evidence)


def _controlnet(keys: _Keys) -> Verdict | None:
    evidence = (keys.starting("control_model.input_hint_block.", "control_model.zero_convs.")
                or keys.starting("control_model.")
                or keys.starting("input_hint_block.", "lora_controlnet")
                or keys.starting("controlnet_cond_embedding.")
                or keys.starting("controlnet_blocks.", "controlnet_x_embedder.",
                                 "controlnet_single_blocks.", "controlnet_mid_block.")
                or keys.starting("lllite_unet"))
    if evidence is None:
        return None
    if evidence.startswith("lllite_unet"):
        return Verdict("controlnet", "SDXL", evidence)  # ControlNet-LLLite exists for SDXL only
    return Verdict("controlnet", _unet_family(keys), evidence)


def _t2i_adapter(keys: _Keys) -> Verdict | None:
    if keys.has("style_embedding"):
        return Verdict("style-model", None, "style_embedding")
    for conv_in in ("adapter.conv_in.weight", "conv_in.weight"):
        body = "adapter.body.0.resnets.0.block1.weight" if conv_in.startswith("adapter") \
            else "body.0.block1.weight"
        if keys.has(conv_in) and keys.has(body):
            shape = keys.shape(conv_in)
            family = T2I_FAMILIES.get(shape[1]) if len(shape) == 4 else None
            return Verdict("t2i-adapter", family, conv_in)
    if keys.has("body.0.in_conv.weight") and keys.starting("body.0.body."):
        return Verdict("t2i-adapter", "SD 1.x", "body.0.in_conv.weight")  # the light adapter
    return None


def _ipadapter(keys: _Keys) -> Verdict | None:
    flux = keys.containing("ip_adapter_double_stream")
    if flux:
        return Verdict("ipadapter", "Flux", flux)
    if not (keys.starting("image_proj.") and keys.starting("ip_adapter.")):
        return None
    evidence = keys.first(lambda n: n.startswith("ip_adapter.") and n.endswith("to_k_ip.weight"))
    family = None
    if evidence is not None:
        shape = keys.shape(evidence)
        family = CONTEXT_FAMILIES.get(shape[-1]) if len(shape) == 2 else None
    return Verdict("ipadapter", family, evidence or keys.starting("ip_adapter."))


def _embedding(keys: _Keys) -> Verdict | None:
    if len(keys.names) > 4:
        return None
    if keys.has("clip_g") and keys.has("clip_l"):
        return Verdict("embedding", "SDXL", "clip_g")
    name = "emb_params" if keys.has("emb_params") else keys.starting("string_to_param.")
    if name is None:
        return None
    shape = keys.shape(name)
    width = shape[-1] if shape else None
    return Verdict("embedding", {768: "SD 1.x", 1024: "SD 2.x"}.get(width or 0), name)


def _lora(keys: _Keys) -> Verdict | None:
    lycoris = keys.ending(*_LYCORIS_SUFFIXES)
    lora = lycoris or keys.ending(*_LORA_SUFFIXES)
    if lora is None:
        return None
    kind = "lycoris" if lycoris else "lora"
    return Verdict(kind, _lora_family(keys), lora)


def _lora_family(keys: _Keys) -> str | None:
    if keys.starting("lora_te1_", "lora_te2_", "te1.", "te2.", "text_encoder_2."):
        return "SDXL"  # two text encoders
    dit = _dit_family(keys)
    if dit is None:
        blocks = keys.first(lambda n: "transformer_blocks" in n and "add_k_proj" in n
                            and n.endswith(_DOWN_SUFFIXES))
        if blocks is not None:
            dit = "Flux" if keys.shape(blocks)[-1:] == (FLUX_WIDTH,) else "SD 3"
    family = dit or _context_family(keys)
    if family is None:  # a text-encoder-only LoRA: its width tells SD 1.x from SD 2.x
        te = keys.first(lambda n: n.startswith("lora_te_") and n.endswith(_DOWN_SUFFIXES))
        if te is not None:
            family = {768: "SD 1.x", 1024: "SD 2.x"}.get(keys.shape(te)[-1] if keys.shape(te)
                                                         else 0)
    return family


def _diffusion(keys: _Keys) -> Verdict | None:
    """Whole checkpoints (UNet or transformer + VAE + text encoders) and diffusion-only
    weights, in the original (ldm/sgm) and diffusers layouts."""
    if keys.count_starting("model.diffusion_model.") > 5:
        whole = keys.starting(*_CHECKPOINT_PARTS)
        evidence = keys.starting("model.diffusion_model.")
        if keys.containing(".time_stack.", ".time_mixer."):
            return Verdict("svd", None, keys.containing(".time_stack.", ".time_mixer."))
        return Verdict("checkpoint" if whole else "diffusion-model", _unet_family(keys),
                       whole or evidence)
    for name, family in (("double_blocks.0.img_attn.qkv.weight", "Flux"),
                         ("joint_blocks.0.context_block.attn.qkv.weight", "SD 3")):
        if keys.has(name):
            return Verdict("diffusion-model", family, name)
    if keys.has("input_blocks.0.0.weight") and keys.has("out.2.weight"):
        return Verdict("diffusion-model", _unet_family(keys), "input_blocks.0.0.weight")
    if (keys.has("conv_in.weight") and keys.has("time_embedding.linear_1.weight")
            and keys.starting("down_blocks.")):
        return Verdict("diffusion-model", _unet_family(keys), "time_embedding.linear_1.weight")
    if keys.has("x_embedder.weight") and keys.starting("single_transformer_blocks."):
        return Verdict("diffusion-model", "Flux", "x_embedder.weight")
    if keys.has("pos_embed.proj.weight") and keys.has(
            "transformer_blocks.0.attn.add_q_proj.weight"):
        return Verdict("diffusion-model", "SD 3", "pos_embed.proj.weight")
    return None


def _vae(keys: _Keys) -> Verdict | None:
    # The SD 1.x and SDXL VAEs share one architecture (4 latent channels), as do SD 3's and
    # Flux's (16): the shapes cannot tell the base, so the family stays unknown.
    for evidence, other in (("encoder.conv_in.weight", "decoder.conv_out.weight"),
                            ("vae.encoder.conv_in.weight", "vae.decoder.conv_out.weight")):
        if keys.has(evidence) and keys.has(other):
            return Verdict("vae", None, evidence)
    return None


def _encoders(keys: _Keys) -> Verdict | None:
    vision = keys.starting("vision_model.", "visual.")
    text = (keys.starting("text_model.encoder.", "transformer.resblocks.")
            or keys.containing("encoder.block.0.layer.0.selfattention."))
    if vision and not text:
        return Verdict("clip-vision", None, vision)
    if text:  # CLIP-L/G and T5 serve several bases: no family
        return Verdict("text-encoder", None, text)
    return None


def _upscaler(keys: _Keys) -> Verdict | None:
    if keys.has("model.0.weight") and keys.starting("model.1.sub."):
        return Verdict("upscaler", None, "model.1.sub.0.RDB1.conv1.0.weight"
                       if keys.has("model.1.sub.0.RDB1.conv1.0.weight") else "model.0.weight")
    if keys.has("conv_first.weight"):
        if keys.has("conv_up1.weight") and keys.starting("body."):
            return Verdict("upscaler", None, "conv_up1.weight")  # RRDBNet (ESRGAN, Real-ESRGAN)
        swin = keys.containing(".residual_group.blocks.")
        if swin:
            hat = keys.containing("overlap_attn", ".conv_block.")
            return Verdict("upscaler" if hat else "swinir", None, swin)
    first = keys.shape("body.0.weight")
    if len(first) == 4 and first[1] == 3 and all(n.startswith("body.") for n in keys.names):
        return Verdict("upscaler", None, "body.0.weight")  # SRVGGNetCompact (realesr-*)
    return None


_RULES: tuple[Callable[[_Keys], Verdict | None], ...] = (
    _motion, _controlnet, _t2i_adapter, _ipadapter, _embedding, _lora, _diffusion, _vae,
    _encoders, _upscaler,
)


# --- deciding the kind of a model --------------------------------------------------------------
@dataclass(frozen=True)
class KindDecision:
    kind: str
    how: str  # declared | source | header | name
    verdict: Verdict | None = None  # the header's, when it was read


def decide_kind(declared: str | None, from_source: str | None, filename: str, title: str, *,
                header: Callable[[], Verdict | None] | None = None) -> KindDecision:
    """--kind / smx.toml, else the source's own type (Civitai), else the file's header (read
    only when needed: ``header`` may make network requests), else an unambiguous file-name
    rule; otherwise a usage error that asks for --kind."""
    for kind in (declared, from_source):
        if kind and kind not in KIND_NAMES:
            raise UsageError(f"{title}: model kind {kind!r} is not one this smx knows",
                             hint="set kind = \"...\" for it in smx.toml, one of: "
                                  + ", ".join(KIND_NAMES), code="model.kind_unknown")
    if declared:
        return KindDecision(declared, "declared")
    if from_source:
        return KindDecision(from_source, "source")
    verdict = header() if header is not None else None
    if verdict is not None and verdict.kind:
        return KindDecision(verdict.kind, "header", verdict)
    kind, matches = kind_from_filename(filename)
    if kind:
        return KindDecision(kind, "name", verdict)
    why = []
    if verdict is not None:
        why.append("its header matches no model layout smx knows")
    if matches:
        why.append(f"its name fits {' and '.join(matches)}")
    seen = f" ({'; '.join(why)})" if why else ""
    raise UsageError(f"smx cannot tell which kind of model {filename} is{seen}",
                     hint="say it with --kind, one of: " + ", ".join(KIND_NAMES[:16]) + ", …",
                     code="model.kind_unknown")


def describe_mismatch(filename: str, where_kind: str, verdict: Verdict) -> str | None:
    """A warning when a file sits in another kind's folder than its header shows."""
    if verdict.kind is None or verdict.kind == where_kind or {verdict.kind, where_kind} in (
            {"lora", "lycoris"}, {"upscaler", "realesrgan"}, {"upscaler", "swinir"}):
        return None  # (web UIs load LyCORIS from the LoRA folder and the other way round)
    return (f"{filename} is in the {where_kind} folder, but its header shows "
            f"{_article(verdict.describe())} {verdict.describe()} "
            f"({verdict.evidence}); the web UIs may not find or load it there")


def _article(text: str) -> str:
    return "an" if re.match(r"[aeiou]", text) else "a"
