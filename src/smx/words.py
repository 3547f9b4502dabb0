"""Counted nouns in messages: "1 difference", "3 differences", never "1 difference(s)"."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
