"""Model kinds: the names users type, and the one store folder each maps to.

Folder names are Stability Matrix's ``SharedFolderType`` names (StabilityMatrix.Core/Models/
SharedFolderType.cs), so a Stability Matrix ``Data/`` folder can be adopted as it is. Stability
Matrix has no AnimateDiff type; smx adds ``AnimateDiff`` for motion modules and
``AnimateDiffMotionLora`` for motion LoRAs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelKind:
    name: str  # what users type: `--kind motion-module`, `kind = "lora"` in smx.toml
    folder: str  # under Data/Models/
    description: str


MODEL_KINDS: tuple[ModelKind, ...] = (
    ModelKind("checkpoint", "StableDiffusion", "Stable Diffusion checkpoints"),
    ModelKind("diffusion-model", "DiffusionModels", "UNet / diffusion-only weights"),
    ModelKind("lora", "Lora", "LoRA networks"),
    ModelKind("lycoris", "LyCORIS", "LyCORIS / LoCon networks"),
    ModelKind("vae", "VAE", "VAEs"),
    ModelKind("approx-vae", "ApproxVAE", "preview (approximate) VAEs"),
    ModelKind("embedding", "Embeddings", "textual-inversion embeddings"),
    ModelKind("hypernetwork", "Hypernetwork", "hypernetworks"),
    ModelKind("controlnet", "ControlNet", "ControlNet models"),
    ModelKind("t2i-adapter", "T2IAdapter", "T2I adapters"),
    ModelKind("ipadapter", "IpAdapter", "IP-Adapter models"),
    ModelKind("clip-vision", "ClipVision", "CLIP vision encoders"),
    ModelKind("text-encoder", "TextEncoders", "text encoders (CLIP, T5)"),
    ModelKind("motion-module", "AnimateDiff", "AnimateDiff motion modules"),
    ModelKind("motion-lora", "AnimateDiffMotionLora", "AnimateDiff motion LoRAs"),
    ModelKind("upscaler", "ESRGAN", "ESRGAN-family upscalers"),
    ModelKind("realesrgan", "RealESRGAN", "Real-ESRGAN upscalers"),
    ModelKind("swinir", "SwinIR", "SwinIR upscalers"),
    ModelKind("gfpgan", "GFPGAN", "GFPGAN face restorers"),
    ModelKind("codeformer", "Codeformer", "CodeFormer face restorers"),
    ModelKind("style-model", "StyleModels", "style models"),
    ModelKind("gligen", "GLIGEN", "GLIGEN models"),
    ModelKind("upscale-other", "BSRGAN", "BSRGAN upscalers"),
    ModelKind("deepdanbooru", "DeepDanbooru", "DeepDanbooru taggers"),
    ModelKind("adetailer", "AfterDetailer", "ADetailer detection models"),
    ModelKind("ultralytics", "Ultralytics", "Ultralytics detection models"),
    ModelKind("sam", "Sams", "Segment-Anything models"),
    ModelKind("svd", "SVD", "Stable Video Diffusion models"),
)

KINDS_BY_NAME: dict[str, ModelKind] = {k.name: k for k in MODEL_KINDS}
KIND_NAMES: tuple[str, ...] = tuple(k.name for k in MODEL_KINDS)
STORE_FOLDERS: tuple[str, ...] = tuple(k.folder for k in MODEL_KINDS)


# Weights, by file type: what a store folder holds besides sidecars (Stability Matrix's
# .cm-info.json, .preview.png/.jpeg previews, .txt notes), which are never models.
MODEL_SUFFIXES: tuple[str, ...] = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin",
                                   ".gguf", ".onnx", ".pkl", ".h5", ".msgpack", ".engine")


def is_model_file(name: str) -> bool:
    """True for a weights file name (not a sidecar, not hidden)."""
    return not name.startswith(".") and name.lower().endswith(MODEL_SUFFIXES)


def kind_for_folder(folder: str) -> ModelKind | None:
    for kind in MODEL_KINDS:
        if kind.folder.lower() == folder.lower():
            return kind
    return None
