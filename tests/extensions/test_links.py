"""The last-resort link from an extension's own model folder to the store: probed first, never
over a folder that holds files (they move into the store), and a fallback with a reason."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from helpers.hostile import checkpoint, state_dict_pickle
from smx.catalog.extensions import ExtensionVariant, ModelWiring
from smx.catalog.packages import PACKAGES
from smx.environment.layout import EnvLayout
from smx.extensions import links
from smx.extensions.models import apply

A1111 = PACKAGES["a1111"]
MODULE = checkpoint(state_dict_pickle("down_blocks.0.weight"))  # a clean torch.save file
LINK_ONLY = ExtensionVariant("https://example.invalid/x.git",
                             models=(ModelWiring("motion-module", folder="model"),))
SETTING_THEN_LINK = ExtensionVariant(
    "https://example.invalid/x.git",
    models=(ModelWiring("motion-module", setting="animatediff_model_path", folder="model"),))


@pytest.fixture
def layout(tmp_path: Path) -> EnvLayout:
    layout = EnvLayout(tmp_path / "env")
    layout.create()
    (layout.package_dir("a1111") / "extensions" / "ext" / "model").mkdir(parents=True)
    return layout


def _ext(layout: EnvLayout) -> Path:
    return layout.package_dir("a1111") / "extensions" / "ext"


def test_a_folder_holding_models_is_emptied_into_the_store_then_linked(layout) -> None:
    folder = _ext(layout) / "model"
    (folder / "mm_sd_v15.ckpt").write_bytes(MODULE)
    (folder / ".gitkeep").write_bytes(b"")

    messages = apply(layout, A1111, layout.package_dir("a1111"), _ext(layout), LINK_ONLY)

    store = layout.model_folder("motion-module")
    assert folder.is_symlink() and os.path.samefile(folder, store)
    assert not os.path.isabs(os.readlink(folder))  # relative: the env folder can move
    assert (store / "mm_sd_v15.ckpt").read_bytes() == MODULE
    assert (folder / "mm_sd_v15.ckpt").read_bytes() == MODULE  # seen through the link
    assert any("moved 1 file" in m for m in messages)


def test_a_file_the_pickle_scan_refuses_never_enters_the_store(layout) -> None:
    from helpers.hostile import call_pickle, checkpoint

    folder = _ext(layout) / "model"
    (folder / "mm_bad.ckpt").write_bytes(checkpoint(call_pickle("os", "system")))

    messages = apply(layout, A1111, layout.package_dir("a1111"), _ext(layout), LINK_ONLY)

    assert (folder / "mm_bad.ckpt").is_file() and not folder.is_symlink()
    assert not (layout.model_folder("motion-module") / "mm_bad.ckpt").exists()
    assert any("pickle scan refuses it" in m for m in messages), messages


def test_a_name_clash_keeps_both_files_and_no_link(layout) -> None:
    folder = _ext(layout) / "model"
    (folder / "mm.ckpt").write_bytes(b"mine")
    store = layout.model_folder("motion-module")
    (store / "mm.ckpt").write_bytes(b"the store's")

    messages = apply(layout, A1111, layout.package_dir("a1111"), _ext(layout), LINK_ONLY)

    assert not folder.is_symlink()
    assert (folder / "mm.ckpt").read_bytes() == b"mine"
    assert (store / "mm.ckpt").read_bytes() == b"the store's"
    assert any("no link" in m and "same name" in m for m in messages)


def test_a_filesystem_without_links_is_detected_by_a_probe_and_nothing_moves(
        layout, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _ext(layout) / "model"
    (folder / "mm.ckpt").write_bytes(b"mine")

    def no_links(*_args: object, **_kwargs: object) -> None:  # exFAT, a share, Windows
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", no_links)
    messages = apply(layout, A1111, layout.package_dir("a1111"), _ext(layout), LINK_ONLY)

    assert (folder / "mm.ckpt").read_bytes() == b"mine" and not folder.is_symlink()
    assert any("does not allow links" in m for m in messages)
    assert not list(folder.parent.glob(".smx-link-test*"))


def test_the_setting_comes_first_and_a_broken_settings_file_falls_back_to_a_link(
        layout) -> None:
    checkout = layout.package_dir("a1111")
    (checkout / "config.json").write_text("{not json")

    messages = apply(layout, A1111, checkout, _ext(layout), SETTING_THEN_LINK)

    assert (checkout / "config.json").read_text() == "{not json"  # never overwritten
    assert (_ext(layout) / "model").is_symlink()
    assert any("not valid JSON" in m for m in messages)


def test_a_users_own_setting_is_kept(layout) -> None:
    checkout = layout.package_dir("a1111")
    (checkout / "config.json").write_text(json.dumps({"animatediff_model_path": "/mnt/mm"}))

    messages = apply(layout, A1111, checkout, _ext(layout), SETTING_THEN_LINK)

    assert json.loads((checkout / "config.json").read_text()) == {
        "animatediff_model_path": "/mnt/mm"}
    assert not (_ext(layout) / "model").is_symlink()
    assert any("your setting" in m for m in messages)


def test_an_existing_link_to_the_store_is_left_alone(layout) -> None:
    folder = _ext(layout) / "model"
    folder.rmdir()
    store = layout.model_folder("motion-module")
    os.symlink(os.path.relpath(store, folder.parent), folder)

    result = links.link_folder(folder, store)

    assert result.linked and result.moved == []
