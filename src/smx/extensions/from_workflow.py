"""`smx ext add --from-workflow`: what a workflow needs that a ComfyUI package lacks.

1. The node types the workflow uses (smx.extensions.workflow) that the installed ComfyUI and
   its custom nodes do not provide (smx.extensions.comfy_nodes, read from their sources).
2. For each, the node pack that provides it: the pack the workflow itself names
   (``properties.cnr_id``, when the Registry knows it), else the Comfy Registry's node-class
   lookup. A type ComfyUI's own nodes should have (``cnr_id`` = ``comfy-core``) asks for a
   newer ComfyUI instead; a pack already in the environment is not added twice.
3. The model files it names that the store (Data/Models, and the package's own models/) does
   not have, each with the `smx model pull` command that fetches it (the workflow's own
   download URL when it gives one).

Planning reads the Registry and the disk and changes nothing; the CLI adds the packs after one
confirmation, through `smx ext add`'s path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smx.environment.env import Env
from smx.environment.manifest import PackageSpec
from smx.errors import NotFound
from smx.extensions.registry import RegistryClient, RegistryNode
from smx.extensions.workflow import CORE_PACK, ModelUse, Workflow
from smx.reporter import Reporter


@dataclass
class Pack:
    registry: str
    title: str
    node_types: list[str] = field(default_factory=list)
    found_by: str = "registry lookup"  # "workflow" (cnr_id) | "registry lookup"
    workflow_version: str | None = None  # the version the workflow was saved with
    installed_as: str | None = None  # the env's entry (or folder) that already has it


@dataclass(frozen=True)
class Unresolved:
    node_type: str
    hint: str


@dataclass(frozen=True)
class MissingModel:
    name: str
    node_type: str
    kind: str | None
    url: str | None

    @property
    def command(self) -> str:
        kind = f" --kind {self.kind}" if self.kind else ""
        ref = self.url or f"<civitai:ID, hf:OWNER/REPO/{self.name.rsplit('/', 1)[-1]} or URL>"
        return f"smx model pull {ref}{kind}"


@dataclass
class WorkflowPlan:
    workflow: Workflow
    package: str
    missing_types: list[str] = field(default_factory=list)
    packs: list[Pack] = field(default_factory=list)  # to add
    present: list[Pack] = field(default_factory=list)  # already in the env
    core: list[str] = field(default_factory=list)  # ComfyUI's own nodes this one lacks
    unresolved: list[Unresolved] = field(default_factory=list)
    models: list[MissingModel] = field(default_factory=list)


def plan(env: Env, pkg: PackageSpec, workflow: Workflow, client: RegistryClient, *,
         reporter: Reporter) -> WorkflowPlan:
    from smx.catalog.packages import get_package
    from smx.extensions.comfy_nodes import provided

    catalog = get_package(pkg.source)
    checkout = env.layout.package_dir(pkg.name)
    have = provided(checkout, catalog.extensions_dir)
    result = WorkflowPlan(workflow, pkg.name)
    result.missing_types = [t for t in workflow.node_types if not have.has(t)]
    packs: dict[str, Pack] = {}
    for node_type in result.missing_types:
        hint = workflow.hints(node_type)
        if hint is not None and hint.pack == CORE_PACK:
            result.core.append(node_type)
            continue
        node, found_by = None, "registry lookup"
        if hint is not None and hint.pack:
            node, found_by = _known(client, hint.pack), "workflow"
        if node is None:
            reporter.info(f"asking the Comfy Registry which pack provides {node_type} …")
            node = client.node_for_class(node_type)
        if node is None:
            github = hint.github if hint is not None else None
            result.unresolved.append(Unresolved(node_type, (
                f"the workflow says it comes from github.com/{github}: smx ext add "
                f"https://github.com/{github}") if github else
                "no pack in the Comfy Registry provides it; find its repository and "
                "`smx ext add <git URL>`"))
            continue
        pack = packs.get(node.id)
        if pack is None:
            pack = packs[node.id] = Pack(node.id, node.name, found_by=found_by,
                                         workflow_version=hint.pack_version if hint else None)
            pack.installed_as = _installed_as(env, pkg, node, checkout / catalog.extensions_dir)
        pack.node_types.append(node_type)
    for pack in packs.values():
        (result.present if pack.installed_as else result.packs).append(pack)
    result.models = missing_models(env, checkout, workflow.models)
    return result


def _known(client: RegistryClient, node_id: str) -> RegistryNode | None:
    try:
        return client.node(node_id)
    except NotFound:
        return None


def _installed_as(env: Env, pkg: PackageSpec, node: RegistryNode, base: Path) -> str | None:
    """The env's entry (or custom_nodes folder) that already is this pack, if any."""
    from smx.catalog.extensions import normalize_git_url

    repo = normalize_git_url(node.repository) if node.repository else None
    locked = env.lock.packages.get(pkg.name)
    for name, spec in pkg.extensions.items():
        lock_entry = locked.extensions.get(name) if locked else None
        urls = {normalize_git_url(u) for u in (spec.git, lock_entry.git if lock_entry else None)
                if u}
        if spec.registry == node.id or (repo is not None and repo in urls):
            return name
    folders = {node.id}
    if node.repository:
        folders.add(normalize_git_url(node.repository).rsplit("/", 1)[-1])
    if base.is_dir():
        for entry in base.iterdir():
            if entry.is_dir() and entry.name.lower().removesuffix(".disabled") in folders:
                return entry.name
    return None


# --- models -----------------------------------------------------------------------------------
def missing_models(env: Env, checkout: Path, uses: list[ModelUse]) -> list[MissingModel]:
    """The model files ``uses`` names that neither the store nor the package has."""
    from smx.catalog.model_kinds import is_model_file

    present: set[str] = set()
    for root in (env.layout.models, checkout / "models"):
        if root.is_dir():
            present |= {p.name.lower() for p in root.rglob("*") if is_model_file(p.name)}
    found: dict[str, MissingModel] = {}
    for use in uses:
        key = use.filename.lower()
        if key in present or key in found:
            continue
        found[key] = MissingModel(use.name, use.node_type, kind_for_directory(use.directory),
                                  use.url)
    return list(found.values())


def kind_for_directory(directory: str | None) -> str | None:
    """smx's model kind for a ComfyUI folder key (the catalog's ComfyUI keys, reversed)."""
    if not directory:
        return None
    from smx.catalog.packages import PACKAGES

    legacy = {"clip": "text-encoder", "unet": "diffusion-model"}
    if directory in legacy:
        return legacy[directory]
    for kind, key in PACKAGES["comfyui"].model_config_keys.items():
        if key == directory:
            return kind  # the first kind per key is the plain one (loras -> lora)
    return None
