"""Fixtures for model tests: the loopback hub (Civitai + Hugging Face + CDN) with smx pointed
at it, and helpers to read what smx wrote."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub, fakehub  # noqa: F401 - the shared fixture

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def hub(fakehub: FakeHub) -> Iterator[FakeHub]:  # noqa: F811 - the short name in this folder
    """A fresh hub per test; SMX_CIVITAI_ENDPOINT / HF_ENDPOINT point at it, retries are
    instant (SMX_RETRY_WAIT_SCALE)."""
    yield fakehub


@pytest.fixture
def read_toml() -> Callable[[Path], dict]:
    def read(path: Path) -> dict:
        return tomllib.loads(path.read_text(encoding="utf-8"))

    return read


def store_files(env: Path) -> list[Path]:
    """Every regular file in the store (links count once per path)."""
    return sorted(p for p in (env / "Data" / "Models").rglob("*") if p.is_file())


def cache_files(env: Path) -> list[Path]:
    return sorted(p for p in (env / "Data" / "Cache" / "downloads").rglob("*") if p.is_file())
