"""The `smx launch --dry-run --json` document (schema: docs/json/launch.md)."""

from __future__ import annotations

from typing import Any

from smx.environment.env import Env
from smx.launch.argv import LaunchPlan
from smx.launch.environ import display_value
from smx.launch.preflight import Check


def plan_json(env: Env, plan: LaunchPlan, checks: list[Check]) -> dict[str, Any]:
    return {
        "package": plan.name,
        "source": plan.package.name,
        "argv": plan.shown_argv(),
        "command": plan.command(),
        "cwd": str(plan.cwd),
        "env": {
            "set": plan.environ.shown(),
            "unset": list(plan.environ.unset),
            "passed_proxies": {name: display_value(name, value)
                               for name, value in plan.environ.proxies.items()},
        },
        "files": [{"path": env.layout.relative(f.path), "what": f.what, "changed": f.changed}
                  for f in plan.files],
        "host": plan.host,
        "port": plan.port,
        "port_explicit": plan.port_explicit,
        "url": plan.url,
        "exposed": plan.exposed,
        "checks": [{"name": c.name, "detail": c.detail} for c in checks],
        "warnings": list(plan.warnings),
        "notes": list(plan.notes),
    }
