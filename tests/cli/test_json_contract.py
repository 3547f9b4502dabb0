"""Under --json every failure is the envelope, a mistyped command line included, and what the
docs pipe into jq exists in the documented schemas (which real output is validated against in
tests/native/test_json_schemas.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def schema_of(page: str) -> dict:
    blocks = re.findall(r"```json\n(.*?)```", (DOCS / "json" / page).read_text("utf-8"),
                        re.DOTALL)
    return next(json.loads(b) for b in blocks if '"$schema"' in b)


@pytest.mark.parametrize("words,command", [
    (["status", "--json", "--bogus"], "status"),
    (["model", "pull", "--json"], "model pull"),  # missing argument
    (["launch", "--port", "http", "--json"], "launch"),  # bad value
    (["model", "lst", "--json"], "model"),  # unknown subcommand
    (["--json", "stauts"], ""),  # unknown command
    (["--json", "--nope", "status"], ""),  # unknown global option
])
def test_a_command_line_error_under_json_is_the_envelope(words: list[str], command: str,
                                                         tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smx", *words], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == ""  # no boxed text error next to the document
    document = json.loads(done.stdout)
    jsonschema.validate(document, schema_of("index.md"))
    assert document["command"] == command
    assert (document["status"], document["exit_code"], document["data"]) == ("error", 2, None)
    (error,) = document["errors"]
    assert error["code"] == "usage.command_line" and error["message"] and error["hint"]


def test_without_json_it_is_one_error_line_and_a_hint(smx) -> None:
    result = smx("status", "--nmae")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: no such option: --nmae",
                                          "hint: `smx status --help` shows what it takes"]


def test_a_check_that_fails_keeps_its_report_in_data(smx, env_dir: Path) -> None:
    """docs/json/index.md: data is null on error, except for a check's own verdict."""
    manifest = env_dir / "smx.toml"
    manifest.write_text(manifest.read_text().replace("[packages]", '[packages.comfyui]\n'
                                                     'source = "comfyui"\n'))
    drift = smx("--env", str(env_dir), "status", "--json")
    document = json.loads(drift.stdout)
    assert drift.exit_code == 1 and document["status"] == "error"
    jsonschema.validate(document["data"], schema_of("status.md"))
    envelope_doc = (DOCS / "json" / "index.md").read_text("utf-8")
    assert "`smx status` (drift)" in envelope_doc

    missing = smx("--env", str(env_dir / "nowhere"), "status", "--json")
    assert json.loads(missing.stdout)["data"] is None


# --- jq filters shown in the docs ------------------------------------------------------------
# `smx CMD … --json | jq '…'`, or `… --json > f.json || jq '…' f.json`, or an unquoted path
_JQ = re.compile(r"smx ([^\n']*?)--json[^\n']*?\bjq (?:-[a-z] )*"
                 r"(?:'([^']*)'|(\.[\w.\[\]]+))")


def _examples() -> list[tuple[str, str, str]]:
    """(where, command words, filter) for every `smx … --json | jq '…'` in the docs and in
    the commands' own help."""
    import typer.main

    from smx.cli.main import app

    texts = {str(p.relative_to(REPO)): p.read_text("utf-8")
             for p in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]}

    def walk(group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            texts[f"smx {prefix}{name} --help"] = cmd.help or ""
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")

    walk(typer.main.get_command(app), "")
    found = []
    for where, text in texts.items():
        for match in _JQ.finditer(text.replace("\\\n", " ")):
            words = re.match(r"((?:[a-z][a-z-]* ?)*)", match.group(1)).group(1).strip()
            found.append((where, words, match.group(2) or match.group(3)))
    return found


def _page_for(words: str, where: str = "") -> str:
    if where.startswith("docs/json/"):  # an example on a command's own page
        return where.removeprefix("docs/json/")
    parts = words.split()
    while parts:
        page = "-".join(parts) + ".md"
        if (DOCS / "json" / page).is_file():
            return page
        parts.pop()
    raise AssertionError(f"no docs/json page for `smx {words}`")


def _resolve(schema: dict, root: dict) -> list[dict]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(root["$defs"][name], root)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        return [s for alt in alternatives for s in _resolve(alt, root)]
    return [schema]


def _step(schemas: list[dict], segment: str, root: dict) -> list[dict]:
    found = []
    for schema in schemas:
        for s in _resolve(schema, root):
            if segment.startswith("["):
                # an element of an array; a group_by() group is already seen as its items
                found += _resolve(s["items"], root) if "items" in s else [s]
            elif segment in s.get("properties", {}):
                found += _resolve(s["properties"][segment], root)
    return found


_SEGMENTS = re.compile(r"\.([A-Za-z_]\w*)|(\[\d*\])")
_PATH = re.compile(r"(?<![\w)\]\"])((?:\.[A-Za-z_]\w*|\.?\[\d*\])+)")


def _walk(start: list[dict], path: str, root: dict, where: str) -> list[dict]:
    current = start
    for name, index in _SEGMENTS.findall(path):
        current = _step(current, name or index, root)
        assert current, f"{where}: jq path {path!r} is not in the documented schema"
    return current


def _items(schemas: list[dict], root: dict) -> list[dict]:
    """Inside select()/map()/"\\(…)" over an array, paths are relative to its items."""
    out = []
    for s in schemas:
        for r in _resolve(s, root):
            out += _resolve(r["items"], root) if r.get("type") == "array" and "items" in r \
                else [r]
    return out


def _split_pipes(text: str) -> list[str]:
    stages, depth, current, quoted = [], 0, "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if not quoted:
            depth += ch in "(["
            depth -= ch in ")]"
        if ch == "|" and depth == 0 and not quoted:
            stages.append(current)
            current = ""
        else:
            current += ch
    return [*stages, current]


EXAMPLES = _examples()


def test_the_docs_show_jq_examples() -> None:
    assert len(EXAMPLES) >= 10
    assert any(where == "docs/scripting/index.md" and "doctor" in words
               for where, words, _ in EXAMPLES)


@pytest.mark.parametrize("where,words,jq", EXAMPLES,
                         ids=[f"{w}:{c}" for w, c, _ in EXAMPLES])
def test_each_field_a_docs_jq_filter_reads_is_in_the_schema(where: str, words: str,
                                                            jq: str) -> None:
    root = schema_of(_page_for(words, where))
    envelope = {"type": "object", "properties": {"data": root}}
    current: list[dict] = [envelope]
    for stage in _split_pipes(jq):
        stage = stage.strip()
        lead = re.match(r"^(\.[A-Za-z_][\w.\[\]]*|\.\[\d*\][\w.\[\]]*)", stage)
        if lead and lead.group(1) == stage:  # a plain path moves the focus
            current = _walk(current, stage, root, where)
            continue
        relative = _items(current, root)
        for path in _PATH.findall(stage):
            _walk(relative, path, root, where)
        if re.match(r"^group_by\(.*\)\[\]$", stage):
            continue  # groups of the same items
        if not stage.startswith("select("):
            break  # a string or a computed value: nothing further to follow
