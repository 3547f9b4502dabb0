"""Known extensions, resolved per package kind: `smx ext add animatediff` picks the right repo.

Facts from each extension's README and sources (see the per-entry comments); the extension
style of a package (a1111 or comfyui) comes from catalog.packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtensionVariant:
    git: str | None  # None: built into the package (say so instead of cloning)
    note: str = ""
    # store kind -> how the extension finds that kind's models (used by the wiring code)
    model_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnownExtension:
    name: str
    title: str
    variants: dict[str, ExtensionVariant] = field(default_factory=dict)  # package name -> variant


KNOWN_EXTENSIONS: dict[str, KnownExtension] = {
    "animatediff": KnownExtension(
        name="animatediff",
        title="AnimateDiff",
        variants={
            # continue-revolution/sd-webui-animatediff README: motion modules in model/, or the
            # `animatediff_model_path` setting; needs WebUI >= 1.6.0.
            "a1111": ExtensionVariant(
                "https://github.com/continue-revolution/sd-webui-animatediff.git",
                model_kinds=("motion-module", "motion-lora")),
            # sd-webui-animatediff README: "Forge users should either checkout branch
            # forge/master in this repository or use sd-forge-animatediff. They will be in sync."
            "forge": ExtensionVariant(
                "https://github.com/continue-revolution/sd-forge-animatediff.git",
                model_kinds=("motion-module", "motion-lora")),
            # folder keys animatediff_models / animatediff_motion_lora
            "comfyui": ExtensionVariant(
                "https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved.git",
                model_kinds=("motion-module", "motion-lora")),
        },
    ),
    "controlnet": KnownExtension(
        name="controlnet",
        title="ControlNet",
        variants={
            # Mikubill/sd-webui-controlnet preload.py adds --controlnet-dir.
            "a1111": ExtensionVariant("https://github.com/Mikubill/sd-webui-controlnet.git",
                                      model_kinds=("controlnet",)),
            "forge": ExtensionVariant(
                None, note="Forge has ControlNet built in (extensions-builtin/"
                           "sd_forge_controlnet); smx points it at Data/Models/ControlNet."),
            # ComfyUI loads ControlNet models itself; the node pack adds the preprocessors.
            "comfyui": ExtensionVariant(
                "https://github.com/Fannovel16/comfyui_controlnet_aux.git",
                note="ControlNet preprocessors; ComfyUI's core loads the ControlNet models."),
        },
    ),
    "deforum": KnownExtension(
        name="deforum",
        title="Deforum",
        variants={
            "a1111": ExtensionVariant("https://github.com/deforum-art/sd-webui-deforum.git"),
        },
    ),
}


def known_extension_names() -> tuple[str, ...]:
    return tuple(KNOWN_EXTENSIONS)
