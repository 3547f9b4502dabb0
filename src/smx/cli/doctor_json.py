"""`smx doctor --json`: the report as plain data. The shape is a contract documented in
docs/json/doctor.md and pinned by tests/doctor/test_doctor_json.py; add keys, never rename."""

from __future__ import annotations

import platform
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smx.system.doctor import DoctorReport


def report_to_json(report: DoctorReport) -> dict[str, Any]:
    from smx.redact import redact

    nv = report.gpus.nvidia
    return {
        "ok": not report.blocked,
        "env": str(report.env_root) if report.env_root else None,
        "platform": {"system": report.gpus.system, "machine": report.gpus.machine,
                     "python": platform.python_version(), "executable": sys.executable},
        "nvidia": {"available": nv.available, "problem": nv.problem,
                   "driver_version": nv.driver_version,
                   "cuda_driver_version": nv.cuda_driver_text},
        "gpus": [{"index": g.index, "vendor": g.vendor, "name": g.name,
                  "vram_total_bytes": g.vram_total, "vram_free_bytes": g.vram_free,
                  "compute_capability": g.compute_capability_text, "source": g.source}
                 for g in report.gpus.gpus],
        "auto_backend": report.gpus.auto_backend,
        "packages": [{
            "name": p.name,
            "source": p.source,
            "problem": p.problem,
            "torch": None if p.torch is None else {
                "backend": p.torch.backend,
                "backend_key": p.torch.backend_key,
                "requirements": list(p.torch.recipe.requirements),
                "index_url": redact(p.torch.index_url) if p.torch.index_url else None,
                "index_source": p.torch.index_source,
                "reason": p.torch.reason,
                "warning": p.torch.warning,
            },
            "launch": None if p.launch is None else {
                "level": p.launch.level, "flags": list(p.launch.flags),
                "reason": p.launch.reason,
            },
            "python": None if p.python is None else {
                "path": str(p.python.path), "version": str(p.python.version),
            },
        } for p in report.packages],
        "disk": {"path": str(report.disk.path), "free_bytes": report.disk.free_bytes,
                 "status": report.disk.status},
        "git": {"path": report.git.path, "version": report.git.version,
                "problem": report.git.problem},
        "pythons": [{"path": str(i.path), "version": str(i.version), "source": i.source,
                     "implementation": i.implementation} for i in report.interpreters],
        "proxies": report.proxies,
        "online": None if report.online is None else [{
            "name": r.endpoint.name, "url": redact(r.endpoint.url),
            "configured_by": r.endpoint.configured_by, "reachable": r.reachable,
            "status_code": r.status_code,
            "elapsed_ms": None if r.elapsed_ms is None else round(r.elapsed_ms, 1),
            "error": r.error,
        } for r in report.online],
        "checks": [{"id": c.id, "status": c.status, "summary": c.summary, "hint": c.hint}
                   for c in report.checks],
    }
