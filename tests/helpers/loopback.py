"""The HTTP server every loopback fake is built on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1 and a free port. Closing it never waits for a handler
    still talking to a client (a throttled body to a smx that hangs or was killed): a test's
    teardown cannot hang on one, and the handler threads are daemons."""

    block_on_close = False
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve_in_background(self, name: str | None = None) -> None:
        threading.Thread(target=self.serve_forever, name=name, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
