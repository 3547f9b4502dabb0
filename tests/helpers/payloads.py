"""Small but real model files for tests: valid .safetensors and torch-style .ckpt pickles."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

# attn2.to_k weight shape[1] is the text-encoder context width: 768 SD 1.x, 2048 SDXL.
_CONTEXT = {"SD 1.x": 768, "SD 2.x": 1024, "SDXL": 2048}


def safetensors_bytes(size: int, *, family: str | None = "SDXL", seed: int = 0,
                      metadata: dict[str, str] | None = None) -> bytes:
    """A valid .safetensors of exactly ``size`` bytes whose tensors say ``family``."""
    tensors: dict[str, object] = {}
    offset = 0
    if family is not None:
        ctx = _CONTEXT[family]
        n = 8 * ctx * 2  # F16 [8, ctx]
        tensors["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = {
            "dtype": "F16", "shape": [8, ctx], "data_offsets": [0, n]}
        offset = n
    header: dict[str, object] = {"__metadata__": {"format": "pt", **(metadata or {})}, **tensors}
    # A U8 padding tensor takes the rest, so the file has exactly `size` bytes. The header is
    # sized for the widest number first, then space-padded (the format allows trailing spaces).
    header["pad"] = {"dtype": "U8", "shape": [size], "data_offsets": [offset, size]}
    length = len(json.dumps(header).encode())
    length += -length % 8
    rest = size - 8 - length - offset
    if rest < 0:
        raise ValueError(f"{size} bytes is too small for this header")
    header["pad"] = {"dtype": "U8", "shape": [rest], "data_offsets": [offset, offset + rest]}
    raw = json.dumps(header).encode()
    raw += b" " * (length - len(raw))
    data = struct.pack("<Q", length) + raw + _pattern(offset + rest, seed)
    assert len(data) == size, (len(data), size)
    return data


def _pattern(n: int, seed: int) -> bytes:
    block = bytes((i * 31 + seed * 7 + (i >> 8)) & 0xFF for i in range(4096))
    return (block * (n // len(block) + 1))[:n]


class _Evil:
    """Pickles to a call of os.system: the scanner must see the global. It is never loaded."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("echo pwned",)


def ckpt_bytes(*, dangerous: bool = False, pad_to: int = 0) -> bytes:
    """A torch-style zip checkpoint (archive/data.pkl + a data blob)."""
    obj: object = {"state_dict": {"weight": [0.0] * 16}, "epoch": 1}
    if dangerous:
        obj = {"state_dict": {}, "payload": _Evil()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        archive.writestr("archive/version", "3\n")
        if pad_to:
            archive.writestr("archive/data/0", _pattern(pad_to, 3))
    return buf.getvalue()
