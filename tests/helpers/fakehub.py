"""A loopback stand-in for Civitai, Hugging Face and their CDNs, for tests of anything that
downloads models.

Three origins on three ports, as in reality: ``api`` (civitai.com), ``hf`` (huggingface.co)
and ``cdn`` (the signed-blob host both redirect to). Responses follow the recorded shapes in
tests/models/fixtures (copied from the research in shared/fixtures/api/README.md) with the
sizes and hashes of the bytes the test actually serves substituted.

Every request is recorded (origin, method, path, query, headers, status, body bytes sent) and
faults can be switched on per origin: statuses (500, 429 with or without Retry-After), resets
and truncations mid-body, wrong bytes, ignoring Range, a per-connection speed cap, Cloudflare
HTML instead of JSON.

    from helpers.fakehub import FakeHub      # tests/ is on sys.path under pytest
    hub = FakeHub().start()
    v1 = hub.civitai_publish(261336, 597138, b"...", name="v5.0.0")     # model + version
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": data})
    env = hub.env()   # SMX_CIVITAI_ENDPOINT, HF_ENDPOINT, tiny retry waits
    ...
    hub.civitai_publish(261336, 600000, b"newer", name="v6.0.0")          # mid-test release
    hub.stop()
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from helpers.loopback import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[1] / "models" / "fixtures"
_SIGNING_KEY = b"fakehub"
BROWSER_WORDS = ("mozilla", "chrome", "safari", "firefox", "opera", "edge")


@pytest.fixture
def fakehub(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A started hub with smx pointed at it (endpoints, instant retries); stopped afterwards.
    Other test folders get it with ``from helpers.fakehub import fakehub`` in a conftest."""
    with FakeHub() as hub:
        for key, value in hub.env().items():
            monkeypatch.setenv(key, value)
        yield hub


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    spec = "version https://git-lfs.github.com/spec/v1\n"
    return f"{spec}oid sha256:{sha256}\nsize {size}\n".encode()


