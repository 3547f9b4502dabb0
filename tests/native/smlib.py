"""A Stability Matrix library laid out as the real one (Data/Packages git checkouts with venvs and
extensions, Data/Models with Civitai sidecars), built on the spot for the adoption tests."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers.gitrepo import GitRepo, git

A1111_URL = "https://github.com/AUTOMATIC1111/stable-diffusion-webui.git"
COMFY_FORK_URL = "https://github.com/someone/ComfyUI-fork.git"
SECRET = "ghp_adoptsecret0123456789"


@dataclass
class SmLibrary:
    """What the test put in the library, to compare with what smx registered."""

    root: Path  # the folder that contains Data/
    repos: dict[str, GitRepo] = field(default_factory=dict)
    models: dict[str, bytes] = field(default_factory=dict)  # Data/Models-relative path → bytes

    @property
    def data(self) -> Path:
        return self.root / "Data"

    def sha256(self, rel: str) -> str:
        return hashlib.sha256(self.models[rel]).hexdigest()


def _venv_with_torch(folder: Path, torch_version: str) -> None:
    """A real venv (no pip: fast) whose site-packages holds a torch distribution's metadata,
    as a Stability Matrix install leaves it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next(folder.glob("lib/python3*/site-packages"), None) or folder / "Lib/site-packages"
    for name, version in (("torch", torch_version), ("torchvision", "0.16.2+cu121"),
                          ("safetensors", "0.4.2")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\n"
                                       f"Version: {version}\n")


def _model(lib: SmLibrary, rel: str, size: int, seed: int) -> Path:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    lib.models[rel] = data[:size]
    path = lib.data / "Models" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lib.models[rel])
    return path


def build_sm_library(tmp_path: Path) -> SmLibrary:
    """~/StabilityMatrix/Data with A1111 (tag, extensions, venv), a ComfyUI fork (branch,
    custom nodes), an unsupported package, a folder with an unusable name, Civitai-connected
    and local models, nested models and a folder with no smx kind."""
    lib = SmLibrary(tmp_path / "StabilityMatrix")
    packages = lib.data / "Packages"

    a1111 = GitRepo.create(packages / "stable-diffusion-webui",
                           {"launch.py": "# launch\n", "webui.py": "# webui\n",
                            "modules/shared.py": "# shared\n"}, tag="v1.10.1", branch="master")
    git("remote", "add", "origin", A1111_URL, cwd=a1111.path)
    (a1111.path / "config.json").write_text(json.dumps({"disabled_extensions": ["old-ext"]}))
    controlnet = GitRepo.create(a1111.path / "extensions" / "sd-webui-controlnet",
                                {"preload.py": "# flags\n"})
    # cloned with a token in the URL: the token must not reach smx.toml, smx.lock or output
    git("remote", "add", "origin",
        f"https://user:{SECRET}@github.com/Mikubill/sd-webui-controlnet", cwd=controlnet.path)
    old = GitRepo.create(a1111.path / "extensions" / "old-ext", {"install.py": "\n"})
    git("remote", "add", "origin", "https://github.com/someone/old-ext", cwd=old.path)
    (a1111.path / "extensions" / "copied-by-hand").mkdir()
    renamed = GitRepo.create(a1111.path / "extensions" / "my-deforum", {"install.py": "\n"})
    git("remote", "add", "origin", "https://github.com/deforum-art/sd-webui-deforum",
        cwd=renamed.path)
    _venv_with_torch(a1111.path / "venv", "2.1.2+cu121")
    lib.repos["a1111"] = a1111

    comfy = GitRepo.create(packages / "ComfyUI",
                           {"main.py": "# main\n", "folder_paths.py": "# paths\n",
                            "comfy/sd.py": "# sd\n", "custom_nodes/example_node.py.example": ""},
                           branch="master")
    git("remote", "add", "origin", COMFY_FORK_URL, cwd=comfy.path)
    evolved = GitRepo.create(comfy.path / "custom_nodes" / "ComfyUI-AnimateDiff-Evolved",
                             {"__init__.py": "\n"})
    git("remote", "add", "origin", "https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved",
        cwd=evolved.path)
    lib.repos["comfyui"] = comfy

    invoke = GitRepo.create(packages / "InvokeAI", {"pyproject.toml": "[project]\n"})
    git("remote", "add", "origin", "https://github.com/invoke-ai/InvokeAI.git", cwd=invoke.path)
    spaced = GitRepo.create(packages / "My Forge", {"launch.py": "\n", "webui.py": "\n",
                                                    "modules_forge/x.py": "\n"})
    git("remote", "add", "origin", "https://github.com/lllyasviel/stable-diffusion-webui-forge",
        cwd=spaced.path)

    settings = {
        "Version": 1,
        "InstalledPackages": [
            {"Id": "3f0c1c7e-0000-0000-0000-000000000001", "DisplayName": "stable-diffusion-webui",
             "PackageName": "stable-diffusion-webui",
             "Version": {"InstalledReleaseVersion": "v1.10.1"},
             "LibraryPath": "Packages/stable-diffusion-webui", "LaunchArgs": []},
            {"Id": "3f0c1c7e-0000-0000-0000-000000000002", "DisplayName": "ComfyUI",
             "PackageName": "ComfyUI",
             "Version": {"InstalledBranch": "master", "InstalledCommitSha": comfy.head},
             "LibraryPath": "Packages\\ComfyUI"},
            {"Id": "3f0c1c7e-0000-0000-0000-000000000003", "DisplayName": "InvokeAI",
             "PackageName": "InvokeAI", "LibraryPath": "Packages/InvokeAI"},
        ],
        "ActiveInstalledPackage": "3f0c1c7e-0000-0000-0000-000000000001",
    }
    (lib.data / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")

    checkpoint = _model(lib, "StableDiffusion/animaPencilXL_v500.safetensors", 300_000, 1)
    info = {"ModelId": 261336, "VersionId": 597138, "RemoteFileId": 512345,
            "RemoteFileName": "animaPencilXL_v500.safetensors", "ModelName": "Anima Pencil XL",
            "ModelType": "Checkpoint", "BaseModel": "SDXL 1.0", "Source": "Civitai",
            "Hashes": {"SHA256": lib.sha256("StableDiffusion/animaPencilXL_v500.safetensors")
                       .upper()}}
    checkpoint.with_name("animaPencilXL_v500.cm-info.json").write_text(json.dumps(info))
    checkpoint.with_name("animaPencilXL_v500.preview.png").write_bytes(b"\x89PNG")
    _model(lib, "Lora/my lora (v2).safetensors", 40_000, 2)
    tampered = _model(lib, "Lora/edited.safetensors", 20_000, 3)
    tampered.with_name("edited.cm-info.json").write_text(json.dumps(
        {"ModelId": 1, "VersionId": 2, "Hashes": {"SHA256": "0" * 64}}))
    _model(lib, "Lora/characters/nested.safetensors", 10_000, 4)
    _model(lib, "Karlo/prior.bin", 5_000, 5)
    (lib.data / "Models" / "ControlNet").mkdir(parents=True)
    return lib


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``folder``: (inode, size, mtime_ns) — to prove nothing was rewritten."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_size,
                                               p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts}
