"""Small stand-ins for the real web UIs, built as real git repositories.

They behave like the real ones where smx depends on it, and treat any download as a failure
(the tests have no network):

- fake A1111 (``launch.py --exit``): like modules/launch_utils.py prepare_environment(), it
  checks torch, CLIP and open_clip are importable, that each repositories/<folder> it pins is
  checked out at its pinned commit, that the replacement STABLE_DIFFUSION_REPO is set, and that
  every ``==`` requirement is met; otherwise it prints "NETWORK NEEDED: …" and exits 3. Its pins
  are ``os.environ.get('X', "default")`` lines, one commented out (as Forge does).
- fake ComfyUI (``main.py --quick-test-for-ci``): imports its requirements and exits 0.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.gitrepo import GitRepo, map_url
from helpers.webuis import a1111_core, comfyui_main
from helpers.wheels import inline_backend_project
from smx.catalog.packages import PACKAGES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


SLOW_SIGNAL_ENV = "SMX_TEST_BUILD_SIGNAL"  # makes the smx-slow-build sdist wait (kill test)
A1111 = PACKAGES["a1111"]
COMFYUI = PACKAGES["comfyui"]
# repositories/ the fake A1111 pins (k-diffusion's pin is commented out, so smx must skip it)
A1111_REPOS = [r for r in A1111.extra_repos if r.folder != "k-diffusion"]

_LAUNCH_UTILS = '''\
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys

script_path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_installed(package):
    return importlib.util.find_spec(package) is not None


def fail(what):
    print("NETWORK NEEDED: " + what, flush=True)
    sys.exit(3)


def prepare_environment():
{pins}
    if not is_installed("torch") or not is_installed("torchvision"):
        fail("pip install torch")
    if not is_installed("clip"):
        fail("pip install " + clip_package)
    if not is_installed("open_clip"):
        fail("pip install " + openclip_package)
    for folder, url, commit in [{repos}]:
        path = os.path.join(script_path, "repositories", folder)
        if not os.path.isdir(path):
            fail("git clone " + url)
        head = subprocess.check_output(["git", "-C", path, "rev-parse", "HEAD"], text=True)
        if head.strip() != commit:
            fail("git fetch " + url)
    if "Stability-AI/stablediffusion" in stable_diffusion_repo:
        fail("git clone " + stable_diffusion_repo + " (removed from GitHub)")
    with open(os.path.join(script_path, "requirements_versions.txt")) as handle:
        for line in handle:
            name, _, version = line.split("#")[0].strip().partition("==")
            if version and importlib.metadata.version(name) != version:
                fail("pip install -r requirements_versions.txt")
    with open(os.path.join(script_path, "launch-ran.txt"), "w") as handle:
        handle.write("prepare_environment ran\\n")
    with open(os.path.join(script_path, "launch-env.json"), "w") as handle:
        json.dump({{k: os.environ.get(k) for k in ("PIP_UPLOADED_PRIOR_TO", "UV_EXCLUDE_NEWER",
                                                   "PIP_CONSTRAINT", "UV_CONSTRAINT")}}, handle)
    # like Forge's built-in preprocessors: more packages, unpinned; a failure is only printed
    extra = os.path.join(script_path, "extra-install.txt")
    if os.path.isfile(extra):
        with open(extra) as handle:
            wanted = handle.read().split()
        for requirement in wanted:
            done = subprocess.run([sys.executable, "-m", "pip", "install", requirement])
            if done.returncode != 0:
                print("Couldn't install " + requirement + ".")
    if "--exit" in sys.argv:
        print("Exiting because of --exit argument")
        sys.exit(0)
'''

_A1111_LAUNCH = '''\
import sys

from modules import launch_utils

if "--skip-prepare-environment" not in sys.argv:
    launch_utils.prepare_environment()
print("Running on local URL:  http://127.0.0.1:7860")
'''


@dataclass
class Upstream:
    """The fake upstream repositories of one test, reachable at the catalog's real URLs."""

    a1111: GitRepo
    comfyui: GitRepo
    extras: dict[str, GitRepo]  # commit env -> repo
    archives: dict[str, GitRepo]  # url env -> repo

    def map_all(self) -> None:
        map_url(A1111.git, self.a1111)
        map_url(COMFYUI.git, self.comfyui)
        for repo in A1111_REPOS:
            map_url(repo.url, self.extras[repo.commit_env])
        for archive in A1111.pip_archives:
            map_url(archive.git, self.archives[archive.url_env])


