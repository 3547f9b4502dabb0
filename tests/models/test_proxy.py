"""Users behind a proxy: every model request goes through HTTP(S)_PROXY, NO_PROXY is honoured."""

from __future__ import annotations

import hashlib
import http.client
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.fakehub import FakeHub
from helpers.loopback import LoopbackServer
from helpers.payloads import ckpt_bytes

REPO = "guoyww/animatediff"


class _ForwardProxy(LoopbackServer):
    """A plain HTTP forward proxy: takes absolute-URI requests, forwards them, records them."""

    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(_ProxyHandler)
        self.seen: list[tuple[str, str, dict[str, str]]] = []


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ForwardProxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self, method: str) -> None:
        self.server.seen.append((method, self.path, dict(self.headers.items())))
        target = urlsplit(self.path)
        if not target.scheme:  # a client that skipped the proxy protocol
            self.send_error(400, "proxy expects an absolute URI")
            return
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        path = target.path + (f"?{target.query}" if target.query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")}
        upstream.request(method, path, headers=headers)
        reply = upstream.getresponse()
        body = reply.read()
        self.send_response(reply.status, reply.reason)
        for key, value in reply.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)
        upstream.close()

    def do_GET(self) -> None:
        self._forward("GET")

    def do_HEAD(self) -> None:
        self._forward("HEAD")


@pytest.fixture
def proxy() -> Iterator[_ForwardProxy]:
    server = _ForwardProxy()
    server.serve_in_background()
    yield server
    server.close()


def test_model_pull_goes_through_http_proxy(hub: FakeHub, proxy: _ForwardProxy, env_dir: Path,
                                            smx, monkeypatch: pytest.MonkeyPatch) -> None:
    data = ckpt_bytes(pad_to=1 << 20)
    hub.hf_commit(REPO, {"mm_sdxl_v10_beta.ckpt": data})
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://proxyuser:proxypass@127.0.0.1:{proxy.server_port}")

    result = smx("--env", str(env_dir), "model", "pull", f"hf:{REPO}/mm_sdxl_v10_beta.ckpt")

    assert result.exit_code == 0, result.output
    placed = env_dir / "Data/Models/AnimateDiff/mm_sdxl_v10_beta.ckpt"
    assert hashlib.sha256(placed.read_bytes()).digest() == hashlib.sha256(data).digest()
    hosts = {urlsplit(url).port for _method, url, _headers in proxy.seen}
    assert urlsplit(hub.hf_url).port in hosts  # the API and resolve requests
    assert urlsplit(hub.cdn_url).port in hosts  # and the file bytes
    assert all(h.get("Proxy-Authorization", "").startswith("Basic ")
               for _m, _u, h in proxy.seen)
    assert "proxypass" not in result.output


def test_no_proxy_bypasses_the_proxy(hub: FakeHub, proxy: _ForwardProxy, env_dir: Path, smx,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hub.hf_commit(REPO, {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=1 << 16)})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    result = smx("--env", str(env_dir), "model", "pull", f"hf:{REPO}/mm_sdxl_v10_beta.ckpt")

    assert result.exit_code == 0, result.output
    assert proxy.seen == []
