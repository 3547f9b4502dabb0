"""A stand-in web UI for smx's launch tests (stdlib only: it runs in a bare venv).

It records how it was started (argv, environment, working folder, PID, interpreter) as JSON to
the file named by SMX_TEST_RECORD, then exits with SMX_TEST_EXIT (default 0), or, with
SMX_TEST_SERVE=1, serves that record over HTTP on 127.0.0.1:<--port> until GET /shutdown.
SMX_TEST_IGNORE_TERM=1 makes it ignore SIGTERM (a UI that hangs on shutdown).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> None:
    if os.environ.get("SMX_TEST_IGNORE_TERM"):
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    record = {
        "argv": sys.argv,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "env": dict(os.environ),
    }
    target = os.environ.get("SMX_TEST_RECORD")
    if target:
        with open(target + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(target + ".tmp", target)
    if os.environ.get("SMX_TEST_SERVE"):
        serve(record)
    code = int(os.environ.get("SMX_TEST_EXIT", "0"))
    if code:
        print(f"testui: failing on purpose with exit code {code}", file=sys.stderr, flush=True)
    sys.exit(code)


def serve(record: dict[str, object]) -> None:
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 7860
    body = json.dumps(record).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if self.path == "/shutdown":
                threading.Thread(target=server.shutdown).start()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"Running on local URL:  http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
    server.server_close()
