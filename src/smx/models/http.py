"""The HTTP client every model source and the transfer engine share, on httpx.

One ``httpx.Client`` per ``HttpClient``: HTTP/1.1, a keep-alive pool sized for the transfer
engine's parallel connections, proxies from the usual environment variables (HTTP(S)_PROXY,
NO_PROXY, credentials in the proxy URL), TLS from SSL_CERT_FILE/SSL_CERT_DIR or certifi.

What smx keeps for itself on top of httpx:
- the redirect loop (httpx's is switched off): ``Authorization`` goes only to the origin the
  token belongs to, and is dropped for good as soon as a redirect leaves that origin (signed
  CDN URLs need none). Tokens are never put in a query string;
- ``Response.readinto`` into the caller's reused buffers (bodies are asked for with
  ``Accept-Encoding: identity``, so byte ranges are the file's bytes). Large bodies come
  straight off the socket, one ``recv_into`` per system call (models/transport.py); others
  over httpx's raw byte stream, holding back at most one received chunk. Memory stays
  constant whatever the file size;
- timeouts that say what they waited for: a connect timeout of seconds, a stall timeout
  (``SMX_HTTP_TIMEOUT``: how long a connection may send nothing), and a retry budget
  (``SMX_RETRIES`` tries, ``SMX_RETRY_BUDGET`` seconds) after which a failing request gives up
  with the reason;
- the retry decisions and the one-line messages: httpx's transport errors map onto them by
  their cause (a refused connection or an unknown host is not worth another try, a reset or a
  stall is).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from smx import __version__
from smx.errors import NetworkError
from smx.models.transport import BODY_READER, BlockTransport, BodyReader, proxy_mounts
from smx.redact import redact
from smx.timeouts import stall_timeout_s

USER_AGENT = f"smx/{__version__}"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
# The transfer engine opens up to 32 connections to one host; a few more leave room for the
# API calls made meanwhile (a signed URL refreshed mid-download).
POOL_KEEPALIVE = 32
POOL_MAX = POOL_KEEPALIVE + 8
# How long a connection may send nothing (waiting for an answer, or in the middle of a body)
# before it counts as stalled: SMX_HTTP_TIMEOUT (smx/timeouts.py, shared with git).
# Connecting gets at most CONNECT_TIMEOUT_S.
CONNECT_TIMEOUT_S = 10.0
# How long smx keeps retrying one failing request (or one piece of a download): a try starts
# only while this many seconds have not passed since the first one (SMX_RETRY_BUDGET). Waits a
# server asks for with Retry-After are announced and do not count. So a server that accepts
# connections and never answers fails a pull within DEFAULT_RETRY_BUDGET_S + DEFAULT_STALL_S.
DEFAULT_RETRY_BUDGET_S = 40.0


class BodyCutShort(Exception):
    """The body ended before the bytes the response promised (or the caller asked for)."""


def body_errors() -> tuple[type[BaseException], ...]:
    """What reading a response body raises when the connection fails (not a bug)."""
    return httpx.TransportError, BodyCutShort, OSError


# Failures worth another try: the connection dropped, stalled or was cut short. A connection
# that could not be opened at all is judged by its cause (see ``is_retryable``).
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException, httpx.ReadError, httpx.WriteError, httpx.CloseError,
    httpx.RemoteProtocolError, BodyCutShort,
    ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError,
    ssl.SSLEOFError,
)
# Causes of a failed connect that another try may cure (the rest - refused, unknown host,
# certificate rejected - would only fail the same way six times).
_TRANSIENT_CAUSES = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                     TimeoutError, ssl.SSLEOFError)


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


def _env_number(name: str, default: float, minimum: float) -> float:
    try:
        return max(minimum, float(os.environ.get(name, str(default))))
    except ValueError:
        return default


@dataclass
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter; ``Retry-After`` wins when given.

    Bounded twice: ``attempts`` tries per request (``SMX_RETRIES``), and a time budget
    (``SMX_RETRY_BUDGET``). ``scale`` multiplies every pause actually slept
    (``SMX_RETRY_WAIT_SCALE``; tests use a tiny value); messages still say what the server
    asked for.
    """

    attempts: int = 6  # tries per request, the first one included
    base_s: float = 1.0
    cap_s: float = 30.0
    scale: float = 1.0
    budget_s: float = DEFAULT_RETRY_BUDGET_S
    max_retry_after_s: float = 900.0  # a server asking for longer than this: give up, say so

    @classmethod
    def from_env(cls) -> RetryPolicy:
        policy = cls()
        policy.scale = _env_number("SMX_RETRY_WAIT_SCALE", 1.0, 0.0)
        with contextlib.suppress(ValueError):
            policy.attempts = max(1, int(os.environ.get("SMX_RETRIES", str(policy.attempts))))
        policy.budget_s = _env_number("SMX_RETRY_BUDGET", DEFAULT_RETRY_BUDGET_S, 0.0)
        return policy

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1, 2, 4 … ≤ cap)."""
        delay = min(self.cap_s, self.base_s * (2.0 ** max(0, failures - 1)))
        return delay * (0.75 + random.random() * 0.5)  # jitter: clients do not retry in step

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.scale > 0:
            time.sleep(seconds * self.scale)


class Streak:
    """One request's (or one download piece's) failures in a row: whether another try is
    worth it, and how long it has been going on for the message when it is not."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self._began = time.monotonic()
        self._asked = 0.0  # seconds slept because a server said so (Retry-After)

    def restart(self) -> None:
        """The request made progress: the next failure starts a new streak."""
        self.failures = 0
        self._began = time.monotonic()
        self._asked = 0.0

    def fail(self) -> None:
        self.failures += 1

    def allows(self, pause: float, *, asked: bool = False) -> bool:
        """Whether another try may follow after ``pause`` seconds (asked: by the server)."""
        if self.failures >= self.policy.attempts:
            return False
        if asked:
            return True
        return self.spent() + pause * self.policy.scale < self.policy.budget_s

    def slept(self, pause: float, *, asked: bool) -> None:
        if asked:
            self._asked += pause * self.policy.scale

    def spent(self) -> float:
        return time.monotonic() - self._began - self._asked

    def summary(self) -> str:
        tries = f"{self.failures} tr{'y' if self.failures == 1 else 'ies'}"
        return f"gave up after {tries} in {_seconds(time.monotonic() - self._began)}"


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
    headers: httpx.Headers


