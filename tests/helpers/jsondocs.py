"""Check `--json` output against the schema its docs/json/*.md page promises (the same check
as tests/native/test_json_schemas.py, for tests that build their own environments)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json"


def documented_schema(page: str) -> dict[str, Any]:
    blocks = re.findall(r"```json\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"),
                        re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


def check(stdout: str, exit_code: int, page: str, command: str) -> dict[str, Any]:
    """The envelope (index.md) and ``data`` (``page``) of one command's output; returns it."""
    import jsonschema

    document: dict[str, Any] = json.loads(stdout)
    jsonschema.validate(document, documented_schema("index.md"))
    assert document["command"] == command
    assert document["exit_code"] == exit_code
    if document["data"] is not None:
        jsonschema.validate(document["data"], documented_schema(page))
    return document
