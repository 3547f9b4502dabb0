"""`smx doctor --json` keeps the shape docs/json/doctor.md promises (scripts depend on it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "json" / "doctor.md"
_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
          "boolean": bool, "null": type(None)}


def documented_schema() -> dict:
    """The JSON Schema block of docs/json/doctor.md: the test reads the docs, so they cannot
    drift from the output."""
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def conforms(value: object, schema: dict, where: str = "data") -> None:
    """The part of JSON Schema the doc uses: type, enum, required, properties,
    additionalProperties: false, items."""
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, _TYPES[n]) and not (n in ("integer", "number")
                                                        and isinstance(value, bool))
                 for n in names)
        assert ok, f"{where}: {value!r} is not {names}"
    if isinstance(value, dict):
        assert set(schema.get("required", ())) <= set(value), f"{where}: missing keys"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(properties)
            assert not extra, f"{where}: undocumented {extra}"
        for key, sub in properties.items():
            if key in value:
                conforms(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")


def test_envelope_and_data_shape(smx, use_recording, loopback_server, monkeypatch) -> None:
    use_recording("rtx4090")
    for variable in ("SMX_GITHUB_ENDPOINT", "SMX_CIVITAI_ENDPOINT", "HF_ENDPOINT"):
        monkeypatch.setenv(variable, loopback_server.url)
    result = smx("doctor", "--json", "--online")
    document = json.loads(result.stdout)
    assert set(document) == {"smx_result_version", "command", "status", "exit_code", "data",
                             "errors"}
    assert (document["smx_result_version"], document["command"]) == ("1", "doctor")
    assert (document["status"], document["exit_code"], result.exit_code) == ("ok", 0, 0)
    conforms(document["data"], documented_schema())
    assert document["data"]["gpus"] and document["data"]["packages"]
    assert document["data"]["online"]


def test_without_online_the_online_section_is_null(smx, use_recording) -> None:
    use_recording("laptop_6gb")
    data = json.loads(smx("doctor", "--json").stdout)["data"]
    conforms(data, documented_schema())
    assert data["online"] is None
    assert len({c["id"] for c in data["checks"]}) == len(data["checks"])  # ids are unique


def test_the_schema_check_catches_drift(smx, use_recording) -> None:
    use_recording("rtx4090")
    data = json.loads(smx("doctor", "--json").stdout)["data"]
    data["disk"]["surprise"] = 1
    with pytest.raises(AssertionError, match="undocumented"):
        conforms(data, documented_schema())
    del data["disk"]["surprise"]
    del data["git"]
    with pytest.raises(AssertionError, match="missing keys"):
        conforms(data, documented_schema())
