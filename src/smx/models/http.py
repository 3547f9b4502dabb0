"""The HTTP client every model source and the transfer engine share.

Built on the standard library's ``http.client`` rather than httpx for two reasons:
- the transfer engine needs ``readinto`` into reused buffers to keep up with curl (httpx only
  yields freshly allocated chunks; see docs/performance-notes.md);
- one small redirect loop owns the token rule: ``Authorization`` goes only to the origin the
  token belongs to, and is dropped for good as soon as a redirect leaves that origin (signed
  CDN URLs need none). Tokens are never put in a query string.

Connections are kept alive and pooled per origin; proxies come from the usual environment
variables (HTTPS_PROXY, NO_PROXY, …); TLS uses certifi's bundle when it is installed.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from smx import __version__
from smx.errors import NetworkError
from smx.redact import redact

USER_AGENT = f"smx/{__version__}"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10

# Failures worth another try: the connection dropped, stalled or was cut short.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError,
    http.client.IncompleteRead, http.client.BadStatusLine, ssl.SSLEOFError,
)


def retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise NetworkError(f"unsupported URL scheme in {redact(url)}",
                               hint="smx downloads over http:// and https:// only")
        port = parts.port or (443 if scheme == "https" else 80)
        return cls(scheme, (parts.hostname or "").lower(), port)

    def __str__(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


class Credentials:
    """Bearer tokens, each bound to exactly one origin (the service's configured endpoint)."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self._tokens: dict[Origin, str] = {}
        for endpoint, token in (tokens or {}).items():
            if token:
                self._tokens[Origin.of(endpoint)] = token

    def authorization(self, origin: Origin) -> str | None:
        token = self._tokens.get(origin)
        return f"Bearer {token}" if token else None

    def has_token_for(self, url: str) -> bool:
        return Origin.of(url) in self._tokens

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._tokens.values())


@dataclass
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter; ``Retry-After`` wins when given.

    ``scale`` multiplies every pause actually slept (``SMX_RETRY_WAIT_SCALE``; tests use a tiny
    value); messages still say what the server asked for.
    """

    attempts: int = 6  # tries per request, the first one included
    base_s: float = 1.0
    cap_s: float = 30.0
    scale: float = 1.0
    max_retry_after_s: float = 900.0  # a server asking for longer than this: give up, say so

    @classmethod
    def from_env(cls) -> RetryPolicy:
        policy = cls()
        with contextlib.suppress(ValueError):
            policy.scale = max(0.0, float(os.environ.get("SMX_RETRY_WAIT_SCALE", "1")))
        with contextlib.suppress(ValueError):
            policy.attempts = max(1, int(os.environ.get("SMX_RETRIES", str(policy.attempts))))
        return policy

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1, 2, 4 … ≤ cap)."""
        delay = min(self.cap_s, self.base_s * (2 ** max(0, failures - 1)))
        return delay * (0.75 + random.random() * 0.5)  # jitter: clients do not retry in step

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.scale > 0:
            time.sleep(seconds * self.scale)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date. None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Hop:
    """One redirect answer on the way to the final response (its headers can carry facts,
    e.g. Hugging Face's X-Linked-Size / X-Linked-Etag)."""

    status: int
    url: str
    headers: http.client.HTTPMessage


