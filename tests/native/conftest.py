"""Fixtures for the "feels native" tests (completion, docs, adoption, JSON output)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from smlib import SmLibrary, build_sm_library

from helpers.fakehub import fakehub  # noqa: F401 - the loopback Civitai/HF for these tests too


@pytest.fixture
def sm_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SmLibrary:
    """~/StabilityMatrix/Data as Stability Matrix leaves it (see smlib.py), on a machine where
    Civitai does not answer (adoption's lookups by hash fail at once, never reach the real
    site); tests that want answers start the fake hub."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("SMX_CIVITAI_ENDPOINT", dead)
    return build_sm_library(tmp_path)