@dataclass
class Blob:
    data: bytes
    sha256: str = ""
    md5: str = ""

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.md5 = hashlib.md5(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Recorded:
    origin: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    status: int = 0
    sent: int = 0  # body bytes written to the socket
    client_port: int = 0  # which connection it came on

    @property
    def url_path(self) -> str:
        return self.path


@dataclass
class Fault:
    """One switch. ``kind``: status | reset | truncate | corrupt | html | stall.

    status: answer ``status`` with ``headers``/``body`` instead of the real response.
    reset / truncate: send ``after`` body bytes, then an RST / a clean close.
    corrupt: serve the right length with one byte flipped (wrong bytes).
    html: answer 503 with a Cloudflare-style HTML page.
    stall: sleep ``seconds`` before answering (before the headers, or after ``after`` body
    bytes when ``after`` is set).
    nolength: answer 200 whatever the Range, without Content-Length, the body ended by closing
    the connection (after ``after`` bytes when set: a cut that looks like the end).
    endless: the same, but the file over and over without end (until the client hangs up, or
    ``after`` bytes, 1 GiB when unset).
    Applies to requests on ``origin`` whose path contains ``path`` (any when None),
    ``times`` times (None = until removed).
    """

    origin: str
    kind: str
    times: int | None = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    after: int = 0
    path: str | None = None
    seconds: float = 0.0
    hits: int = 0


@dataclass
class CivitaiFile:
    file_id: int
    name: str
    blob: Blob
    type: str = "Model"
    primary: bool = True
    pickle_scan: str = "Success"

    @property
    def fmt(self) -> str:
        return "SafeTensor" if self.name.endswith(".safetensors") else "PickleTensor"


@dataclass
class CivitaiVersion:
    version_id: int
    model_id: int
    name: str
    base_model: str
    files: list[CivitaiFile]
    published_at: str
    login_required: bool = False
    downloads_disabled: bool = False
    early_access_until: str | None = None
    archived: bool = False
    published: bool = True
    trained_words: list[str] = field(default_factory=list)


@dataclass
class CivitaiModel:
    model_id: int
    name: str
    type: str
    versions: dict[int, CivitaiVersion] = field(default_factory=dict)


@dataclass
class HfRepo:
    repo: str
    refs: dict[str, str] = field(default_factory=dict)  # branch/tag -> commit
    commits: dict[str, dict[str, Blob]] = field(default_factory=dict)  # commit -> path -> blob
    lfs: set[str] = field(default_factory=set)  # paths stored with LFS
    gated: bool = False
    private: bool = False
    allowed_tokens: set[str] = field(default_factory=set)


class _Server(LoopbackServer):
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs when 8+ connections open at once (1-7 s stalls).
    request_queue_size = 128

    def __init__(self, hub: FakeHub, origin: str) -> None:
        super().__init__(_Handler)
        self.hub = hub
        self.origin = origin

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that went away (killed smx, aborted range): not news
        super().handle_error(request, client_address)


class FakeHub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.civitai_models: dict[int, CivitaiModel] = {}
        self.civitai_tokens: set[str] = set()  # valid API keys
        self.civitai_purchased: set[str] = set()  # tokens that bought early access
        self.hf_repos: dict[str, HfRepo] = {}
        self.hf_tokens: set[str] = set()
        self.url_files: dict[str, tuple[Blob, dict[str, str]]] = {}  # cdn path -> blob, headers
        self.cdn_ignore_range = False
        self.throttle_bps: float | None = None  # per connection, cdn only
        self._lock = threading.Lock()
        self._servers: dict[str, _Server] = {}
        self._commit_counter = 0

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeHub:
        for origin in ("api", "hf", "cdn"):
            server = _Server(self, origin)
            server.serve_in_background(f"fakehub-{origin}")
            self._servers[origin] = server
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return self._servers["api"].url

    @property
    def hf_url(self) -> str:
        return self._servers["hf"].url

    @property
    def cdn_url(self) -> str:
        return self._servers["cdn"].url

    def env(self) -> dict[str, str]:
        """Environment variables that point smx at this hub, with tiny retry pauses."""
        return {"SMX_CIVITAI_ENDPOINT": self.api_url, "HF_ENDPOINT": self.hf_url,
                "SMX_RETRY_WAIT_SCALE": "0.001"}

    # --- records -----------------------------------------------------------------------------
    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def requests_to(self, origin: str, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if r.origin == origin and (path is None or path in r.path)]

    def bytes_sent(self, origin: str = "cdn", path: str | None = None) -> int:
        return sum(r.sent for r in self.requests_to(origin, path))

    def clear_records(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- faults ------------------------------------------------------------------------------
    def fault(self, origin: str, kind: str, **params: Any) -> Fault:
        rule = Fault(origin=origin, kind=kind, **params)
        with self._lock:
            self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
        self.cdn_ignore_range = False
        self.throttle_bps = None

    def take_fault(self, origin: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self.faults:
                if rule.origin != origin or (rule.path and rule.path not in path):
                    continue
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                rule.hits += 1
                return rule
        return None

    # --- Civitai authoring ------------------------------------------------------------------
    def civitai_publish(self, model_id: int, version_id: int, data: bytes, *,
                        filename: str | None = None, name: str = "v1.0",
                        model_name: str = "anima_pencil-XL", model_type: str = "Checkpoint",
                        base_model: str = "SDXL 1.0", extra_files: list[CivitaiFile] | None = None,
                        published_at: str | None = None, **access: Any) -> CivitaiVersion:
        """Publish a version (the newest unless ``published_at`` says otherwise)."""
        model = self.civitai_models.get(model_id)
        if model is None:
            model = CivitaiModel(model_id, model_name, model_type)
            self.civitai_models[model_id] = model
        if published_at is None:
            stamp = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(
                days=len(model.versions) + 1)
            published_at = stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        filename = filename or f"model_{version_id}.safetensors"
        primary = CivitaiFile(file_id=version_id * 10, name=filename, blob=Blob(data))
        version = CivitaiVersion(version_id, model_id, name, base_model,
                                 [primary, *(extra_files or [])], published_at, **access)
        model.versions[version_id] = version
        return version

    def civitai_file(self, file_id: int, name: str, data: bytes, *, type: str = "Model",
                     pickle_scan: str = "Success") -> CivitaiFile:
        return CivitaiFile(file_id=file_id, name=name, blob=Blob(data), type=type,
                           primary=False, pickle_scan=pickle_scan)

    def civitai_by_hash(self, digest: str) -> CivitaiVersion | None:
        """The published version with a file whose SHA-256 or AutoV2 is ``digest`` (any case),
        as Civitai's by-hash route matches."""
        wanted = digest.upper()
        for model in self.civitai_models.values():
            for version in model.versions.values():
                for f in version.files:
                    if version.published and wanted in (f.blob.sha256.upper(),
                                                        f.blob.sha256[:10].upper()):
                        return version
        return None

    def _find_version(self, version_id: int) -> CivitaiVersion | None:
        for model in self.civitai_models.values():
            if version_id in model.versions:
                return model.versions[version_id]
        return None

    def civitai_version_json(self, version: CivitaiVersion, *, for_model: bool = False
                             ) -> dict[str, Any]:
        model = self.civitai_models[version.model_id]
        body = copy.deepcopy(load_fixture("civitai/model-version-597138.json"))
        template_file = body["files"][0]
        files = []
        for f in version.files:
            entry = copy.deepcopy(template_file)
            entry.update({
                "id": f.file_id, "sizeKB": f.blob.size / 1024, "name": f.name, "type": f.type,
                "pickleScanResult": f.pickle_scan,
                "metadata": {"format": f.fmt, "size": "pruned", "fp": "fp16"},
                "downloadUrl": self._download_url(version, f),
            })
            entry["hashes"] = {"AutoV2": f.blob.sha256[:10].upper(),
                               "SHA256": f.blob.sha256.upper(),
                               "CRC32": "%08X" % (hashlib.md5(f.blob.data).digest()[0] << 24)}
            if f.primary:
                entry["primary"] = True
            elif not for_model:
                entry["primary"] = False
            else:
                entry.pop("primary", None)
            files.append(entry)
        body.update({
            "id": version.version_id, "modelId": version.model_id, "name": version.name,
            "baseModel": version.base_model, "publishedAt": version.published_at,
            "createdAt": version.published_at, "updatedAt": version.published_at,
            "status": "Published" if version.published else "Draft",
            "trainedWords": list(version.trained_words),
            "air": f"urn:air:sdxl:checkpoint:civitai:{version.model_id}@{version.version_id}",
            "model": {"name": model.name, "type": model.type, "nsfw": False, "poi": False},
            "files": files,
            "downloadUrl": f"{self.api_url}/api/download/models/{version.version_id}",
        })
        if version.early_access_until:
            body["earlyAccessEndsAt"] = version.early_access_until
        if for_model:  # the model endpoint drops `model`, nulls and empty lists
            body.pop("model", None)
            body = {k: v for k, v in body.items() if v is not None and v != []}
        return body

    def _download_url(self, version: CivitaiVersion, f: CivitaiFile) -> str:
        base = f"{self.api_url}/api/download/models/{version.version_id}"
        if f.primary:
            return base
        return f"{base}?type={quote(f.type)}&format={f.fmt}"

    def civitai_model_json(self, model: CivitaiModel) -> dict[str, Any]:
        body = copy.deepcopy(load_fixture("civitai/models-261336.json"))
        versions = sorted((v for v in model.versions.values() if v.published),
                          key=lambda v: v.published_at, reverse=True)
        listed = []
        for index, version in enumerate(versions):
            entry = self.civitai_version_json(version, for_model=True)
            entry["index"] = index
            listed.append(entry)
        body.update({"id": model.model_id, "name": model.name, "type": model.type,
                     "modelVersions": listed,
                     "baseModels": sorted({v.base_model for v in versions})})
        return body

    # --- Hugging Face authoring ------------------------------------------------------------
    def hf_commit(self, repo: str, files: dict[str, bytes], *, branch: str = "main",
                  lfs: bool = True, gated: bool = False) -> str:
        """Add or replace ``files`` on ``branch`` as a new commit; returns the commit sha."""
        entry = self.hf_repos.get(repo)
        if entry is None:
            entry = HfRepo(repo)
            self.hf_repos[repo] = entry
        entry.gated = entry.gated or gated
        parent = entry.commits.get(entry.refs.get(branch, ""), {})
        self._commit_counter += 1
        commit = hashlib.sha1(f"{repo}:{branch}:{self._commit_counter}".encode()).hexdigest()
        tree = dict(parent)
        for path, data in files.items():
            tree[path] = Blob(data)
            if lfs:
                entry.lfs.add(path)
        entry.commits[commit] = tree
        entry.refs[branch] = commit
        return commit

    def hf_repo_json(self, entry: HfRepo, commit: str) -> dict[str, Any]:
        body = copy.deepcopy(load_fixture("huggingface/guoyww-animatediff.json"))
        siblings: list[dict[str, Any]] = [
            {"rfilename": ".gitattributes", "blobId": "a6344aac8c09253b3b630fb776ae94478aa0275b",
             "size": 1519}]
        for path, blob in sorted(entry.commits[commit].items()):
            if path in entry.lfs:
                pointer = lfs_pointer(blob.sha256, blob.size)
                siblings.append({"rfilename": path, "blobId": git_blob_sha1(pointer),
                                 "size": blob.size,
                                 "lfs": {"sha256": blob.sha256, "size": blob.size,
                                         "pointerSize": len(pointer)}})
            else:
                siblings.append({"rfilename": path, "blobId": git_blob_sha1(blob.data),
                                 "size": blob.size})
        body.update({"id": entry.repo, "modelId": entry.repo, "author": entry.repo.split("/")[0],
                     "sha": commit, "gated": "auto" if entry.gated else False,
                     "private": entry.private, "siblings": siblings})
        return body

    # --- plain URLs --------------------------------------------------------------------------
    def url_file(self, path: str, data: bytes, *, headers: dict[str, str] | None = None) -> str:
        """Serve ``data`` at ``path`` on the cdn origin; returns the full URL."""
        self.url_files[path] = (Blob(data), dict(headers or {}))
        return self.cdn_url + path

    # --- signed CDN URLs ---------------------------------------------------------------------
    def signed_url(self, blob: Blob, filename: str, disposition: str = "attachment") -> str:
        cd = f'{disposition}; filename="{filename}"'
        path = f"/blobs/{blob.sha256}"
        sig = hmac.new(_SIGNING_KEY, path.encode(), "sha256").hexdigest()
        return (f"{self.cdn_url}{path}?X-Amz-Expires=86400&response-content-disposition="
                f"{quote(cd, safe='')}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={sig}")

    def find_blob(self, sha256: str) -> Blob | None:
        for model in self.civitai_models.values():
            for version in model.versions.values():
                for f in version.files:
                    if f.blob.sha256 == sha256:
                        return f.blob
        for entry in self.hf_repos.values():
            for tree in entry.commits.values():
                for blob in tree.values():
                    if blob.sha256 == sha256:
                        return blob
        return None


# --- the request handler ---------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    @property
    def hub(self) -> FakeHub:
        return self.server.hub

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.rec = Recorded(self.server.origin, method, unquote(parts.path),
                            parse_qs(parts.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            client_port=self.client_address[1])
        self.hub.record(self.rec)
        self.method = method
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        fault = self.hub.take_fault(self.server.origin, self.rec.path)
        self.fault = fault
        if fault is not None and fault.kind == "stall" and not fault.after:
            time.sleep(fault.seconds)
            self.fault = None
        elif fault is not None and fault.kind == "status":
            self._reply(fault.status, fault.body, fault.headers or {})
            return
        elif fault is not None and fault.kind == "html":
            page = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
                    b"<body>Checking your browser before accessing civitai.com.</body></html>")
            self._reply(503, page, {"Content-Type": "text/html; charset=UTF-8"})
            return
        route = {"api": self._civitai, "hf": self._hf, "cdn": self._cdn}[self.server.origin]
        try:
            route(parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- replies -----------------------------------------------------------------------------
    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
               ) -> None:
        self.rec.status = status
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.method != "HEAD" and body:
            self._send_body(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        base = {"Content-Type": "application/json; charset=utf-8",
                "Access-Control-Allow-Origin": "*"}
        base.update(headers or {})
        self._reply(status, json.dumps(data).encode(), base)

    def _send_body(self, body: bytes) -> None:
        fault = self.fault
        if fault is not None and fault.kind == "stall":  # a body that stops flowing a while
            self.wfile.write(body[:fault.after])
            self.rec.sent += fault.after
            time.sleep(fault.seconds)
            with contextlib.suppress(OSError):
                self.wfile.write(body[fault.after:])
                self.rec.sent += len(body) - fault.after
            return
        if fault is not None and fault.kind in ("reset", "truncate"):
            body = body[:fault.after]
        throttle = self.hub.throttle_bps if self.server.origin == "cdn" else None
        if throttle:
            chunk = 16 * 1024
            began = time.monotonic()
            sent = 0
            while sent < len(body):
                piece = body[sent:sent + chunk]
                self.wfile.write(piece)
                sent += len(piece)
                self.rec.sent += len(piece)
                ahead = sent / throttle - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        else:  # in blocks, so a client that hangs up mid-body is counted for what it got
            view = memoryview(body)
            for offset in range(0, len(body), 1 << 20):
                block = view[offset:offset + (1 << 20)]
                self.wfile.write(block)
                self.rec.sent += len(block)
        if fault is not None and fault.kind in ("reset", "truncate"):
            self.wfile.flush()
            time.sleep(0.1)  # let the client read what was sent: only the rest is cut off
            if fault.kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.close_connection = True

    def _send_unframed(self, data: bytes, *, endless: bool, limit: int) -> None:
        self.rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        total = limit or ((1 << 30) if endless else len(data))
        with contextlib.suppress(OSError):
            while self.rec.sent < total:
                offset = self.rec.sent % len(data)
                block = data[offset:offset + min(1 << 20, total - self.rec.sent)]
                self.wfile.write(block)
                self.rec.sent += len(block)

    # --- Civitai -----------------------------------------------------------------------------
    def _civitai_token(self, query: dict[str, list[str]]) -> str | None:
        auth = self.headers.get("Authorization") or ""
        token = auth.partition(" ")[2].strip() if " " in auth else None
        token = token or (query.get("token") or [None])[0]
        return token if token in self.hub.civitai_tokens else None

    def _civitai(self, path: str, query: dict[str, list[str]]) -> None:
        segments = [s for s in path.split("/") if s]
        if segments[:3] == ["api", "v1", "models"] and len(segments) == 4:
            mid = _int32(segments[3])
            if mid is None:
                self._json(400, {"error": f"Invalid model id: {segments[3]}"})
                return
            model = self.hub.civitai_models.get(mid)
            if model is None:
                self._json(404, {"error": f"No model with id {mid}"})
                return
            self._json(200, self.hub.civitai_model_json(model),
                       {"Cache-Control": "public, s-maxage=300, stale-while-revalidate=150"})
            return
        if segments[:4] == ["api", "v1", "model-versions", "by-hash"] and len(segments) == 5:
            found = self.hub.civitai_by_hash(segments[4])
            if found is None:
                self._json(404, load_fixture("civitai/errors/404-model-version-not-found.json"))
                return
            self._json(200, self.hub.civitai_version_json(found),
                       {"Cache-Control": "public, s-maxage=3600, stale-while-revalidate=1800"})
            return
        if segments[:3] == ["api", "v1", "model-versions"] and len(segments) == 4:
            vid = _int32(segments[3])
            version = self.hub._find_version(vid) if vid else None
            if version is None or not version.published:
                self._json(404, load_fixture("civitai/errors/404-model-version-not-found.json"))
                return
            self._json(200, self.hub.civitai_version_json(version))
            return
        if segments[:3] == ["api", "download", "models"] and len(segments) == 4:
            self._civitai_download(segments[3], query)
            return
        self._json(404, {"error": "Not found"})

    def _civitai_download(self, raw_id: str, query: dict[str, list[str]]) -> None:
        nostore = {"Cache-Control": "no-store, max-age=0"}
        vid = _int32(raw_id)
        if not vid:
            self._json(400, load_fixture("civitai/errors/400-missing-model-version-id.json"),
                       nostore)
            return
        version = self.hub._find_version(vid)
        if version is None:
            self._json(404, load_fixture("civitai/errors/404-download-file-not-found.json"),
                       nostore)
            return
        token = self._civitai_token(query)
        browser = any(w in (self.headers.get("User-Agent") or "").lower() for w in BROWSER_WORDS)
        if version.archived:
            self._json(410, load_fixture("civitai/errors/410-download-archived.json"), nostore)
            return
        if version.downloads_disabled:
            self._json(401, load_fixture("civitai/errors/401-download-disabled.json"), nostore)
            return
        if version.login_required and token is None:
            if browser:
                self._reply(307, b"", {**nostore, "Location": "/login?reason=download-auth"})
            else:
                self._json(401, load_fixture("civitai/errors/401-download-login-required.json"),
                           nostore)
            return
        if version.early_access_until and token not in self.hub.civitai_purchased:
            body = load_fixture("civitai/errors/403-download-early-access.json")
            body["deadline"] = version.early_access_until
            self._json(403, body, nostore)
            return
        chosen = self._civitai_pick_file(version, query)
        if chosen is None:
            self._json(404, load_fixture("civitai/errors/404-download-file-not-found.json"),
                       nostore)
            return
        location = self.hub.signed_url(chosen.blob, chosen.name)
        self._reply(307, b"Redirecting...", {**nostore, "Location": location,
                                             "Content-Type": "text/plain"})

    def _civitai_pick_file(self, version: CivitaiVersion, query: dict[str, list[str]]
                           ) -> CivitaiFile | None:
        if "fileId" in query:
            wanted = query["fileId"][0]
            return next((f for f in version.files if str(f.file_id) == wanted), None)
        if "type" in query or "format" in query:
            for f in version.files:
                if query.get("type", [f.type])[0] == f.type and (
                        query.get("format", [f.fmt])[0] == f.fmt):
                    return f
            return None
        return next((f for f in version.files if f.primary), None)

    # --- Hugging Face ------------------------------------------------------------------------
    def _hf_error(self, status: int, code: str | None, message: str,
                  extra: dict[str, str] | None = None) -> None:
        headers = {"X-Error-Message": message, "X-Request-Id": "Root=1-fake-0000"}
        if code:
            headers["X-Error-Code"] = code
        headers.update(extra or {})
        self._json(status, {"error": message}, headers)

    def _hf_access(self, repo: str) -> HfRepo | None:
        """The repo when this request may read it; otherwise answers the error and None."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.startswith("Bearer ") else None
        if token is not None and token not in self.hub.hf_tokens:
            self._hf_error(401, None, "Invalid credentials in Authorization header")
            return None
        entry = self.hub.hf_repos.get(repo)
        if entry is None or (entry.private and token not in entry.allowed_tokens):
            if token is None:
                self._hf_error(401, "RepoNotFound", "Invalid username or password.")
            else:
                self._hf_error(404, "RepoNotFound", "Repository not found")
            return None
        if entry.gated and token not in entry.allowed_tokens:
            if token is None:
                self._hf_error(401, "GatedRepo", f"Access to model {repo} is restricted. You "
                               "must have access to it and be authenticated to access it. "
                               "Please log in.")
            else:
                self._hf_error(403, "GatedRepo", f"Access to model {repo} is restricted and "
                               "you are not in the authorized list. Visit "
                               f"https://huggingface.co/{repo} to ask for access.")
            return None
        return entry

    def _hf(self, path: str, query: dict[str, list[str]]) -> None:
        segments = [unquote(s) for s in path.split("/") if s]
        if segments[:2] == ["api", "models"] and len(segments) >= 6 and segments[4] == "revision":
            repo = "/".join(segments[2:4])
            entry = self._hf_access(repo)
            if entry is None:
                return
            rev = "/".join(segments[5:])
            commit = entry.refs.get(rev) or (rev if rev in entry.commits else None)
            if commit is None:
                self._hf_error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
                return
            self._json(200, self.hub.hf_repo_json(entry, commit))
            return
        if len(segments) >= 5 and segments[2] == "resolve":
            repo = "/".join(segments[:2])
            entry = self._hf_access(repo)
            if entry is None:
                return
            rev, file_path = segments[3], "/".join(segments[4:])
            commit = entry.refs.get(rev) or (rev if rev in entry.commits else None)
            if commit is None:
                self._hf_error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
                return
            blob = entry.commits[commit].get(file_path)
            if blob is None:
                self._hf_error(404, "EntryNotFound", "Entry not found",
                               {"X-Repo-Commit": commit})
                return
            name = file_path.rsplit("/", 1)[-1]
            if file_path not in entry.lfs:
                self._serve_blob(blob, {"ETag": f'"{git_blob_sha1(blob.data)}"',
                                        "X-Repo-Commit": commit})
                return
            pointer = lfs_pointer(blob.sha256, blob.size)
            self._reply(302, b"Found. Redirecting", {
                "Location": self.hub.signed_url(blob, name, "inline"),
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{blob.sha256}"',
                "X-Linked-Size": str(blob.size),
                "ETag": f'"{git_blob_sha1(pointer)}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "text/plain; charset=utf-8",
                "X-Request-Id": "Root=1-fake-0000",
            })
            return
        self._hf_error(404, None, "Not found")

    # --- CDN ---------------------------------------------------------------------------------
    def _cdn(self, path: str, query: dict[str, list[str]]) -> None:
        if path in self.hub.url_files:
            blob, headers = self.hub.url_files[path]
            self._serve_blob(blob, headers)
            return
        if path.startswith("/blobs/"):
            sha = path.rsplit("/", 1)[-1]
            expected = hmac.new(_SIGNING_KEY, path.encode(), "sha256").hexdigest()
            if (query.get("X-Amz-Signature") or [""])[0] != expected:
                self._reply(403, b"<Error><Code>AccessDenied</Code></Error>",
                            {"Content-Type": "application/xml"})
                return
            blob = self.hub.find_blob(sha)
            if blob is None:
                self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>",
                            {"Content-Type": "application/xml"})
                return
            headers = {"ETag": f'"{blob.md5}-1"', "x-amz-mp-parts-count": "1"}
            disposition = (query.get("response-content-disposition") or [None])[0]
            if disposition:
                headers["Content-Disposition"] = disposition
            self._serve_blob(blob, headers)
            return
        self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>")

    def _serve_blob(self, blob: Blob, headers: dict[str, str]) -> None:
        data = blob.data
        if self.fault is not None and self.fault.kind in ("nolength", "endless"):
            self._send_unframed(data, endless=self.fault.kind == "endless",
                                limit=self.fault.after)
            return
        if self.fault is not None and self.fault.kind == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        size = len(data)
        out = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream",
               "Last-Modified": "Tue, 25 Jun 2024 09:31:59 GMT"}
        out.setdefault("ETag", f'"{blob.md5}"')
        out.update(headers)
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and if_range and if_range != out.get("ETag"):
            rng = None  # the entity changed: RFC 9110 says send it whole
        if rng and not (self.server.origin == "cdn" and self.hub.cdn_ignore_range):
            parsed = _parse_range(rng, size)
            if parsed is None:
                self._reply(416, b"", {**out, "Content-Range": f"bytes */{size}"})
                return
            start, end = parsed
            out["Content-Range"] = f"bytes {start}-{end}/{size}"
            self._reply(206, data[start:end + 1], out)
            return
        self._reply(200, data, out)


def _int32(text: str) -> int | None:
    if not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value < 2**31 else None


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    if not header.startswith("bytes="):
        return None
    first, _, last = header[6:].split(",")[0].strip().partition("-")
    if not first:  # suffix range: the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n else None
    start = int(first)
    end = min(size - 1, int(last)) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end
