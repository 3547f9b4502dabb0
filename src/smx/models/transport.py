"""Large-block response bodies for the transfer engine, through httpx's and httpcore's public
extension points (a transport and a network backend).

httpcore reads a response 64 KiB at a time and passes every piece through h11 in Python,
which copies it twice more before the caller sees it; at loopback and LAN speeds that, not the
network or SHA-256, limits a verified download. What this module changes:

- ``BlockBackend`` (an ``httpcore.NetworkBackend``) opens connections with httpcore's own
  backend and wraps each stream in a ``BlockStream``;
- ``BlockStream`` gives h11 a response's header block and nothing after it (the rest of that
  socket read waits for the next call), so once the headers are parsed no body byte sits in
  h11's buffer;
- ``BlockTransport`` (an ``httpx.BaseTransport``) sends requests through an httpcore pool on
  that backend and gives every response a ``BodyReader``. A body framed by Content-Length or by
  the end of the connection, of at least ``DIRECT_MIN`` bytes, is then read by ``readinto``
  straight from the socket into the caller's buffer: one ``recv_into`` per system call, as
  large as the buffer, no intermediate copy. Anything else (chunked bodies, small bodies, a
  stream that already handed h11 body bytes, TLS inside a TLS proxy) is read through httpcore
  as usual.

A connection whose body was read directly is closed afterwards rather than kept alive (h11 did
not see the body, so it cannot frame the next response on it). Small bodies - API answers,
redirects, error pages - keep their keep-alive connections.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

# Bodies at least this large are read directly (smaller ones keep their connection alive).
DIRECT_MIN = 1 << 20
# A response's header block ends at an empty line (h11 accepts a bare LF too).
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# The extension under which a response carries its BodyReader (httpx wraps the stream
# object itself, extensions reach the caller unchanged).
BODY_READER = "smx.body_reader"

# httpcore's exceptions as httpx's, most specific first (httpx does the same in its own
# transport, which this one replaces).
_MAPPED: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise _mapped(exc) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
            httpcore.UnsupportedProtocol, httpcore.PoolTimeout) as exc:
        raise _mapped(exc) from exc


def _mapped(exc: Exception) -> httpx.HTTPError:
    for source, target in _MAPPED:
        if isinstance(exc, source):
            return target(str(exc))
    return httpx.TransportError(str(exc))  # pragma: no cover - every httpcore class is listed


class BlockStream(httpcore.NetworkStream):
    """A connection's byte stream that stops each read at the end of a response's headers and
    can read body bytes straight into a caller's buffer."""

    def __init__(self, inner: httpcore.NetworkStream, sock: socket.socket | None) -> None:
        self._inner = inner
        # The socket ``readinto`` may receive from: the TCP socket, or the SSLSocket over it.
        # None where the bytes need the inner stream's own decoding (TLS inside TLS).
        self._sock = sock
        self._pending = b""  # read past the end of a header block, not handed out yet
        self._in_head = False  # a request went out; the end of its answer's head not seen
        self._tail = b""  # the last bytes of the head so far (an end split across reads)
        self.handed_after_head = 0  # bytes given to h11 since the head ended

    # -- httpcore's interface --
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        else:
            data = self._inner.read(max_bytes, timeout)
        if not self._in_head:
            self.handed_after_head += len(data)
            return data
        joined = self._tail + data
        end = _HEAD_END.search(joined)
        if end is None:
            self._tail = joined[-3:]
            return data
        cut = end.end() - len(self._tail)
        self._pending = data[cut:] + self._pending
        self._in_head = False
        self._tail = b""
        self.handed_after_head = 0
        return data[:cut]

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:  # a request (or a part of one) goes out: its answer's head comes next
            self._in_head = True
            self._tail = b""
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        if self._pending:  # pragma: no cover - a proxy that talks before the TLS handshake
            raise httpcore.ProxyError("unexpected bytes after the proxy's CONNECT answer")
        inner = self._inner.start_tls(ssl_context, server_hostname, timeout)
        tls_sock = inner.get_extra_info("socket")
        direct = (tls_sock if isinstance(tls_sock, ssl.SSLSocket)
                  and not isinstance(self._sock, ssl.SSLSocket) else None)
        return BlockStream(inner, direct)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    # -- the direct route --
    def body_untouched(self) -> bool:
        """The last answer's head has ended and h11 has been given none of its body."""
        return not self._in_head and self.handed_after_head == 0

    def can_read_directly(self) -> bool:
        return self._sock is not None

    def readinto(self, view: memoryview, timeout: float | None) -> int:
        """Receive up to ``len(view)`` bytes into ``view``: what one system call returns.
        0 at the end of the connection. Raises httpx.ReadTimeout / httpx.ReadError."""
        if self._pending:
            n = min(len(view), len(self._pending))
            view[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv_into(view)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc


class BlockBackend(httpcore.NetworkBackend):
    """httpcore's own synchronous backend, each stream wrapped in a ``BlockStream``."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return BlockStream(stream, stream.get_extra_info("socket"))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:  # pragma: no cover - unused by smx
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return BlockStream(stream, stream.get_extra_info("socket"))

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries only
        self._inner.sleep(seconds)


class BodyReader(httpx.SyncByteStream):
    """A response body: ``readinto`` straight off the socket where the framing allows it,
    iteration through httpcore (h11) otherwise."""

    def __init__(self, response: httpcore.Response, method: str, read_timeout: float | None
                 ) -> None:
        self._response = response
        self._timeout = read_timeout
        self._iterating = False
        self._read_directly = 0
        self._left: int | None = None  # body bytes still to come (None: until the close)
        self._stream: BlockStream | None = None
        stream = response.extensions.get("network_stream")
        headers = httpx.Headers(response.headers)
        length = headers.get("Content-Length", "")
        no_body = method == "HEAD" or response.status in (204, 304) or response.status < 200
        if (isinstance(stream, BlockStream) and stream.can_read_directly()
                and stream.body_untouched() and not no_body
                and "Transfer-Encoding" not in headers
                and (not length or (length.isdigit() and int(length) >= DIRECT_MIN))):
            self._stream = stream
            self._left = int(length) if length else None

    @property
    def direct(self) -> bool:
        """Whether ``readinto`` takes bytes straight from the socket."""
        return self._stream is not None and not self._iterating

    def readinto(self, view: memoryview) -> int:
        """Up to ``len(view)`` body bytes into ``view`` (one receive); 0 at the body's end."""
        assert self._stream is not None and not self._iterating
        if self._left == 0 or not len(view):
            return 0
        if self._left is not None and self._left < len(view):
            view = view[:self._left]
        n = self._stream.readinto(view, self._timeout)
        if n == 0 and self._left is not None:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body: received "
                f"{self._read_directly} bytes, expected {self._read_directly + self._left}")
        self._read_directly += n
        if self._left is not None:
            self._left -= n
        return n

    def __iter__(self) -> Iterator[bytes]:
        if self._read_directly:  # carry on where readinto stopped, in fresh blocks
            buffer = memoryview(bytearray(DIRECT_MIN))
            while n := self.readinto(buffer):
                yield bytes(buffer[:n])
            return
        self._iterating = True
        with _as_httpx():
            stream = self._response.stream
            assert isinstance(stream, Iterable)
            yield from stream

    def close(self) -> None:
        with _as_httpx():
            self._response.close()


