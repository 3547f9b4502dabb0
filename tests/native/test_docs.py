"""The docs site builds with `mkdocs build --strict`, its command pages come from the real
command tree, and every command's --help shows an example."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def load_hook():
    """docs/hooks/commands.py, the mkdocs hook that generates the command pages."""
    if "smx_docs_hook" in sys.modules:
        return sys.modules["smx_docs_hook"]
    spec = importlib.util.spec_from_file_location("smx_docs_hook", DOCS / "hooks" / "commands.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["smx_docs_hook"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def visible_commands() -> list[tuple[str, object]]:
    return [(page.title, page.command) for page in load_hook().command_pages()]


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e .[docs])")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(site)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    # one generated page per visible command, with its options
    for title, command in visible_commands():
        slug = "-".join(title.split()[1:])
        page = (site / "commands" / slug / "index.html").read_text(encoding="utf-8")
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                assert param.opts[0] in page, f"{title}: {param.opts[0]} missing from its page"
    exit_codes = (site / "reference" / "exit-codes" / "index.html").read_text(encoding="utf-8")
    assert "env.not_found" in exit_codes and "integrity.checksum" in exit_codes
    assert "smx:exit-codes" not in exit_codes  # the marker was replaced


def test_a_new_option_shows_up_in_the_generated_page() -> None:
    """The reference is generated from the click objects themselves, so it cannot drift."""
    hook = load_hook()
    page = next(p for p in hook.command_pages() if p.title == "smx sync")
    text = hook.render_command(page)
    assert "--dry-run" in text and "Example" in text and "smx sync --dry-run" in text
    page.command.params[0].help = "A changed help text."
    assert "A changed help text." in hook.render_command(page)


@pytest.mark.parametrize("title,command", visible_commands())
def test_every_command_help_shows_an_example(title: str, command) -> None:
    assert re.search(r"^\s*Examples?:", command.help or "", re.MULTILINE), (
        f"`{title} --help` has no 'Example: …' line; add one to the command's docstring")


def test_every_json_page_holds_a_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pages = sorted((DOCS / "json").glob("*.md"))
    assert pages
    for page in pages:
        blocks = re.findall(r"```json\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
        schemas = [json.loads(b) for b in blocks if '"$schema"' in b]
        assert len(schemas) == 1, f"{page.name}: expected exactly one JSON Schema block"
        jsonschema.Draft202012Validator.check_schema(schemas[0])


def test_every_smx_toml_shown_in_the_docs_is_valid(tmp_path: Path) -> None:
    """A reader copies these: each ```toml block (smx.lock examples aside) must be accepted."""
    from smx.environment.manifest import parse_text

    checked = 0
    for page in sorted(DOCS.rglob("*.md")):
        for block in re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"),
                                re.DOTALL):
            if block.lstrip().startswith("# smx.lock"):
                continue
            parse_text(tmp_path / "smx.toml", block)  # raises ConfigError with line:col
            checked += 1
    assert checked >= 4


def test_help_examples_become_one_shell_line_each() -> None:
    hook = load_hook()
    text = hook.render_help("Pin things.\n\nExamples: smx lock -U     smx lock -U comfyui  |  "
                            "smx doctor --json | jq .data")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block == ["smx lock -U", "smx lock -U comfyui", "smx doctor --json | jq .data"]
