"""`smx ext add --from-workflow FILE`: a shared ComfyUI workflow (UI JSON, API JSON, or a PNG or
WebP ComfyUI saved) -> the node packs it needs, found through the Comfy Registry and added
after one confirmation, and the models the store lacks with the command that fetches them."""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import pytest
from extfakes import Installed, state_of

from helpers.fakeregistry import FakeRegistry, fake_registry  # noqa: F401
from helpers.jsondocs import check

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FIXTURES = Path(__file__).parent / "fixtures"
UI = FIXTURES / "animatediff-ui.json"
API = FIXTURES / "animatediff-api.json"
ADE = "comfyui-animatediff-evolved"
VHS = "comfyui-videohelpersuite"

# ComfyUI's own nodes, written both ways ComfyUI registers them (nodes.py load_custom_node)
CORE = '''\
from comfy_api.latest import io

NODE_CLASS_MAPPINGS = {
    "CheckpointLoaderSimple": object, "CLIPTextEncode": object, "KSampler": object,
    "EmptyLatentImage": object,
}
NODE_CLASS_MAPPINGS["LoraLoader"] = object


class VAEDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="VAEDecode", category="latent")
'''


def _pack(classes: list[str]) -> dict[str, str]:
    mapping = ", ".join(f"{c!r}: object" for c in classes)
    return {"__init__.py": f"NODE_CLASS_MAPPINGS = {{{mapping}}}\n"}


@pytest.fixture
def comfy(comfyui: Installed) -> Installed:
    """The installed test ComfyUI, with core nodes smx can read."""
    extras = comfyui.checkout / "comfy_extras"
    extras.mkdir()
    (extras / "nodes_core.py").write_text(CORE)
    return comfyui


@pytest.fixture
def registry(fake_registry: FakeRegistry) -> FakeRegistry:  # noqa: F811
    ade = ["ADE_AnimateDiffLoaderGen1", "ADE_StandardStaticContextOptions"]
    fake_registry.publish(ADE, "1.5.7", name="AnimateDiff Evolved", files=_pack(ade),
                          classes=ade)
    fake_registry.publish(VHS, "1.6.1", name="Video Helper Suite",
                          files=_pack(["VHS_VideoCombine"]), classes=["VHS_VideoCombine"])
    fake_registry.publish("comfyui-frame-tools", "1.0.0", name="Frame Tools",
                          files=_pack(["FrameInterp"]), classes=["FrameInterp"])
    return fake_registry


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_ui_workflow_adds_the_packs_it_needs_and_lists_the_models_it_lacks(
        smx, comfy: Installed, registry: FakeRegistry) -> None:
    result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(UI), "--yes")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "ADE_AnimateDiffLoaderGen1, ADE_StandardStaticContextOptions" in out
    assert f"added {ADE} 1.5.7 to comfyui" in out and f"added {VHS} 1.6.1" in out
    assert "added comfyui-frame-tools" in out  # used inside a subgraph
    entries = _toml(comfy.env / "smx.toml")["packages"]["comfyui"]["extensions"]
    assert entries == {ADE: {"registry": ADE}, VHS: {"registry": VHS},
                       "comfyui-frame-tools": {"registry": "comfyui-frame-tools"}}
    assert (comfy.ext_dir(ADE) / "__init__.py").is_file()
    # what the Registry cannot answer, and ComfyUI's own newer nodes, are said, not guessed
    assert "MysteryNode: the workflow says it comes from github.com/someone/ComfyUI-Mystery: " \
           "smx ext add https://github.com/someone/ComfyUI-Mystery" in out
    assert "`smx update comfyui`): NewCoreNode" in out
    # models: the workflow's own download URL when it has one, else where to look
    assert ("smx model pull https://huggingface.co/Lykon/DreamShaper/resolve/main/"
            "DreamShaper_8_pruned.safetensors --kind checkpoint") in out
    assert "mm_sd_v15_v2.ckpt (motion-module)" in out
    assert "add_detail.safetensors (lora): smx model pull <civitai:ID, hf:OWNER/REPO/" \
           "add_detail.safetensors or URL> --kind lora" in out
    # the Registry was asked about the packs the workflow names, and looked up the rest
    assert f"GET /nodes/{ADE}" in registry.requests
    assert "GET /comfy-nodes/FrameInterp/node" in registry.requests
    assert "GET /comfy-nodes/ADE_AnimateDiffLoaderGen1/node" not in registry.requests

    # run again with the models in the store: the packs are there now, nothing to add
    for folder, name in (("StableDiffusion", "dreamshaper_8.safetensors"),
                         ("AnimateDiff", "mm_sd_v15_v2.ckpt"), ("Lora", "add_detail.safetensors")):
        (comfy.env / "Data" / "Models" / folder / name).write_bytes(b"weights")
    again = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(UI), "--yes",
                "--json")
    data = check(again.stdout, again.exit_code, "ext-add-workflow.md", "ext add")["data"]
    assert data["missing_node_types"] == ["MysteryNode", "NewCoreNode"]
    assert data["added"] == [] and data["missing_models"] == []


