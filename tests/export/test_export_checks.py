"""`smx export` writes only builds that can succeed: it refuses what the image's
`smx sync --frozen` would refuse, names the image as docker accepts it, and puts in the context
the smx that wrote smx.lock, as a wheel pip installs."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from smx.catalog.packages import PACKAGES
from smx.environment import lock as lockfile
from smx.environment.lock import Lock, LockedModel, LockedPackage
from smx.export import docker_tag

COMFY = PACKAGES["comfyui"]
# docker's reference grammar for a repository name (no registry, no tag)
DOCKER_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


def _env(env_dir: Path, *, freeze: list[str], name: str = "ComfyUI",
         models: dict[str, LockedModel] | None = None) -> Path:
    manifest = env_dir / "smx.toml"
    text = manifest.read_text().replace('name = "env"', 'name = "Sm2 Studio"')
    text = text.replace("[packages]\n", f'[packages.{name}]\nsource = "comfyui"\n'
                        f'ref = "{COMFY.default_ref}"\n\n')
    for model in (models or {}).values():
        text = text.replace("[models]\n", f'[models]\n{model.name} = {{ source = '
                            f'"{model.source}", kind = "{model.kind}" }}\n')
    manifest.write_text(text)
    lock = Lock(packages={name: LockedPackage(
        name=name, source="comfyui", git=COMFY.git, ref=COMFY.default_ref, commit="1" * 40,
        python="3.12.1", backend="cuda", torch=["torch"], freeze=freeze)},
        models=dict(models or {}))
    lockfile.save(env_dir / "smx.lock", lock)
    return env_dir


def test_a_lock_without_the_package_list_is_refused(smx, env_dir: Path) -> None:
    """An adopted env, or one pinned by `smx lock`: `sync --frozen` in the image would refuse
    it, so export does, with the fix, and writes nothing."""
    env = _env(env_dir, freeze=[])
    result = smx("--env", str(env), "export")
    assert result.exit_code == 2
    assert "its `smx sync --frozen` would refuse" in result.stderr
    assert "does not record its Python packages" in result.stderr
    assert "hint: run `smx sync` once without --frozen" in result.stderr
    assert "then export again" in result.stderr
    assert not (env / "export").exists()


def test_a_lock_that_disagrees_with_smx_toml_is_refused(smx, env_dir: Path) -> None:
    env = _env(env_dir, freeze=["torch==2.7.0"])
    manifest = env / "smx.toml"
    manifest.write_text(manifest.read_text().replace(f'ref = "{COMFY.default_ref}"',
                                                     'ref = "master"'))
    result = smx("--env", str(env), "export")
    assert result.exit_code == 2
    assert "ref is 'master' in smx.toml" in result.stderr
    assert not (env / "export").exists()


def test_baked_local_models_are_refused(smx, env_dir: Path) -> None:
    local = LockedModel(name="mine", source="local:Lora/mine.safetensors", kind="lora",
                        filename="mine.safetensors", size=3, sha256="b" * 64)
    env = _env(env_dir, freeze=["torch==2.7.0"], models={"mine": local})
    baked = smx("--env", str(env), "export", "--models", "bake")
    assert baked.exit_code == 2 and "cannot put local models in the image: mine" in \
        baked.stderr
    assert smx("--env", str(env), "export", "--models", "volume").exit_code == 0


def test_the_suggested_tag_is_one_docker_accepts(smx, env_dir: Path) -> None:
    env = _env(env_dir, freeze=["torch==2.7.0"])
    result = smx("--env", str(env), "export")
    assert result.exit_code == 0, result.output
    tag = re.search(r"next: docker build -t (\S+) ", result.stderr).group(1)
    assert tag == "sm2-studio-comfyui" and DOCKER_NAME.match(tag)
    dockerfile = (env / "export" / "ComfyUI" / "Dockerfile").read_text()
    assert f"docker build -t {tag} ." in dockerfile


@pytest.mark.parametrize("parts", [("Sm2", "ComfyUI"), ("my env", "a1111"), ("--", "Ünï"),
                                   ("a..b", "c__d"), ("", "")])
def test_docker_tags_are_always_valid(parts: tuple[str, str]) -> None:
    assert DOCKER_NAME.match(docker_tag(*parts))


def test_the_image_installs_this_smx_from_a_wheel_in_the_context(smx, env_dir: Path,
                                                                 tmp_path: Path) -> None:
    env = _env(env_dir, freeze=["torch==2.7.0"])
    assert smx("--env", str(env), "export").exit_code == 0
    context = env / "export" / "ComfyUI"
    (wheel,) = context.glob("smx_cli-*-py3-none-any.whl")
    dockerfile = (context / "Dockerfile").read_text()
    assert f"COPY {wheel.name} /tmp/" in dockerfile
    assert f"/opt/smx/bin/pip install /tmp/{wheel.name}" in dockerfile
    assert "smx-cli==" not in dockerfile  # no index serves smx

    # pip accepts it, and what it installs is a working smx of the same version
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)], check=True)
    from smx import __version__

    done = subprocess.run([sys.executable, "-c", "import smx, smx.cli.main; "
                           "print(smx.__file__, smx.__version__)"], cwd=tmp_path,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(target / "smx" / "__init__.py"), __version__]
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"smx_cli-{__version__}.dist-info/entry_points.txt")
    assert b"smx = smx.cli.main:run" in entry_points


def test_the_wheel_is_the_same_bytes_each_time(smx, env_dir: Path, tmp_path: Path) -> None:
    env = _env(env_dir, freeze=["torch==2.7.0"])
    for out in ("a", "b"):
        assert smx("--env", str(env), "export", "-o", str(tmp_path / out)).exit_code == 0
    (first,) = (tmp_path / "a").glob("*.whl")
    assert first.read_bytes() == (tmp_path / "b" / first.name).read_bytes()


def test_smx_spec_still_installs_from_an_index(smx, env_dir: Path) -> None:
    env = _env(env_dir, freeze=["torch==2.7.0"])
    assert smx("--env", str(env), "export", "--smx-spec", "smx-cli==9.9").exit_code == 0
    context = env / "export" / "ComfyUI"
    assert "ARG SMX_SPEC=smx-cli==9.9" in (context / "Dockerfile").read_text()
    assert not list(context.glob("*.whl"))
