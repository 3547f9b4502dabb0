"""Find the line and column of a key path in TOML text.

tomllib reports positions only for syntax errors; schema errors ("expected a string for
packages.a1111.ref") need the position of a key the parser accepted. This scanner knows just
enough TOML to map key paths to positions: table headers, dotted keys, inline tables and
multi-line arrays/strings (skipped). It is only used to point at errors, never to read values.
"""

from __future__ import annotations

from dataclasses import dataclass

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    key_col: int  # 1-based column of the key
    value_col: int  # 1-based column of the value (== key_col for table headers)


def _parse_key(text: str, i: int) -> tuple[list[str], int]:
    """Parse a (dotted) key starting at ``i``; return its parts and the index after it."""
    parts: list[str] = []
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "\"'":
            quote = text[i]
            j = i + 1
            buf = []
            while j < n and text[j] != quote:
                if quote == '"' and text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and (text[j].isalnum() or text[j] in "-_"):
                j += 1
            if j == i:
                break
            parts.append(text[i:j])
            i = j
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        break
    return parts, i


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        return len(text) if end < 0 else end + 3
    j = i + 1
    while j < len(text) and text[j] != quote and text[j] != "\n":
        if quote == '"' and text[j] == "\\":
            j += 1
        j += 1
    return j + 1


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def index_positions(text: str) -> dict[KeyPath, Position]:
    positions: dict[KeyPath, Position] = {}
    table: list[str] = []
    i = 0
    n = len(text)

    def scan_inline_table(start: int, prefix: list[str]) -> int:
        """``start`` points at '{'; records keys inside; returns index after the '}'."""
        j = start + 1
        while j < n:
            while j < n and text[j] in " \t\r\n,":
                j += 1
            if j >= n or text[j] == "}":
                return j + 1
            key_start = j
            parts, j = _parse_key(text, j)
            if not parts:
                return j + 1
            while j < n and text[j] in " \t":
                j += 1
            if j < n and text[j] == "=":
                j += 1
            while j < n and text[j] in " \t":
                j += 1
            path = tuple(prefix + parts)
            line, kcol = _line_col(text, key_start)
            _, vcol = _line_col(text, j)
            positions.setdefault(path, Position(line, kcol, vcol))
            j = skip_value(j, list(path))
        return j

    def skip_value(j: int, path: list[str]) -> int:
        if j >= n:
            return j
        if text[j] == "{":
            return scan_inline_table(j, path)
        if text[j] in "\"'":
            return _skip_string(text, j)
        if text[j] == "[":
            depth = 0
            while j < n:
                ch = text[j]
                if ch in "\"'":
                    j = _skip_string(text, j)
                    continue
                if ch == "#":
                    nl = text.find("\n", j)
                    j = n if nl < 0 else nl
                    continue
                if ch == "{" and depth >= 1:
                    j = scan_inline_table(j, path)
                    continue
                if ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                    if depth == 0:
                        return j + 1
                j += 1
            return j
        while j < n and text[j] not in ",}\n#":
            j += 1
        return j

    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if ch == "[":
            array = text.startswith("[[", i)
            start = i
            parts, j = _parse_key(text, i + (2 if array else 1))
            table = parts
            line, col = _line_col(text, start)
            positions.setdefault(tuple(parts), Position(line, col, col))
            nl = text.find("\n", j)
            i = n if nl < 0 else nl
            continue
        key_start = i
        parts, j = _parse_key(text, i)
        if not parts:
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        while j < n and text[j] in " \t":
            j += 1
        if j < n and text[j] == "=":
            j += 1
        while j < n and text[j] in " \t":
            j += 1
        path = tuple(table + parts)
        line, kcol = _line_col(text, key_start)
        _, vcol = _line_col(text, j)
        positions.setdefault(path, Position(line, kcol, vcol))
        i = skip_value(j, list(path))
    return positions


def locate(text: str, path: KeyPath) -> Position | None:
    """Position of ``path``, or of its nearest recorded ancestor."""
    positions = index_positions(text)
    for cut in range(len(path), 0, -1):
        found = positions.get(tuple(path[:cut]))
        if found is not None:
            return found
    return None
