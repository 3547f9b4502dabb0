"""Free disk space where an environment lives.

The probe is a plain function so callers can pass another one; the CLI honours the testing aid
``SMX_DOCTOR_FAKE_FREE_BYTES=<bytes>`` (tests use it to play a nearly full disk).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FAKE_FREE_ENV = "SMX_DOCTOR_FAKE_FREE_BYTES"
GB = 1000**3  # disks are sold and shown (df -H, Explorer) in decimal GB

DiskProbe = Callable[[Path], int]


@dataclass(frozen=True)
class DiskNeed:
    """How much free space a setup needs (below: fail) and leaves comfortable (below: warn),
    and for what, in words."""

    fail_below: int
    warn_below: int
    what: str


@dataclass(frozen=True)
class DiskFree:
    path: Path  # the folder that was measured (the nearest existing one)
    free_bytes: int
    status: str  # ok | warn | fail


def real_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def probe_from_environment() -> DiskProbe:
    """The real probe, or a fixed answer when the SMX_DOCTOR_FAKE_FREE_BYTES testing aid is set."""
    fake = os.environ.get(FAKE_FREE_ENV)
    if fake:
        from smx.errors import UsageError

        try:
            value = int(fake)
        except ValueError:
            raise UsageError(f"{FAKE_FREE_ENV}={fake!r} is not a number of bytes",
                             hint=f"unset {FAKE_FREE_ENV}; it is a testing aid") from None
        return lambda _path: value
    return real_free_bytes


def existing_folder(path: Path) -> Path:
    """``path`` or its nearest existing parent (an env folder may not exist yet)."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return path


def check_disk(path: Path, need: DiskNeed, probe: DiskProbe | None = None) -> DiskFree:
    folder = existing_folder(path)
    free = (probe or real_free_bytes)(folder)
    status = "fail" if free < need.fail_below else "warn" if free < need.warn_below else "ok"
    return DiskFree(folder, free, status)
