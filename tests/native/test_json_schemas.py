"""`--json` output keeps the shapes docs/json/*.md promise: real output of each read command,
validated with jsonschema against the schema on its docs page (the test reads the docs, so
docs and output cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json"


def documented_schema(page: str) -> dict:
    blocks = re.findall(r"```json\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"),
                        re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def check(result, page: str, command: str) -> dict:
    """The envelope (docs/json/index.md) and ``data`` (``page``) of one command's output."""
    document = json.loads(result.stdout)
    jsonschema.validate(document, documented_schema("index.md"))
    assert document["command"] == command
    assert document["exit_code"] == result.exit_code
    if document["data"] is not None:  # errors may still carry data (status: drift)
        jsonschema.validate(document["data"], documented_schema(page))
    return document


@pytest.fixture
def adopted(smx, sm_library) -> Path:
    """An environment with installed packages and stored models, made the cheap way: by
    adopting a Stability Matrix library (real git checkouts, a real venv, real files)."""
    assert smx("init", "--adopt", str(sm_library.root)).exit_code == 0
    return sm_library.root


def test_doctor(smx, adopted: Path) -> None:
    inside = check(smx("--env", str(adopted), "doctor", "--json"), "doctor.md", "doctor")
    assert {p["name"] for p in inside["data"]["packages"]} == {"ComfyUI",
                                                               "stable-diffusion-webui"}
    outside = check(smx("doctor", "--json"), "doctor.md", "doctor")
    assert outside["data"]["packages"]


def test_sync_plan(smx, adopted: Path) -> None:
    document = check(smx("--env", str(adopted), "sync", "--dry-run", "--json"), "sync.md",
                     "sync")
    assert document["data"]["dry_run"] is True


def test_init_and_adopt(smx, sm_library, tmp_path: Path) -> None:
    check(smx("init", str(tmp_path / "fresh"), "--json"), "init.md", "init")
    document = check(smx("init", "--adopt", str(sm_library.root), "--json"), "init.md", "init")
    adopted = document["data"]["adopted"]
    assert adopted["packages"] and adopted["models"] and adopted["skipped"]


def test_list(smx, adopted: Path) -> None:
    document = check(smx("--env", str(adopted), "list", "--json"), "list.md", "list")
    assert {p["name"] for p in document["data"]["packages"]} == {"ComfyUI",
                                                                 "stable-diffusion-webui"}


def test_list_says_each_state_with_a_stable_code_next_to_the_text(smx, adopted: Path) -> None:
    from helpers.gitrepo import git

    def codes() -> dict[str, tuple[str, str]]:
        document = check(smx("--env", str(adopted), "list", "--json"), "list.md", "list")
        return {p["name"]: (p["state_code"], p["state"]) for p in document["data"]["packages"]}

    assert codes() == {
        "stable-diffusion-webui": ("installed", "installed"),
        "ComfyUI": ("incomplete", "differs from smx.lock (run `smx sync`)"),  # no venv/
    }
    # a checkout moved by hand; a package added to smx.toml but not installed yet
    git("commit", "-q", "--allow-empty", "-m", "by hand",
        cwd=adopted / "Data/Packages/stable-diffusion-webui")
    manifest = adopted / "smx.toml"
    manifest.write_text(manifest.read_text().replace(
        "[packages]\n", '[packages]\nfresh = { source = "fooocus" }\n', 1))
    assert codes() == {
        "stable-diffusion-webui": ("wrong-commit", "differs from smx.lock (run `smx sync`)"),
        "ComfyUI": ("incomplete", "differs from smx.lock (run `smx sync`)"),
        "fresh": ("not-locked", "not installed"),
    }


def test_model_list(smx, adopted: Path) -> None:
    document = check(smx("--env", str(adopted), "model", "list", "--json"), "model-list.md",
                     "model list")
    assert len(document["data"]["models"]) == 3


def test_launch_dry_run(smx, adopted: Path) -> None:
    document = check(smx("--env", str(adopted), "launch", "stable-diffusion-webui",
                         "--dry-run", "--json"), "launch.md", "launch")
    assert document["status"] == "ok", document["errors"]


