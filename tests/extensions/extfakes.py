"""Shared pieces of the extension tests: the real URLs the fakes answer at, the files of the
fake web UIs and extensions, an installed package's paths, and "nothing changed" snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.webuis import a1111_core, comfyui_main
from smx.catalog.packages import PACKAGES

ANIMATEDIFF_URL = "https://github.com/continue-revolution/sd-webui-animatediff"
CONTROLNET_URL = "https://github.com/Mikubill/sd-webui-controlnet"
ADE_URL = "https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved"
NODES_URL = "https://github.com/someone/ComfyUI-some-nodes"  # a node pack at an unknown URL
NOT_A_REPO_URL = "https://github.com/someone/not-a-repo"

_LAUNCH_UTILS = '''\
import importlib.util
import subprocess
import sys

python = sys.executable


def is_installed(package):
    return importlib.util.find_spec(package) is not None


def run_pip(command, desc=None, live=False):
    # A1111 modules/launch_utils.py: `"{python}" -m pip {command} --prefer-binary`
    if desc:
        print("Installing " + desc)
    subprocess.run(f'"{python}" -m pip {command} --prefer-binary', shell=True, check=True)
'''

_LAUNCH = '''\
from modules import launch_utils

is_installed = launch_utils.is_installed
run_pip = launch_utils.run_pip

if __name__ == "__main__":
    print("Running on local URL:  http://127.0.0.1:7860")
'''

# install.py of the fake A1111 extension: like the real ones, it imports the web UI's launch
# module and installs what is missing; it also records how it was started.
A1111_INSTALL = '''\
import json
import os
import sys

import launch

with open(os.path.join(os.path.dirname(__file__), "install-ran.json"), "w") as handle:
    json.dump({"cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH", ""),
               "python": sys.executable}, handle)
if not launch.is_installed("smx_ext_dep"):
    launch.run_pip("install smx-ext-dep==1.0", "smx-ext-dep")
'''

NODE_INSTALL = '''\
import os

with open("install-ran.txt", "w") as handle:
    handle.write(os.getcwd())
'''


def a1111_files() -> dict[str, str]:
    return {**a1111_core(), "launch.py": _LAUNCH,
            "modules/launch_utils.py": _LAUNCH_UTILS,
            "requirements_versions.txt": "torch==2.1.2\n",
            ".gitignore": "/venv/\n/config.json\n/extensions/\n"}


def comfyui_files() -> dict[str, str]:
    return {"main.py": comfyui_main(),
            "comfyui_version.py": '__version__ = "0.3.64"\n', "nodes.py": "",
            ".gitignore": "/venv/\n/custom_nodes/\n"}


@dataclass
class Installed:
    env: Path
    name: str
    source: str
    commit: str

    @property
    def checkout(self) -> Path:
        return self.env / "Data" / "Packages" / self.name

    @property
    def python(self) -> Path:
        return self.checkout / "venv" / "bin" / "python"

    def ext_dir(self, folder: str) -> Path:
        return self.checkout / PACKAGES[self.source].extensions_dir / folder


def venv_has(python: Path, module: str) -> bool:
    import subprocess

    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) " \
           "else 1)"
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


def state_of(env: Path) -> dict[str, object]:
    """Everything a failed command must leave as it was."""
    files = {name: (env / name).read_bytes() if (env / name).exists() else None
             for name in ("smx.toml", "smx.lock")}
    packages = env / "Data" / "Packages"
    listing = sorted(str(p.relative_to(env)) for p in packages.rglob("*")
                     if "venv" not in p.relative_to(packages).parts[1:2]
                     and ".git" not in p.parts)
    venvs = sorted(str(p.relative_to(env)) for p in packages.glob("*/venv/lib/*/site-packages/*"))
    staging = env / "Data" / ".smx" / "extensions"
    leftovers = sorted(str(p) for p in staging.rglob("*") if p.is_dir()) \
        if staging.is_dir() else []
    return {"files": files, "packages": listing, "venvs": venvs, "staging": leftovers}
