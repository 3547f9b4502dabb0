"""What smx checks in a downloaded file before it may enter the store.

- Pickles can run code when a web UI loads them. Any file whose name or bytes make it one
  (models/pickles.py: .ckpt .pt .pt2 .pth .bin .pkl, zips with ``*.pkl`` members, raw
  pickle streams) is walked opcode by opcode; an import outside the allow-list of what model
  files use, a stream that cannot be read to its end, or a zip with two entries of one name
  refuses the file unless the user passed ``--allow-unsafe``. Verdicts are cached by SHA-256.
- .safetensors: the header must be well-formed (an 8-byte length that fits the file, a JSON
  object whose tensors lie inside the data). An HTML error page saved under a model's name
  fails here. Its metadata and tensor shapes tell the base architecture when present.
- A motion module or ControlNet for one base (SD 1.x vs SDXL) next to checkpoints of another
  gets a warning naming both: it would load, then fail or produce noise.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.errors import IntegrityError, UnsafeFile
from smx.models import pickles, scancache
from smx.models.kinds import base_family

SAFETENSORS_SUFFIX = ".safetensors"
MAX_HEADER = 100 * 1024 * 1024  # the safetensors reference rejects larger headers
BASE_SENSITIVE_KINDS = ("motion-module", "controlnet", "t2i-adapter")


@dataclass
class FileFacts:
    family: str | None = None  # base family read from the file itself
    metadata: dict[str, str] = field(default_factory=dict)
    dangerous: list[str] = field(default_factory=list)  # what the scan refused (allowed unsafe)


def inspect(path: Path, filename: str, *, allow_unsafe: bool = False,
            sha256: str | None = None) -> FileFacts:
    """Check ``path`` (to be stored as ``filename``); raise when it must not be placed.

    Every placement calls this (a download, a re-link of bytes already in the store, a
    ``local:`` file, an adopted file): whether a file may run code is a property of its bytes,
    not of the way it arrived. ``sha256`` (of these bytes) keys the scan cache, so the same
    bytes are walked once per user, however many names and environments they get.
    """
    suffix = Path(filename).suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        header, metadata = read_safetensors_header(path, filename)
        return FileFacts(family=family_from_header(header, metadata), metadata=metadata)
    pickle_suffix = suffix in pickles.PICKLE_SUFFIXES
    result = scancache.scan(path, sha256, pickle_suffix=pickle_suffix)
    if result.format == "none" and pickle_suffix:
        raise IntegrityError(f"{filename} is neither a torch zip archive nor a pickle; it was "
                             "not placed",
                             hint="the server may have sent an error page or a damaged file")
    return FileFacts(dangerous=_allowed(filename, result, allow_unsafe))


def scan_for_code(path: Path, filename: str, *, allow_unsafe: bool = False,
                  sha256: str | None = None) -> list[str]:
    """Only the pickle scan of :func:`inspect`, for files that are on disk already (``local:``
    models, adopted libraries): what would run code is refused (UnsafeFile) unless allowed;
    returns what was allowed. Other formats are the user's own business there."""
    return _allowed(filename, _scan(path, filename, sha256), allow_unsafe)


def refusals(path: Path, filename: str, *, sha256: str | None = None) -> list[str]:
    """What the pickle scan refuses in ``path`` (short reasons), without raising."""
    return _scan(path, filename, sha256).refusals


def _scan(path: Path, filename: str, sha256: str | None) -> pickles.PickleScan:
    suffix = Path(filename).suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        return pickles.PickleScan("none")
    return scancache.scan(path, sha256, pickle_suffix=suffix in pickles.PICKLE_SUFFIXES)


def _allowed(filename: str, result: pickles.PickleScan, allow_unsafe: bool) -> list[str]:
    if result.refusals and not allow_unsafe:
        raise _refusal(filename, result)
    return result.refusals


def _refusal(filename: str, result: pickles.PickleScan) -> UnsafeFile:
    hint = ("prefer a .safetensors version of this model; if you trust the author, run again "
            "with --allow-unsafe")
    if result.imports:
        shown = ", ".join(result.imports[:5]) + (" …" if len(result.imports) > 5 else "")
        return UnsafeFile(f"{filename} is a pickle that imports dangerous code ({shown}): "
                          "loading it would run code beyond what model files use; it was not "
                          "placed", hint=hint)
    if result.duplicates:
        return UnsafeFile(f"{filename} is a zip archive with two entries named "
                          f"{result.duplicates[0]}: which one a loader reads is not defined, so "
                          "it was not placed", hint=hint)
    if result.format == "tar":
        return UnsafeFile(f"{filename} is a tar archive (torch's oldest format), whose pickles "
                          "smx does not scan; it was not placed", hint=hint)
    return UnsafeFile(f"{filename} is a pickle smx cannot read to the end ({result.unreadable}); "
                      "a web UI's unpickler may still run what it holds, so it was not placed",
                      hint=hint)


def read_safetensors_header(path: Path, filename: str) -> tuple[dict[str, Any], dict[str, str]]:
    size = path.stat().st_size

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{filename} is not a valid .safetensors file: {why}; it was "
                              "not placed",
                              hint="the server may have sent an error page or a damaged file")

    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise bad(f"only {len(head)} bytes")
        (length,) = struct.unpack("<Q", head)
        if length < 2 or length > min(size - 8, MAX_HEADER):
            raise bad(f"its header length ({length}) does not fit a {size}-byte file")
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("its header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise bad("__metadata__ is not an object")
    data_len = size - 8 - length
    for name, info in header.items():
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_len
                or not isinstance(info.get("shape"), list)):
            raise bad(f"tensor {name!r} lies outside the file")
    return header, {str(k): str(v) for k, v in metadata.items()}


def family_from_header(header: dict[str, Any], metadata: dict[str, str]) -> str | None:
    """The base family the header's tensor shapes (or, failing that, its metadata) show."""
    from smx.models.classify import classify, tensors_of

    return classify(tensors_of(header), metadata).family


def base_mismatch(name: str, kind: str, family: str | None,
                  checkpoints: Iterable[tuple[str, str | None]]) -> str | None:
    """A warning when a base-specific add-on does not fit any checkpoint of the env."""
    if kind not in BASE_SENSITIVE_KINDS or family is None:
        return None
    known = [(n, base, base_family(base)) for n, base in checkpoints if base_family(base)]
    if not known or any(fam == family for _n, _b, fam in known):
        return None
    listed = ", ".join(f"{n} ({base})" for n, base, _fam in known[:4])
    what = kind.replace("-", " ")
    article = "an" if family.startswith("S") else "a"  # "an SDXL", "a Flux"
    return (f"{name} is {article} {family} {what}, but this environment's checkpoints are "
            f"{listed}: it only works with {family} checkpoints")
