"""Read the pins a web UI's own installer uses from its checkout.

A1111 and Forge name what they clone and download in ``modules/launch_utils.py`` as
``os.environ.get('BLIP_COMMIT_HASH', "48211a15…")``: an environment variable and its default.
Reading those defaults from the checked-out file (rather than copying them into smx) keeps
every ref and fork right: smx pre-clones exactly what that version of the UI would clone.
Commented-out lines do not count (Forge comments out the clones it dropped).
"""

from __future__ import annotations

import re
from pathlib import Path

_GET = re.compile(
    r"""os\.environ\.get\(\s*['"](?P<name>[A-Za-z_][A-Za-z0-9_]*)['"]\s*,\s*f?['"](?P<value>[^'"]*)['"]\s*\)""",
    re.DOTALL,
)
_GITHUB_ARCHIVE = re.compile(
    r"^https://github\.com/(?P<owner>[^/]+)/(?P<repo>[^/]+)/archive/(?P<sha>[0-9a-f]{40})\.zip$")


def read_env_defaults(path: Path) -> dict[str, str]:
    """``{ENV_NAME: default}`` for every ``os.environ.get(NAME, "default")`` in the file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return {m.group("name"): m.group("value") for m in _GET.finditer(code)}


def github_archive(url: str) -> tuple[str, str] | None:
    """``https://github.com/O/R/archive/SHA.zip`` -> (``https://github.com/O/R.git``, SHA)."""
    match = _GITHUB_ARCHIVE.match(url.strip())
    if match is None:
        return None
    return (f"https://github.com/{match.group('owner')}/{match.group('repo')}.git",
            match.group("sha"))
