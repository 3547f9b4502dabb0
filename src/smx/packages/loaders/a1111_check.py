"""The A1111/Forge start-up, headless: webui.py's imports, ``initialize.initialize()`` (the
extension script loader) and ``ui.create_ui()`` (every extension's UI callbacks), without
loading a model or starting the server. Run by smx with the web UI's venv Python, in the web
UI's folder, with the web UI's command-line flags as arguments.

Everything the web UI reports through ``modules.errors.report`` ("Error loading script: X",
"Error executing callback …", "Error running preload() …") is collected with the extension it
came from (from the traceback's file paths, else from the script's file name), then printed as
one ``SMX-LOAD-CHECK: {json}`` line. Exit 0 means the check itself ran; what failed is in the
line.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

MARK = "SMX-LOAD-CHECK: "
ROOT = os.getcwd()
EXT_FOLDERS = ("extensions", "extensions-builtin")
problems: list[dict[str, str | None]] = []


def _extension_of(paths: list[str], message: str) -> tuple[str | None, str | None]:
    for path in paths:
        rel = os.path.relpath(os.path.abspath(path), ROOT).replace(os.sep, "/")
        parts = rel.split("/")
        if len(parts) > 2 and parts[0] in EXT_FOLDERS:
            return parts[0], parts[1]
    # "Failed reading extension data from Git repository (sd-webui-x)": named in the message
    for folder in EXT_FOLDERS:
        base = os.path.join(ROOT, folder)
        if os.path.isdir(base):
            for ext in sorted(os.listdir(base)):
                if f"({ext})" in message:
                    return folder, ext
    # "Error loading script: controlnet.py": the extension whose scripts/ holds that file
    name = message.rsplit(":", 1)[-1].strip()
    if name.endswith(".py"):
        for folder in EXT_FOLDERS:
            base = os.path.join(ROOT, folder)
            if not os.path.isdir(base):
                continue
            for ext in sorted(os.listdir(base)):
                if os.path.isfile(os.path.join(base, ext, "scripts", name)):
                    return folder, ext
    return None, None


def _record(message: str) -> None:
    kind, value, tb = sys.exc_info()
    paths = [frame.filename for frame in traceback.extract_tb(tb)] if tb is not None else []
    error = "".join(traceback.format_exception_only(kind, value)).strip() if value else ""
    folder, ext = _extension_of(list(reversed(paths)), message)
    problems.append({"message": message.strip(), "error": error, "folder": folder,
                     "extension": ext})


def _hook_errors() -> None:
    from modules import errors

    original = errors.report

    def report(message: object, *args: Any, **kwargs: Any) -> Any:
        _record(str(message))
        return original(message, *args, **kwargs)

    errors.report = report


def main() -> None:
    sys.argv = [os.path.join(ROOT, "webui.py"), *sys.argv[1:]]
    sys.path.insert(0, ROOT)
    _hook_errors()
    from modules import initialize

    calls: list[int] = []
    original_initialize = initialize.initialize

    def counted() -> Any:
        calls.append(1)
        return original_initialize()

    initialize.initialize = counted
    import webui  # noqa: F401 - runs the web UI's own start-up imports (Forge: initialize too)

    if not calls:
        initialize.initialize()
    from modules import script_callbacks, ui

    script_callbacks.before_ui_callback()
    ui.create_ui()


if __name__ == "__main__":
    status = "ok"
    try:
        main()
    except BaseException as exc:  # the web UI itself failed: say what, then the traceback
        traceback.print_exc()
        status = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    sys.stdout.flush()
    sys.stderr.flush()
    print(MARK + json.dumps({"status": status, "problems": problems}), flush=True)
    os._exit(0)  # the web UI leaves threads (model loader, queue) that would keep us alive
