"""A wheel of the smx that is running, for `smx export`'s build context.

The image must run the same smx that wrote its smx.lock, and smx is installed from a checkout
(`pipx install .`), not from an index, so "pip install smx-cli==VERSION" would find nothing.
The wheel is built from the installed package itself: the files of the ``smx`` package and
the distribution's own metadata (name, version, Requires-Dist, the ``smx`` entry point). That
works for a regular and an editable install, needs no build backend, no network and no
subprocess, and gives the same bytes for the same smx (fixed timestamps, sorted entries), so
an export is reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from smx import __version__
from smx.errors import UsageError

DISTRIBUTION = "smx-cli"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_WHEEL = ("Wheel-Version: 1.0\nGenerator: smx export\nRoot-Is-Purelib: true\n"
          "Tag: py3-none-any\n")


@dataclass(frozen=True)
class SelfWheel:
    filename: str  # smx_cli-0.1.0-py3-none-any.whl
    data: bytes


def build_self_wheel() -> SelfWheel:
    import smx

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise UsageError("this smx is not installed as a Python package, so export cannot "
                         "put a wheel of it in the image",
                         hint="install it (pipx install . in the smx checkout), or pass "
                              "--smx-spec with a pip requirement the image can install"
                         ) from None
    version = dist.version or __version__
    stem = f"{DISTRIBUTION.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    files: dict[str, bytes] = {}
    package = Path(smx.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"smx/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    files[f"{info}/METADATA"] = _metadata(dist, version).encode("utf-8")
    files[f"{info}/WHEEL"] = _WHEEL.encode("utf-8")
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points.encode("utf-8")
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode("utf-8")
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return SelfWheel(f"{stem}-py3-none-any.whl", raw.getvalue())


def _metadata(dist: metadata.Distribution, version: str) -> str:
    """The installed METADATA as it is; a minimal one if the installer left none."""
    text = dist.read_text("METADATA") or ""
    if text.strip():
        return text if text.endswith("\n") else text + "\n"
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}"]
    lines += [f"Requires-Dist: {req}" for req in dist.requires or []]
    return "\n".join(lines) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
