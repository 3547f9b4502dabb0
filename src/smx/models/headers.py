"""The header of a .safetensors file on disk, classified (models/classify.py)."""

from __future__ import annotations

from pathlib import Path

from smx.errors import IntegrityError
from smx.models.classify import Verdict, classify, tensors_of

SAFETENSORS_SUFFIXES = (".safetensors", ".sft")


def is_safetensors(filename: str) -> bool:
    return filename.lower().endswith(SAFETENSORS_SUFFIXES)


def file_verdict(path: Path) -> Verdict | None:
    """What a stored .safetensors file's header says; None for other files (pickles are never
    opened to classify them) and for files that are not valid safetensors."""
    from smx.models.safety import read_safetensors_header

    if not is_safetensors(path.name):
        return None
    try:
        header, metadata = read_safetensors_header(path, path.name)
    except (IntegrityError, OSError):
        return None
    return classify(tensors_of(header), metadata)
