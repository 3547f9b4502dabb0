"""`smx export`: a complete container build context that installs exactly smx.lock."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

import pytest

from smx.catalog.packages import PACKAGES
from smx.environment import lock as lockfile
from smx.environment.lock import Lock, LockedModel, LockedPackage


@pytest.fixture
def locked_env(env_dir: Path) -> Path:
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]\n", """\
[packages.comfy]
source = "comfyui"
args = ["--preview-method", "auto"]

[packages.webui]
source = "a1111"
""").replace("[models]\n", """\
[models]
mm = { source = "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", kind = "motion-module" }
"""))
    # what `smx sync` records: the catalog's URL and pinned ref, each venv's package list
    lock = Lock()
    lock.packages["comfy"] = LockedPackage(
        name="comfy", source="comfyui", git=PACKAGES["comfyui"].git,
        ref=PACKAGES["comfyui"].default_ref, commit="1" * 40, python="3.12.1", backend="cuda",
        torch=["torch"], freeze=["torch==2.7.0"])
    lock.packages["webui"] = LockedPackage(
        name="webui", source="a1111", git=PACKAGES["a1111"].git,
        ref=PACKAGES["a1111"].default_ref, commit="2" * 40, python="3.10.13", backend="cuda",
        torch=["torch==2.1.2", "torchvision==0.16.2"], freeze=["torch==2.1.2"])
    lock.models["mm"] = LockedModel(name="mm", source="hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt",
                                    kind="motion-module", filename="mm_sdxl_v10_beta.ckpt",
                                    size=5, sha256="a" * 64,
                                    hf={"repo": "guoyww/animatediff", "revision": "c" * 40,
                                        "path": "mm_sdxl_v10_beta.ckpt"})
    lockfile.save(env_dir / "smx.lock", lock)
    return env_dir


def copied_sources(dockerfile: str) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.splitlines():
        if line.startswith(("COPY ", "ADD ")):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources.extend(parts[:-1])
    return sources


def test_dockerfile_context_is_complete_and_installs_exactly_the_lock(smx, locked_env: Path
                                                                      ) -> None:
    before = (locked_env / "smx.toml").read_text()
    result = smx("--env", str(locked_env), "export", "--package", "webui")
    assert result.exit_code == 0, result.output
    context = locked_env / "export" / "webui"
    dockerfile = (context / "Dockerfile").read_text()
    for source in copied_sources(dockerfile):
        assert (context / source).exists(), f"COPY {source} is missing from the context"
    assert "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04" in dockerfile  # cu121 torch
    assert "RUN smx sync --frozen --no-models" in dockerfile
    assert "VOLUME /env/Data/Models" in dockerfile
    assert "EXPOSE 7860" in dockerfile
    assert "http://127.0.0.1:7860/internal/ping" in dockerfile  # A1111's health endpoint
    entry = (context / "entrypoint.sh").read_text()
    assert "smx sync --frozen" in entry
    assert "exec smx launch webui --listen --port 7860" in entry
    # the image's env holds only the exported package; the user's files are untouched
    assert "[packages.comfy]" not in (context / "smx.toml").read_text()
    narrowed = lockfile.load(context / "smx.lock")
    assert set(narrowed.packages) == {"webui"} and set(narrowed.models) == {"mm"}
    assert narrowed.packages["webui"].commit == "2" * 40
    assert (locked_env / "smx.toml").read_text() == before


def test_baked_models_sync_at_build_with_tokens_as_build_secrets(smx, locked_env: Path) -> None:
    result = smx("--env", str(locked_env), "export", "-p", "comfy", "--models", "bake")
    assert result.exit_code == 0, result.output
    dockerfile = (locked_env / "export" / "comfy" / "Dockerfile").read_text()
    run_sync = next(line for line in dockerfile.splitlines() if "smx sync" in line)
    assert run_sync.endswith("smx sync --frozen")
    assert "type=secret,id=hf_token" in run_sync  # tokens never land in a layer
    assert "VOLUME" not in dockerfile
    assert "python3.12" in dockerfile and "deadsnakes" in dockerfile
    assert "FROM nvidia/cuda:12.8.1" in dockerfile  # ComfyUI's cu128 torch
    assert "EXPOSE 8188" in dockerfile
    # the same endpoint `smx launch --wait` polls: ComfyUI's /system_stats
    health = dockerfile[dockerfile.index("HEALTHCHECK"):].split("\n", 2)
    assert "--start-period=15m" in health[0]
    assert "urlopen('http://127.0.0.1:8188/system_stats', timeout=4)" in health[1]


def test_oci_format_is_one_reproducible_tarball_of_the_same_context(smx, locked_env: Path,
                                                                     tmp_path: Path) -> None:
    first = tmp_path / "a.tar.gz"
    second = tmp_path / "b.tar.gz"
    for target in (first, second):
        result = smx("--env", str(locked_env), "export", "-p", "webui", "-f", "oci", "-o",
                     str(target))
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first.read_bytes()))) as tar:
        names = set(tar.getnames())
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
    assert {"Dockerfile", "smx.toml", "smx.lock", "entrypoint.sh"} <= names
    assert set(copied_sources(dockerfile)) <= names


def test_export_needs_a_package_choice_and_a_lock(smx, locked_env: Path, env_dir: Path) -> None:
    result = smx("--env", str(locked_env), "export")
    assert result.exit_code == 2
    assert "several packages" in result.stderr and "--package" in result.stderr
    (locked_env / "smx.lock").unlink()
    result = smx("--env", str(locked_env), "export", "-p", "webui")
    assert result.exit_code == 2
    assert "not in smx.lock" in result.stderr


def test_secrets_never_reach_the_export(smx, locked_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_neverinexportfile")
    monkeypatch.setenv("CIVITAI_API_TOKEN", "civitai-never-in-export")
    assert smx("--env", str(locked_env), "export", "-p", "webui", "--models", "bake"
               ).exit_code == 0
    for path in (locked_env / "export" / "webui").iterdir():
        if path.suffix == ".whl":  # smx's own files (tests/export/test_export_checks.py)
            import zipfile

            with zipfile.ZipFile(path) as wheel:
                text = "".join(wheel.read(n).decode("utf-8", "replace")
                               for n in wheel.namelist())
        else:
            text = path.read_text()
        assert not re.search("hf_neverinexportfile|civitai-never-in-export", text)
