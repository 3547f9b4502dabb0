"""The load check: start the web UI's own loader headless and read what failed to load.

✓ is a promise: a web UI or extension smx reports as installed must load. After every change
to a package's venv or extensions, smx runs the loader the web UI itself runs at start-up,
without a server, a model or the network, and reads its verdict:

- A1111/Forge (``loader = "a1111"``): webui.py's imports, the extension script loader and the UI
  callbacks (smx.packages.loaders.a1111_check); every ``Error loading script: X`` (and any other
  ``errors.report``) is a problem of the extension it came from.
- ComfyUI (``loader = "comfyui"``): ``main.py --quick-test-for-ci --cpu``, which imports every
  custom node; ``Cannot import … module for custom nodes: <error>`` and ``(IMPORT FAILED)`` name
  the node pack.
- Fooocus (``loader = "imports"``): its imports (the catalog's ``import_check``).

A loader that does not get as far as its verdict (the web UI itself does not import) is a
problem of the web UI.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from smx.catalog.packages import CatalogPackage
from smx.environment.env import Env
from smx.errors import InstallError
from smx.packages.runner import StepLog, show_path, telling_line
from smx.reporter import Reporter

MARK = "SMX-LOAD-CHECK: "
# the loader never needs the network: a hub lookup fails fast instead of retrying for minutes
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "GRADIO_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1",
               # a check leaves the checkout as it found it (no __pycache__ next to the code)
               "PYTHONDONTWRITEBYTECODE": "1"}
# A1111/Forge flags that keep the check from loading a model or checking versions online
_A1111_FLAGS = ("--skip-load-model-at-start", "--no-download-sd-model", "--skip-version-check",
                "--skip-torch-cuda-test", "--skip-python-version-check")
# What A1111/Forge report through errors.report although the extension loads: reading its git
# metadata (branch, remote) for the Extensions tab fails on some checkouts.
_A1111_NOT_LOAD_FAILURES = ("Failed reading extension data from Git repository",)
_COMFY_CANNOT = re.compile(r"Cannot import (.+?) module for custom nodes: (.*)$")
_COMFY_FAILED = re.compile(r"\(IMPORT FAILED\): (.+)$")
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class LoadProblem:
    """Something the loader could not load. ``folder``: the extension's folder name (None:
    the web UI itself)."""

    folder: str | None
    what: str  # "Error loading script: controlnet.py", "IMPORT FAILED"
    error: str  # "AttributeError: module 'mediapipe' has no attribute 'solutions'"
    builtin: bool = False  # a part the web UI ships (A1111 extensions-builtin)

    def describe(self, names: dict[str, str] | None = None) -> str:
        who = (names or {}).get(self.folder or "", self.folder) if self.folder else None
        head = f"{who}: " if who else ""
        tail = f" ({self.error})" if self.error and self.error not in self.what else ""
        return f"{head}{self.what}{tail}"


@dataclass(frozen=True)
class LoadReport:
    package: str
    problems: tuple[LoadProblem, ...]
    log: Path
    seconds: float
    loader: str  # what was run, for messages
    folders: tuple[str, ...] = field(default=())  # extension folders present when it ran

    @property
    def ok(self) -> bool:
        return not self.problems


def run(env: Env, package: str, catalog: CatalogPackage, *, reporter: Reporter,
        environ: dict[str, str] | None = None, backend: str | None = None) -> LoadReport:
    """Run the loader of ``package`` and collect what failed. Never raises for what the
    loader reports; raises InstallError only when the loader could not be started."""
    from smx.packages.pkgenv import package_env
    from smx.packages.runner import child_env, run_logged
    from smx.packages.venv import Venv

    layout = env.layout
    checkout = layout.package_dir(package)
    venv = Venv(layout.venv_dir(package))
    argv, loader = _argv(catalog, venv.python, backend)
    if argv is None:
        return LoadReport(package, (), layout.logs, 0.0, "no loader", ())
    log = StepLog.create(layout.logs, package, "load-check")
    extra = {**package_env(layout, package, catalog), **(environ or {}), **OFFLINE_ENV}
    started = time.monotonic()
    output = ""
    failed: str | None = None
    with reporter.task(f"{package}: load check ({loader})") as task:
        try:
            output = run_logged(argv, log=log, cwd=checkout, env=child_env(extra, venv=venv.path),
                                task=task, what=f"the load check of {package}",
                                timeout=TIMEOUT_S)
        except InstallError as exc:
            failed = exc.message
            output = _read(log.path)
    seconds = time.monotonic() - started
    folders = tuple(_extension_folders(checkout, catalog))
    if catalog.loader == "a1111":
        problems = _a1111_problems(output or _read(log.path), failed)
    elif catalog.loader == "comfyui":
        problems = _comfyui_problems(_read(log.path), failed)
    else:
        problems = [LoadProblem(None, failed.splitlines()[0], "")] if failed else []
    return LoadReport(package, tuple(problems), log.path, seconds, loader, folders)


def loader_label(catalog: CatalogPackage) -> str:
    """What the load check of this web UI runs, for messages and plans."""
    return {"a1111": "its extension loader and UI, headless",
            "comfyui": "main.py --quick-test-for-ci"}.get(catalog.loader, "its imports")


def _argv(catalog: CatalogPackage, python: Path, backend: str | None
          ) -> tuple[list[str] | None, str]:
    cpu = list(catalog.cpu_flags) if backend == "cpu" else []
    if catalog.loader == "a1111":
        from importlib import resources

        script = resources.files("smx.packages.loaders").joinpath("a1111_check.py")
        flags = [*cpu, *(f for f in _A1111_FLAGS if f not in cpu)]
        return [str(python), str(script), *flags], loader_label(catalog)
    if catalog.loader == "comfyui":
        return [str(python), "main.py", "--quick-test-for-ci", "--cpu"], loader_label(catalog)
    if catalog.import_check:
        return [str(python), *catalog.import_check, *cpu], loader_label(catalog)
    return None, ""


def _a1111_problems(output: str, failed: str | None) -> list[LoadProblem]:
    verdict = None
    for line in output.splitlines():
        if line.startswith(MARK):
            try:
                verdict = json.loads(line[len(MARK):])
            except ValueError:
                verdict = None
    if not isinstance(verdict, dict):
        why = telling_line(output.splitlines()[-40:]) or (failed or "it stopped").splitlines()[0]
        return [LoadProblem(None, "the web UI did not start", why)]
    problems: list[LoadProblem] = []
    for raw in verdict.get("problems") or []:
        if not isinstance(raw, dict) or str(raw.get("message") or "").startswith(
                _A1111_NOT_LOAD_FAILURES):
            continue
        problem = LoadProblem(raw.get("extension") or None, str(raw.get("message") or ""),
                              str(raw.get("error") or ""),
                              builtin=raw.get("folder") == "extensions-builtin")
        if problem not in problems:
            problems.append(problem)
    status = str(verdict.get("status") or "ok")
    if status != "ok":
        problems.append(LoadProblem(None, "the web UI did not start", status))
    return problems


def _comfyui_problems(output: str, failed: str | None) -> list[LoadProblem]:
    problems: dict[str, LoadProblem] = {}
    for line in output.splitlines():
        cannot = _COMFY_CANNOT.search(line)
        if cannot:
            folder, builtin = _node_of(cannot.group(1))
            problems[folder] = LoadProblem(folder, "IMPORT FAILED", cannot.group(2).strip(),
                                           builtin=builtin)
            continue
        failed_line = _COMFY_FAILED.search(line)
        if failed_line:
            folder, builtin = _node_of(failed_line.group(1))
            problems.setdefault(folder, LoadProblem(folder, "IMPORT FAILED", "",
                                                    builtin=builtin))
    found = list(problems.values())
    if failed:
        why = telling_line(output.splitlines()[-40:]) or failed.splitlines()[0]
        found.append(LoadProblem(None, "ComfyUI did not start", why))
    return found


def _node_of(path: str) -> tuple[str, bool]:
    """The node pack a ComfyUI import message names: its folder under custom_nodes/, or (for
    ComfyUI's own comfy_extras/ and API nodes, loaded the same way) the file, as built in."""
    parts = path.strip().rstrip("/\\").replace("\\", "/").split("/")
    if "custom_nodes" in parts[:-1]:
        return parts[parts.index("custom_nodes") + 1], False
    return parts[-1], True


def _extension_folders(checkout: Path, catalog: CatalogPackage) -> list[str]:
    if not catalog.extensions_dir:
        return []
    base = checkout / catalog.extensions_dir
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@dataclass
class LoadChecks:
    """What the check steps of one sync know: the latest loader run per package (and whether
    something changed after it), and the changes kept with --keep-broken."""

    reports: dict[str, LoadReport] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    kept_broken: list[LoadReport] = field(default_factory=list)
    passed: list[LoadReport] = field(default_factory=list)

    def ran(self, report: LoadReport | None) -> None:
        if report is not None:
            self.reports[report.package] = report
            self.stale.discard(report.package)

    def changed(self, package: str) -> None:
        self.stale.add(package)

    def fresh(self, package: str) -> LoadReport | None:
        return None if package in self.stale else self.reports.get(package)


# --- verdicts -------------------------------------------------------------------------------
class LoadCheckFailed(InstallError):
    """What smx installed does not load in the web UI (exit 5)."""

    code = "install.does_not_load"


def failure(report: LoadReport, *, names: dict[str, str], rolled_back: str | None,
            keep_hint: bool = True) -> LoadCheckFailed:
    """The error for a failed check: who does not load and why, the log, what was undone."""
    shown = [p.describe(names) for p in report.problems[:4]]
    more = f" (+{len(report.problems) - 4} more)" if len(report.problems) > 4 else ""
    message = f"{report.package} does not load: " + "; ".join(shown) + more
    if rolled_back:
        message += f"; {rolled_back}"
    hint = f"the web UI's own output: {show_path(report.log)}"
    if keep_hint:
        hint += "; --keep-broken keeps the change anyway"
    return LoadCheckFailed(message, hint=hint)
