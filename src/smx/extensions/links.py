"""A folder link from an extension's own model folder to the shared store: the last resort.

Links are where launchers lose people's models: a real folder deleted to make room for a link,
or a link that silently fails on exFAT, a network share or Windows without developer mode. So:

1. :func:`probe` creates a test link *in the folder where the link will live* and removes it;
   when that fails the caller falls back to the next mechanism and says why.
2. :func:`link_folder` never deletes a folder that holds files: it first moves every file into
   the store (a file whose name is already taken there, with other content, stops it: nothing
   is lost, the folder stays, and the caller is told). Only an empty folder is replaced.
3. The link is relative (``../../../Models/AnimateDiff``), so the env folder can move.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LinkResult:
    linked: bool
    moved: list[str] = field(default_factory=list)  # files moved into the store
    problem: str | None = None  # why there is no link (the caller falls back)


def probe(folder: Path) -> str | None:
    """None when a directory symlink can be made in ``folder``, else the reason it cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    test = folder / f".smx-link-test-{os.getpid()}"
    with contextlib.suppress(OSError):
        test.unlink()
    try:
        os.symlink(".", test, target_is_directory=True)
    except (OSError, NotImplementedError) as exc:  # os.symlink raises the latter on
        # platforms without symlinks at all; both mean: fall back to the next mechanism
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"this filesystem does not allow links in {folder} ({reason})"
    try:
        if not test.is_dir():
            return f"a link made in {folder} does not work (the filesystem ignores it)"
        return None
    finally:
        with contextlib.suppress(OSError):
            test.unlink()


def points_to(link: Path, target: Path) -> bool:
    try:
        return link.is_symlink() and os.path.samefile(link, target)
    except OSError:
        return False


def link_folder(folder: Path, store: Path) -> LinkResult:
    """Make ``folder`` a link to ``store``, moving any files it holds into ``store`` first."""
    store.mkdir(parents=True, exist_ok=True)
    if points_to(folder, store):
        return LinkResult(True)
    why = probe(folder.parent)
    if why is not None:
        return LinkResult(False, problem=why)
    moved: list[str] = []
    if folder.is_symlink():
        folder.unlink()  # a link elsewhere (a stale store): a link is not data
    elif folder.is_dir():
        clash = _move_contents(folder, store, moved)
        if clash is not None:
            return LinkResult(False, moved, problem=clash)
        _remove_placeholders(folder)
        try:
            folder.rmdir()
        except OSError:
            return LinkResult(False, moved, problem=f"{folder} is not empty after moving its "
                                                    "files; it was left as it is")
    elif folder.exists():
        return LinkResult(False, problem=f"{folder} is a file, not a folder; left as it is")
    os.symlink(os.path.relpath(store, folder.parent), folder, target_is_directory=True)
    return LinkResult(True, moved)


def _move_contents(folder: Path, store: Path, moved: list[str]) -> str | None:
    from smx.models.safety import refusals

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue  # .gitkeep and the like: placeholders, not models
        why = refusals(entry, entry.name) if entry.is_file() else []
        if why:  # every file that enters the store is scanned, whatever brought it
            return (f"{entry} stays where it is: the pickle scan refuses it "
                    f"({'; '.join(why[:2])}); move or delete it yourself")
        dest = store / entry.name
        if dest.exists():
            if entry.is_file() and dest.is_file() and filecmp.cmp(entry, dest, shallow=False):
                entry.unlink()  # the store already has this very file
                continue
            return (f"{entry} and {dest} differ and have the same name; nothing was replaced "
                    "(rename one of them)")
        try:
            os.replace(entry, dest)
        except OSError:
            shutil.move(str(entry), str(dest))  # another filesystem: copy, then delete
        moved.append(entry.name)
    return None


def _remove_placeholders(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.name.startswith(".") and entry.is_file() and entry.stat().st_size == 0:
            entry.unlink()
