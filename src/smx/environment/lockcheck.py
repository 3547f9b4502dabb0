"""smx.lock is validated like smx.toml: every value's type, and every name smx turns into a
path or a git argument, with the ``file:line:col`` of the offending value.

smx.lock is machine-written, but it is also a file people commit, share and merge, so nothing
in it is trusted: a model's ``filename`` must be a plain name of its kind's folder (the rule
for names from servers, :func:`smx.environment.names.sanitize_filename`), names of entries are
smx.toml names, commits are full SHAs, git URLs and refs pass :mod:`smx.gitcheck`. Types come
from the lock's dataclasses themselves, so a field added there is checked without a change
here. Unknown keys are ignored (a newer smx may add some; ``version`` guards the format).
"""

from __future__ import annotations

import functools
import re
import sys
import types
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from smx.environment.manifest import NAME_RE, SHA256_RE, display_path
from smx.environment.tomlpos import KeyPath, locate
from smx.errors import ConfigError

FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
KIND_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HINT = ("smx.lock is written by smx: restore it from version control, or delete it and run "
        "`smx lock` to rebuild it from smx.toml")


class LockChecker:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, key_path: KeyPath, message: str, *, at_key: bool = False) -> ConfigError:
        where = display_path(self.path)
        pos = locate(self.text, key_path)
        if pos is not None:
            where = f"{where}:{pos.line}:{pos.key_col if at_key else pos.value_col}"
        return ConfigError(f"{where}: {message}", hint=HINT, code="lock.invalid")

    def table(self, value: Any, key_path: KeyPath) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key_path, f"expected a table for {_dotted(key_path)}")
        return value

    def entries(self, value: Any, key_path: KeyPath) -> dict[str, Any]:
        """A table of named entries (``[models.NAME]``): each name an smx.toml name."""
        table = self.table(value, key_path)
        for name in table:
            if not NAME_RE.match(name):
                raise self.fail((*key_path, name), f"invalid name {name!r} in "
                                f"{_dotted(key_path)}", at_key=True)
        return table

    def build(self, cls: type, name: str, raw: Any, key_path: KeyPath,
              skip: tuple[str, ...] = ()) -> Any:
        """``cls(name=name, **raw)`` after checking each known key against its annotation."""
        table = self.table(raw, key_path)
        hints = _hints(cls)
        kwargs: dict[str, Any] = {"name": name}
        for fld in fields(cls):
            if fld.name == "name" or fld.name in skip:
                continue
            if fld.name not in table:
                if fld.default is MISSING and fld.default_factory is MISSING:
                    raise self.fail(key_path, f"missing key {_dotted((*key_path, fld.name))}")
                continue
            value = table[fld.name]
            if not _matches(value, hints[fld.name]):
                raise self.fail((*key_path, fld.name), f"expected {_describe(hints[fld.name])} "
                                f"for {_dotted((*key_path, fld.name))}")
            kwargs[fld.name] = value
        return cls(**kwargs)

    def require(self, ok: bool, key_path: KeyPath, message: str) -> None:
        if not ok:
            raise self.fail(key_path, message)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _dotted(path: KeyPath) -> str:
    return ".".join(path)


def _union_args(hint: Any) -> tuple[Any, ...] | None:
    origin = get_origin(hint)
    if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        return get_args(hint)
    return None


def _matches(value: Any, hint: Any) -> bool:
    return _test(hint)(value)


