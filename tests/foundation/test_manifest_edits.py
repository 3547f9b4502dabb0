"""Edits by smx keep the user's comments and ordering, and are never half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smx.environment import manifest
from smx.environment.manifest import edit, inline, table_for

USER_FILE = """\
# my studio env -- hand written
[env]
name = "studio"   # shown in prompts

[torch]
backend = "cuda"  # the 4090 box

[packages.a1111]
source = "a1111"
# pinned after the 1.10 regression
ref = "v1.10.1"
args = ["--xformers"]

[models]
# the checkpoint everyone uses
animapencil = { source = "civitai:261336" }
"""


def test_adding_a_model_keeps_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "smx.toml"
    path.write_text(USER_FILE)

    def add(doc) -> None:
        table_for(doc, "models")["mm-sdxl"] = inline(
            {"source": "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", "kind": "motion-module"})

    result = edit(path, add)
    text = path.read_text()
    assert text.startswith(USER_FILE)  # everything the user wrote is byte-identical
    assert 'mm-sdxl = {source = "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", kind = ' \
        '"motion-module"}' in text
    assert set(result.models) == {"animapencil", "mm-sdxl"}


def test_removing_an_entry_keeps_the_rest_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "smx.toml"
    path.write_text(USER_FILE)
    edit(path, lambda doc: doc["models"].pop("animapencil"))
    text = path.read_text()
    assert "animapencil =" not in text
    assert "# pinned after the 1.10 regression\nref = \"v1.10.1\"" in text
    assert text.index("[env]") < text.index("[torch]") < text.index("[packages.a1111]")


def test_an_edit_that_would_make_the_file_invalid_is_refused_and_nothing_is_written(
        tmp_path: Path) -> None:
    path = tmp_path / "smx.toml"
    path.write_text(USER_FILE)
    with pytest.raises(Exception, match="expected a string for packages.a1111.ref"):
        edit(path, lambda doc: doc["packages"]["a1111"].__setitem__("ref", 3))
    assert path.read_text() == USER_FILE


def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    """kill -9 a process that rewrites smx.toml in a loop; every survivor parses."""
    path = tmp_path / "smx.toml"
    path.write_text(USER_FILE)
    script = textwrap.dedent(f"""
        import itertools
        from pathlib import Path
        from smx.environment.manifest import edit, inline, table_for
        path = Path({str(path)!r})
        print("ready", flush=True)
        for i in itertools.count():
            def change(doc, i=i):
                models = table_for(doc, "models")
                models["m" + str(i % 50)] = inline({{"source": "civitai:" + str(i + 1),
                                                    "kind": "lora"}})
            edit(path, change)
    """)
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.15 + attempt * 0.07)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = manifest.load(path)  # never half-written: always valid TOML and schema
        assert loaded.packages["a1111"].ref == "v1.10.1"
        assert path.read_text().startswith(USER_FILE[:40])