def test_errors_use_the_same_envelope_and_name_the_command(smx, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    for args, command in ((["model", "list"], "model list"), (["list"], "list"),
                          (["sync", "--dry-run"], "sync")):
        result = smx("--env", missing, *args, "--json")
        document = check(result, "index.md", command)
        assert (document["status"], document["data"], result.exit_code) == ("error", None, 2)
        assert document["errors"][0]["code"] == "env.not_found"
        assert result.stderr == ""  # the error is in the document, not printed beside it


def test_model_verify_ok_and_corrupt(smx, adopted: Path, sm_library) -> None:
    good = check(smx("--env", str(adopted), "model", "verify", "--json"), "model-verify.md",
                 "model verify")
    assert good["data"]["ok"] is True and good["exit_code"] == 0
    (sm_library.data / "Models" / "Lora" / "edited.safetensors").write_bytes(b"x" * 20_000)
    bad = check(smx("--env", str(adopted), "model", "verify", "--json"), "model-verify.md",
                "model verify")
    assert (bad["status"], bad["exit_code"], bad["data"]["ok"]) == ("error", 4, False)
    jsonschema.validate(bad["data"], documented_schema("model-verify.md"))  # data is kept
    assert bad["errors"][0]["code"] == "integrity.corrupt"


def test_auth_status_never_shows_the_token(smx, monkeypatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", "civitai-secret-token-123")
    result = smx("auth", "status", "--json")
    document = check(result, "auth-status.md", "auth status")
    assert document["data"]["services"]["civitai"] == {
        "set": True, "from": "CIVITAI_API_TOKEN", "stored_but_overridden": False}
    assert "civitai-secret-token-123" not in result.output


def test_ext_list(smx, adopted: Path) -> None:
    document = check(smx("--env", str(adopted), "ext", "list", "--json"), "ext-list.md",
                     "ext list")
    names = {e["name"] for e in document["data"]["extensions"]}
    assert {"sd-webui-controlnet", "old-ext", "ComfyUI-AnimateDiff-Evolved"} <= names


def test_status_in_sync_and_with_drift(smx, adopted: Path, env_dir: Path) -> None:
    clean = check(smx("--env", str(env_dir), "status", "--json"), "status.md", "status")
    assert (clean["status"], clean["data"]["in_sync"]) == ("ok", True)
    drift = check(smx("--env", str(adopted), "status", "--json"), "status.md", "status")
    assert (drift["exit_code"], drift["data"]["in_sync"]) == (1, False)
    assert any(i["name"] == "ComfyUI" for i in drift["data"]["issues"])  # it has no venv


def test_model_identify_and_outdated(smx, env_dir: Path, fakehub) -> None:
    from helpers import realheaders as rh

    lora = rh.safetensors_file(rh.kohya_lora("SDXL"), fill=1)
    fakehub.civitai_publish(58390, 62833, lora, name="v1.0", model_name="Detail Tweaker XL",
                            model_type="LORA", trained_words=["detailed"])
    fakehub.hf_commit("guoyww/animatediff", {"mm_sd_v15_v2.safetensors": rh.safetensors_file(
        rh.motion_module("SD 1.x"))})
    (env_dir / "Data/Models/Lora/detail.safetensors").write_bytes(lora)
    (env_dir / "Data/Models/Lora/own.safetensors").write_bytes(
        rh.safetensors_file(rh.kohya_lora("SD 1.x")))
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[models]\n", (
        '[models]\ndetail = { source = "local:Lora/detail.safetensors" }\n'
        'own = { source = "local:Lora/own.safetensors" }\n')))
    assert smx("--env", str(env_dir), "sync").exit_code == 0
    assert smx("--env", str(env_dir), "model", "pull",
               "hf:guoyww/animatediff/mm_sd_v15_v2.safetensors").exit_code == 0
    identified = check(smx("--env", str(env_dir), "model", "identify", "--json"),
                       "model-identify.md", "model identify")
    assert {r["name"]: r["status"] for r in identified["data"]["models"]} == {
        "detail": "identified", "own": "not-on-civitai"}
    outdated = check(smx("--env", str(env_dir), "model", "outdated", "--json"),
                     "model-outdated.md", "model outdated")
    assert {r["name"] for r in outdated["data"]["models"]} == {"detail", "mm_sd_v15_v2"}
    assert outdated["data"]["unchecked"] == [{"name": "own",
                                              "reason": "a local file has no source"}]
    listed = check(smx("--env", str(env_dir), "model", "list", "--json"), "model-list.md",
                   "model list")
    assert {r["name"]: r["trigger_words"] for r in listed["data"]["models"]}["detail"] == [
        "detailed"]
