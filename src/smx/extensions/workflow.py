"""A ComfyUI workflow, read from what users share: the node types it uses and the models it names.

Accepted, as ComfyUI itself writes them:

- UI JSON (the frontend's "Save"): ``{"nodes": [{"type", "widgets_values", "properties",
  "mode"}, …], "definitions": {"subgraphs": [{"id", "nodes"}]}, "models": [...]}``. A node's
  ``properties`` may say which pack it came from (``cnr_id``: a Comfy Registry id,
  ``"comfy-core"`` for ComfyUI itself; ``aux_id``: ``owner/repo`` on GitHub; ``ver``) and which
  model files it needs (``models``: ``name``, ``url``, ``directory``). Subgraph instances use
  their definition's id as type: their inner nodes count instead. Frontend-only nodes
  (Reroute, Note, MarkdownNote, PrimitiveNode, legacy group nodes ``workflow>…``) are skipped.
- API JSON ("Export (API)", the ``prompt`` of /prompt): ``{"<id>": {"class_type", "inputs"}}``.
- PNG: ComfyUI's SaveImage puts both as text chunks (``workflow``: UI, ``prompt``: API; tEXt,
  or iTXt/zTXt when another tool rewrote them).
- WebP: ComfyUI's SaveAnimatedWEBP/SaveWEBM put them in EXIF strings ``"workflow:{…}"``
  (tag 0x010F and below) and ``"prompt:{…}"`` (0x0110).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.errors import UsageError

# frontend-only node types: ComfyUI's server never sees them (ComfyUI-Manager skips the same)
VIRTUAL_TYPES = frozenset({"Reroute", "Note", "MarkdownNote", "PrimitiveNode"})
CORE_PACK = "comfy-core"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ModelUse:
    name: str  # as the workflow names it (may carry a subfolder: "SD1.5/x.safetensors")
    node_type: str
    input: str | None  # the input it fills (API JSON / known loaders), if known
    directory: str | None = None  # ComfyUI folder key (checkpoints, loras, …), if known
    url: str | None = None  # where the workflow says to download it

    @property
    def filename(self) -> str:
        return self.name.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class NodeUse:
    type: str
    pack: str | None = None  # properties.cnr_id
    pack_version: str | None = None  # properties.ver
    github: str | None = None  # properties.aux_id (owner/repo)


@dataclass
class Workflow:
    source: Path
    format: str  # ui | api
    nodes: list[NodeUse] = field(default_factory=list)
    models: list[ModelUse] = field(default_factory=list)

    @property
    def node_types(self) -> list[str]:
        return sorted({n.type for n in self.nodes})

    def hints(self, node_type: str) -> NodeUse | None:
        """What the workflow says about where ``node_type`` came from (the first node that
        says anything)."""
        for node in self.nodes:
            if node.type == node_type and (node.pack or node.github):
                return node
        return None


def load(path: Path) -> Workflow:
    """Read a workflow from a .json, .png or .webp file (told by its bytes, not its name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="check the path",
                         code="workflow.unreadable") from None
    if data.startswith(_PNG_SIGNATURE):
        texts = png_texts(data, path)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        texts = webp_texts(data, path)
    else:
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a ComfyUI workflow (neither JSON nor a PNG/WebP "
                             f"ComfyUI saved): {exc}",
                             hint="save it from ComfyUI with Workflow > Save or Export (API)",
                             code="workflow.not_a_workflow") from None
        return parse(document, path)
    for key in ("workflow", "prompt"):
        if key in texts:
            try:
                return parse(json.loads(texts[key]), path)
            except json.JSONDecodeError:
                continue
    raise UsageError(f"{path}: the image carries no ComfyUI workflow",
                     hint="images lose it when an app re-saves them; ask for the original PNG "
                          "or the workflow JSON", code="workflow.none_embedded")


