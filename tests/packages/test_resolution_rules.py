"""The rules behind resolution as of a date and protected pins, one by one (no venvs): which
date a package gets, which pins hold, and how smx reads who asked for what from pip's and uv's
own conflict reports (their real wording)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from smx.catalog.packages import PACKAGES
from smx.errors import ConfigError
from smx.packages.asof import CommitDate, choose, index_gives_no_times, parse_setting
from smx.packages.protect import (
    Pin,
    ProtectedPins,
    filter_requirements,
    protected_pins,
    requests_in_output,
)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_the_date_is_the_newest_commit_of_the_package_and_its_extensions_plus_a_week() -> None:
    commits = [CommitDate("a1111", _utc("2024-07-27T12:49:39")),
               CommitDate("sd-webui-animatediff", _utc("2024-09-22T00:17:56")),
               CommitDate("sd-webui-controlnet", _utc("2024-07-25T20:52:52"))]

    date = choose(None, commits, locked=None, frozen=False)

    assert date is not None
    assert date.stamp == "2024-09-29T00:17:56Z"
    assert date.why == "newest commit: sd-webui-animatediff, 2024-09-22, + 7 days"
    assert date.environ() == {"PIP_UPLOADED_PRIOR_TO": "2024-09-29T00:17:56Z",
                              "UV_EXCLUDE_NEWER": "2024-09-29T00:17:56Z"}


def test_smx_toml_sets_it_now_resolves_today_and_frozen_takes_the_locks() -> None:
    commits = [CommitDate("comfyui", _utc("2025-10-08T04:53:43"))]

    assert choose("2024-08-01", commits, locked=None, frozen=False).stamp == \
        "2024-08-01T00:00:00Z"  # type: ignore[union-attr]
    now = choose("now", commits, locked=None, frozen=False)
    assert now is not None and not now.filters and now.environ() == {}
    frozen = choose("2024-08-01", commits, locked="2025-10-15T04:53:43Z", frozen=True)
    assert frozen is not None and frozen.stamp == "2025-10-15T04:53:43Z"
    assert choose(None, [], locked=None, frozen=False) is None


@pytest.mark.parametrize("text", ["2024-08-01", "2024-08-01T12:00:00Z", "2024-08-01T12:00:00+02:00",
                                  "now", "NOW"])
def test_what_resolve_as_of_accepts(text: str) -> None:
    parse_setting(text)


@pytest.mark.parametrize("text", ["last tuesday", "2024-13-01", "08/01/2024", ""])
def test_what_resolve_as_of_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_setting(text)


def test_a_damaged_date_in_smx_lock_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="is not a date"):
        choose(None, [], locked="yesterday", frozen=True)


def test_pip_and_uv_saying_the_index_has_no_upload_times_is_recognised() -> None:
    assert index_gives_no_times("ERROR: Index http://127.0.0.1:8/simple/x/ does not provide "
                                "upload-time metadata.")
    assert index_gives_no_times("warning: `x-1.0-py3-none-any.whl` is missing an upload date, "
                                "but user provided: 2024-06-01T00:00:00Z")
    assert not index_gives_no_times("ERROR: No matching distribution found for x")


# --- which pins hold --------------------------------------------------------------------------
def test_protected_pins_are_the_torch_family_numpy_and_the_web_uis_own_exact_pins(
        tmp_path: Path) -> None:
    (tmp_path / "requirements_versions.txt").write_text(
        "numpy==1.26.2\nprotobuf==3.20.0\ngradio==3.41.2  # the UI\ntimm>=0.9\n"
        "scikit-image==0.21.0\n")
    installed = ["gradio==3.41.2", "numpy==1.26.2", "protobuf==4.25.0", "scikit-image==0.21.0",
                 "timm==0.9.2", "torch==2.1.2", "torchvision==0.16.2",
                 "clip @ git+https://github.com/openai/CLIP@d50d76d"]

    pins = protected_pins("a1111", tmp_path, PACKAGES["a1111"], installed)

    held = {p.name: (p.version, p.why) for p in pins.pins}
    assert held == {"torch": ("2.1.2", "the torch build"),
                    "torchvision": ("0.16.2", "the torch build"),
                    "numpy": ("1.26.2", "a1111's core numpy"),
                    "gradio": ("3.41.2", "a1111's own pin"),
                    "scikit-image": ("0.21.0", "a1111's own pin")}
    # protobuf 4.25 no longer matches the web UI's own ==3.20.0 (an extension was let
    # through): not protected, so the web UI's own installer may put its version back
    assert "protobuf" not in held
    assert pins.fixes == ("setuptools<81",)  # the catalog's known fix for CLIP
    text = pins.text()
    assert "setuptools<81\n" in text and "torch==2.1.2\n" in text
    only_torch = protected_pins("a1111", tmp_path, PACKAGES["a1111"], installed, own_too=False)
    assert {p.name for p in only_torch.pins} == {"torch", "torchvision"}


def test_allowing_pin_changes_keeps_torch(tmp_path: Path) -> None:
    pins = ProtectedPins("comfyui", (Pin("torch", "2.4.0", "the torch build"),
                                     Pin("numpy", "1.26.4", "comfyui's core numpy")))

    assert [p.name for p in pins.without({"torch", "numpy"}).pins] == ["torch"]


def test_a_requirement_line_that_contradicts_a_pin_is_left_out_and_the_rest_kept(
        tmp_path: Path) -> None:
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "extra.txt").write_text("smx-more\n")
    (nodes / "requirements.txt").write_text(
        "numpy>=2  # wants numpy 2\nopencv-python\nnumpy<3; python_version >= '3.9'\n"
        "-r extra.txt\n--extra-index-url https://example.org/simple\n# a comment\n")
    pins = ProtectedPins("comfyui", (Pin("numpy", "1.26.4", "comfyui's core numpy"),))

    filtered = filter_requirements(nodes / "requirements.txt", pins, "ComfyUI-nodes")

    assert [r.describe() for r in filtered.refused] == [
        "ComfyUI-nodes asked for numpy>=2; kept numpy==1.26.4 (comfyui's core numpy)"]
    lines = filtered.text.splitlines()
    assert "opencv-python" in lines
    assert "numpy<3; python_version >= '3.9'" in lines  # 1.26.4 satisfies it: kept
    assert f"-r {nodes / 'extra.txt'}" in lines  # still found from where the copy lives
    assert "--extra-index-url https://example.org/simple" in lines


PIP_REPORT = """\
ERROR: Cannot install mediapipe==1.2.3 because these package versions have conflicting dependencies.

