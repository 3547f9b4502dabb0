"""Shared pieces of the reproducibility tests: the fake web UI and node pack files, the models
the hub serves, and the smx.toml of the test environment."""

from __future__ import annotations

from pathlib import Path

from helpers.fakehub import FakeHub
from helpers.payloads import safetensors_bytes
from helpers.webuis import comfyui_main
from smx.catalog.packages import PACKAGES

COMFYUI = PACKAGES["comfyui"]
NODES_URL = "https://github.com/someone/ComfyUI-some-nodes"
KiB = 1024


# --- a web UI and a node pack, upstream -------------------------------------------------------
def comfyui_files(requirement: str = "smx-fake-dep") -> dict[str, str]:
    return {
        "main.py": comfyui_main("torch, torchvision, torchaudio, smx_fake_dep"),
        "requirements.txt": f"torch\ntorchvision\ntorchaudio\n{requirement}\n",
        "comfyui_version.py": '__version__ = "0.3.64"\n',
        "comfy/__init__.py": "",
        ".gitignore": "/venv/\n/custom_nodes/\n",
    }


def node_files(requirement: str = "smx-node-dep==1.0") -> dict[str, str]:
    return {"__init__.py": "NODE_CLASS_MAPPINGS = {}\n", "requirements.txt": f"{requirement}\n"}


# --- models on the hub ------------------------------------------------------------------------
CIVITAI_MODEL = 1001
HF_REPO = "someone/motion"


def checkpoint_v1() -> bytes:
    return safetensors_bytes(96 * KiB, seed=1)


def motion_v1() -> bytes:
    return safetensors_bytes(64 * KiB, family=None, seed=2)


def publish_v1(hub: FakeHub) -> None:
    """What every hub (and its mirror) serves at first: the same ids, commits and bytes."""
    hub.civitai_publish(CIVITAI_MODEL, 2001, checkpoint_v1(), name="v1",
                        filename="anima_v1.safetensors")
    hub.hf_commit(HF_REPO, {"mm.safetensors": motion_v1()})


# --- environments -----------------------------------------------------------------------------
MANIFEST = f"""\
[env]
name = "repro"

[torch]
backend = "cpu"
index = "pip"

[packages.comfyui]
source = "comfyui"
ref = "main"

[packages.comfyui.extensions]
nodes = {{ git = "{NODES_URL}", ref = "main" }}

[models]
anima = {{ source = "civitai:{CIVITAI_MODEL}" }}
mm = {{ source = "hf:{HF_REPO}/mm.safetensors", kind = "motion-module" }}
"""


def new_env(root: Path, manifest: str = MANIFEST) -> Path:
    from smx.environment.env import init_env

    root.mkdir(parents=True, exist_ok=True)
    (root / "smx.toml").write_text(manifest, encoding="utf-8")
    init_env(root)
    return root


