"""The HTTP scaffolding the local provider servers share (sms.twilio_mock, sms.android_mock).

A threaded server that can drop every kept-alive connection when it stops (so no pooled
client talks to a stopped fake), and a quiet keep-alive handler with JSON answers and the
"hang, then close without answering" failure. Each fake's ``_Handler`` adds its own API.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TrackingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    #: The fake this server answers for (its knobs: ``hang``, ``_stopping``, ...).
    fake: object

    def server_activate(self) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().server_activate()

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def close_connections(self) -> None:
        """Shut every kept-alive connection, so no pooled client talks to a stopped fake."""
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the clients' pools reuse connections
    disable_nagle_algorithm = True
    timeout = 60  # idle kept-alive connections close after this
    server: TrackingServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_request(self, code="-", size="-") -> None:
        pass  # no per-request logging: it costs throughput and would print numbers

    def log_message(self, format, *args) -> None:
        pass

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _no_answer(self, failure: str) -> None:
        """Hang (``timeout``) or not, then close the connection without a response."""
        if failure == "timeout":
            self.server.fake._stopping.wait(self.server.fake.hang)
        self.close_connection = True