The conflict is caused by:
    mediapipe 1.2.3 depends on numpy>=2
    The user requested (constraint) numpy==1.26.2

To fix this you could try to:
"""
UV_REPORT = """\
  x No solution found when resolving dependencies:
  `-> Because all versions of mediapipe depend on numpy>=2 and you require numpy==1.26.2, we
      can conclude that all versions of mediapipe cannot be used.
"""


@pytest.mark.parametrize("report", [PIP_REPORT, UV_REPORT], ids=["pip", "uv"])
def test_who_asked_for_what_is_read_from_the_resolvers_own_report(report: str) -> None:
    pins = ProtectedPins("a1111", (Pin("numpy", "1.26.2", "a1111's core numpy"),))

    (request,) = requests_in_output(report, pins, "sd-webui-controlnet")

    assert request.asked == "numpy>=2"
    assert request.via is not None and request.via.startswith("mediapipe")
    assert request.describe().startswith("sd-webui-controlnet asked for numpy>=2 (through "
                                         "mediapipe")
    assert request.describe().endswith("kept numpy==1.26.2 (a1111's core numpy)")


def test_a_report_about_unprotected_packages_names_no_pin() -> None:
    pins = ProtectedPins("a1111", (Pin("torch", "2.1.2", "the torch build"),))

    assert requests_in_output(PIP_REPORT, pins, "x") == []
