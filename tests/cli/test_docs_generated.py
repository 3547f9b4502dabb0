"""Tables generated from the code are committed in the docs between markers, so a reader of
the Markdown (GitHub) sees them, not an empty comment; they must match the code."""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _hook():
    sys.path.insert(0, str(DOCS.parent / "tests" / "native"))
    try:
        from test_docs import load_hook
    finally:
        sys.path.pop(0)
    return load_hook()


def test_every_marker_holds_its_table_and_the_table_is_current() -> None:
    hook = _hook()
    seen = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text("utf-8")
        opened = re.findall(r"<!-- smx:([a-z-]+) -->", text)
        closed = re.findall(r"<!-- /smx:([a-z-]+) -->", text)
        assert opened == closed, f"{page}: every <!-- smx:NAME --> needs <!-- /smx:NAME -->"
        for match in hook.GENERATED_BLOCK.finditer(text):
            seen.append(match.group("name"))
            assert match.group("body").strip(), f"{page}: smx:{match.group('name')} is empty"
        assert hook.fill_generated(text, str(DOCS)) == text, (
            f"{page.relative_to(DOCS.parent)} is out of date: run python docs/hooks/commands.py")
    assert sorted(seen) == ["exit-codes", "json-pages", "model-kinds", "packages"]


def test_the_site_drops_the_markers() -> None:
    hook = _hook()
    page = (DOCS / "reference" / "exit-codes.md").read_text("utf-8")
    built = hook.on_page_markdown(page, None, {"docs_dir": str(DOCS)}, None)
    assert "smx:exit-codes" not in built and "| `confirm.needed` |" in built