class Response:
    """A response whose body is read by the caller; closing returns the connection to the pool."""

    def __init__(self, client: HttpClient, origin: Origin, conn: http.client.HTTPConnection,
                 raw: http.client.HTTPResponse, url: str, history: list[Hop]) -> None:
        self._client = client
        self._origin = origin
        self._conn: http.client.HTTPConnection | None = conn
        self.raw = raw
        self.url = url
        self.history = history
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def readinto(self, buffer: Any) -> int:
        return self.raw.readinto(buffer)

    def read(self, limit: int | None = None) -> bytes:
        return self.raw.read() if limit is None else self.raw.read(limit)

    def json(self) -> Any:
        return json.loads(self.read().decode("utf-8"))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.raw.isclosed() and not self.raw.will_close:
            self._client._pool.checkin(self._origin, conn)  # fully read: reusable
        else:
            self.raw.close()
            conn.close()

    def abort(self) -> None:
        """From another thread: make a blocked read return at once (the worker then stops)."""
        conn = self._conn
        sock = getattr(conn, "sock", None) if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def discard(self, limit: int = 1 << 16) -> None:
        """Read a short body (redirect/error text) so the connection can be reused."""
        with contextlib.suppress(*RETRYABLE_ERRORS, OSError):
            length = self.raw.length
            if length is not None and length <= limit:
                self.raw.read()
        self.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pool:
    def __init__(self) -> None:
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def checkout(self, origin: Origin) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(origin)
            return idle.pop() if idle else None

    def checkin(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(origin, []).append(conn)

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def _tls_context() -> ssl.SSLContext:
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _proxy_for(origin: Origin) -> str | None:
    import urllib.request

    if urllib.request.proxy_bypass(origin.host):
        return None
    return urllib.request.getproxies().get(origin.scheme)


def _timeout_from_env() -> float:
    """Seconds a connect or a read may stall before it counts as a failure (SMX_HTTP_TIMEOUT)."""
    try:
        return max(0.05, float(os.environ.get("SMX_HTTP_TIMEOUT", "60")))
    except ValueError:
        return 60.0


@dataclass
class HttpClient:
    """Shared by the API calls of every source and by all download connections."""

    credentials: Credentials = field(default_factory=Credentials)
    retry: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    timeout_s: float = field(default_factory=_timeout_from_env)
    # Told about each pause before a retry ("rate limited by …; retrying in 4 s").
    on_retry: Callable[[str], None] | None = None
    _pool: _Pool = field(default_factory=_Pool, init=False, repr=False)
    _tls: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def close(self) -> None:
        self._pool.close()

    # --- one exchange ------------------------------------------------------------------------
    def _connect(self, origin: Origin) -> tuple[http.client.HTTPConnection, bool]:
        """A connection for ``origin`` and whether the request target must be the full URL."""
        proxy = _proxy_for(origin)
        if origin.scheme == "https" and self._tls is None:
            self._tls = _tls_context()
        if proxy is None:
            if origin.scheme == "https":
                return http.client.HTTPSConnection(origin.host, origin.port, timeout=self.timeout_s,
                                                   context=self._tls), False
            return http.client.HTTPConnection(origin.host, origin.port,
                                              timeout=self.timeout_s), False
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        proxy_headers = {}
        if p.username:
            userinfo = f"{unquote(p.username)}:{unquote(p.password or '')}"
            proxy_headers["Proxy-Authorization"] = (
                "Basic " + base64.b64encode(userinfo.encode()).decode())
        if origin.scheme == "https":
            conn = http.client.HTTPSConnection(p.hostname or "", p.port or 8080,
                                               timeout=self.timeout_s, context=self._tls)
            conn.set_tunnel(origin.host, origin.port, headers=proxy_headers)
            return conn, False
        conn = http.client.HTTPConnection(p.hostname or "", p.port or 8080,
                                          timeout=self.timeout_s)
        conn._smx_proxy_headers = proxy_headers  # type: ignore[attr-defined]
        return conn, True

    def _exchange(self, method: str, url: str, headers: dict[str, str]
                  ) -> tuple[Origin, http.client.HTTPConnection, http.client.HTTPResponse]:
        origin = Origin.of(url)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for fresh in (False, True):
            conn = None if fresh else self._pool.checkout(origin)
            reused = conn is not None
            absolute = False
            if conn is None:
                conn, absolute = self._connect(origin)
            send_headers = dict(headers)
            if absolute:
                target = url.split("#", 1)[0]
                send_headers.update(getattr(conn, "_smx_proxy_headers", {}))
            try:
                conn.request(method, target, headers=send_headers)
                return origin, conn, conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused:  # a kept-alive connection the server had closed: try a fresh one
                    continue
                raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- redirects, auth scoping ------------------------------------------------------------
    def open(self, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             follow_redirects: bool = True,
             on_redirect: Callable[[Hop], None] | None = None) -> Response:
        """One request (following redirects), no retries. Raises OSError-family on failure.

        ``on_redirect`` sees each redirect answer before it is followed (and may raise)."""
        history: list[Hop] = []
        first_origin = Origin.of(url)
        auth_allowed = True
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            origin = Origin.of(current)
            if origin != first_origin:
                auth_allowed = False  # left the service's origin: the token never follows
            send = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            send.update(headers or {})
            send.pop("Authorization", None)
            authorization = self.credentials.authorization(origin) if auth_allowed else None
            if authorization:
                send["Authorization"] = authorization
            origin, conn, raw = self._exchange(method, current, send)
            response = Response(self, origin, conn, raw, current, history)
            location = raw.getheader("Location")
            if not follow_redirects or raw.status not in REDIRECT_STATUSES or not location:
                return response
            hop = Hop(raw.status, current, raw.headers)
            history.append(hop)
            response.discard()
            if on_redirect is not None:
                on_redirect(hop)
            current = urljoin(current, location)
            if raw.status == 303:
                method = "GET"
        raise NetworkError(f"too many redirects starting at {redact(url)}",
                           hint="the server sends smx in a loop; try again later")

    def request(self, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
                follow_redirects: bool = True, what: str | None = None,
                on_redirect: Callable[[Hop], None] | None = None) -> Response:
        """``open`` with bounded retries on dropped connections, 5xx and 429.

        Returns the last response, whatever its status: the caller turns statuses into
        errors that name the service and the fix.
        """
        failures = 0
        while True:
            try:
                response = self.open(url, method=method, headers=headers,
                                     follow_redirects=follow_redirects, on_redirect=on_redirect)
            except RETRYABLE_ERRORS as exc:
                failures += 1
                if failures >= self.retry.attempts:
                    raise network_error(exc, url, what) from None
                self.pause(self.retry.backoff(failures), f"{_short(exc)} from {_host(url)}")
                continue
            except OSError as exc:
                raise network_error(exc, url, what) from None
            if not retryable_status(response.status) or failures + 1 >= self.retry.attempts:
                return response
            failures += 1
            wait = self.wait_for(response, failures)
            if wait is None:  # the server asks for more than we will wait: let the caller say so
                return response
            response.discard()
            self.pause(wait, f"HTTP {response.status} from {_host(response.url)}")

    def wait_for(self, response: Response, failures: int) -> float | None:
        """How long to wait before retrying this 429/5xx; None when it asks for too long."""
        asked = parse_retry_after(response.header("Retry-After"))
        if asked is None:
            return self.retry.backoff(failures)
        if asked > self.retry.max_retry_after_s:
            return None
        return asked

    def pause(self, seconds: float, why: str) -> None:
        if self.on_retry is not None:
            self.on_retry(f"{why}; retrying in {_seconds(seconds)}")
        self.retry.sleep(seconds)

    def get_json(self, url: str, *, what: str) -> tuple[Response, Any]:
        """GET ``url``; on 200 with a JSON body return (response, data); otherwise (response,
        None) with the body kept in ``response.body`` for the caller's error mapping."""
        response = self.request(url, headers={"Accept": "application/json"}, what=what)
        try:
            body = response.read()
        except RETRYABLE_ERRORS as exc:
            response.close()
            raise network_error(exc, url, what) from None
        response.close()
        response.body = body  # type: ignore[attr-defined]
        if response.status != 200:
            return response, None
        try:
            return response, json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return response, None


def body_of(response: Response) -> bytes:
    return getattr(response, "body", b"")


def looks_like_html(response: Response) -> bool:
    ctype = (response.header("Content-Type") or "").lower()
    head = body_of(response)[:512].lstrip().lower()
    return "text/html" in ctype or head.startswith((b"<!doctype html", b"<html"))


def network_error(exc: BaseException, url: str, what: str | None = None) -> NetworkError:
    subject = what or _host(url)
    if isinstance(exc, socket.gaierror):
        return NetworkError(f"cannot reach {subject}: {_host(url)} is not a known host name",
                            hint="check your internet connection, proxy settings and the "
                                 "endpoint setting")
    if isinstance(exc, ConnectionRefusedError):
        return NetworkError(f"cannot reach {subject}: connection refused by {_host(url)}",
                            hint="the server is down or the endpoint setting is wrong")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetworkError(f"cannot reach {subject}: TLS certificate check failed for "
                            f"{_host(url)}",
                            hint="a proxy may intercept TLS; set SSL_CERT_FILE to its CA bundle")
    return NetworkError(f"network error talking to {subject}: {_short(exc)}",
                        hint="check your connection and run the same command again; "
                             "downloads resume where they stopped")


def _short(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed mid-transfer"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        return "connection reset"
    text = str(exc) or type(exc).__name__
    return redact(text)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"
