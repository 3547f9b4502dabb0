"""A loopback Comfy Registry speaking the shapes of api.comfy.org's OpenAPI
(Comfy-Org/registry-backend openapi.yml; the published spec on docs.comfy.org):

    GET /nodes/{id}                        -> Node (id, name, repository, status,
                                              status_detail, latest_version: NodeVersion, …)
                                              404 -> ErrorResponse {error, message}
    GET /nodes/{id}/versions               -> [NodeVersion] (status_reason only with
                                              include_status_reason=true)
    GET /nodes/{id}/versions/{version}     -> NodeVersion; 404 -> Error {message, details}
    GET /nodes/search?search=&limit=       -> {nodes, total, page, limit, totalPages}
    GET /comfy-nodes/{class}/node          -> Node; 404 when no pack provides it
    GET /files/{id}/{version}/node.zip     -> the version's archive (downloadUrl points here,
                                              as the real one points at the Registry's CDN)

    registry = FakeRegistry().start()
    registry.publish("comfyui-foo", "1.0.0", files={"__init__.py": "..."},
                     repository="https://github.com/o/ComfyUI-Foo", classes=["FooNode"])
    registry.set_status("comfyui-foo", "1.0.0", "NodeVersionStatusBanned", "malware")
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from helpers.loopback import LoopbackServer


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    """A started Registry with smx pointed at it (SMX_COMFY_REGISTRY)."""
    registry = FakeRegistry().start()
    monkeypatch.setenv("SMX_COMFY_REGISTRY", registry.url)
    try:
        yield registry
    finally:
        registry.stop()


@dataclass
class Version:
    version: str
    archive: bytes
    status: str = "NodeVersionStatusActive"
    deprecated: bool = False
    status_reason: str = ""
    created_at: str = "2025-01-01T00:00:00Z"


@dataclass
class Pack:
    id: str
    name: str
    repository: str | None
    status: str = "NodeStatusActive"
    status_detail: str = ""
    versions: list[Version] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


def zip_of(files: Mapping[str, str | bytes], top: str | None = None) -> bytes:
    """A zip of ``files`` (what `comfy node pack` makes: the files at the top level; ``top``
    puts them under one folder, as GitHub archives do)."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in sorted(files.items()):
            zf.writestr(f"{top}/{name}" if top else name, content)
    return raw.getvalue()


class FakeRegistry:
    def __init__(self) -> None:
        self.packs: dict[str, Pack] = {}
        self.requests: list[str] = []  # "GET /path?query"
        self._server: LoopbackServer | None = None

    # --- content ----------------------------------------------------------------------------
    def publish(self, node_id: str, version: str, *, files: Mapping[str, str | bytes] | None
                = None, archive: bytes | None = None, repository: str | None = None,
                name: str | None = None, classes: list[str] | None = None,
                created_at: str | None = None) -> Version:
        pack = self.packs.get(node_id)
        if pack is None:
            pack = self.packs[node_id] = Pack(node_id, name or node_id, repository)
        if repository is not None:
            pack.repository = repository
        if classes:
            pack.classes = sorted(set(pack.classes) | set(classes))
        data = archive if archive is not None else zip_of(files or {"__init__.py": ""})
        entry = Version(version, data, created_at=created_at or
                        f"2025-01-{len(pack.versions) + 1:02d}T00:00:00Z")
        pack.versions.append(entry)
        return entry

    def set_status(self, node_id: str, version: str, status: str, reason: str = "", *,
                   deprecated: bool = False) -> None:
        entry = next(v for v in self.packs[node_id].versions if v.version == version)
        entry.status, entry.status_reason, entry.deprecated = status, reason, deprecated

    # --- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self) -> FakeRegistry:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(f"GET {self.path}")
                status, body, kind = registry.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = LoopbackServer(Handler)
        self._server.serve_in_background()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> FakeRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answers ------------------------------------------------------------------------------
    def answer(self, raw_path: str) -> tuple[int, bytes, str]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments[:2] == ["nodes", "search"]:
            return self._json(200, self._search(query))
        if segments[0] == "nodes" and len(segments) >= 2:
            pack = self.packs.get(segments[1])
            if pack is None:
                return self._json(404, {"error": "Not Found", "message": "Node not found"})
            if len(segments) == 2:
                return self._json(200, self._node(pack))
            if segments[2:] == ["versions"]:
                with_reason = query.get("include_status_reason") == ["true"]
                return self._json(200, [self._version(pack, v, with_reason)
                                        for v in pack.versions])
            if len(segments) == 4 and segments[2] == "versions":
                found = next((v for v in pack.versions if v.version == segments[3]), None)
                if found is None:
                    return self._json(404, {"message": "Node version not found",
                                            "details": []})
                return self._json(200, self._version(pack, found, True))
        if segments[0] == "comfy-nodes" and len(segments) == 3 and segments[2] == "node":
            for pack in self.packs.values():
                if segments[1] in pack.classes:
                    return self._json(200, self._node(pack))
            return self._json(404, {"error": "Not Found",
                                    "message": "Comfy node not found"})
        if segments[0] == "files" and len(segments) == 4:
            pack = self.packs.get(segments[1])
            found = next((v for v in pack.versions if v.version == segments[2]), None) \
                if pack else None
            if found is not None:
                return 200, found.archive, "application/zip"
        return self._json(404, {"error": "Not Found", "message": "no such route"})

    def _json(self, status: int, data: Any) -> tuple[int, bytes, str]:
        return status, json.dumps(data).encode(), "application/json"

    def _version(self, pack: Pack, v: Version, with_reason: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": f"{pack.id}-{v.version}-uuid", "node_id": pack.id, "version": v.version,
            "changelog": "", "createdAt": v.created_at, "dependencies": [],
            "deprecated": v.deprecated, "status": v.status,
            "downloadUrl": f"{self.url}/files/{pack.id}/{v.version}/node.zip",
            "supported_comfyui_version": "", "supported_os": [], "tags": [],
            "comfy_node_extract_status": "success"}
        if with_reason:
            data["status_reason"] = v.status_reason
        return data

    def _node(self, pack: Pack) -> dict[str, Any]:
        active = [v for v in pack.versions if v.status == "NodeVersionStatusActive"
                  and not v.deprecated]
        data: dict[str, Any] = {
            "id": pack.id, "name": pack.name, "description": f"{pack.name} nodes",
            "author": "someone", "license": "{\"file\": \"LICENSE\"}", "tags": [],
            "downloads": 1000, "rating": 0, "status": pack.status,
            "status_detail": pack.status_detail,
            "publisher": {"id": "someone", "name": "someone"}}
        if pack.repository is not None:
            data["repository"] = pack.repository
        if active:
            data["latest_version"] = self._version(pack, active[-1], False)
        return data

    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        text = (query.get("search") or [""])[0].lower()
        words = [w for w in text.replace("-", " ").split() if w]
        limit = int((query.get("limit") or ["10"])[0])
        found = [self._node(p) for p in self.packs.values()
                 if any(w in p.id or w in p.name.lower() for w in words)][:limit]
        return {"nodes": found, "total": len(found), "page": 1, "limit": limit,
                "totalPages": 1}
