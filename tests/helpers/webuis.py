"""The start-up code of the fake web UIs: small, but it loads extensions the way the real ones
do, so smx's load check reads the same verdicts it reads from them.

- A1111 (modules/scripts.py load_scripts, modules/errors.py report, modules/ui.py create_ui):
  every ``extensions*/X/scripts/*.py`` of an enabled extension (``disabled_extensions`` in
  config.json is skipped) is imported; a failure is reported through ``errors.report("Error
  loading script: <file>", exc_info=True)``, which prints ``*** …`` and the traceback and
  carries on. ``webui.py`` runs ``initialize.imports()`` when imported; ``initialize()`` loads
  the scripts; ``ui.create_ui()`` runs the ``on_ui_tabs`` callbacks scripts registered.
- ComfyUI (nodes.py load_custom_node, init_external_custom_nodes): ``main.py`` imports every
  ``custom_nodes/X/__init__.py`` (``X.disabled`` skipped), logs ``Cannot import <path> module
  for custom nodes: <error>`` and then ``(IMPORT FAILED): <path>`` in the import-times summary,
  and with ``--quick-test-for-ci`` exits 0 whatever failed.
"""

from __future__ import annotations

_ERRORS = '''\
import sys
import textwrap
import traceback


def report(message, *, exc_info=False):
    for line in message.splitlines():
        print("***", line, file=sys.stderr)
    if exc_info:
        print(textwrap.indent(traceback.format_exc(), "    "), file=sys.stderr)
        print("---", file=sys.stderr)
'''

_SCRIPTS = '''\
import importlib.util
import json
import os

from modules import errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _disabled():
    try:
        with open(os.path.join(ROOT, "config.json"), encoding="utf-8") as handle:
            return json.load(handle).get("disabled_extensions") or []
    except (OSError, ValueError):
        return []


def load_scripts():
    off = _disabled()
    for base in ("extensions-builtin", "extensions"):
        folder = os.path.join(ROOT, base)
        if not os.path.isdir(folder):
            continue
        for ext in sorted(os.listdir(folder)):
            scripts = os.path.join(folder, ext, "scripts")
            if ext in off or ext.startswith(".") or not os.path.isdir(scripts):
                continue
            for name in sorted(os.listdir(scripts)):
                if not name.endswith(".py"):
                    continue
                try:
                    spec = importlib.util.spec_from_file_location(name[:-3],
                                                                  os.path.join(scripts, name))
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                except Exception:
                    errors.report(f"Error loading script: {name}", exc_info=True)
'''

_CALLBACKS = '''\
ui_tabs = []


def on_ui_tabs(callback):
    ui_tabs.append(callback)


def before_ui_callback():
    pass
'''

_UI = '''\
from modules import errors, script_callbacks


def create_ui():
    for callback in script_callbacks.ui_tabs:
        try:
            callback()
        except Exception:
            errors.report(f"Error executing callback ui_tabs_callback for {callback.__module__}",
                          exc_info=True)
    return "demo"
'''

_INITIALIZE = '''\
def imports():
{imports}


def check_versions():
    pass


def initialize():
    from modules import scripts
    scripts.load_scripts()
'''

_WEBUI = '''\
from modules import initialize

initialize.imports()
initialize.check_versions()

if __name__ == "__main__":
    initialize.initialize()
    print("Running on local URL:  http://127.0.0.1:7860")
'''


def a1111_core(imports: str = "") -> dict[str, str]:
    """The A1111 start-up modules; ``imports``: what ``initialize.imports()`` imports (the
    web UI's own dependencies, e.g. "torch, gradio")."""
    body = f"    import {imports}  # noqa\n" if imports else "    pass\n"
    return {"modules/__init__.py": "", "modules/errors.py": _ERRORS,
            "modules/scripts.py": _SCRIPTS, "modules/script_callbacks.py": _CALLBACKS,
            "modules/ui.py": _UI, "modules/initialize.py": _INITIALIZE.format(imports=body),
            "webui.py": _WEBUI}


_COMFYUI_MAIN = '''\
import importlib.util
import logging
import os
import sys
import traceback
{imports}
logging.basicConfig(level=logging.INFO, format="%(message)s")
ROOT = os.path.dirname(os.path.abspath(__file__))


def load_custom_node(path):
    name = os.path.basename(path)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return True
    except Exception as e:
        logging.warning(traceback.format_exc())
        logging.warning(f"Cannot import {{path}} module for custom nodes: {{e}}")
        return False


results = []
base = os.path.join(ROOT, "custom_nodes")
if os.path.isdir(base):
    for entry in sorted(os.listdir(base)):
        path = os.path.join(base, entry)
        if entry.endswith(".disabled") or entry == "__pycache__" or not os.path.isdir(path):
            continue
        results.append((path, load_custom_node(path)))
if results:
    logging.info("\\nImport times for custom nodes:")
    for path, ok in results:
        logging.info("{{:6.1f}} seconds{{}}: {{}}".format(0.0, "" if ok else " (IMPORT FAILED)",
                                                        path))
if "--quick-test-for-ci" in sys.argv:
    sys.exit(0)
print("To see the GUI go to: http://127.0.0.1:8188")
'''


def comfyui_main(imports: str = "") -> str:
    """ComfyUI's main.py; ``imports``: its own dependencies ("torch, torchvision")."""
    line = f"import {imports}  # noqa\n" if imports else ""
    return _COMFYUI_MAIN.format(imports=line)