_EMPTY = memoryview(b"")


class Response:
    """A response whose body is read by the caller, straight off the connection.

    Closing it returns the connection to the pool when the body was read to its end, and
    closes the connection otherwise (nothing is drained behind the caller's back)."""

    def __init__(self, raw: httpx.Response, url: str, history: list[Hop]) -> None:
        self.raw = raw
        self.url = url
        self.history = history
        self.status = raw.status_code
        self.reason = raw.reason_phrase
        self.headers = raw.headers
        self._chunks: Iterator[bytes] | None = None
        self._left = _EMPTY  # the part of the last received chunk not handed out yet
        self._error: BaseException | None = None
        self._reuse = False  # read through h11 so that the connection can serve the next one

    def header(self, name: str, default: str | None = None) -> str | None:
        value: str | None = self.headers.get(name, default)
        return value

    def _next_chunk(self) -> memoryview | None:
        if self._chunks is None:
            self._chunks = self.raw.iter_raw()  # closes the response once the body is done
        for chunk in self._chunks:
            if chunk:
                return memoryview(chunk)
        return None

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` (until it is full or the body ends); 0 means the body has ended.

        A large body comes straight off the socket into ``buffer``; otherwise at most the rest
        of one received chunk (≤ 64 KiB) is held back. Memory stays constant either way."""
        if self._error is not None:  # kept from the call that still returned bytes
            error, self._error = self._error, None
            raise error
        view = memoryview(buffer).cast("B")
        if self.direct:
            reader = self.raw.extensions[BODY_READER]
            return self._fill(view, reader.readinto)
        return self._fill(view, self._from_chunks)

    @property
    def direct(self) -> bool:
        """Whether the body comes straight off the socket (models/transport.py)."""
        reader = self.raw.extensions.get(BODY_READER)
        return (not self._reuse and self._chunks is None and isinstance(reader, BodyReader)
                and reader.direct)

    def finish(self) -> None:
        """The caller has read the whole body it asked for: let h11 see its end, so that
        closing hands the connection back to the pool instead of closing it."""
        if self._chunks is not None and not self._left:
            with contextlib.suppress(httpx.HTTPError, *RETRYABLE_ERRORS, OSError):
                self._next_chunk()

    def keep_connection(self) -> None:
        """Read the body the way that lets its connection take the next request (before the
        first read): for a caller with more requests to make, where keeping connections
        open costs less than the copies it saves."""
        self._reuse = True

    def _fill(self, view: memoryview, receive: Callable[[memoryview], int]) -> int:
        filled = 0
        while filled < len(view):
            try:
                n = receive(view[filled:])
            except (httpx.TransportError, OSError) as exc:
                if not filled:
                    raise
                self._error = exc  # hand out what arrived before the drop first
                break
            if n == 0:
                break
            filled += n
        return filled

    def _from_chunks(self, view: memoryview) -> int:
        if not self._left:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._left = chunk
        n = min(len(self._left), len(view))
        view[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def read(self, limit: int | None = None) -> bytes:
        if limit is not None:
            buffer = bytearray(limit)
            return bytes(buffer[:self.readinto(buffer)])
        out = bytearray()
        buffer = bytearray(1 << 16)
        while n := self.readinto(buffer):
            out += buffer[:n]
        return bytes(out)

    def json(self) -> Any:
        return json.loads(self.read().decode("utf-8"))

    def close(self) -> None:
        self._left = _EMPTY
        with contextlib.suppress(httpx.HTTPError, OSError):
            self.raw.close()

    def abort(self) -> None:
        """From another thread: make a blocked read return at once, without draining anything
        (the reading thread then fails with a transport error and closes the response)."""
        if self.raw.is_closed:  # its connection may already serve another request
            return
        stream = self.raw.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def discard(self, limit: int = 1 << 16) -> None:
        """Read a short body (redirect/error text) so the connection can be reused."""
        with contextlib.suppress(httpx.HTTPError, *RETRYABLE_ERRORS, OSError):
            length = self.headers.get("Content-Length", "")
            if length.isdigit() and int(length) <= limit:
                self.read()
        self.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tls_context() -> ssl.SSLContext:
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


@dataclass
class HttpClient:
    """Shared by the API calls of every source and by all download connections (threads
    included: one ``httpx.Client``, whose pool is thread-safe)."""

    credentials: Credentials = field(default_factory=Credentials)
    retry: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    timeout_s: float = field(default_factory=stall_timeout_s)  # the stall timeout
    # Told about each pause before a retry ("rate limited by …; retrying in 4 s").
    on_retry: Callable[[str], None] | None = None
    _http: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def close(self) -> None:
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    @property
    def connect_timeout_s(self) -> float:
        return min(CONNECT_TIMEOUT_S, self.timeout_s)

    def _session(self) -> httpx.Client:
        """The httpx client, made on first use (proxies are read from the environment then).

        Its transports read large bodies in large blocks (models/transport.py): the direct one,
        and one per HTTP(S) proxy from the environment; httpx keeps its NO_PROXY handling."""
        with self._lock:
            if self._http is None:
                context = _tls_context()
                limits = httpx.Limits(max_connections=POOL_MAX,
                                      max_keepalive_connections=POOL_KEEPALIVE)
                self._http = httpx.Client(
                    http1=True, http2=False,
                    follow_redirects=False,  # our loop below owns the token rule
                    trust_env=True,  # HTTP(S)_PROXY, NO_PROXY, proxy credentials
                    verify=context,
                    transport=BlockTransport(ssl_context=context, limits=limits),
                    mounts=proxy_mounts(context, limits),
                    timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
                    limits=limits,
                    # identity: a byte range is the file's bytes, not a slice of a gzip stream
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
            return self._http

    # --- redirects, auth scoping ------------------------------------------------------------
    def open(self, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             follow_redirects: bool = True,
             on_redirect: Callable[[Hop], None] | None = None) -> Response:
        """One request (following redirects), no retries. Raises httpx.TransportError (or
        OSError) on failure.

        ``on_redirect`` sees each redirect answer before it is followed (and may raise)."""
        http = self._session()
        history: list[Hop] = []
        first_origin = Origin.of(url)
        auth_allowed = True
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            origin = Origin.of(current)
            if origin != first_origin:
                auth_allowed = False  # left the service's origin: the token never follows
            send = dict(headers or {})  # on top of the client's User-Agent, Accept-Encoding
            send.pop("Authorization", None)
            authorization = self.credentials.authorization(origin) if auth_allowed else None
            if authorization:
                send["Authorization"] = authorization
            raw = http.send(http.build_request(method, current, headers=send), stream=True)
            response = Response(raw, current, history)
            location = raw.headers.get("Location")
            if not follow_redirects or raw.status_code not in REDIRECT_STATUSES or not location:
                return response
            hop = Hop(raw.status_code, current, raw.headers)
            history.append(hop)
            response.discard()
            if on_redirect is not None:
                on_redirect(hop)
            current = urljoin(current, location)
            if raw.status_code == 303:
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
        streak = Streak(self.retry)
        while True:
            try:
                response = self.open(url, method=method, headers=headers,
                                     follow_redirects=follow_redirects, on_redirect=on_redirect)
            except (httpx.TransportError, OSError) as exc:
                if not is_retryable(exc):
                    raise self.error(exc, url, what) from None
                streak.fail()
                wait = self.retry.backoff(streak.failures)
                if not streak.allows(wait):
                    raise self.error(exc, url, what, streak=streak) from None
                self.pause(wait, self.describe(exc, url), streak)
                continue
            if not retryable_status(response.status):
                return response
            streak.fail()
            pause = self.wait_for(response, streak.failures)
            asked = parse_retry_after(response.header("Retry-After")) is not None
            if pause is None or not streak.allows(pause, asked=asked):
                return response  # the caller says what the last answer was
            response.discard()
            self.pause(pause, f"HTTP {response.status} from {_host(response.url)}", streak,
                       asked=asked)

    def wait_for(self, response: Response, failures: int) -> float | None:
        """How long to wait before retrying this 429/5xx; None when it asks for too long."""
        asked = parse_retry_after(response.header("Retry-After"))
        if asked is None:
            return self.retry.backoff(failures)
        if asked > self.retry.max_retry_after_s:
            return None
        return asked

    def pause(self, seconds: float, why: str, streak: Streak | None = None, *,
              asked: bool = False) -> None:
        if self.on_retry is not None:
            when = f"in {_seconds(seconds)}" if seconds > 0 else "now"
            self.on_retry(f"{why}; retrying {when}")
        self.retry.sleep(seconds)
        if streak is not None:
            streak.slept(seconds, asked=asked)

    # --- what went wrong, in words -------------------------------------------------------------
    def describe(self, exc: BaseException, url: str, *, body: bool = False) -> str:
        """What a failed try waited for and did not get, naming the host."""
        host = _host(url)
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection to {host} within {_seconds(self.connect_timeout_s)}"
        if isinstance(exc, httpx.TimeoutException) or isinstance(_cause(exc), TimeoutError):
            if body:
                return f"{host} stopped sending for {_seconds(self.timeout_s)}"
            return (f"{host} accepted the connection but sent no answer for "
                    f"{_seconds(self.timeout_s)}")
        return f"{_short(exc)} from {host}"

    def error(self, exc: BaseException, url: str, what: str | None = None, *,
              streak: Streak | None = None, body: bool = False) -> NetworkError:
        """The NetworkError for a failure smx gives up on: the cause, and the tries made."""
        error = network_error(exc, url, what)
        if isinstance(exc, httpx.TimeoutException) or isinstance(_cause(exc), TimeoutError):
            subject = what or _host(url)
            tries = f" ({streak.summary()})" if streak is not None and streak.failures else ""
            error = NetworkError(
                f"network error talking to {subject}: {self.describe(exc, url, body=body)}"
                f"{tries}",
                hint="the server stopped answering; run the same command again later "
                     "(downloads resume where they stopped). SMX_HTTP_TIMEOUT and "
                     "SMX_RETRY_BUDGET set how long smx waits")
        elif streak is not None and streak.failures > 1:
            error.message = f"{error.message} ({streak.summary()})"
        return error

    def get_json(self, url: str, *, what: str) -> tuple[Response, Any]:
        """GET ``url``; on 200 with a JSON body return (response, data); otherwise (response,
        None) with the body kept in ``response.body`` for the caller's error mapping."""
        response = self.request(url, headers={"Accept": "application/json"}, what=what)
        try:
            body = response.read()
        except body_errors() as exc:  # RETRYABLE_ERRORS and more
            response.close()
            raise self.error(exc, url, what, body=True) from exc
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


def is_retryable(exc: BaseException) -> bool:
    """Whether another try may succeed. A connection that could not be opened is judged by
    its cause: reset or cut during the handshake, yes; refused, unknown host, a rejected
    certificate or a proxy's refusal, no."""
    if isinstance(exc, httpx.ConnectError):
        return isinstance(_cause(exc), _TRANSIENT_CAUSES)
    return isinstance(exc, RETRYABLE_ERRORS)


def _cause(exc: BaseException) -> BaseException:
    """The error under httpx's and httpcore's wrappers (the socket's own OSError). httpcore
    keeps it as the context, not always as the cause, so both are followed - but only while
    still inside those two libraries' exceptions."""
    for _ in range(8):
        if type(exc).__module__.partition(".")[0] not in ("httpx", "httpcore"):
            break
        inner = exc.__cause__ or exc.__context__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            break
        exc = inner
    return exc


def network_error(exc: BaseException, url: str, what: str | None = None) -> NetworkError:
    subject = what or _host(url)
    cause = _cause(exc)
    if isinstance(cause, socket.gaierror):
        return NetworkError(f"cannot reach {subject}: {_host(url)} is not a known host name",
                            hint="check your internet connection, proxy settings and the "
                                 "endpoint setting")
    if isinstance(cause, ConnectionRefusedError):
        return NetworkError(f"cannot reach {subject}: connection refused by {_host(url)}",
                            hint="the server is down or the endpoint setting is wrong")
    if isinstance(cause, ssl.SSLCertVerificationError):
        return NetworkError(f"cannot reach {subject}: TLS certificate check failed for "
                            f"{_host(url)}",
                            hint="a proxy may intercept TLS; set SSL_CERT_FILE to its CA bundle")
    return NetworkError(f"network error talking to {subject}: {_short(exc)}",
                        hint="check your connection and run the same command again; "
                             "downloads resume where they stopped")


def _short(exc: BaseException) -> str:
    cause = _cause(exc)
    if isinstance(exc, httpx.TimeoutException) or isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(exc, BodyCutShort) or (isinstance(exc, httpx.RemoteProtocolError)
                                         and "complete message body" in str(exc)):
        return "connection closed mid-transfer"
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc):
        return "connection reset"  # closed before any answer (a stale keep-alive, a crash)
    if isinstance(cause, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "connection reset"
    text = str(exc) or type(exc).__name__
    return redact(text)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"
