"""Fixtures for the "feels native" tests (completion, docs, adoption, JSON output)."""

from __future__ import annotations

from pathlib import Path

import pytest
from smlib import SmLibrary, build_sm_library


@pytest.fixture
def sm_library(tmp_path: Path) -> SmLibrary:
    """~/StabilityMatrix/Data as Stability Matrix leaves it (see smlib.py)."""
    return build_sm_library(tmp_path)
