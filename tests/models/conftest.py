"""Fixtures for model tests: the loopback hub (Civitai + Hugging Face + CDN) with smx pointed
at it, and helpers to read what smx wrote."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fresh hub per test; SMX_CIVITAI_ENDPOINT / HF_ENDPOINT point at it, retries are
    instant (SMX_RETRY_WAIT_SCALE)."""
    with FakeHub() as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


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
