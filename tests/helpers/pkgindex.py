"""A package index on loopback that answers like PyPI's simple API: PEP 691 JSON (with
PEP 700 ``upload-time`` per file) or PEP 503 HTML, whichever the client asks for, and the files.

    index = PackageIndex(tmp_path / "index").start()
    index.publish("smx-fake-dep", "1.0", uploaded="2024-03-01")   # a hand-built wheel
    index.publish("smx-fake-dep", "2.0", uploaded="2025-03-01", files={...})
    index.url          # http://127.0.0.1:PORT/simple/  (PIP_INDEX_URL / UV_INDEX_URL)
    index.upload_times = False                             # an old mirror: no upload times
    index.requests     # (path, accept header) of every request, for assertions
    index.stop()

Wheels are built with tests/helpers/wheels.py, so pip and uv install real packages.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from helpers.loopback import LoopbackServer
from helpers.wheels import build_wheel, normalize

_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class _File:
    project: str
    filename: str
    path: Path
    sha256: str
    uploaded: str  # ISO 8601, UTC


@dataclass
class PackageIndex:
    root: Path
    upload_times: bool = True
    requests: list[tuple[str, str]] = field(default_factory=list)
    _files: list[_File] = field(default_factory=list)
    _server: LoopbackServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{self._server.url}/simple/"

    def publish(self, name: str, version: str, *, uploaded: str,
                files: dict[str, str | bytes] | None = None,
                requires: tuple[str, ...] = ()) -> Path:
        """Build ``name==version`` as a wheel and list it with this upload date
        (``2024-03-01`` or a full timestamp)."""
        wheel = build_wheel(self.root / "files", name, version, files, requires=requires)
        stamp = uploaded if "T" in uploaded else f"{uploaded}T12:00:00.000000Z"
        self._files.append(_File(normalize(name), wheel.name, wheel,
                                 hashlib.sha256(wheel.read_bytes()).hexdigest(), stamp))
        return wheel

    # -- serving -----------------------------------------------------------------------------
    def start(self) -> PackageIndex:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._head_only = True
                self.do_GET()

            def do_GET(self) -> None:
                accept = self.headers.get("Accept", "")
                index.requests.append((self.path, accept))
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                if parts[:1] == ["files"] and len(parts) == 2:
                    return self._file(parts[1])
                if parts[:1] == ["simple"] and len(parts) == 2:
                    return self._project(normalize(parts[1]).replace("_", "-"), accept)
                if parts == ["simple"]:
                    return self._send(200, "text/html", b"<html><body></body></html>")
                return self._send(404, "text/plain", b"not found")

            def _project(self, project: str, accept: str) -> None:
                files = [f for f in index._files
                         if f.project.replace("_", "-") == project]
                if not files:
                    return self._send(404, "text/plain", b"no such project")
                if _JSON in accept:
                    entries = []
                    for f in files:
                        entry: dict[str, Any] = {"filename": f.filename,
                                                 "url": f"/files/{f.filename}",
                                                 "hashes": {"sha256": f.sha256}}
                        if index.upload_times:
                            entry["upload-time"] = f.uploaded
                        entries.append(entry)
                    body = json.dumps({"meta": {"api-version": "1.1"}, "name": project,
                                       "versions": [], "files": entries}).encode()
                    return self._send(200, _JSON, body)
                links = "".join(
                    f'<a href="/files/{html.escape(f.filename)}#sha256={f.sha256}">'
                    f"{html.escape(f.filename)}</a><br>" for f in files)
                return self._send(200, "text/html",
                                  f"<html><body>{links}</body></html>".encode())

            def _file(self, filename: str) -> None:
                for f in index._files:
                    if f.filename == filename:
                        return self._send(200, "application/octet-stream",
                                          f.path.read_bytes())
                return self._send(404, "text/plain", b"no such file")

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not getattr(self, "_head_only", False):
                    self.wfile.write(body)

        self._server = LoopbackServer(Handler)
        self._server.serve_in_background()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> PackageIndex:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
