"""Numbers in messages: counted nouns ("1 difference", "3 differences", never
"1 difference(s)") and sizes ("1.2 GB")."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def human_bytes(n: float | None, unknown: str = "?") -> str:
    """A size as people read it, in powers of 1000 as disks are sold: 999 B, 1.2 kB, 6.9 GB."""
    if n is None:
        return unknown
    for unit, size in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
