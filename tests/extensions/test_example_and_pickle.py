"""The seed tutorial as one file (examples/sdxl-animatediff/smx.toml), and the SDXL motion
module that A1111's own pickle check refuses: smx says so and waits for the user to opt in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from extfakes import Installed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sdxl-animatediff" / "smx.toml"


def test_the_tutorial_file_is_accepted_and_its_dry_run_shows_every_step(
        smx, tmp_path: Path, spawned) -> None:
    env = tmp_path / "sdxl"
    env.mkdir()
    shutil.copy(EXAMPLE, env / "smx.toml")

    plan = smx("--env", str(env), "sync", "--dry-run", "--json")
    human = smx("--env", str(env), "sync", "--dry-run")

    assert plan.exit_code == 0, plan.output
    steps = {(s["action"], s["area"], s["target"])
             for s in json.loads(plan.stdout)["data"]["steps"]}
    assert steps == {
        ("install", "package", "a1111"),
        ("install", "extension", "animatediff"),
        ("install", "extension", "controlnet"),
        ("check", "package", "a1111"),
        ("pull", "model", "animapencil-xl"),
        ("pull", "model", "mm-sdxl"),
        ("pull", "model", "openpose-xl"),
        ("pull", "model", "depth-xl"),
    }
    order = [(s["area"], s["action"]) for s in json.loads(plan.stdout)["data"]["steps"]]
    # the web UI, its extensions, then the load check of what they installed, then models
    assert [a for a, _ in order[:3]] == ["package", "extension", "extension"]
    assert order[3] == ("package", "check")
    assert {a for a, _ in order[4:]} == {"model"}
    assert human.exit_code == 0, human.output
    assert "8 steps would run" in human.output
    assert "check package a1111: load check" in human.output
    assert "install extension animatediff" in human.output
    # the motion module A1111 refuses: said before anything runs, opt-in left to the user
    assert "refuses mm_sdxl_v10_beta.ckpt" in human.output
    assert "unsafe-pickle-ok = true" in human.output
    assert spawned == []  # a dry run spawns nothing (no git, no network)


def _with_sdxl_motion_module(env: Path, *, opted_in: bool) -> None:
    toml = env / "smx.toml"
    text = toml.read_text()
    assert "[models]\n" in text and "[packages]" in text
    if opted_in:
        text = text.replace("[packages]", "[launch]\nunsafe-pickle-ok = true\n\n[packages]", 1)
    text = text.replace("[models]\n", '[models]\nmm-sdxl = { source = '
                        '"hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", kind = '
                        '"motion-module" }\n', 1)
    toml.write_text(text)


def test_add_sync_and_launch_say_the_motion_module_needs_an_opt_in(
        smx, a1111: Installed, repos) -> None:
    _with_sdxl_motion_module(a1111.env, opted_in=False)

    added = smx("--env", str(a1111.env), "ext", "add", "animatediff")
    assert added.exit_code == 0, added.output
    assert "refuses mm_sdxl_v10_beta.ckpt" in added.output
    assert "smx scanned it" in added.output

    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan

    plan = build_plan(Env.open(a1111.env), LaunchRequest())
    assert any("refuses mm_sdxl_v10_beta.ckpt" in note for note in plan.notes)
    assert "--disable-safe-unpickle" not in plan.argv  # never added silently


def test_after_opting_in_launch_passes_the_flag_and_no_longer_asks(
        smx, a1111: Installed, repos) -> None:
    _with_sdxl_motion_module(a1111.env, opted_in=True)

    added = smx("--env", str(a1111.env), "ext", "add", "animatediff")

    assert added.exit_code == 0, added.output
    assert "refuses" not in added.output
    from smx.environment.env import Env
    from smx.launch.argv import LaunchRequest, build_plan

    plan = build_plan(Env.open(a1111.env), LaunchRequest())
    assert "--disable-safe-unpickle" in plan.argv
    assert not any("refuses" in note for note in plan.notes)
