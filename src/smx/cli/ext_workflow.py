"""`smx ext add --from-workflow FILE`: add the node packs a ComfyUI workflow needs.

Shows what is missing (node types, the packs that provide them, models the store lacks with a
`smx model pull` hint), asks once (``--yes`` skips it), then adds every pack in one
transaction through the same sync step as `smx ext add <registry-id>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from smx.cli.output import Output
    from smx.extensions.from_workflow import WorkflowPlan


def add_from_workflow(ctx: typer.Context, path: Path, package: str | None, *, yes: bool,
                      json_out: bool) -> None:
    from smx.cli.state import locked_env, out
    from smx.errors import UsageError
    from smx.extensions import from_workflow, registry, workflow
    from smx.extensions.manage import change as apply_change
    from smx.extensions.manage import package_of, set_entry
    from smx.packages.marker import is_installed

    output = out(ctx, json_out)
    flow = workflow.load(path)
    added: list[str] = []
    confirmed = False
    with locked_env(ctx) as env:
        pkg = package_of(env, package)
        from smx.catalog.packages import get_package

        if get_package(pkg.source).extension_style != "comfyui":
            raise UsageError(f"{pkg.name} is not a ComfyUI package; workflows are ComfyUI's",
                             hint="name a ComfyUI package with --package",
                             code="workflow.not_comfyui")
        if not is_installed(env.layout, env.lock.packages.get(pkg.name)):
            raise UsageError(f"{pkg.name} is not installed, so smx cannot tell which nodes it "
                             "has", hint=f"run `smx sync` (or `smx install {pkg.source}`) first",
                             code="extension.package_missing")
        with registry.client(env.manifest.sources) as client:
            plan = from_workflow.plan(env, pkg, flow, client, reporter=output.reporter())
        if not output.json_mode:
            _render(output, plan, path)
        if plan.packs:
            confirmed = yes or _ask(output, plan)
        if confirmed:
            keys = _keys(pkg.extensions, plan)
            for pack in plan.packs:
                output.warn(f"{pack.title} ({pack.registry}) is third-party code: it runs with "
                            "your user's rights")

            def change(doc: Any) -> None:
                for pack in plan.packs:
                    set_entry(doc, pkg.name, keys[pack.registry], {"registry": pack.registry})

            apply_change(env, output.reporter(), {(pkg.name, k) for k in keys.values()}, change)
            added = [keys[p.registry] for p in plan.packs]
            versions = {k: env.lock.packages[pkg.name].extensions[k].version for k in added}
        else:
            versions = {}
    if output.json_mode:
        output.emit_json("ext add", _json(plan, path, added, versions, confirmed))
        return
    for key in added:
        output.success(f"added {key} {versions.get(key) or ''} to {plan.package}".rstrip())


def _ask(output: Output, plan: WorkflowPlan) -> bool:
    """The one rule of cli/confirm.py: a prompt only at a terminal, else 'confirm with
    --yes' (exit 2). --json without --yes reports what would be added instead."""
    from smx.cli.confirm import confirmed

    count = len(plan.packs)
    what = f"{count} node pack{'s' if count != 1 else ''}"
    if output.json_mode:
        return False  # --json without --yes: report what would be added
    return confirmed(output, yes=False, what=f"the workflow needs {what}, adding them",
                     question=f"Add {what} to {plan.package}?",
                     retry="smx ext add --from-workflow FILE --yes")


def _keys(existing: dict[str, Any], plan: WorkflowPlan) -> dict[str, str]:
    """smx.toml names for the packs: their id, unless that name is taken."""
    keys: dict[str, str] = {}
    taken = set(existing)
    for pack in plan.packs:
        key, n = pack.registry, 2
        while key in taken:
            key, n = f"{pack.registry}-{n}", n + 1
        keys[pack.registry] = key
        taken.add(key)
    return keys


def _render(output: Output, plan: WorkflowPlan, path: Path) -> None:
    flow = plan.workflow
    kind = "UI workflow" if flow.format == "ui" else "API workflow"
    output.print(f"{path.name} ({kind}): {len(flow.node_types)} node types, "
                 f"{len(plan.missing_types)} not in {plan.package}", markup=False)
    if plan.packs:
        output.print("node packs to add (Comfy Registry):")
        for pack in plan.packs:
            output.print(f"  {pack.registry} ({pack.title}): {', '.join(pack.node_types)}",
                         markup=False)
    for pack in plan.present:
        output.print(f"  already installed as {pack.installed_as}: {pack.registry} "
                     f"({', '.join(pack.node_types)}; smx could not see them in its source)",
                     markup=False)
    if plan.core:
        output.warn(f"ComfyUI's own nodes that this {plan.package} lacks (a newer ComfyUI has "
                    f"them: `smx update {plan.package}`): {', '.join(plan.core)}")
    for item in plan.unresolved:
        output.warn(f"no node pack found for {item.node_type}: {item.hint}")
    if plan.models:
        output.print("models the workflow names that the store lacks:")
        for model in plan.models:
            kind = f" ({model.kind})" if model.kind else ""
            output.print(f"  {model.name}{kind}: {model.command}", markup=False)
    if not plan.missing_types and not plan.models:
        output.success(f"{plan.package} has every node type and model this workflow uses")


def _json(plan: WorkflowPlan, path: Path, added: list[str], versions: dict[str, str | None],
          confirmed: bool) -> dict[str, Any]:
    def pack_row(pack: Any, state: str, key: str | None) -> dict[str, Any]:
        return {"registry": pack.registry, "title": pack.title, "node_types": pack.node_types,
                "found_by": pack.found_by, "workflow_version": pack.workflow_version,
                "state": state, "name": key or pack.installed_as,
                "version": versions.get(key) if key else None}

    rows = [pack_row(p, "added" if confirmed else "to add",
                     added[i] if confirmed else None) for i, p in enumerate(plan.packs)]
    rows += [pack_row(p, "installed", None) for p in plan.present]
    return {
        "workflow": {"path": str(path), "format": plan.workflow.format,
                     "node_types": plan.workflow.node_types},
        "package": plan.package,
        "missing_node_types": plan.missing_types,
        "packs": rows,
        "core_node_types_missing": plan.core,
        "unresolved": [{"node_type": u.node_type, "hint": u.hint} for u in plan.unresolved],
        "missing_models": [{"name": m.name, "node_type": m.node_type, "kind": m.kind,
                            "url": m.url, "command": m.command} for m in plan.models],
        "added": added,
    }