def parse(document: Any, source: Path) -> Workflow:
    if isinstance(document, dict) and isinstance(document.get("nodes"), list):
        flow = Workflow(source, "ui")
        subgraphs = _subgraphs(document)
        _ui_nodes(flow, document["nodes"], subgraphs, seen=set())
        for item in document.get("models") or []:
            _declared_model(flow, item, "")
        return flow
    if isinstance(document, dict) and document and all(
            isinstance(v, dict) and "class_type" in v for v in document.values()):
        flow = Workflow(source, "api")
        for node in document.values():
            ctype = node.get("class_type")
            if not isinstance(ctype, str):
                continue
            flow.nodes.append(NodeUse(ctype))
            inputs = node.get("inputs")
            if isinstance(inputs, dict):
                for key, value in inputs.items():
                    if isinstance(value, str) and _is_model_name(value):
                        flow.models.append(ModelUse(value, ctype, key,
                                                    directory=directory_for(ctype, key)))
        return flow
    raise UsageError(f"{source}: JSON, but not a ComfyUI workflow (no \"nodes\" list, no "
                     "\"class_type\" entries)",
                     hint="save it from ComfyUI with Workflow > Save or Export (API)",
                     code="workflow.not_a_workflow")


def _subgraphs(document: dict[str, Any]) -> dict[str, list[Any]]:
    definitions = document.get("definitions")
    found: dict[str, list[Any]] = {}
    if isinstance(definitions, dict):
        for graph in definitions.get("subgraphs") or []:
            if isinstance(graph, dict) and isinstance(graph.get("id"), str) and \
                    isinstance(graph.get("nodes"), list):
                found[graph["id"]] = graph["nodes"]
    return found


def _ui_nodes(flow: Workflow, nodes: list[Any], subgraphs: dict[str, list[Any]],
              seen: set[str]) -> None:
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        ntype = node["type"]
        if ntype in subgraphs:
            if ntype not in seen:  # a subgraph used twice (or inside itself) counts once
                seen.add(ntype)
                _ui_nodes(flow, subgraphs[ntype], subgraphs, seen)
            continue
        if ntype in VIRTUAL_TYPES or ntype.startswith(("workflow>", "workflow/")):
            continue
        raw_props = node.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        flow.nodes.append(NodeUse(ntype, pack=_str(props.get("cnr_id")),
                                  pack_version=_str(props.get("ver")),
                                  github=_str(props.get("aux_id"))))
        declared = set()
        for item in props.get("models") or []:
            name = _declared_model(flow, item, ntype)
            if name:
                declared.add(name)
        values = node.get("widgets_values")
        pairs: list[tuple[str | None, Any]] = (
            list(values.items()) if isinstance(values, dict) else
            [(None, v) for v in values] if isinstance(values, list) else [])
        names = _widget_names(ntype)
        for index, (key, value) in enumerate(pairs):
            if isinstance(value, str) and _is_model_name(value) and value not in declared:
                key = key or (names[index] if index < len(names) else None)
                flow.models.append(ModelUse(value, ntype, key,
                                            directory=directory_for(ntype, key)))


def _declared_model(flow: Workflow, item: Any, node_type: str) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    name: str = item["name"]
    if any(m.name == name and m.url for m in flow.models):
        return name
    flow.models[:] = [m for m in flow.models if m.name != name]
    flow.models.append(ModelUse(name, node_type, None, directory=_str(item.get("directory")),
                                url=_str(item.get("url"))))
    return name


# --- which store folder a model goes to ------------------------------------------------------
# inputs of ComfyUI's own loaders (nodes.py) -> folder_paths keys
_INPUT_DIRECTORIES = {
    "ckpt_name": "checkpoints", "lora_name": "loras", "vae_name": "vae",
    "control_net_name": "controlnet", "unet_name": "diffusion_models",
    "clip_name": "text_encoders", "clip_name1": "text_encoders",
    "clip_name2": "text_encoders", "clip_name3": "text_encoders",
    "style_model_name": "style_models", "gligen_name": "gligen",
    "hypernetwork_name": "hypernetworks", "config_name": "configs",
}
# loaders whose inputs mean something else than the table says
_TYPE_DIRECTORIES = {
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
}
# widget order of ComfyUI's loaders (nodes.py INPUT_TYPES), for UI JSON's positional values
_WIDGETS = {
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CheckpointLoader": ("config_name", "ckpt_name"),
    "ImageOnlyCheckpointLoader": ("ckpt_name",),
    "unCLIPCheckpointLoader": ("ckpt_name",),
    "VAELoader": ("vae_name",),
    "LoraLoader": ("lora_name",),
    "LoraLoaderModelOnly": ("lora_name",),
    "ControlNetLoader": ("control_net_name",),
    "DiffControlNetLoader": ("control_net_name",),
    "UNETLoader": ("unet_name",),
    "CLIPLoader": ("clip_name",),
    "DualCLIPLoader": ("clip_name1", "clip_name2"),
    "TripleCLIPLoader": ("clip_name1", "clip_name2", "clip_name3"),
    "CLIPVisionLoader": ("clip_name",),
    "UpscaleModelLoader": ("model_name",),
    "StyleModelLoader": ("style_model_name",),
    "GLIGENLoader": ("gligen_name",),
    "HypernetworkLoader": ("hypernetwork_name",),
}


