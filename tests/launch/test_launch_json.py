"""`smx launch --dry-run --json` keeps the shape docs/json/launch.md documents, and its error
codes are the ones the page lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, ValidationError

from .conftest import InstallUi

DOC = Path(__file__).parents[2] / "docs" / "json" / "launch.md"


def documented_schema() -> dict:
    """The JSON Schema block of docs/json/launch.md: tests read the page, so it cannot drift."""
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def conforms(data: object) -> None:
    Draft202012Validator(documented_schema()).validate(data)


@pytest.mark.parametrize("source", ["a1111", "forge", "comfyui", "fooocus"])
def test_every_package_kind_matches_the_documented_schema(smx, env_dir: Path,
                                                          install_ui: InstallUi,
                                                          source: str) -> None:
    install_ui(env_dir, source, source, args=["--gradio-auth", "u:p"] if source == "a1111"
               else [])
    result = smx("--env", str(env_dir), "launch", "--dry-run", "--json", "--listen")
    document = json.loads(result.stdout)
    assert (document["status"], document["exit_code"], result.exit_code) == ("ok", 0, 0)
    conforms(document["data"])


def test_error_codes_are_documented(smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "comfyui", "comfyui")
    document = json.loads(smx("--env", str(env_dir), "launch", "--share", "--dry-run",
                              "--json").stdout)
    assert document["status"] == "error" and document["data"] is None
    code = document["errors"][0]["code"]
    assert code == "launch.no_share" and f"`{code}`" in DOC.read_text(encoding="utf-8")

    table = [line.split("|")[1] for line in DOC.read_text(encoding="utf-8").splitlines()
             if line.startswith("| `launch.")]
    documented = set(re.findall(r"`(launch\.[a-z_]+)`", "".join(table)))
    sources = "".join(p.read_text(encoding="utf-8") for p in
                      (Path(__file__).parents[2] / "src" / "smx" / "launch").glob("*.py"))
    raised = set(re.findall(r'code="(launch\.[a-z_]+)"', sources))
    cli = (Path(__file__).parents[2] / "src" / "smx" / "cli" / "launch.py").read_text()
    raised |= set(re.findall(r'code="(launch\.[a-z_]+)"', cli))
    assert raised - documented == set()
    assert documented - raised == set()


def test_the_schema_check_catches_drift(smx, env_dir: Path, install_ui: InstallUi) -> None:
    install_ui(env_dir, "a1111", "a1111")
    data = json.loads(smx("--env", str(env_dir), "launch", "--dry-run", "--json").stdout)["data"]
    data["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        conforms(data)
    del data["surprise"]
    data["env"]["set"]["X"] = 1
    with pytest.raises(ValidationError, match="is not of type 'string'"):
        conforms(data)