def test_an_api_workflow_finds_packs_by_the_registrys_node_class_lookup_and_json_without_yes_adds_nothing(  # noqa: E501
        smx, comfy: Installed, registry: FakeRegistry) -> None:
    before = state_of(comfy.env)

    result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(API), "--json")

    assert result.exit_code == 0, result.output
    document = check(result.stdout, result.exit_code, "ext-add-workflow.md", "ext add")
    data = document["data"]
    assert data["workflow"]["format"] == "api"
    assert data["missing_node_types"] == ["ADE_AnimateDiffLoaderGen1",
                                          "ADE_StandardStaticContextOptions",
                                          "VHS_VideoCombine"]
    packs = {p["registry"]: p for p in data["packs"]}
    assert packs[ADE]["found_by"] == "registry lookup" and packs[ADE]["state"] == "to add"
    assert data["added"] == []
    kinds = {m["name"]: m["kind"] for m in data["missing_models"]}
    assert kinds == {"dreamshaper_8.safetensors": "checkpoint",
                     "mm_sd_v15_v2.ckpt": "motion-module", "add_detail.safetensors": "lora"}
    assert state_of(comfy.env) == before


def test_without_yes_and_no_terminal_nothing_is_added(smx, comfy: Installed,
                                                      registry: FakeRegistry) -> None:
    before = state_of(comfy.env)

    result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(API))

    assert result.exit_code == 2
    assert "adding them; confirm with --yes" in result.output  # tests/cli/test_confirmations
    assert state_of(comfy.env) == before


def test_a_pack_already_installed_is_not_added_again(smx, comfy: Installed,
                                                     registry: FakeRegistry) -> None:
    # installed by hand (or by ComfyUI-Manager) under its id, its classes built at run time
    folder = comfy.ext_dir(VHS)
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("NODE_CLASS_MAPPINGS = dict(make())\n")

    result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(API), "--yes",
                 "--json")

    data = check(result.stdout, result.exit_code, "ext-add-workflow.md", "ext add")["data"]
    assert {p["registry"]: p["state"] for p in data["packs"]} == {ADE: "added",
                                                                  VHS: "installed"}
    assert data["added"] == [ADE]


def _png(chunks: dict[str, str]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00\x00\x00")
    text = b"".join(chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1"))
                    for k, v in chunks.items())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + text + \
        chunk(b"IEND", b"")


def test_a_png_comfyui_saved_carries_the_workflow(smx, comfy: Installed,
                                                  registry: FakeRegistry, tmp_path: Path) -> None:
    image = tmp_path / "ComfyUI_00001_.png"
    # what ComfyUI's SaveImage writes: the API prompt and the UI workflow as tEXt chunks
    image.write_bytes(_png({"prompt": API.read_text(), "workflow": UI.read_text()}))

    result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(image),
                 "--json")

    data = json.loads(result.stdout)["data"]
    assert data["workflow"]["format"] == "ui"  # the full workflow, not the API prompt
    assert "FrameInterp" in data["missing_node_types"]


def test_a_webp_comfyui_saved_carries_the_workflow(tmp_path: Path) -> None:
    from smx.extensions.workflow import load

    # SaveAnimatedWEBP: EXIF 0x0110 "prompt:{…}", 0x010F "workflow:{…}" (TIFF IFD0, ASCII)
    values = [(0x010F, "workflow:" + UI.read_text()), (0x0110, "prompt:" + API.read_text())]
    entries, blobs = b"", b""
    offset = 8 + 2 + 12 * len(values) + 4
    for tag, text in values:
        raw = text.encode() + b"\0"
        entries += struct.pack("<HHII", tag, 2, len(raw), offset + len(blobs))
        blobs += raw
    exif = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(values)) + entries + \
        b"\0\0\0\0" + blobs
    chunk = b"EXIF" + struct.pack("<I", len(exif)) + exif + (b"\0" if len(exif) % 2 else b"")
    vp8 = b"VP8L" + struct.pack("<I", 2) + b"\0\0"
    body = b"WEBP" + vp8 + chunk
    image = tmp_path / "anim.webp"
    image.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)

    flow = load(image)

    assert flow.format == "ui" and "VHS_VideoCombine" in flow.node_types


def test_files_that_are_not_workflows_say_so(smx, comfy: Installed, registry: FakeRegistry,
                                             tmp_path: Path) -> None:
    plain = tmp_path / "photo.png"
    plain.write_bytes(_png({"Software": "GIMP"}))
    other = tmp_path / "data.json"
    other.write_text('{"hello": 1}')

    for path, said in ((plain, "carries no ComfyUI workflow"),
                       (other, "not a ComfyUI workflow")):
        result = smx("--env", str(comfy.env), "ext", "add", "--from-workflow", str(path))
        assert result.exit_code == 2 and said in result.output, result.output
