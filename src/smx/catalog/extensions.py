"""Known extensions, resolved per package kind: `smx ext add animatediff` picks the right repo.

Facts come from each extension's own README and sources, named next to each entry (read from
snapshots: continue-revolution/sd-webui-animatediff a88e889 (master, 2024-09) and b20f751
(forge/master, 2024-03), Mikubill/sd-webui-controlnet 56cec5b (2024-07),
Kosinkadink/ComfyUI-AnimateDiff-Evolved d8d163c (2026-03), lllyasviel/stable-diffusion-webui-forge
dfdcbab (2025-06), Comfy-Org/ComfyUI a125cd8 (2025-10)). The extension style of a package
(a1111 or comfyui) and its extension folder come from catalog.packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelWiring:
    """How an extension finds one store kind's models when neither a package flag nor a
    package config key covers it. Tried in order: the extension's own ``setting`` in the
    package's settings file (A1111 ``config.json``), then a link of the extension's own
    ``folder`` to the store folder (the last resort: see smx.extensions.links)."""

    kind: str  # catalog.model_kinds name
    setting: str | None = None  # key in A1111/Forge config.json
    folder: str | None = None  # the extension's own model folder, relative to the extension


@dataclass(frozen=True)
class ExtensionVariant:
    git: str | None  # None: built into the package (say so instead of cloning)
    ref: str | None = None  # the ref to check out by default (None: the default branch)
    note: str = ""
    models: tuple[ModelWiring, ...] = ()
    # paths the package checkout must have for this variant to load at all, and why
    needs: tuple[str, ...] = ()
    needs_why: str = ""


@dataclass(frozen=True)
class KnownExtension:
    name: str
    title: str
    variants: dict[str, ExtensionVariant] = field(default_factory=dict)  # package name -> variant


# sd-webui-animatediff scripts/animatediff_mm.py get_model_dir(): the motion-module folder is
# shared.opts.data["animatediff_model_path"] (config.json; a relative path resolves against the
# web UI's working folder), else the extension's own model/ (model/*.* is gitignored).
_ANIMATEDIFF_A1111_MODELS = (
    ModelWiring("motion-module", setting="animatediff_model_path", folder="model"),
)

KNOWN_EXTENSIONS: dict[str, KnownExtension] = {
    "animatediff": KnownExtension(
        name="animatediff",
        title="AnimateDiff",
        variants={
            # README: needs WebUI >= 1.6.0 and ControlNet >= 1.1.410 for V2V/prompt travel;
            # mm_sdxl_v10_beta.ckpt since v1.12.0 (with --disable-safe-unpickle).
            "a1111": ExtensionVariant(
                "https://github.com/continue-revolution/sd-webui-animatediff.git",
                models=_ANIMATEDIFF_A1111_MODELS),
            # README: "Forge users should either checkout branch forge/master in this
            # repository or use sd-forge-animatediff. They will be in sync." That code imports
            # ldm_patched and modules_forge.unet_patcher (forge/master motion_module.py,
            # scripts/animatediff_mm.py), which Forge dropped in its 2.0 rewrite (2024-08; not
            # in dfdcbab): "No module named 'ldm_patched'" at start, sd-forge-animatediff
            # issues #20 and #22. So smx checks the Forge checkout first.
            "forge": ExtensionVariant(
                "https://github.com/continue-revolution/sd-forge-animatediff.git",
                models=_ANIMATEDIFF_A1111_MODELS,
                needs=("ldm_patched", "modules_forge/unet_patcher.py"),
                needs_why="it imports ldm_patched and modules_forge.unet_patcher, which Forge "
                          "removed in its 2.0 rewrite (2024-08)"),
            # animatediff/utils_model.py registers the folder keys animatediff_models and
            # animatediff_motion_lora with add_model_folder_path (appends, so the paths of
            # smx's extra_model_paths yaml stay). pyproject.toml [tool.comfy]
            # requires-comfyui = ">=0.3.68" at d8d163c.
            "comfyui": ExtensionVariant(
                "https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved.git"),
        },
    ),
    "controlnet": KnownExtension(
        name="controlnet",
        title="ControlNet",
        variants={
            # preload.py adds --controlnet-dir (smx launch passes it while the extension is
            # present and enabled); install.py pip-installs requirements.txt via launch.run_pip.
            "a1111": ExtensionVariant("https://github.com/Mikubill/sd-webui-controlnet.git"),
            # Forge dfdcbab: extensions-builtin/sd_forge_controlnet, and modules_forge/config.py
            # always_disabled_extensions lists sd-webui-controlnet (never loaded).
            "forge": ExtensionVariant(
                None, note="Forge has ControlNet built in (extensions-builtin/"
                           "sd_forge_controlnet); smx points it at Data/Models/ControlNet with "
                           "--controlnet-dir."),
            # ComfyUI's core loads ControlNet models (folder key controlnet); the node pack
            # adds the preprocessors.
            "comfyui": ExtensionVariant(
                "https://github.com/Fannovel16/comfyui_controlnet_aux.git",
                note="ControlNet preprocessors; ComfyUI's core loads the ControlNet models."),
        },
    ),
    "deforum": KnownExtension(
        name="deforum",
        title="Deforum",
        variants={
            # install.py pip-installs requirements.txt; depth/FILM models go to models/Deforum.
            "a1111": ExtensionVariant("https://github.com/deforum-art/sd-webui-deforum.git"),
        },
    ),
}

# Extension folders a package never loads, whatever its settings say: Forge dfdcbab
# modules_forge/config.py always_disabled_extensions (used by modules/launch_utils.py
# list_extensions and modules/extensions.py). Adding one would fail silently.
NEVER_LOADED: dict[str, dict[str, str]] = {
    "forge": {
        "sd-webui-controlnet": "ControlNet is built into Forge (sd_forge_controlnet; "
                               "modules_forge/config.py always_disabled_extensions)",
        "multidiffusion-upscaler-for-automatic1111": "modules_forge/config.py "
                                                     "always_disabled_extensions lists it",
        "forge_space_example": "modules_forge/config.py always_disabled_extensions lists it",
    },
}


def known_extension_names() -> tuple[str, ...]:
    return tuple(KNOWN_EXTENSIONS)


def normalize_git_url(url: str) -> str:
    """For comparing URLs: no trailing slash or .git, lower case."""
    return url.strip().rstrip("/").removesuffix(".git").lower()


def known_by_url(url: str, package: str) -> tuple[KnownExtension, ExtensionVariant] | None:
    """The known extension whose repository is ``url``, with its variant for ``package`` (a
    catalog package name) when that variant is this repository, else the variant that is (an
    A1111 extension added to Forge by URL keeps its model wiring)."""
    wanted = normalize_git_url(url)
    for known in KNOWN_EXTENSIONS.values():
        matching = [(pkg, v) for pkg, v in known.variants.items()
                    if v.git and normalize_git_url(v.git) == wanted]
        if matching:
            own = [v for pkg, v in matching if pkg == package]
            return known, (own[0] if own else matching[0][1])
    return None


# Model files that the A1111 family's own pickle check (modules/safe.py, on unless
# --disable-safe-unpickle) refuses although they are the real thing (webui-reference.md §5:
# sd-webui-animatediff README, "AnimateDiff XL": needs --disable-safe-unpickle).
SAFE_UNPICKLE_REFUSES: dict[str, str] = {
    "mm_sdxl_v10_beta.ckpt": "the SDXL AnimateDiff motion module",
}
