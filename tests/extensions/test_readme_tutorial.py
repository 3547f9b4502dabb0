"""The README tutorial (SDXL + AnimateDiff + ControlNet on A1111), followed as written, ends
with a launch that can load the SDXL motion module: every `smx` line of it runs here, against
loopback Civitai / Hugging Face and the extensions' repositories at their real URLs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from extfakes import Installed

from helpers import realheaders as rh
from helpers.fakehub import FakeHub, fakehub  # noqa: F401 - the shared fixture
from helpers.payloads import ckpt_bytes

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
MiB = 1024 * 1024


def tutorial_commands() -> list[list[str]]:
    section = README.split("## Tutorial", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    commands = []
    for line in block.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                commands.append(words)
    return commands


def test_the_tutorial_ends_with_a_launch_that_loads_the_sdxl_motion_module(
        smx, a1111: Installed, repos, fakehub: FakeHub) -> None:  # noqa: F811
    # the four models with the layouts of the real files (their headers say their kind)
    fakehub.civitai_publish(261336, 597138, rh.safetensors_file(rh.checkpoint("SDXL"),
                                                                pad_to=MiB),
                            filename="animaPencilXL_v500.safetensors")
    fakehub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    fakehub.hf_commit("lllyasviel/sd_control_collection", {
        "thibaud_xl_openpose.safetensors": rh.safetensors_file(
            rh.controlnet_diffusers("SDXL"), pad_to=MiB, fill=1),
        "diffusers_xl_depth_full.safetensors": rh.safetensors_file(
            rh.controlnet_diffusers("SDXL"), pad_to=MiB, fill=2)})
    env = str(a1111.env)
    ran = []
    for words in tutorial_commands():
        assert words[0] in ("smx", "cd"), words
        if words[0] == "cd" or words[1] == "init":
            continue  # the fixture's environment is the tutorial's folder
        if words[1:] == ["doctor"]:
            continue  # this machine's GPU and disk are not the point here
        if words[1:] == ["install", "a1111"]:
            assert a1111.name == "a1111"  # installed as `smx install a1111` leaves it
            continue
        if words[1] == "launch":
            result = smx("--env", env, *words[1:], "--dry-run", "--json")
            assert result.exit_code == 0, result.output
            plan = json.loads(result.stdout)["data"]
            ran.append("launch")
            break
        result = smx("--env", env, *words[1:])
        assert result.exit_code == 0, (words, result.output)
        assert "refuses" not in result.output, (words, result.output)
        ran.append(" ".join(words[1:3]))
    assert ran == ["ext add", "ext add", "model pull", "model pull", "model pull",
                   "model pull", "launch"]
    argv = plan["argv"]
    assert "--disable-safe-unpickle" in argv and "--share" in argv
    assert not any("refuses" in note for note in plan["notes"])