def directory_for(node_type: str, key: str | None) -> str | None:
    """ComfyUI's folder key for a model input, as far as smx can tell."""
    if key is None:
        if "animatediff" in node_type.lower() or node_type.startswith("ADE_"):
            return "animatediff_models"
        return None
    if (node_type, key) in _TYPE_DIRECTORIES:
        return _TYPE_DIRECTORIES[(node_type, key)]
    # AnimateDiff-Evolved loaders: model_name is a motion model, name/lora_name a motion LoRA
    # (animatediff/nodes_gen1.py, nodes_gen2.py, nodes_animatelcmi2v.py, nodes.py)
    if node_type.startswith("ADE_") or "AnimateDiff" in node_type:
        if key in ("model_name", "motion_model"):
            return "animatediff_models"
        if key in ("name", "lora_name"):
            return "animatediff_motion_lora"
    return _INPUT_DIRECTORIES.get(key)


def _widget_names(node_type: str) -> tuple[str, ...]:
    return _WIDGETS.get(node_type, ())


def _is_model_name(value: str) -> bool:
    from smx.catalog.model_kinds import MODEL_SUFFIXES

    text = value.strip().lower()
    return bool(text) and "\n" not in text and len(text) < 512 and text.endswith(MODEL_SUFFIXES)


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# --- images -----------------------------------------------------------------------------------
def png_texts(data: bytes, path: Path) -> dict[str, str]:
    """tEXt, zTXt and iTXt chunks of a PNG as {keyword: text}."""
    texts: dict[str, str] = {}
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if len(body) < length:
            raise UsageError(f"{path}: the PNG is cut short", code="workflow.broken_image")
        try:
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                texts[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                texts[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                compressed, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, text = rest.partition(b"\0")
                raw = zlib.decompress(text) if compressed else text
                texts[key.decode("latin-1")] = raw.decode("utf-8")
        except (zlib.error, UnicodeDecodeError, IndexError):
            continue
        if kind == b"IEND":
            break
    return texts


def webp_texts(data: bytes, path: Path) -> dict[str, str]:
    """ComfyUI's ``key:json`` EXIF strings of a WebP as {key: json}."""
    texts: dict[str, str] = {}
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)
        if kind == b"EXIF":
            for value in _exif_strings(body):
                key, sep, rest = value.partition(":")
                if sep and key in ("workflow", "prompt") and rest.lstrip().startswith("{"):
                    texts.setdefault(key, rest)
    return texts


def _exif_strings(exif: bytes) -> list[str]:
    """The ASCII values of IFD0 of a TIFF-format EXIF block."""
    if exif.startswith(b"Exif\0\0"):
        exif = exif[6:]
    if exif[:2] not in (b"II", b"MM") or len(exif) < 8:
        return []
    order = "<" if exif[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", exif[4:8])
    if ifd + 2 > len(exif):
        return []
    (count,) = struct.unpack(order + "H", exif[ifd:ifd + 2])
    found = []
    for i in range(count):
        entry = exif[ifd + 2 + 12 * i: ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        _tag, kind, n = struct.unpack(order + "HHI", entry[:8])
        if kind not in (2, 7) or n == 0:  # ASCII, or UNDEFINED (some writers)
            continue
        if n <= 4:
            raw = entry[8:8 + n]
        else:
            (offset,) = struct.unpack(order + "I", entry[8:12])
            raw = exif[offset:offset + n]
        found.append(raw.rstrip(b"\0").decode("utf-8", errors="replace"))
    return found
