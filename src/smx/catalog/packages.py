"""The web UIs smx installs, as data. Adding a web UI is adding an entry here.

Facts come from each project's own sources; the file each fact was read from is named next to
it. Stability Matrix's package classes (StabilityMatrix.Core/Models/Packages/*.cs) were read
for comparison only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TorchRecipe:
    """What to pip-install for torch on one backend, and from which wheel index.

    ``index`` is a short name under https://download.pytorch.org/whl/ (cu121, cu128, rocm6.2,
    cpu) or None for plain PyPI (macOS/MPS). ``requirements`` are pip requirement strings.
    """

    requirements: tuple[str, ...]
    index: str | None


@dataclass(frozen=True)
class KnownFix:
    """A patch for upstream breakage, the way launchers keep old releases installable.

    ``extra_requirements`` are installed after the package's requirements; ``constraints``
    (pip constraint lines) apply to every pip run of the package; ``env`` is set for the install
    step, the smoke check and launches. ``why`` says what broke, where it was seen.
    """

    why: str
    extra_requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExtraRepo:
    """A repository the package's own installer clones on first run (A1111's repositories/).

    smx clones it itself first (with the user's git config, so url.*.insteadOf mirrors apply)
    at the commit the package pins: the value of ``commit_env``'s default in the package's
    ``pins_file`` (read from the checkout, so any ref or fork gets its own pins), else
    ``commit``. A repo whose ``commit_env`` the pins file does not use (commented out, as in
    Forge) is not cloned. The package then finds it present at that commit and fetches nothing.
    """

    folder: str
    url_env: str
    url: str
    commit_env: str
    commit: str | None = None  # fallback pin, from the catalog's default ref


@dataclass(frozen=True)
class PipArchive:
    """A pip package the web UI's installer downloads as a GitHub archive URL
    (``https://github.com/O/R/archive/SHA.zip``), which git mirrors do not cover.

    smx clones ``git`` at the commit named by ``url_env``'s default in the pins file (else
    ``commit``) and pip-installs that clone, so the UI's own check (``is_installed(module)``)
    finds it; ``url_env`` is also pointed at the clone. ``build_requirements`` go in first and
    the clone is built without build isolation (see the package's known fixes for why).
    """

    module: str  # what the UI's installer checks with is_installed()
    url_env: str
    git: str
    commit: str
    build_requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogPackage:
    name: str
    title: str
    git: str
    default_ref: str
    python: str  # a PEP 440 specifier for the interpreter
    preferred_python: str  # the version tried first ("3.10")
    requirements: tuple[str, ...]  # requirement files, relative to the checkout
    torch: dict[str, TorchRecipe]  # backend -> recipe
    entry: tuple[str, ...]  # argv after the venv's python, relative to the checkout
    install_step: tuple[str, ...] = ()  # argv after python that installs everything, then exits
    extensions_dir: str = "extensions"  # relative to the checkout
    extension_style: str = "a1111"  # a1111 | comfyui
    model_wiring: str = "flags"  # flags | extra_model_paths | config_txt
    # kind (catalog.model_kinds) -> the flag that points the UI at that store folder
    model_flags: dict[str, str] = field(default_factory=dict)
    # ComfyUI extra_model_paths.yaml keys / Fooocus config.txt keys per kind
    model_config_keys: dict[str, str] = field(default_factory=dict)
    # what the UI calls the share / listen / port / api features; None = not supported
    share_flag: str | None = "--share"
    listen_flag: str | None = "--listen"
    port_flag: str | None = "--port"
    api_flag: str | None = "--api"
    api_always_on: bool = False  # no flag needed: the UI always serves its API
    default_port: int = 7860
    # a cheap GET that answers once the UI serves (`smx launch --wait`, `smx ps`, the exported
    # image's HEALTHCHECK and Kubernetes probes)
    health_path: str = "/"
    # True when the UI, given no port, takes the next free one (gradio's start_server scans
    # GRADIO_SERVER_PORT..+100); then a busy default port is a warning, not an error.
    finds_free_port: bool = False
    # flag -> the extension (repository name) whose preload.py adds it: passed only when that
    # extension is present and enabled in the checkout.
    flags_from_extensions: dict[str, str] = field(default_factory=dict)
    # how to put a password on the UI when it is shared (None: the UI has none of its own)
    auth_hint: str | None = None
    # the flag that re-opens extension installs from the UI when it is shared (A1111 family)
    extension_access_flag: str | None = None
    # the flag that turns off the UI's own pickle check, added only with [launch]
    # unsafe-pickle-ok = true (SDXL AnimateDiff motion modules are .ckpt pickles)
    unsafe_pickle_flag: str | None = None
    cpu_flags: tuple[str, ...] = ()  # needed to start at all without a GPU
    vram_flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # advice level -> flags
    extra_repos: tuple[ExtraRepo, ...] = ()
    install_env: tuple[tuple[str, str], ...] = ()
    known_fixes: tuple[KnownFix, ...] = ()
    disk_gb: float = 10.0  # checkout + venv with torch, for the pre-install disk check
    # the package file whose os.environ.get('X', "default") lines pin extra_repos/pip_archives
    pins_file: str | None = None
    pip_archives: tuple[PipArchive, ...] = ()
    # How smx checks that the web UI and its extensions load (smx.packages.loadcheck), after
    # every change to the venv: "a1111" (webui.py's start-up with the extension script loader
    # and the UI, headless), "comfyui" (main.py --quick-test-for-ci imports every custom node)
    # or "imports" (import_check below must exit 0).
    loader: str = "imports"
    # argv after the venv's python, run in the checkout: exits 0 when everything the UI
    # imports at start is there (a missing module is named by the error)
    import_check: tuple[str, ...] = ()


_PYTORCH_WHL = "https://download.pytorch.org/whl/"


def torch_index_url(short: str | None) -> str | None:
    return None if short is None else _PYTORCH_WHL + short


# A1111 folder flags, read in AUTOMATIC1111/stable-diffusion-webui modules/cmd_args.py at
# f4cb21bb (dev, 2024-03; these flags date from <= v1.6 and are all still in Forge dfdcbab, which
# tracks A1111 1.10): --ckpt-dir, --vae-dir, --embeddings-dir, --hypernetwork-dir,
# --{codeformer,gfpgan,esrgan,bsrgan,realesrgan}-models-path. --lora-dir and
# --lyco-dir-backcompat come from extensions-builtin/Lora/preload.py (always loaded).
# --controlnet-dir is not core: Mikubill/sd-webui-controlnet preload.py (56cec5b) adds it, so
# it is listed in flags_from_extensions and passed only when that extension is present.
_A1111_MODEL_FLAGS = {
    "checkpoint": "--ckpt-dir",
    "vae": "--vae-dir",
    "lora": "--lora-dir",
    "lycoris": "--lyco-dir-backcompat",
    "embedding": "--embeddings-dir",
    "hypernetwork": "--hypernetwork-dir",
    "upscaler": "--esrgan-models-path",
    "realesrgan": "--realesrgan-models-path",
    "upscale-other": "--bsrgan-models-path",
    "gfpgan": "--gfpgan-models-path",
    "codeformer": "--codeformer-models-path",
    "controlnet": "--controlnet-dir",
}
# A1111 modules/shared_cmd_options.py: share/listen/ngrok/server-name make the UI "non-local",
# which disables installing extensions from the UI unless this flag is given.
_A1111_EXTENSION_ACCESS = "--enable-insecure-extension-access"
_GRADIO_AUTH = "--gradio-auth USER:PASSWORD (or --gradio-auth-path FILE)"

# A1111 v1.10.1 and Forge dfdcbab modules/launch_utils.py prepare_environment: CLIP_PACKAGE and
# OPENCLIP_PACKAGE default to GitHub archive URLs, pip-installed when is_installed() fails.
_A1111_PIP_ARCHIVES = (
    PipArchive("clip", "CLIP_PACKAGE", "https://github.com/openai/CLIP.git",
               "d50d76daa670286dd6cacf3bcd80b5e4823fc8e1",
               build_requirements=("setuptools<81", "wheel")),
    PipArchive("open_clip", "OPENCLIP_PACKAGE", "https://github.com/mlfoundations/open_clip.git",
               "bb6e834e9c70d9c27d0dc3ecedeebeaeb1ffad6b",
               build_requirements=("setuptools<81", "wheel")),
)
_A1111_FIXES = (
    # openai/CLIP's setup.py imports pkg_resources, which setuptools 81 removed; pip's build
    # isolation always takes the newest setuptools, so the build fails ("No module named
    # 'pkg_resources'"). The PipArchive entries above build it without isolation against
    # setuptools<81 in the venv (requirements_versions.txt pins setuptools==69.5.1 anyway).
    KnownFix(why="CLIP's setup.py needs pkg_resources (gone in setuptools>=81)",
             constraints=("setuptools<81",)),
)

PACKAGES: dict[str, CatalogPackage] = {
    "a1111": CatalogPackage(
        name="a1111",
        title="AUTOMATIC1111 Stable Diffusion web UI",
        git="https://github.com/AUTOMATIC1111/stable-diffusion-webui.git",
        default_ref="v1.10.1",
        # modules/launch_utils.py check_python_version: 3.7-3.11 (3.10 on Windows)
        python=">=3.10,<3.12",
        preferred_python="3.10",
        requirements=("requirements_versions.txt",),
        # launch_utils.py prepare_environment: TORCH_COMMAND default (v1.10)
        torch={
            "cuda": TorchRecipe(("torch==2.1.2", "torchvision==0.16.2"), "cu121"),
            "cuda-blackwell": TorchRecipe(("torch>=2.7", "torchvision>=0.22"), "cu128"),
            "rocm": TorchRecipe(("torch==2.1.2", "torchvision==0.16.2"), "rocm5.6"),
            "cpu": TorchRecipe(("torch==2.1.2", "torchvision==0.16.2"), "cpu"),
            "mps": TorchRecipe(("torch==2.1.2", "torchvision==0.16.2"), None),
        },
        entry=("launch.py",),
        # modules/ui.py setup_ui_api: app.add_api_route("/internal/ping", lambda: {})
        health_path="/internal/ping",
        install_step=("launch.py", "--exit", "--skip-torch-cuda-test",
                      "--skip-python-version-check", "--no-download-sd-model"),
        model_flags=_A1111_MODEL_FLAGS,
        flags_from_extensions={"--controlnet-dir": "sd-webui-controlnet"},
        finds_free_port=True,  # cmd_args.py --port: "defaults to 7860 if available"
        auth_hint=_GRADIO_AUTH,
        extension_access_flag=_A1111_EXTENSION_ACCESS,
        unsafe_pickle_flag="--disable-safe-unpickle",  # cmd_args.py
        cpu_flags=("--skip-torch-cuda-test", "--no-half", "--use-cpu", "all"),
        vram_flags={"medvram-sdxl": ("--medvram-sdxl",), "lowvram": ("--lowvram",)},
        # modules/launch_utils.py prepare_environment (v1.10.1): five git_clone()s into
        # repositories/, each pinned by a *_COMMIT_HASH default; the fallback pins below are
        # those defaults. git_clone() returns early when the folder is at that commit.
        extra_repos=(
            ExtraRepo("stable-diffusion-webui-assets", "ASSETS_REPO",
                      "https://github.com/AUTOMATIC1111/stable-diffusion-webui-assets.git",
                      "ASSETS_COMMIT_HASH", "6f7db241d2f8ba7457bac5ca9753331f0c266917"),
            # Stability-AI/stablediffusion was removed from GitHub; w-e-w's copy is the
            # maintained replacement with the same history (Stability Matrix A3WebUI.cs sets
            # the same URL; A1111's dev branch switched to it).
            ExtraRepo("stable-diffusion-stability-ai", "STABLE_DIFFUSION_REPO",
                      "https://github.com/w-e-w/stablediffusion.git",
                      "STABLE_DIFFUSION_COMMIT_HASH", "cf1d67a6fd5ea1aa600c4df58e5b47da45f6bdbf"),
            ExtraRepo("generative-models", "STABLE_DIFFUSION_XL_REPO",
                      "https://github.com/Stability-AI/generative-models.git",
                      "STABLE_DIFFUSION_XL_COMMIT_HASH",
                      "45c443b316737a4ab6e40413d7794a7f5657c19f"),
            ExtraRepo("k-diffusion", "K_DIFFUSION_REPO",
                      "https://github.com/crowsonkb/k-diffusion.git", "K_DIFFUSION_COMMIT_HASH",
                      "ab527a9a6d347f364e3d185ba6d714e22d80cb3c"),
            ExtraRepo("BLIP", "BLIP_REPO", "https://github.com/salesforce/BLIP.git",
                      "BLIP_COMMIT_HASH", "48211a1594f1321b00f14c9f7a5b4813144b2fb9"),
        ),
        disk_gb=12.0,
        pins_file="modules/launch_utils.py",
        pip_archives=_A1111_PIP_ARCHIVES,
        # webui.py: initialize.imports() (torch, gradio, ldm/sgm, the UI modules), then
        # initialize.initialize() loads every extension's scripts (modules/scripts.py
        # load_scripts reports "Error loading script: X"), then ui.create_ui()
        loader="a1111",
        known_fixes=_A1111_FIXES,
    ),
    "forge": CatalogPackage(
        name="forge",
        title="Stable Diffusion WebUI Forge",
        git="https://github.com/lllyasviel/stable-diffusion-webui-forge.git",
        default_ref="dfdcbab685e57677014f05a3309b48cc87383167",
        python=">=3.10,<3.12",
        preferred_python="3.10",
        requirements=("requirements_versions.txt",),
        # Forge modules/launch_utils.py: torch 2.3.1 / torchvision 0.18.1 from cu121
        torch={
            "cuda": TorchRecipe(("torch==2.3.1", "torchvision==0.18.1"), "cu121"),
            "cuda-blackwell": TorchRecipe(("torch>=2.7", "torchvision>=0.22"), "cu128"),
            "rocm": TorchRecipe(("torch==2.3.1", "torchvision==0.18.1"), "rocm6.0"),
            "cpu": TorchRecipe(("torch==2.3.1", "torchvision==0.18.1"), "cpu"),
            "mps": TorchRecipe(("torch==2.3.1", "torchvision==0.18.1"), None),
        },
        entry=("launch.py",),
        # modules/ui.py setup_ui_api: app.add_api_route("/internal/ping", lambda: {})
        health_path="/internal/ping",
        install_step=("launch.py", "--exit", "--skip-torch-cuda-test",
                      "--skip-python-version-check", "--no-download-sd-model"),
        # Forge dfdcbab modules/cmd_args.py: the A1111 flags above plus --text-encoder-dir, and
        # --controlnet-dir in core (ControlNet is built in: extensions-builtin/
        # sd_forge_controlnet), so it needs no extension; --lora-dir and --lyco-dir-backcompat
        # from extensions-builtin/sd_forge_lora/preload.py.
        model_flags={**_A1111_MODEL_FLAGS, "text-encoder": "--text-encoder-dir"},
        finds_free_port=True,
        auth_hint=_GRADIO_AUTH,
        extension_access_flag=_A1111_EXTENSION_ACCESS,  # same check in shared_cmd_options.py
        unsafe_pickle_flag="--disable-safe-unpickle",  # Forge cmd_args.py
        cpu_flags=("--skip-torch-cuda-test", "--always-cpu"),
        vram_flags={"medvram-sdxl": ("--always-low-vram",), "lowvram": ("--always-no-vram",)},
        extra_repos=(
            # Forge dfdcbab modules/launch_utils.py: assets, huggingface_guess and BLIP; the
            # stablediffusion / generative-models / k-diffusion clones are commented out there.
            ExtraRepo("stable-diffusion-webui-assets", "ASSETS_REPO",
                      "https://github.com/AUTOMATIC1111/stable-diffusion-webui-assets.git",
                      "ASSETS_COMMIT_HASH", "6f7db241d2f8ba7457bac5ca9753331f0c266917"),
            ExtraRepo("huggingface_guess", "HUGGINGFACE_GUESS_REPO",
                      "https://github.com/lllyasviel/huggingface_guess.git",
                      "HUGGINGFACE_GUESS_HASH", "84826248b49bb7ca754c73293299c4d4e23a548d"),
            ExtraRepo("BLIP", "BLIP_REPO", "https://github.com/salesforce/BLIP.git",
                      "BLIP_COMMIT_HASH", "48211a1594f1321b00f14c9f7a5b4813144b2fb9"),
        ),
        disk_gb=12.0,
        pins_file="modules/launch_utils.py",
        pip_archives=_A1111_PIP_ARCHIVES,  # same CLIP_PACKAGE / OPENCLIP_PACKAGE pins
        # webui.py (dfdcbab): initialize_forge(), imports() and initialize() at import time;
        # the same script loader and create_ui() as A1111
        loader="a1111",
        known_fixes=(
            *_A1111_FIXES,
            # extensions-builtin/soft-inpainting/scripts/soft_inpainting.py imports joblib
            # (Forge 715c24b "Multithreading softinpainting"), which requirements_versions.txt
            # does not list. Seen when smx installed dfdcbab and started it on 2026-11-26:
            # "ModuleNotFoundError: No module named 'joblib'" while loading scripts.
            KnownFix(why="the built-in soft-inpainting script imports joblib, not listed",
                     extra_requirements=("joblib",)),
        ),
    ),
    "comfyui": CatalogPackage(
        name="comfyui",
        title="ComfyUI",
        git="https://github.com/comfyanonymous/ComfyUI.git",
        # the release commit 63722199 "ComfyUI version 0.3.64" (comfyui_version.py 0.3.64,
        # 2025-10); installed and started by hand with smx on CPU (README: install notes)
        default_ref="v0.3.64",
        # pyproject.toml requires-python >= 3.9; README: "Python 3.13 is very well supported"
        # (3.12 if a custom node's dependencies lag), torch wheels start at 3.10 for cu128.
        python=">=3.10,<3.14",
        preferred_python="3.12",
        requirements=("requirements.txt",),
        torch={
            "cuda": TorchRecipe(("torch", "torchvision", "torchaudio"), "cu128"),
            "cuda-blackwell": TorchRecipe(("torch", "torchvision", "torchaudio"), "cu128"),
            "cuda-legacy": TorchRecipe(("torch", "torchvision", "torchaudio"), "cu126"),
            "rocm": TorchRecipe(("torch", "torchvision", "torchaudio"), "rocm6.3"),
            "cpu": TorchRecipe(("torch", "torchvision", "torchaudio"), "cpu"),
            "mps": TorchRecipe(("torch", "torchvision", "torchaudio"), None),
        },
        entry=("main.py",),
        install_step=(),  # ComfyUI: requirements only (README "Manual Install")
        extensions_dir="custom_nodes",
        extension_style="comfyui",
        model_wiring="extra_model_paths",
        # folder_paths.py keys. utils/extra_config.py load_extra_path_config: each value is a
        # string, split on newlines; a relative path without base_path resolves against the
        # yaml's own folder (read at 0c853f3 and 4328fa8; older releases used the working
        # directory: smx writes the yaml in the checkout and starts ComfyUI there, so both
        # agree).
        model_config_keys={
            "checkpoint": "checkpoints",
            "diffusion-model": "diffusion_models",
            "lora": "loras",
            "lycoris": "loras",
            "vae": "vae",
            "approx-vae": "vae_approx",
            "embedding": "embeddings",
            "hypernetwork": "hypernetworks",
            "controlnet": "controlnet",
            "t2i-adapter": "controlnet",
            "ipadapter": "ipadapter",
            "clip-vision": "clip_vision",
            "text-encoder": "text_encoders",
            "upscaler": "upscale_models",
            "realesrgan": "upscale_models",
            "swinir": "upscale_models",
            "style-model": "style_models",
            "gligen": "gligen",
            "motion-module": "animatediff_models",
            "motion-lora": "animatediff_motion_lora",
        },
        share_flag=None,  # ComfyUI has no --share; use --listen plus a tunnel
        api_flag=None,
        api_always_on=True,  # server.py serves /prompt, /history, … on the UI's port
        default_port=8188,  # comfy/cli_args.py --port; a busy port is an error (no scan)
        health_path="/system_stats",  # server.py: JSON about the machine, no work queued
        cpu_flags=("--cpu",),
        vram_flags={"medvram-sdxl": ("--lowvram",), "lowvram": ("--novram",)},
        disk_gb=8.0,
        # main.py: --quick-test-for-ci loads every node (so every import) and sets up the server,
        # then exits 0 (comfy/cli_args.py); --cpu so it runs on a machine without a GPU.
        # nodes.py load_custom_node logs "Cannot import X module for custom nodes: <error>"
        # and init_external_custom_nodes "(IMPORT FAILED): X" for a node pack that fails.
        loader="comfyui",
        known_fixes=(
            # app/frontend_management.py imports requests, which requirements.txt does not
            # list: it used to arrive through transformers -> huggingface-hub, whose 1.x
            # releases switched to httpx. Seen when smx installed v0.3.64 on 2026-11-26
            # (the smoke check: "No module named 'requests'").
            KnownFix(why="requests is imported but not a listed requirement",
                     extra_requirements=("requests",)),
        ),
    ),
    "fooocus": CatalogPackage(
        name="fooocus",
        title="Fooocus",
        git="https://github.com/lllyasviel/Fooocus.git",
        default_ref="v2.5.5",
        python=">=3.10,<3.12",
        preferred_python="3.10",
        requirements=("requirements_versions.txt",),
        # Fooocus launch.py: torch 2.1.0 / torchvision 0.16.0 from cu121
        torch={
            "cuda": TorchRecipe(("torch==2.1.0", "torchvision==0.16.0"), "cu121"),
            "cuda-blackwell": TorchRecipe(("torch>=2.7", "torchvision>=0.22"), "cu128"),
            "rocm": TorchRecipe(("torch==2.1.0", "torchvision==0.16.0"), "rocm5.6"),
            "cpu": TorchRecipe(("torch==2.1.0", "torchvision==0.16.0"), "cpu"),
            "mps": TorchRecipe(("torch==2.1.0", "torchvision==0.16.0"), None),
        },
        # launch.py starts without entry_with_update.py's self-update (smx pins the commit)
        entry=("launch.py",),
        install_step=(),
        extensions_dir="",
        extension_style="none",
        model_wiring="config_txt",
        # modules/config.py (v2.5.5) path_* keys, lines 191-199: path_checkpoints and
        # path_loras are lists, the others one folder each. config.txt sits in the working
        # directory ("./config.txt", or env config_path) and a relative path_* value is checked
        # with os.path.exists against the working directory.
        model_config_keys={
            "checkpoint": "path_checkpoints",
            "lora": "path_loras",
            "embedding": "path_embeddings",
            "vae": "path_vae",
            "approx-vae": "path_vae_approx",
            "upscaler": "path_upscale_models",
            "controlnet": "path_controlnet",
            "clip-vision": "path_clip_vision",
        },
        api_flag=None,
        # launch.py sets GRADIO_SERVER_PORT=7865 and args_manager.py leaves --port None, so
        # gradio scans up from 7865 (v2.5.5).
        default_port=7865,
        finds_free_port=True,
        # modules/auth.py: with --share/--listen, users from auth.json in the Fooocus folder
        auth_hint='an auth.json in the Fooocus folder: [{"user": "...", "pass": "..."}]',
        cpu_flags=("--always-cpu",),
        vram_flags={"medvram-sdxl": ("--always-low-vram",), "lowvram": ("--always-no-vram",)},
        disk_gb=10.0,
        # Fooocus has no install-only switch: launch.py's prepare_environment() installs torch
        # and requirements_versions.txt, then starts downloading models. Installing both up
        # front makes its checks (is_installed, requirements_met) pass, so that is the whole
        # install. The smoke check parses Fooocus's arguments (args_manager, with the CPU
        # flags on CPU) and imports its heavy dependencies from requirements_versions.txt;
        # not modules.config, which would write config.txt (smx's launcher writes that one).
        # Read against v2.5.5 (8da1d3f); not installed by hand here.
        loader="imports",
        import_check=("-c", "import args_manager, modules.flags, gradio, torch, torchvision, "
                            "transformers, cv2, onnxruntime, pygit2"),
    ),
}


def get_package(name: str) -> CatalogPackage:
    import difflib

    from smx.errors import NotFound

    try:
        return PACKAGES[name]
    except KeyError:
        close = [name.lower()] if name.lower() in PACKAGES else \
            difflib.get_close_matches(name.lower(), list(PACKAGES), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(PACKAGES)}"
        raise NotFound(f"unknown package {name!r}", hint=hint, code="package.unknown") from None


def missing_package_hint(typed: str, present: list[str], *, install: bool = True) -> str:
    """The hint for "no package TYPED in smx.toml": a close name in the env, else what is
    there, else how to install one (`smx install TYPED` only when TYPED is a catalog name).
    ``install=False`` for commands where installing makes no sense (remove)."""
    import difflib

    close = difflib.get_close_matches(typed, present, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    if present:
        return f"packages in smx.toml: {', '.join(present)}"
    if not install:
        return "smx.toml lists no packages"
    if typed.lower() in PACKAGES:
        return f"install it first: smx install {typed.lower()}"
    return f"install a web UI first, e.g. smx install comfyui (catalog: {', '.join(PACKAGES)})"
