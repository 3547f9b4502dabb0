"""Safetensors files whose headers are those of real models: the tensor names and shapes the
real files carry, generated here from each network's layout (UNet levels, transformer depths,
channel widths), with no metadata. The weights are not real: every tensor points at an empty
slice and the data area is zero-filled, so a file is a few hundred KiB however large the model.

    data = safetensors_file(controlnet_diffusers("SDXL"))   # thibaud_xl_openpose's layout
"""

from __future__ import annotations

import json
import struct

Shape = list[int]
Tensors = dict[str, tuple[str, Shape]]

# (model_channels, channel_mult, transformer depth per level, middle depth, context width,
#  Linear proj_in/out, SDXL's extra conditioning width)
UNETS = {
    "SD 1.x": (320, (1, 2, 4, 4), (1, 1, 1, 0), 1, 768, False, None),
    "SD 2.x": (320, (1, 2, 4, 4), (1, 1, 1, 0), 1, 1024, True, None),
    "SDXL": (320, (1, 2, 4), (0, 2, 10), 10, 2048, True, 2816),
}


def safetensors_file(tensors: Tensors, *, pad_to: int = 0, dtype: str | None = None,
                     fill: int = 0) -> bytes:
    """A .safetensors file with this header (no __metadata__), filled with ``fill`` bytes up
    to ``pad_to`` (two files of one layout differ by their fill, as real weights do)."""
    header = {name: {"dtype": dtype or dt, "shape": shape, "data_offsets": [0, 0]}
              for name, (dt, shape) in tensors.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    data = struct.pack("<Q", len(raw)) + raw
    return data + bytes([fill]) * max(0, pad_to - len(data))


def header_size(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


class _Builder:
    def __init__(self, dtype: str = "F16") -> None:
        self.t: Tensors = {}
        self.dtype = dtype

    def add(self, name: str, *shape: int) -> None:
        self.t[name] = (self.dtype, list(shape))

    def wb(self, name: str, *shape: int) -> None:
        """weight and bias"""
        self.add(f"{name}.weight", *shape)
        self.add(f"{name}.bias", shape[0])

    def norm(self, name: str, width: int) -> None:
        self.add(f"{name}.weight", width)
        self.add(f"{name}.bias", width)


# --- the SD UNet, original (ldm/sgm) names -------------------------------------------------------
def _ldm_res(b: _Builder, p: str, cin: int, cout: int, emb: int) -> None:
    b.norm(f"{p}in_layers.0", cin)
    b.wb(f"{p}in_layers.2", cout, cin, 3, 3)
    b.wb(f"{p}emb_layers.1", cout, emb)
    b.norm(f"{p}out_layers.0", cout)
    b.wb(f"{p}out_layers.3", cout, cout, 3, 3)
    if cin != cout:
        b.wb(f"{p}skip_connection", cout, cin, 1, 1)


def _attention_block(b: _Builder, p: str, c: int, ctx: int) -> None:
    """One transformer block (attn1 self, attn2 cross, GEGLU feed-forward): the same names in
    ldm and diffusers."""
    for q in ("to_q", "to_k", "to_v"):
        b.add(f"{p}attn1.{q}.weight", c, c)
    b.wb(f"{p}attn1.to_out.0", c, c)
    b.add(f"{p}attn2.to_q.weight", c, c)
    b.add(f"{p}attn2.to_k.weight", c, ctx)
    b.add(f"{p}attn2.to_v.weight", c, ctx)
    b.wb(f"{p}attn2.to_out.0", c, c)
    b.wb(f"{p}ff.net.0.proj", 8 * c, c)
    b.wb(f"{p}ff.net.2", c, 4 * c)
    for n in ("norm1", "norm2", "norm3"):
        b.norm(f"{p}{n}", c)


def _transformer(b: _Builder, p: str, c: int, depth: int, ctx: int, linear: bool) -> None:
    proj = (c, c) if linear else (c, c, 1, 1)
    b.norm(f"{p}norm", c)
    b.wb(f"{p}proj_in", *proj)
    for d in range(depth):
        _attention_block(b, f"{p}transformer_blocks.{d}.", c, ctx)
    b.wb(f"{p}proj_out", *proj)


def _ldm_inputs(b: _Builder, p: str, family: str) -> list[int]:
    """time/label embeddings, input_blocks and middle_block; returns each input block's width
    (the skip connections, and a ControlNet's zero convs)."""
    mc, mult, depth, mid, ctx, linear, adm = UNETS[family]
    emb = 4 * mc
    b.wb(f"{p}time_embed.0", emb, mc)
    b.wb(f"{p}time_embed.2", emb, emb)
    if adm:
        b.wb(f"{p}label_emb.0.0", emb, adm)
        b.wb(f"{p}label_emb.0.2", emb, emb)
    b.wb(f"{p}input_blocks.0.0", mc, 4, 3, 3)
    widths, ch, idx = [mc], mc, 1
    for level, m in enumerate(mult):
        for _ in range(2):
            _ldm_res(b, f"{p}input_blocks.{idx}.0.", ch, m * mc, emb)
            ch = m * mc
            if depth[level]:
                _transformer(b, f"{p}input_blocks.{idx}.1.", ch, depth[level], ctx, linear)
            widths.append(ch)
            idx += 1
        if level != len(mult) - 1:
            b.wb(f"{p}input_blocks.{idx}.0.op", ch, ch, 3, 3)
            widths.append(ch)
            idx += 1
    _ldm_res(b, f"{p}middle_block.0.", ch, ch, emb)
    _transformer(b, f"{p}middle_block.1.", ch, mid, ctx, linear)
    _ldm_res(b, f"{p}middle_block.2.", ch, ch, emb)
    return widths


def ldm_unet(family: str, prefix: str = "model.diffusion_model.") -> Tensors:
    b = _Builder()
    widths = _ldm_inputs(b, prefix, family)
    mc, mult, depth, _mid, ctx, linear, _adm = UNETS[family]
    ch, idx = widths[-1], 0
    for level in reversed(range(len(mult))):
        for i in range(3):
            out = mult[level] * mc
            _ldm_res(b, f"{prefix}output_blocks.{idx}.0.", ch + widths.pop(), out, 4 * mc)
            ch, layer = out, 1
            if depth[level]:
                _transformer(b, f"{prefix}output_blocks.{idx}.1.", ch, depth[level], ctx, linear)
                layer = 2
            if level and i == 2:
                b.wb(f"{prefix}output_blocks.{idx}.{layer}.conv", ch, ch, 3, 3)
            idx += 1
    b.norm(f"{prefix}out.0", mc)
    b.wb(f"{prefix}out.2", 4, mc, 3, 3)
    return b.t


# --- ControlNets ---------------------------------------------------------------------------------
_HINT = ((16, 3), (16, 16), (32, 16), (32, 32), (96, 32), (96, 96), (256, 96))


def controlnet_ldm(family: str, prefix: str = "control_model.") -> Tensors:
    """lllyasviel's layout (control_v11p_sd15_openpose, controlnet-sd-xl ldm exports)."""
    b = _Builder()
    widths = _ldm_inputs(b, prefix, family)
    for i, c in enumerate(widths):
        b.wb(f"{prefix}zero_convs.{i}.0", c, c, 1, 1)
    for i, (cout, cin) in enumerate(_HINT):
        b.wb(f"{prefix}input_hint_block.{2 * i}", cout, cin, 3, 3)
    b.wb(f"{prefix}input_hint_block.14", UNETS[family][0], 256, 3, 3)
    b.wb(f"{prefix}middle_block_out.0", widths[-1], widths[-1], 1, 1)
    return b.t


def _diffusers_res(b: _Builder, p: str, cin: int, cout: int, emb: int) -> None:
    b.norm(f"{p}norm1", cin)
    b.wb(f"{p}conv1", cout, cin, 3, 3)
    b.wb(f"{p}time_emb_proj", cout, emb)
    b.norm(f"{p}norm2", cout)
    b.wb(f"{p}conv2", cout, cout, 3, 3)
    if cin != cout:
        b.wb(f"{p}conv_shortcut", cout, cin, 1, 1)


def controlnet_diffusers(family: str) -> Tensors:
    """diffusers' ControlNetModel (thibaud_xl_openpose, diffusers_xl_depth_full)."""
    mc, mult, depth, mid, ctx, linear, adm = UNETS[family]
    emb = 4 * mc
    b = _Builder()
    b.wb("conv_in", mc, 4, 3, 3)
    b.wb("time_embedding.linear_1", emb, mc)
    b.wb("time_embedding.linear_2", emb, emb)
    if adm:
        b.wb("add_embedding.linear_1", emb, adm)
        b.wb("add_embedding.linear_2", emb, emb)
    b.wb("controlnet_cond_embedding.conv_in", 16, 3, 3, 3)
    for i, (cout, cin) in enumerate(_HINT[1:]):
        b.wb(f"controlnet_cond_embedding.blocks.{i}", cout, cin, 3, 3)
    b.wb("controlnet_cond_embedding.conv_out", mc, 256, 3, 3)
    widths, ch = [mc], mc
    for level, m in enumerate(mult):
        for j in range(2):
            _diffusers_res(b, f"down_blocks.{level}.resnets.{j}.", ch, m * mc, emb)
            ch = m * mc
            if depth[level]:
                _transformer(b, f"down_blocks.{level}.attentions.{j}.", ch, depth[level], ctx,
                             linear)
            widths.append(ch)
        if level != len(mult) - 1:
            b.wb(f"down_blocks.{level}.downsamplers.0.conv", ch, ch, 3, 3)
            widths.append(ch)
    for n, c in enumerate(widths):
        b.wb(f"controlnet_down_blocks.{n}", c, c, 1, 1)
    _diffusers_res(b, "mid_block.resnets.0.", ch, ch, emb)
    _transformer(b, "mid_block.attentions.0.", ch, mid, ctx, linear)
    _diffusers_res(b, "mid_block.resnets.1.", ch, ch, emb)
    b.wb("controlnet_mid_block", ch, ch, 1, 1)
    return b.t


# --- VAE and text encoders -----------------------------------------------------------------------
def vae_ldm(prefix: str = "", latent: int = 4) -> Tensors:
    """The SD/SDXL autoencoder in original names (sdxl_vae.safetensors, first_stage_model.)."""
    b = _Builder()
    chans = (128, 256, 512, 512)

    def block(p: str, cin: int, cout: int) -> None:
        b.norm(f"{p}norm1", cin)
        b.wb(f"{p}conv1", cout, cin, 3, 3)
        b.norm(f"{p}norm2", cout)
        b.wb(f"{p}conv2", cout, cout, 3, 3)
        if cin != cout:
            b.wb(f"{p}nin_shortcut", cout, cin, 1, 1)

    def middle(p: str) -> None:
        block(f"{p}mid.block_1.", 512, 512)
        b.norm(f"{p}mid.attn_1.norm", 512)
        for x in ("q", "k", "v", "proj_out"):
            b.wb(f"{p}mid.attn_1.{x}", 512, 512, 1, 1)
        block(f"{p}mid.block_2.", 512, 512)

    e = f"{prefix}encoder."
    b.wb(f"{e}conv_in", 128, 3, 3, 3)
    ch = 128
    for i, c in enumerate(chans):
        for j in range(2):
            block(f"{e}down.{i}.block.{j}.", ch, c)
            ch = c
        if i < 3:
            b.wb(f"{e}down.{i}.downsample.conv", c, c, 3, 3)
    middle(e)
    b.norm(f"{e}norm_out", 512)
    b.wb(f"{e}conv_out", 2 * latent, 512, 3, 3)
    if latent == 4:
        b.wb(f"{prefix}quant_conv", 8, 8, 1, 1)
        b.wb(f"{prefix}post_quant_conv", 4, 4, 1, 1)
    d = f"{prefix}decoder."
    b.wb(f"{d}conv_in", 512, latent, 3, 3)
    middle(d)
    ch = 512
    for i in reversed(range(4)):
        for j in range(3):
            block(f"{d}up.{i}.block.{j}.", ch, chans[i])
            ch = chans[i]
        if i:
            b.wb(f"{d}up.{i}.upsample.conv", ch, ch, 3, 3)
    b.norm(f"{d}norm_out", 128)
    b.wb(f"{d}conv_out", 3, 128, 3, 3)
    return b.t


def clip_text_hf(prefix: str = "", width: int = 768, layers: int = 12) -> Tensors:
    """CLIP's text tower in transformers' names (clip_l.safetensors, SD 1.x's cond_stage_model,
    SDXL's first embedder)."""
    b = _Builder()
    t = f"{prefix}text_model."
    b.add(f"{t}embeddings.token_embedding.weight", 49408, width)
    b.add(f"{t}embeddings.position_embedding.weight", 77, width)
    for i in range(layers):
        p = f"{t}encoder.layers.{i}."
        for x in ("k_proj", "v_proj", "q_proj", "out_proj"):
            b.wb(f"{p}self_attn.{x}", width, width)
        b.norm(f"{p}layer_norm1", width)
        b.wb(f"{p}mlp.fc1", 4 * width, width)
        b.wb(f"{p}mlp.fc2", width, 4 * width)
        b.norm(f"{p}layer_norm2", width)
    b.norm(f"{t}final_layer_norm", width)
    return b.t


def open_clip_g(prefix: str = "conditioner.embedders.1.model.") -> Tensors:
    """OpenCLIP ViT-bigG's text tower, as SDXL checkpoints store it."""
    b = _Builder()
    w = 1280
    b.add(f"{prefix}positional_embedding", 77, w)
    b.add(f"{prefix}token_embedding.weight", 49408, w)
    for i in range(32):
        p = f"{prefix}transformer.resblocks.{i}."
        b.norm(f"{p}ln_1", w)
        b.add(f"{p}attn.in_proj_weight", 3 * w, w)
        b.add(f"{p}attn.in_proj_bias", 3 * w)
        b.wb(f"{p}attn.out_proj", w, w)
        b.norm(f"{p}ln_2", w)
        b.wb(f"{p}mlp.c_fc", 4 * w, w)
        b.wb(f"{p}mlp.c_proj", w, 4 * w)
    b.norm(f"{prefix}ln_final", w)
    b.add(f"{prefix}text_projection", w, w)
    return b.t


def t5_xxl_encoder() -> Tensors:
    """t5xxl_fp16.safetensors (the text encoder of Flux and SD 3)."""
    b = _Builder()
    b.add("shared.weight", 32128, 4096)
    for i in range(24):
        p = f"encoder.block.{i}.layer."
        for x in "qkvo":
            b.add(f"{p}0.SelfAttention.{x}.weight", 4096, 4096)
        if i == 0:
            b.add(f"{p}0.SelfAttention.relative_attention_bias.weight", 32, 64)
        b.add(f"{p}0.layer_norm.weight", 4096)
        b.add(f"{p}1.DenseReluDense.wi_0.weight", 10240, 4096)
        b.add(f"{p}1.DenseReluDense.wi_1.weight", 10240, 4096)
        b.add(f"{p}1.DenseReluDense.wo.weight", 4096, 10240)
        b.add(f"{p}1.layer_norm.weight", 4096)
    b.add("encoder.final_layer_norm.weight", 4096)
    return b.t


def checkpoint(family: str) -> Tensors:
    """A whole checkpoint as web UIs save it: UNet, VAE, text encoder(s)."""
    tensors = ldm_unet(family)
    tensors.update(vae_ldm("first_stage_model."))
    if family == "SDXL":
        tensors.update(clip_text_hf("conditioner.embedders.0.transformer."))
        tensors.update(open_clip_g())
    else:
        tensors.update(clip_text_hf("cond_stage_model.transformer.",
                                    width=768 if family == "SD 1.x" else 1024))
    return tensors


# --- LoRA and LyCORIS (kohya names) --------------------------------------------------------------
def _lora_pair(b: _Builder, name: str, out: int, inp: int, rank: int, kind: str) -> None:
    if kind == "loha":
        b.add(f"{name}.hada_w1_a", out, rank)
        b.add(f"{name}.hada_w1_b", rank, inp)
        b.add(f"{name}.hada_w2_a", out, rank)
        b.add(f"{name}.hada_w2_b", rank, inp)
    else:
        b.add(f"{name}.lora_down.weight", rank, inp)
        b.add(f"{name}.lora_up.weight", out, rank)
    b.add(f"{name}.alpha")


def _lora_attention(b: _Builder, p: str, c: int, ctx: int, rank: int, kind: str) -> None:
    for q in ("q", "k", "v", "out_0"):
        _lora_pair(b, f"{p}_attn1_to_{q}", c, c, rank, kind)
    _lora_pair(b, f"{p}_attn2_to_q", c, c, rank, kind)
    _lora_pair(b, f"{p}_attn2_to_k", c, ctx, rank, kind)
    _lora_pair(b, f"{p}_attn2_to_v", c, ctx, rank, kind)
    _lora_pair(b, f"{p}_attn2_to_out_0", c, c, rank, kind)
    _lora_pair(b, f"{p}_ff_net_0_proj", 8 * c, c, rank, kind)
    _lora_pair(b, f"{p}_ff_net_2", c, 4 * c, rank, kind)


def _lora_text(b: _Builder, p: str, width: int, layers: int, rank: int, kind: str) -> None:
    for i in range(layers):
        q = f"{p}_text_model_encoder_layers_{i}"
        for x in ("q", "k", "v", "out"):
            _lora_pair(b, f"{q}_self_attn_{x}_proj", width, width, rank, kind)
        _lora_pair(b, f"{q}_mlp_fc1", 4 * width, width, rank, kind)
        _lora_pair(b, f"{q}_mlp_fc2", width, 4 * width, rank, kind)


def kohya_lora(family: str, rank: int = 16, kind: str = "lora") -> Tensors:
    """sd-scripts' names: SD 1.x in diffusers block names, SDXL in ldm block names with two
    text encoders (lora_te1_, lora_te2_). ``kind="loha"`` gives LyCORIS LoHa factors."""
    b = _Builder()
    mc, mult, depth, _mid, ctx, _linear, _adm = UNETS[family]
    if family == "SDXL":
        for idx, level in ((4, 1), (5, 1), (7, 2), (8, 2)):
            for d in range(depth[level]):
                _lora_attention(b, f"lora_unet_input_blocks_{idx}_1_transformer_blocks_{d}",
                                mult[level] * mc, ctx, rank, kind)
        for d in range(10):
            _lora_attention(b, f"lora_unet_middle_block_1_transformer_blocks_{d}", 1280, ctx,
                            rank, kind)
        _lora_text(b, "lora_te1", 768, 12, rank, kind)
        _lora_text(b, "lora_te2", 1280, 32, rank, kind)
    else:
        for level in range(3):
            for j in range(2):
                _lora_attention(b, f"lora_unet_down_blocks_{level}_attentions_{j}"
                                   "_transformer_blocks_0", mult[level] * mc, ctx, rank, kind)
        _lora_attention(b, "lora_unet_mid_block_attentions_0_transformer_blocks_0", 1280, ctx,
                        rank, kind)
        _lora_text(b, "lora_te", 768 if family == "SD 1.x" else 1024, 12, rank, kind)
    return b.t


def flux_lora(rank: int = 16) -> Tensors:
    """A kohya Flux LoRA (lora_unet_double_blocks_…, lora_unet_single_blocks_…)."""
    b = _Builder()
    for i in range(19):
        for s in ("img", "txt"):
            _lora_pair(b, f"lora_unet_double_blocks_{i}_{s}_attn_qkv", 9216, 3072, rank, "lora")
            _lora_pair(b, f"lora_unet_double_blocks_{i}_{s}_attn_proj", 3072, 3072, rank,
                       "lora")
    for i in range(38):
        _lora_pair(b, f"lora_unet_single_blocks_{i}_linear1", 21504, 3072, rank, "lora")
        _lora_pair(b, f"lora_unet_single_blocks_{i}_linear2", 3072, 15360, rank, "lora")
    return b.t


# --- adapters, motion modules, embeddings, upscalers ---------------------------------------------
def t2i_adapter_diffusers_xl() -> Tensors:
    """TencentARC/t2i-adapter-*-sdxl-1.0 (diffusers' FullAdapterXL)."""
    b = _Builder()
    b.wb("adapter.conv_in", 320, 768, 3, 3)
    for i, (cin, cout) in enumerate(((320, 320), (320, 640), (640, 1280), (1280, 1280))):
        if cin != cout:
            b.wb(f"adapter.body.{i}.in_conv", cout, cin, 1, 1)
        for j in range(2):
            b.wb(f"adapter.body.{i}.resnets.{j}.block1", cout, cout, 3, 3)
            b.wb(f"adapter.body.{i}.resnets.{j}.block2", cout, cout, 1, 1)
    return b.t


def t2i_adapter_sd15(cin: int = 192) -> Tensors:
    """TencentARC's original layout (t2iadapter_openpose_sd14v1: RGB hint, 8x8 unshuffle)."""
    b = _Builder("F32")
    b.wb("conv_in", 320, cin, 3, 3)
    for i, c in enumerate((320, 320, 640, 640, 1280, 1280, 1280, 1280)):
        if i in (2, 4):
            b.wb(f"body.{i}.in_conv", c, c // 2, 1, 1)
        b.wb(f"body.{i}.block1", c, c, 3, 3)
        b.wb(f"body.{i}.block2", c, c, 1, 1)
    return b.t


def motion_module(family: str) -> Tensors:
    """AnimateDiff motion modules: mm_sd_v15_v2 (four levels and a mid block) or mm_sdxl_v10
    (three levels)."""
    b = _Builder()

    def module(p: str, c: int) -> None:
        t = f"{p}temporal_transformer."
        b.norm(f"{t}norm", c)
        b.wb(f"{t}proj_in", c, c)
        for a in range(2):
            q = f"{t}transformer_blocks.0.attention_blocks.{a}."
            for x in ("to_q", "to_k", "to_v"):
                b.add(f"{q}{x}.weight", c, c)
            b.wb(f"{q}to_out.0", c, c)
            b.add(f"{q}pos_encoder.pe", 1, 32, c)
            b.norm(f"{t}transformer_blocks.0.norms.{a}", c)
        b.wb(f"{t}transformer_blocks.0.ff.net.0.proj", 8 * c, c)
        b.wb(f"{t}transformer_blocks.0.ff.net.2", c, 4 * c)
        b.norm(f"{t}transformer_blocks.0.ff_norm", c)
        b.wb(f"{t}proj_out", c, c)

    widths = (320, 640, 1280, 1280) if family == "SD 1.x" else (320, 640, 1280)
    for i, c in enumerate(widths):
        for m in range(2):
            module(f"down_blocks.{i}.motion_modules.{m}.", c)
    for i, c in enumerate(reversed(widths)):
        for m in range(3):
            module(f"up_blocks.{i}.motion_modules.{m}.", c)
    if family == "SD 1.x":
        module("mid_block.motion_modules.0.", 1280)
    return b.t


def motion_lora(rank: int = 128) -> Tensors:
    """v2_lora_ZoomIn: LoRA factors on the SD 1.x motion module's attention."""
    b = _Builder()
    for i, c in enumerate((320, 640, 1280, 1280)):
        for m in range(2):
            for a in range(2):
                p = (f"down_blocks.{i}.motion_modules.{m}.temporal_transformer."
                     f"transformer_blocks.0.attention_blocks.{a}.processor.")
                for x in ("to_q", "to_k", "to_v", "to_out"):
                    b.add(f"{p}{x}_lora.down.weight", rank, c)
                    b.add(f"{p}{x}_lora.up.weight", c, rank)
    return b.t


def embedding(family: str, vectors: int = 8) -> Tensors:
    """Textual inversion: emb_params (SD 1.x/2.x) or clip_g + clip_l (SDXL)."""
    if family == "SDXL":
        return {"clip_g": ("F32", [vectors, 1280]), "clip_l": ("F32", [vectors, 768])}
    return {"emb_params": ("F32", [vectors, 768 if family == "SD 1.x" else 1024])}


def esrgan_old_arch() -> Tensors:
    """4x-UltraSharp and the other old-architecture ESRGAN models (23 RRDB blocks)."""
    b = _Builder("F32")
    b.wb("model.0", 64, 3, 3, 3)
    for s in range(23):
        for r in (1, 2, 3):
            for c in range(5):
                b.wb(f"model.1.sub.{s}.RDB{r}.conv{c + 1}.0", 64 if c == 4 else 32,
                     64 + 32 * c, 3, 3)
    b.wb("model.1.sub.23", 64, 64, 3, 3)
    for n in (3, 6, 8):
        b.wb(f"model.{n}", 64, 64, 3, 3)
    b.wb("model.10", 3, 64, 3, 3)
    return b.t


def ip_adapter(family: str) -> Tensors:
    """h94/IP-Adapter ip-adapter_sd15 / ip-adapter_sdxl: image projection + one key/value pair
    per cross-attention layer."""
    b = _Builder()
    ctx = UNETS[family][4]
    b.wb("image_proj.proj", 4 * ctx, 1024 if family == "SD 1.x" else 1280)
    b.norm("image_proj.norm", ctx)
    layers = (320,) * 2 + (640,) * 2 + (1280,) * 2 + (1280,) + (1280,) * 3 + (640,) * 3 + \
        (320,) * 3 if family == "SD 1.x" else (640,) * 4 + (1280,) * 60 + (640,) * 6
    for i, c in enumerate(layers):
        b.add(f"ip_adapter.{2 * i + 1}.to_k_ip.weight", c, ctx)
        b.add(f"ip_adapter.{2 * i + 1}.to_v_ip.weight", c, ctx)
    return b.t


def clip_vision_h() -> Tensors:
    """The ViT-H image encoder IP-Adapter uses (transformers' names)."""
    b = _Builder()
    w = 1280
    b.add("vision_model.embeddings.class_embedding", w)
    b.add("vision_model.embeddings.patch_embedding.weight", w, 3, 14, 14)
    b.add("vision_model.embeddings.position_embedding.weight", 257, w)
    b.norm("vision_model.pre_layrnorm", w)
    for i in range(32):
        p = f"vision_model.encoder.layers.{i}."
        for x in ("k_proj", "v_proj", "q_proj", "out_proj"):
            b.wb(f"{p}self_attn.{x}", w, w)
        b.norm(f"{p}layer_norm1", w)
        b.wb(f"{p}mlp.fc1", 5120, w)
        b.wb(f"{p}mlp.fc2", w, 5120)
        b.norm(f"{p}layer_norm2", w)
    b.norm("vision_model.post_layernorm", w)
    b.add("visual_projection.weight", 1024, w)
    return b.t


def flux_transformer(prefix: str = "") -> Tensors:
    """flux1-dev.safetensors (Black Forest Labs' names)."""
    b = _Builder("BF16")
    h = 3072
    b.wb(f"{prefix}img_in", h, 64)
    b.wb(f"{prefix}txt_in", h, 4096)
    for e, width in (("time_in", 256), ("vector_in", 768), ("guidance_in", 256)):
        b.wb(f"{prefix}{e}.in_layer", h, width)
        b.wb(f"{prefix}{e}.out_layer", h, h)
    for i in range(19):
        for s in ("img", "txt"):
            p = f"{prefix}double_blocks.{i}.{s}_"
            b.wb(f"{p}attn.qkv", 3 * h, h)
            b.add(f"{p}attn.norm.key_norm.scale", 128)
            b.add(f"{p}attn.norm.query_norm.scale", 128)
            b.wb(f"{p}attn.proj", h, h)
            b.wb(f"{p}mlp.0", 4 * h, h)
            b.wb(f"{p}mlp.2", h, 4 * h)
            b.wb(f"{p}mod.lin", 6 * h, h)
    for i in range(38):
        p = f"{prefix}single_blocks.{i}."
        b.wb(f"{p}linear1", 7 * h, h)
        b.wb(f"{p}linear2", h, 5 * h)
        b.add(f"{p}norm.key_norm.scale", 128)
        b.add(f"{p}norm.query_norm.scale", 128)
        b.wb(f"{p}modulation.lin", 3 * h, h)
    b.wb(f"{prefix}final_layer.linear", 64, h)
    b.wb(f"{prefix}final_layer.adaLN_modulation.1", 2 * h, h)
    return b.t


def sd3_medium() -> Tensors:
    """sd3_medium.safetensors: the MMDiT (24 joint blocks, 1536 wide) and its 16-channel VAE."""
    b = _Builder()
    p, h = "model.diffusion_model.", 1536
    b.add(f"{p}pos_embed", 1, 36864, h)
    b.wb(f"{p}x_embedder.proj", h, 16, 2, 2)
    b.wb(f"{p}context_embedder", h, 4096)
    b.wb(f"{p}t_embedder.mlp.0", h, 256)
    b.wb(f"{p}t_embedder.mlp.2", h, h)
    b.wb(f"{p}y_embedder.mlp.0", h, 2048)
    b.wb(f"{p}y_embedder.mlp.2", h, h)
    for i in range(24):
        for part in ("context_block", "x_block"):
            q = f"{p}joint_blocks.{i}.{part}."
            b.wb(f"{q}attn.qkv", 3 * h, h)
            if not (i == 23 and part == "context_block"):
                b.wb(f"{q}attn.proj", h, h)
                b.wb(f"{q}mlp.fc1", 4 * h, h)
                b.wb(f"{q}mlp.fc2", h, 4 * h)
            b.wb(f"{q}adaLN_modulation.1", (2 if i == 23 and part == "context_block" else 6) * h,
                 h)
    b.wb(f"{p}final_layer.linear", 64, h)
    b.wb(f"{p}final_layer.adaLN_modulation.1", 2 * h, h)
    b.t.update(vae_ldm("first_stage_model.", latent=16))
    return b.t
