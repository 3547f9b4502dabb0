"""The large-block body path (models/transport.py) against a scripted loopback server: large
bodies come straight off the socket and byte-exact whatever way the server frames or splits
them; small ones keep their connection alive; anything the direct route cannot frame is read
through httpx itself."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from smx.models.http import HttpClient, Response

MiB = 1 << 20
Script = Callable[[socket.socket, bytes], None]  # (connection, request head) -> answer


class ScriptedServer:
    """Answers each request on a connection with ``script``; counts connections.

    Every socket is closed only after the threads using it have ended: a descriptor closed
    under a thread blocked in accept() or recv() can be reused by the next test's server, and
    that thread then takes and answers its connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.listener.settimeout(0.05)  # how often the accept loop looks for close()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._closing = threading.Event()
        self._accepted: list[tuple[socket.socket, threading.Thread]] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._accepted.append((conn, thread))
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffered += data
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            try:
                self.script(conn, head)
            except OSError:
                return

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join()
        for conn, _thread in self._accepted:  # wakes a recv() still waiting for a request
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for conn, thread in self._accepted:
            thread.join(10)
            if not thread.is_alive():
                conn.close()
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def read_all(response: Response) -> bytes:
    out = bytearray()
    buffer = bytearray(MiB)
    while n := response.readinto(buffer):
        out += buffer[:n]
    response.close()
    return bytes(out)


BODY = os.urandom(3 * MiB + 12345)


def test_a_large_body_comes_straight_off_the_socket(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/big")
    assert response.direct
    assert read_all(response) == BODY
    client.close()


def test_a_header_block_split_across_packets_is_still_framed_exactly(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        whole = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-A: b\r\n\r\n" % len(BODY) + BODY
        for cut in (10, 41):  # mid status line, then between the two CRLFs of the blank line
            conn.sendall(whole[:cut])
            whole = whole[cut:]
            time.sleep(0.05)
        conn.sendall(whole)

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/split")
    assert response.header("X-A") == "b" and response.direct
    assert read_all(response) == BODY
    client.close()


def test_a_body_without_length_is_read_to_the_close(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY)
        conn.shutdown(socket.SHUT_WR)

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/unframed")
    assert response.direct
    assert read_all(response) == BODY
    client.close()


def test_a_chunked_body_goes_through_httpx(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(BODY), MiB):
            piece = BODY[start:start + MiB]
            conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/chunked")
    assert not response.direct
    assert read_all(response) == BODY
    client.close()


def test_small_answers_keep_their_connection_and_large_ones_do_not(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        body = b"{}" if b"GET /small" in head else BODY
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    server = scripted(answer)
    client = HttpClient()
    for _ in range(3):
        assert client.get_json(f"{server.url}/small", what="test")[1] == {}
    assert server.connections == 1
    # read straight off the socket: h11 never saw the body, so the connection ends with it
    # (the first large answer came on the kept-alive one, the second needs a new one)
    for _ in range(2):
        assert read_all(client.request(f"{server.url}/large")) == BODY
    assert server.connections == 2
    client.close()


def test_a_head_answer_announcing_a_large_body_has_none(scripted) -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/head", method="HEAD")
    assert not response.direct
    assert read_all(response) == b""
    client.close()


def test_a_body_cut_short_is_an_error_not_a_short_file(scripted) -> None:
    import httpx

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)
                     + BODY[:MiB + 7])
        conn.shutdown(socket.SHUT_RDWR)

    server = scripted(answer)
    client = HttpClient()
    response = client.request(f"{server.url}/cut")
    assert response.direct
    buffer = bytearray(4 * MiB)
    assert response.readinto(buffer) == MiB + 7  # what arrived is handed out first
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        response.readinto(buffer)
    response.close()
    client.close()
