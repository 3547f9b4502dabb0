"""What smx checks in a downloaded file before it may enter the store.

- Pickles (.ckpt .pt .pth .bin .pkl) can run code when a web UI loads them. picklescan lists
  the globals they import; a dangerous one refuses the file unless the user passed
  ``--allow-unsafe``.
- .safetensors: the header must be well-formed (an 8-byte length that fits the file, a JSON
  object whose tensors lie inside the data). An HTML error page saved under a model's name
  fails here. Its metadata and tensor shapes tell the base architecture when present.
- A motion module or ControlNet for one base (SD 1.x vs SDXL) next to checkpoints of another
  gets a warning naming both: it would load, then fail or produce noise.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.errors import IntegrityError, UnsafeFile
from smx.models.kinds import base_family

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
SAFETENSORS_SUFFIX = ".safetensors"
MAX_HEADER = 100 * 1024 * 1024  # the safetensors reference rejects larger headers
BASE_SENSITIVE_KINDS = ("motion-module", "controlnet", "t2i-adapter")


@dataclass
class FileFacts:
    family: str | None = None  # base family read from the file itself
    metadata: dict[str, str] = field(default_factory=dict)
    dangerous: list[str] = field(default_factory=list)  # "module.name" globals (allowed unsafe)


def inspect(path: Path, filename: str, *, allow_unsafe: bool = False) -> FileFacts:
    """Check ``path`` (stored as ``filename``); raise when it must not be placed."""
    suffix = Path(filename).suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        header, metadata = read_safetensors_header(path, filename)
        return FileFacts(family=family_from_header(header, metadata), metadata=metadata)
    if suffix in PICKLE_SUFFIXES:
        if not _looks_like_pickle(path):
            raise IntegrityError(f"{filename} is neither a torch zip archive nor a pickle; it "
                                 "was not placed",
                                 hint="the server may have sent an error page or a damaged file")
        dangerous = scan_pickle(path, filename)
        if dangerous and not allow_unsafe:
            shown = ", ".join(dangerous[:5]) + (" …" if len(dangerous) > 5 else "")
            raise UnsafeFile(
                f"{filename} is a pickle that imports dangerous code ({shown}); it was not "
                "placed",
                hint="prefer a .safetensors version of this model; if you trust the author, "
                     "run again with --allow-unsafe")
        return FileFacts(dangerous=dangerous)
    return FileFacts()


def _looks_like_pickle(path: Path) -> bool:
    """A zip (torch >= 1.6 format) or a stream whose first opcodes parse as pickle."""
    import pickletools

    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return True
    try:
        for count, _op in enumerate(pickletools.genops(head)):
            if count >= 2:
                return True
    except Exception:  # pickletools raises ValueError and friends on garbage
        return False
    return True


def scan_pickle(path: Path, filename: str) -> list[str]:
    from picklescan.scanner import SafetyLevel, scan_bytes

    log = logging.getLogger("picklescan")  # it logs each finding; smx reports them itself
    saved = log.level, log.propagate
    log.setLevel(logging.CRITICAL + 1)
    log.propagate = False
    try:
        with path.open("rb") as handle:
            result = scan_bytes(handle, filename, Path(filename).suffix.lower())
    except Exception as exc:  # picklescan raises plain Exceptions on broken archives
        raise IntegrityError(f"{filename} could not be read as a pickle/zip archive "
                             f"({exc.__class__.__name__}); it was not placed",
                             hint="the download may be damaged or not a model file") from None
    finally:
        log.setLevel(saved[0])
        log.propagate = saved[1]
    return sorted({f"{g.module}.{g.name}" for g in result.globals
                   if g.safety == SafetyLevel.Dangerous})


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
