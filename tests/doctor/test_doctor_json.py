"""`smx doctor --json` keeps the shape docs/json/doctor.md promises (scripts depend on it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

JSON_DOCS = Path(__file__).parents[2] / "docs" / "json"


def documented_schema(page: str = "doctor.md") -> dict:
    """The JSON Schema block of a docs/json page: the test reads the docs, so they cannot
    drift from the output."""
    text = (JSON_DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def conforms(data: object) -> None:
    errors = sorted(Draft202012Validator(documented_schema()).iter_errors(data),
                    key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"data.{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_envelope_and_data_shape(smx, use_recording, loopback_server, monkeypatch) -> None:
    use_recording("rtx4090")
    for variable in ("SMX_GITHUB_ENDPOINT", "SMX_CIVITAI_ENDPOINT", "HF_ENDPOINT"):
        monkeypatch.setenv(variable, loopback_server.url)
    result = smx("doctor", "--json", "--online")
    document = json.loads(result.stdout)
    envelope = Draft202012Validator(documented_schema("index.md"))
    assert not list(envelope.iter_errors(document))
    assert (document["smx_result_version"], document["command"]) == ("1", "doctor")
    assert (document["status"], document["exit_code"], result.exit_code) == ("ok", 0, 0)
    conforms(document["data"])
    assert document["data"]["gpus"] and document["data"]["packages"]
    assert document["data"]["online"]


def test_without_online_the_online_section_is_null(smx, use_recording) -> None:
    use_recording("laptop_6gb")
    data = json.loads(smx("doctor", "--json").stdout)["data"]
    conforms(data)
    assert data["online"] is None
    assert len({c["id"] for c in data["checks"]}) == len(data["checks"])  # ids are unique


def test_the_schema_check_catches_drift(smx, use_recording) -> None:
    use_recording("rtx4090")
    data = json.loads(smx("doctor", "--json").stdout)["data"]
    data["disk"]["surprise"] = 1
    with pytest.raises(AssertionError, match="Additional properties"):
        conforms(data)
    del data["disk"]["surprise"]
    del data["git"]
    with pytest.raises(AssertionError, match="'git' is a required property"):
        conforms(data)