@functools.cache
def _test(hint: Any) -> Callable[[Any], bool]:
    """A check of a value against ``hint``, built once per annotation (a lock is read by every
    command: its thousands of freeze lines must cost a type test each, nothing more)."""
    if hint is Any:
        return lambda value: True
    options = _union_args(hint)
    if options is not None:
        tests = [_test(option) for option in options]
        return lambda value: any(test(value) for test in tests)
    if hint is type(None):
        return lambda value: value is None
    origin, args = get_origin(hint), get_args(hint)
    if origin is list:
        item = args[0]
        if item in (str, bool):
            return lambda value: isinstance(value, list) and all(isinstance(v, item)
                                                                  for v in value)
        test = _test(item)
        return lambda value: isinstance(value, list) and all(test(v) for v in value)
    if origin is dict:
        if is_dataclass(args[1]):
            return lambda value: isinstance(value, dict)  # entries: built by the caller
        test = _test(args[1])
        return lambda value: isinstance(value, dict) and all(
            isinstance(k, str) and test(v) for k, v in value.items())
    if hint in (int, float):
        kinds = (int,) if hint is int else (int, float)
        return lambda value: isinstance(value, kinds) and not isinstance(value, bool)
    if isinstance(hint, type):
        return lambda value: isinstance(value, hint)
    return lambda value: True  # a typing form this checker does not know: taken as is


_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def _describe(hint: Any) -> str:
    options = _union_args(hint)
    if options is not None:
        return " or ".join(_describe(o) for o in options if o is not type(None))
    origin, args = get_origin(hint), get_args(hint)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"a table of {_describe(args[1]).removeprefix('a ').removeprefix('an ')}s"
    return _NAMES.get(hint, f"a {getattr(hint, '__name__', hint)}")


# --- what each entry's values must be, beyond their types --------------------------------------
def check_git(check: LockChecker, key_path: KeyPath, git: str, commit: str,
              ref: str | None) -> None:
    from smx.gitcheck import ref_problem, url_problem

    why = url_problem(git)
    check.require(why is None, (*key_path, "git"), f"{_dotted((*key_path, 'git'))}: {why}")
    check.require(bool(FULL_SHA_RE.match(commit)), (*key_path, "commit"),
                  f"{_dotted((*key_path, 'commit'))} is not a full commit SHA "
                  "(40 lower-case hexadecimal characters)")
    why = ref_problem(ref) if ref is not None else None
    check.require(why is None, (*key_path, "ref"), f"{_dotted((*key_path, 'ref'))}: {why}")


def check_archive(check: LockChecker, key_path: KeyPath, sha256: str) -> None:
    """A node pack installed from a Comfy Registry archive: pinned by the archive's SHA-256."""
    check.require(bool(SHA256_RE.match(sha256)) and sha256 == sha256.lower(),
                  (*key_path, "archive_sha256"), f"{_dotted((*key_path, 'archive_sha256'))} is "
                  "not a SHA-256 (64 lower-case hexadecimal characters)")


def check_model(check: LockChecker, key_path: KeyPath, kind: str, filename: str, size: int,
                sha256: str, source: str, url: str | None) -> None:
    from smx.environment.names import is_store_filename
    from smx.errors import SmxError
    from smx.models.refs import parse_model_ref

    check.require(bool(KIND_RE.match(kind)), (*key_path, "kind"),
                  f"{_dotted((*key_path, 'kind'))} {kind!r} is not a model kind")
    check.require(is_store_filename(filename), (*key_path, "filename"),
                  f"{_dotted((*key_path, 'filename'))} {filename!r} is not a plain file name "
                  "of its kind's folder (no folders, no '..', no leading dot)")
    check.require(size >= 0, (*key_path, "size"), f"{_dotted((*key_path, 'size'))} is negative")
    check.require(bool(SHA256_RE.match(sha256)) and sha256 == sha256.lower(),
                  (*key_path, "sha256"), f"{_dotted((*key_path, 'sha256'))} is not a SHA-256 "
                  "(64 lower-case hexadecimal characters)")
    try:
        parse_model_ref(source)
    except SmxError as exc:
        raise check.fail((*key_path, "source"), f"{_dotted((*key_path, 'source'))}: "
                         f"{exc.message}") from None
    check.require(url is None or url.startswith(("https://", "http://")), (*key_path, "url"),
                  f"{_dotted((*key_path, 'url'))} is not an http(s) URL")