class BlockTransport(httpx.BaseTransport):
    """httpx's HTTP/1.1 transport over ``BlockBackend``, direct or through an HTTP(S) proxy."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits,
                 proxy: httpx.Proxy | None = None) -> None:
        common: dict[str, Any] = {
            "ssl_context": ssl_context, "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry, "http1": True, "http2": False,
            "network_backend": BlockBackend()}
        self._pool: httpcore.ConnectionPool
        if proxy is None:
            self._pool = httpcore.ConnectionPool(**common)
        else:
            self._pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(scheme=proxy.url.raw_scheme, host=proxy.url.raw_host,
                                       port=proxy.url.port, target=proxy.url.raw_path),
                proxy_auth=proxy.raw_auth, proxy_headers=proxy.headers.raw,
                proxy_ssl_context=proxy.ssl_context, **common)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        with _as_httpx():
            response = self._pool.handle_request(core_request)
        timeouts = request.extensions.get("timeout", {})
        reader = BodyReader(response, request.method, timeouts.get("read"))
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=reader,
                              extensions={**response.extensions, BODY_READER: reader})

    def close(self) -> None:
        self._pool.close()


def proxy_mounts(ssl_context: ssl.SSLContext, limits: httpx.Limits
                 ) -> dict[str, httpx.BaseTransport | None]:
    """The routes the environment asks for, as httpx mounts: a ``BlockTransport`` through each
    HTTP(S) proxy of HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, httpx's own transport through a
    SOCKS one, and the direct route (None) for the hosts in NO_PROXY - under the keys httpx
    itself uses for these variables (it reads none of them once a transport is given)."""
    import ipaddress
    from urllib.request import getproxies

    found = getproxies()
    excluded = [host.strip() for host in found.get("no", "").split(",") if host.strip()]
    if "*" in excluded:
        return {}
    mounts: dict[str, httpx.BaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        value = found.get(scheme)
        if not value:
            continue
        proxy = httpx.Proxy(value if "://" in value else f"http://{value}")
        if proxy.url.scheme in ("http", "https"):
            mounts[f"{scheme}://"] = BlockTransport(ssl_context=ssl_context, limits=limits,
                                                    proxy=proxy)
        else:  # socks5: httpx's transport (it needs the socksio extra)
            mounts[f"{scheme}://"] = httpx.HTTPTransport(verify=ssl_context, limits=limits,
                                                         proxy=proxy)
    for host in excluded:  # curl's rules, as httpx applies them
        if "://" in host:
            mounts[host] = None
            continue
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            address = None
        if address is not None and address.version == 6:
            mounts[f"all://[{address}]"] = None
        elif address is not None or host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        else:  # "example.com" covers its subdomains too, ".example.com" only those
            mounts[f"all://*{host}"] = None
    return mounts
