"""Which kind a model is, and which base family (SD 1.5, SDXL…) it belongs to.

Kinds are the names of :mod:`smx.catalog.model_kinds`. Civitai says the kind (``type``); for
other sources the user says it (``--kind`` or smx.toml), or a file-name rule decides when
exactly one rule matches. Never a silent guess: no match or two matches means asking.
"""

from __future__ import annotations

import re

from smx.catalog.model_kinds import KIND_NAMES

# Civitai ModelType -> kind (packages/civitai-db-schema enums).
CIVITAI_TYPES: dict[str, str] = {
    "Checkpoint": "checkpoint",
    "LORA": "lora",
    "LoCon": "lora",
    "DoRA": "lora",
    "TextualInversion": "embedding",
    "Hypernetwork": "hypernetwork",
    "VAE": "vae",
    "Controlnet": "controlnet",
    "MotionModule": "motion-module",
    "Upscaler": "upscaler",
    "TextEncoder": "text-encoder",
    "CLIP": "text-encoder",
    "UNet": "diffusion-model",
    "CLIPVision": "clip-vision",
    "Detection": "adetailer",
}

# Civitai files[].type that name their own kind, whatever the model's type (a Checkpoint
# version often carries its VAE as a second file).
CIVITAI_FILE_TYPES: dict[str, str] = {
    "VAE": "vae",
    "Text Encoder": "text-encoder",
    "Vision Encoder": "clip-vision",
    "CLIPVision": "clip-vision",
    "UNet": "diffusion-model",
    "Diffusion Model": "diffusion-model",
    "ControlNet": "controlnet",
    "Upscaler": "upscaler",
}
# files[].type that are not model weights at all.
CIVITAI_NON_MODEL_FILES = ("Config", "Training Data", "Archive", "Workflow", "Negative")

# File-name rules: (kind, pattern on the lower-cased file name).
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("motion-module", re.compile(r"(^mm_|_mm[_.]|motion[_-]?module|animatediff)")),
    ("motion-lora", re.compile(r"^v2_lora_")),
    ("controlnet", re.compile(r"(^control_|controlnet|control[_-]?lora)")),
    ("t2i-adapter", re.compile(r"t2i[_-]?adapter")),
    ("ipadapter", re.compile(r"ip[_-]?adapter")),
    ("clip-vision", re.compile(r"clip[_-]?vision")),
    ("vae", re.compile(r"(^|[_.-])vae([_.-]|$)")),
    ("lora", re.compile(r"(^|[_.-])lora([_.-]|$)")),
    ("realesrgan", re.compile(r"realesrgan")),
    ("upscaler", re.compile(r"((?<!real)esrgan|ultrasharp|^4x[_-]|^2x[_-]|_4x\.)")),
    ("codeformer", re.compile(r"codeformer")),
    ("gfpgan", re.compile(r"gfpgan")),
)


def kind_from_civitai(model_type: str | None, file_type: str | None) -> str | None:
    if file_type in CIVITAI_NON_MODEL_FILES:
        return None  # a config or training archive: the user says what it is, if anything
    if file_type in CIVITAI_FILE_TYPES:
        return CIVITAI_FILE_TYPES[file_type]
    return CIVITAI_TYPES.get(model_type or "")


def kind_from_filename(filename: str) -> tuple[str | None, list[str]]:
    """(the kind, when exactly one rule matches; every kind that matched)."""
    name = filename.lower()
    matches = [kind for kind, pattern in _NAME_RULES if pattern.search(name)]
    # the motion-module rule also sees "_mm." in motion LoRAs' names: the narrower rule wins
    if "motion-lora" in matches and "motion-module" in matches:
        matches.remove("motion-module")
    return (matches[0] if len(matches) == 1 else None), matches


def is_kind(name: str) -> bool:
    return name in KIND_NAMES


# --- base families ---------------------------------------------------------------------------
_SDXL_WORDS = ("sdxl", "pony", "illustrious", "noobai", "playground v2")


def base_family(base: str | None) -> str | None:
    """Civitai's baseModel (or a header's architecture) -> a coarse family for compatibility:
    "SD 1.x", "SD 2.x", "SDXL", "SD 3", "Flux"; None when unknown."""
    if not base:
        return None
    text = base.lower()
    if any(word in text for word in _SDXL_WORDS) or "stable-diffusion-xl" in text:
        return "SDXL"
    if re.search(r"\bsd\s*1(\.\d)?\b|stable-diffusion-v1|^sd_v1|sd15", text):
        return "SD 1.x"
    if re.search(r"\bsd\s*2(\.\d)?\b|stable-diffusion-v2|^sd_v2", text):
        return "SD 2.x"
    if re.search(r"\bsd\s*3|stable-diffusion-v3|sd3", text):
        return "SD 3"
    if "flux" in text:
        return "Flux"
    return None


def family_from_filename(filename: str) -> str | None:
    """A base family stated in a file name (mm_sdxl_v10_beta, v3_sd15_mm, …)."""
    name = filename.lower()
    if re.search(r"sdxl|(^|[_-])xl([_.-]|$)", name):
        return "SDXL"
    if re.search(r"sd_?v?1[._]?5|sd15|sd_v1[45]", name):
        return "SD 1.x"
    return None
