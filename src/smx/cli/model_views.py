"""Tables of `smx model list` and `smx model outdated`, fitted to the terminal.

One line per model whatever the width: the short columns keep their text, the long ones (the
source, the trigger words) get the room that is left, a source shortened in the middle with
``…`` (its start says the service, its end the file), trigger words cut at the end. ``--wide``
prints every column in full, however long the lines get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GAP = 2  # the space rich puts between two columns of a borderless table
MIN_SOURCE = 16
MIN_TRIGGERS = 10
MAX_NAME = 28


def shorten_middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def shorten_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


@dataclass
class Column:
    header: str
    cells: list[str]
    shorten: str | None = None  # "middle" | "end" | None (never shortened)
    justify: str = "left"
    width: int = 0

    @property
    def natural(self) -> int:
        return max([len(self.header), *(len(c) for c in self.cells)])


def fit(columns: Sequence[Column], total: int) -> list[Column]:
    """Widths for ``columns`` in ``total`` characters: the columns that are never shortened at
    their natural width, the source and the trigger words sharing the rest. Trigger words that
    cannot get ``MIN_TRIGGERS`` characters are left out (``--wide`` and ``--json`` have them);
    a long name gives way before the source gets less than ``MIN_SOURCE``."""
    shown = list(columns)
    for column in shown:
        column.width = column.natural

    def find(header: str) -> Column | None:
        return next((c for c in shown if c.header == header), None)

    def room(*flexible: Column) -> int:
        others = sum(c.width for c in shown if c not in flexible)
        return total - others - GAP * (len(shown) - 1)

    source, triggers, name = find("source"), find("triggers"), find("name")
    if source is None:
        return shown
    if triggers is not None:
        left = room(source, triggers)
        # the wider of the two gives way first; the source keeps at least half of the room
        floor = max(MIN_SOURCE, left // 2)
        while source.width + triggers.width > left:
            wider = source if source.width >= triggers.width and \
                source.width > floor else triggers
            if wider.width <= 1:
                break
            wider.width -= 1
        if triggers.width >= MIN_TRIGGERS:
            return shown
        shown.remove(triggers)
    left = room(source)
    if left < MIN_SOURCE and name is not None:
        name.width = max(12, name.width - (MIN_SOURCE - left))
        name.shorten = "end"
        left = room(source)
    source.width = max(1, min(source.natural, left))
    return shown


def render(output: Any, columns: Sequence[Column], *, wide: bool) -> None:
    from rich.table import Table

    if output.quiet or output.json_mode:
        return
    width = output.console.width
    shown = list(columns) if wide else fit(columns, width)
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in shown:
        table.add_column(column.header, no_wrap=True, overflow="ignore" if wide else "crop",
                         justify=column.justify,  # type: ignore[arg-type]
                         width=None if wide else column.width)
    rows = len(columns[0].cells) if columns else 0
    for i in range(rows):
        cells = []
        for column in shown:
            text = column.cells[i]
            if not wide and column.shorten == "middle":
                text = shorten_middle(text, column.width)
            elif not wide and column.shorten == "end":
                text = shorten_end(text, column.width)
            cells.append(text)
        table.add_row(*cells)
    if not wide:
        output.console.print(table, markup=False)
        return
    total = sum(c.natural for c in shown) + GAP * (len(shown) - 1)
    output.console.width = max(width, total)  # longer lines than the terminal: asked for
    try:
        output.console.print(table, markup=False)
    finally:
        output.console.width = width


def model_columns(rows: Sequence[Any], *, wide: bool) -> list[Column]:
    from smx.words import human_bytes

    columns = [
        Column("name", [r.name if wide else shorten_end(r.name, MAX_NAME) for r in rows]),
        Column("kind", [r.kind or "?" for r in rows]),
        Column("base", [r.base_model or "" for r in rows]),
        Column("size", [human_bytes(r.size_bytes) if r.size_bytes is not None else ""
                        for r in rows], justify="right"),
        Column("source", [r.source for r in rows], shorten="middle"),
        Column("state", [r.state for r in rows]),
    ]
    if wide:
        columns[5:5] = [Column("locked", [r.locked or "" for r in rows]),
                        Column("sha256", [(r.sha256 or "")[:12] for r in rows]),
                        Column("used by", [", ".join(r.used_by) for r in rows])]
    if any(r.trigger_words for r in rows):
        columns.append(Column("triggers", [", ".join(r.trigger_words) for r in rows],
                              shorten="end"))
    return columns