def a1111_files(pins: dict[str, str], requirements: str = "smx-fake-dep==1.0\n",
                imports: str = "torch, torchvision, smx_fake_dep, clip, open_clip",
                ) -> dict[str, str]:
    lines = []
    for repo in A1111.extra_repos:
        var = repo.commit_env.lower()
        url_var = repo.url_env.lower()
        default_url = ("https://github.com/Stability-AI/stablediffusion.git"
                       if repo.url_env == "STABLE_DIFFUSION_REPO" else repo.url)
        comment = "# " if repo.folder == "k-diffusion" else ""
        lines.append(f"    {url_var} = os.environ.get('{repo.url_env}', \"{default_url}\")")
        lines.append(f"    {comment}{var} = os.environ.get('{repo.commit_env}', "
                     f"\"{pins.get(repo.commit_env, '0' * 40)}\")")
    for archive in A1111.pip_archives:
        owner_repo = archive.git.removeprefix("https://github.com/").removesuffix(".git")
        var = "clip_package" if archive.module == "clip" else "openclip_package"
        lines.append(f"    {var} = os.environ.get('{archive.url_env}', "
                     f"\"https://github.com/{owner_repo}/archive/{pins[archive.url_env]}.zip\")")
    repos = ", ".join(f"({r.folder!r}, {r.url_env.lower()}, {r.commit_env.lower()})"
                      for r in A1111_REPOS)
    return {
        **a1111_core(imports),
        "launch.py": _A1111_LAUNCH,
        "modules/launch_utils.py": _LAUNCH_UTILS.format(pins="\n".join(lines), repos=repos),
        "requirements_versions.txt": requirements,
        ".gitignore": "/repositories/\n/launch-ran.txt\n/launch-env.json\n",
    }


def comfyui_files(requirements: str = "torch\ntorchvision\ntorchaudio\nsmx-fake-dep\n",
                  imports: str = "torch, torchvision, torchaudio, smx_fake_dep") -> dict[str, str]:
    return {
        "main.py": comfyui_main(imports),
        "requirements.txt": requirements,
        "comfy/__init__.py": "",
    }


def build_upstream(root: Path) -> Upstream:
    """Every repository smx clones for the fake A1111 and ComfyUI, under ``root``."""
    extras = {}
    for repo in A1111_REPOS:
        extras[repo.commit_env] = GitRepo.create(root / repo.folder,
                                                 {"README.md": f"{repo.folder}\n"})
    archives = {}
    for archive in A1111.pip_archives:
        dist = "clip" if archive.module == "clip" else "open_clip_torch"
        archives[archive.url_env] = GitRepo.create(
            root / archive.module,
            inline_backend_project(dist, "1.0", {f"{archive.module}/__init__.py": "OK = 1\n"}))
    pins = {env: r.head for env, r in extras.items()}
    pins.update({env: r.head for env, r in archives.items()})
    a1111 = GitRepo.create(root / "stable-diffusion-webui", a1111_files(pins),
                           message="v1.10.1", tag=A1111.default_ref)
    comfyui = GitRepo.create(root / "ComfyUI", comfyui_files(), tag=COMFYUI.default_ref)
    return Upstream(a1111=a1111, comfyui=comfyui, extras=extras, archives=archives)


def pins_of(upstream: Upstream) -> dict[str, str]:
    pins = {env: r.head for env, r in upstream.extras.items()}
    pins.update({env: r.head for env, r in upstream.archives.items()})
    return pins
