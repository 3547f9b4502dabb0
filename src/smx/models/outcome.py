"""What a model step did, for the command that asked for it (its report and --json)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PullOutcome:
    name: str
    action: str  # downloaded | present | linked | registered | adopted | removed | kept
    path: str | None  # relative to the env
    kind: str | None = None
    base_model: str | None = None
    size: int | None = None
    sha256: str | None = None
    source: str | None = None
    fetched: int = 0  # bytes fetched by this run
    resumed_from: int = 0
    linked_to: str | None = None
    warnings: list[str] = field(default_factory=list)
    beside: str | None = None  # added next to this entry, which keeps another version
    replaced: str | None = None  # the source this entry held before --replace
