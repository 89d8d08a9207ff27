"""What every fake provider shares: werkzeug's threaded server in a background thread, and hanging up.

A fake is a WSGI app (:meth:`FakeServer.respond`, one werkzeug ``Request`` in, one ``Response``
out) served by ``werkzeug.serving.make_server``. Werkzeug answers with ``Connection: close``,
so no pooled client keeps talking to a fake that has stopped. Instead of answering, a fake may
hang up (:meth:`FakeServer.no_answer`): the client sees the connection dropped, as after a
timeout or a reset. The webhooks a fake posts go through :func:`client`, a requests session.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import NoReturn, Self

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:
        pass  # no line per request: it costs throughput and would print phone numbers


class FakeServer:
    """A provider's API on ``host:port`` (0: a free port), with the ``hang`` knob; subclasses answer."""

    #: Name of the serving thread.
    name = "fake"

    def __init__(self, host: str, port: int) -> None:
        #: Seconds a "timeout" failure holds the request before hanging up (``stop`` ends it early).
        self.hang = 30.0
        self._stopping = threading.Event()
        self._server = make_server(host, port, Request.application(self.respond), threaded=True,
                                   request_handler=_QuietHandler)
        self._thread: threading.Thread | None = None

    def respond(self, request: Request) -> Response:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. http://127.0.0.1:40123."""
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and end hanging requests; new connections are refused."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def no_answer(self, request: Request, failure: str) -> NoReturn:
        """Hang ``hang`` seconds (``failure`` "timeout") or not, then close the connection unanswered."""
        if failure == "timeout":
            self._stopping.wait(self.hang)
        with contextlib.suppress(OSError):
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("the fake hung up")  # werkzeug drops the connection silently


def json_response(status: int, payload: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, content_type="application/json")


def client() -> requests.Session:
    """A session for the webhooks a fake posts: straight to the URL given, no proxy from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session
