"""A local server that speaks enough of Twilio's Messages API for the real client (tests, benchmarks).

Point :class:`sms.twilio.TwilioGateway` at ``FakeTwilio.url`` (``api_base``). The server accepts
and lists messages, then posts signed status callbacks ("sent", then "delivered" or a failure)
like Twilio does. Knobs, settable from any thread at any time, make it slow, fail or misbehave:

- ``latency``: seconds added to every create.
- ``fail_next(kind, count)`` / ``fail_rate(kind, ratio)``: the next creates (or reads, ``on="read"``) fail:
  ``"500"``/``"503"`` (Twilio JSON, codes 20500/20503), ``"502"`` (an HTML page from the edge,
  no code), ``"429"`` (code 20429 and a ``Retry-After: <retry_after>`` header), an API error code
  (``"21211"``, ``"21610"``, ``"21614"``, ``"21611"``, ``"20003"``, ``"10001"``), ``"timeout"`` (read
  the request, answer nothing for ``hang`` seconds, close), ``"timeout_after_accept"`` (accept the
  message, then hang: the client cannot know it was sent), ``"reset"`` (close without an answer).
  A delivery code (``"30001"``-``"30008"``) is accepted and fails later in its status callback.
  ``"30002"`` (account suspended) is one of these: Twilio reports it for a message queued before
  the suspension, as status "failed"; a suspended account's API requests get 10001 instead.
- ``undeliverable[to] = "30003"``: messages to that number end "undelivered" with that code.
- ``unconfirmed``: numbers whose handsets never confirm delivery: their messages stay "sent",
  at Twilio too (a fetch says "sent").
- ``callback_delay``, ``drop_receipts`` (ratio of messages whose final status callback is lost
  on the way: Twilio still moves the message on, and a fetch of it tells the final status),
  ``duplicate_callbacks``, ``reorder_callbacks``, ``callbacks_enabled``.

Only the standard library serves; ``twilio.request_validator`` signs the callbacks.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
import http.client
import itertools
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from sms.mock_http import FakeHandler, TrackingServer

API_VERSION = "2010-04-01"

#: API error kinds -> (HTTP status, Twilio code or None, message). "{to}" is the To number,
#: quoted the way Twilio does (so a gateway that logs messages would leak it).
API_ERRORS: dict[str, tuple[int, int | None, str]] = {
    "500": (500, 20500, "Internal Server Error"),
    "503": (503, 20503, "Service Unavailable"),
    "502": (502, None, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "429": (429, 20429, "Too Many Requests"),
    "20429": (429, 20429, "Too Many Requests"),
    "21211": (400, 21211, "Invalid 'To' Phone Number: {to}"),
    "21610": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "21614": (400, 21614, "'To' number {to} is not a valid mobile number"),
    "21611": (400, 21611, "This 'From' number has exceeded the maximum number of queued messages"),
    "20003": (401, 20003, "Authenticate"),
    # The status Twilio uses for an inactive account is not documented; 401 like 20003.
    "10001": (401, 10001, "Account is not active"),
}
#: Delivery error codes: accepted, then the callback ends with this status and ErrorCode.
DELIVERY_ERRORS: dict[str, str] = {
    "30001": "failed", "30002": "failed",  # never left Twilio
    "30003": "undelivered", "30004": "undelivered", "30005": "undelivered",
    "30006": "undelivered", "30007": "undelivered", "30008": "undelivered",
}
CONNECTION_FAILURES = frozenset({"timeout", "timeout_after_accept", "reset"})
#: How far along a message is; status updates never go backwards.
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2}

_CREATE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_FETCH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")


@dataclass
class FakeMessage:
    """One message the fake accepted (a copy: the fake keeps its own)."""

    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status: str
    status_callback: str | None
    validity_period: str | None
    date_created: datetime
    #: time.monotonic() and time.time() when the create was accepted.
    accepted_at: float
    accepted_wall: float
    error_code: int | None = None


class FakeTwilio:
    """Twilio's Messages API on 127.0.0.1, with failure knobs and signed status callbacks."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, port: int = 0, *,
                 host: str = "127.0.0.1", number: str = "+15005550006", callback_workers: int = 4) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.number = number
        self.validator = RequestValidator(self.auth_token)
        # Knobs (plain attributes: any thread may set them at any time).
        self.latency = 0.0
        self.retry_after = 1
        self.hang = 30.0
        self.callback_delay = 0.0
        self.drop_receipts = 0.0
        self.duplicate_callbacks = False
        self.reorder_callbacks = False
        self.callbacks_enabled = True
        self.undeliverable: dict[str, str] = {}
        self.unconfirmed: set[str] = set()
        # Counters.
        self.callback_errors = 0
        self.callbacks_posted = 0

        self._lock = threading.Lock()
        self._messages: dict[str, FakeMessage] = {}
        self._by_to: dict[str, list[str]] = {}
        self._failures: dict[str, deque[str]] = {"create": deque(), "read": deque()}
        self._rates: dict[str, dict[str, float]] = {"create": {}, "read": {}}
        self._stopping = threading.Event()
        self._jobs: list[tuple[float, int, str, list[tuple[str, int | None, bool]], str | None]] = []
        self._jobs_ready = threading.Condition(self._lock)
        self._seq = itertools.count()
        self._workers: list[threading.Thread] = []
        self._worker_count = callback_workers
        self._auth = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the client as its API domain, e.g. http://127.0.0.1:40123."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        """Serve in background threads; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        for i in range(self._worker_count):
            worker = threading.Thread(target=self._callback_worker, name=f"fake-twilio-callbacks-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        """Stop serving, end hanging requests and open connections, drop pending callbacks."""
        self._stopping.set()
        with self._jobs_ready:
            self._jobs.clear()
            self._jobs_ready.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.close_connections()
        self._server.server_close()
        for worker in self._workers:
            worker.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- knobs -------------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, *, on: str = "create") -> None:
        """Make the next ``count`` requests fail as ``kind`` (``on``: "create" or "read")."""
        _check_kind(kind)
        with self._lock:
            self._failures[on].extend([kind] * count)

    def fail_rate(self, kind: str, ratio: float, *, on: str = "create") -> None:
        """Make a random ``ratio`` of requests fail as ``kind``; ratio 0 turns it off."""
        _check_kind(kind)
        with self._lock:
            if ratio > 0:
                self._rates[on][kind] = ratio
            else:
                self._rates[on].pop(kind, None)

    def clear_failures(self) -> None:
        """Forget every queued failure and failure rate."""
        with self._lock:
            for queue in self._failures.values():
                queue.clear()
            for rates in self._rates.values():
                rates.clear()

    def _next_failure(self, on: str) -> str | None:
        with self._lock:
            if self._failures[on]:
                return self._failures[on].popleft()
            for kind, ratio in self._rates[on].items():
                if random.random() < ratio:
                    return kind
        return None

    # ---- what was accepted ------------------------------------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        """Copies of every accepted message, oldest first."""
        with self._lock:
            return [dataclasses.replace(m) for m in self._messages.values()]

    def message(self, sid: str) -> FakeMessage | None:
        """A copy of one accepted message, or None."""
        with self._lock:
            found = self._messages.get(sid)
            return dataclasses.replace(found) if found else None

    def accepted_count(self) -> int:
        with self._lock:
            return len(self._messages)

    def acceptance_times(self) -> list[float]:
        """time.monotonic() of every accepted create, in order."""
        with self._lock:
            return [m.accepted_at for m in self._messages.values()]

    def duplicates(self) -> dict[tuple[str, str, str | None], list[str]]:
        """Messages accepted more than once: same To, Body and StatusCallback (ours carries our id)."""
        groups: dict[tuple[str, str, str | None], list[str]] = {}
        with self._lock:
            for m in self._messages.values():
                groups.setdefault((m.to, m.body, m.status_callback), []).append(m.sid)
        return {key: sids for key, sids in groups.items() if len(sids) > 1}

    def clear(self) -> None:
        """Forget accepted messages, failures and pending callbacks (between benchmark runs)."""
        self.clear_failures()
        with self._lock:
            self._messages.clear()
            self._by_to.clear()
            self._jobs.clear()
            self.callback_errors = self.callbacks_posted = 0

    # ---- the API -----------------------------------------------------------------------------

    def _accept(self, form: dict[str, str], delivery_error: str | None) -> FakeMessage:
        now = time.time()
        message = FakeMessage(
            sid="SM" + uuid.uuid4().hex, to=form["To"], from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"), body=form.get("Body", ""),
            status="queued", status_callback=form.get("StatusCallback"),
            validity_period=form.get("ValidityPeriod"),
            date_created=datetime.fromtimestamp(now, UTC), accepted_at=time.monotonic(),
            accepted_wall=now)
        steps = self._plan(message, delivery_error or self.undeliverable.get(message.to))
        url = message.status_callback if self.callbacks_enabled else None
        with self._lock:
            self._messages[message.sid] = message
            self._by_to.setdefault(message.to, []).append(message.sid)
            heapq.heappush(self._jobs, (time.monotonic() + self.callback_delay, next(self._seq),
                                        message.sid, steps, url))
            self._jobs_ready.notify()
        return dataclasses.replace(message)

    def _plan(self, message: FakeMessage, error: str | None) -> list[tuple[str, int | None, bool]]:
        """The statuses this message will go through, in order: (status, error code, callback posted)."""
        final_status = DELIVERY_ERRORS.get(error, "undelivered") if error else "delivered"
        if final_status == "failed":
            return [("failed", int(error), True)]
        steps = [("sent", None, True)]
        if message.to not in self.unconfirmed:
            # A dropped receipt is lost between Twilio and us: Twilio itself knows the outcome.
            steps.append((final_status, int(error) if error else None, random.random() >= self.drop_receipts))
        if self.reorder_callbacks:
            steps.reverse()
        return steps

    def _list(self, to: str | None, page_size: int) -> list[FakeMessage]:
        with self._lock:
            sids = self._by_to.get(to, []) if to is not None else list(self._messages)
            newest = [self._messages[sid] for sid in reversed(sids[-page_size:])]
            return [dataclasses.replace(m) for m in newest]

    def message_json(self, m: FakeMessage) -> dict:
        """The Message resource as Twilio renders it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m.sid}"
        created = format_datetime(m.date_created.replace(microsecond=0))
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": m.body,
            "date_created": created, "date_updated": created,
            "date_sent": created if m.status in ("sent", "delivered", "undelivered") else None,
            "direction": "outbound-api", "error_code": m.error_code,
            "error_message": None if m.error_code is None else "delivery failed",
            "from": m.from_, "messaging_service_sid": m.messaging_service_sid, "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": m.sid, "status": m.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": m.to, "uri": f"{uri}.json",
        }

    # ---- status callbacks and inbound SMS -----------------------------------------------------

    def _callback_worker(self) -> None:
        poster = _Poster()
        while True:
            with self._jobs_ready:
                while not self._stopping.is_set():
                    now = time.monotonic()
                    if self._jobs and self._jobs[0][0] <= now:
                        _, _, sid, steps, url = heapq.heappop(self._jobs)
                        break
                    self._jobs_ready.wait(self._jobs[0][0] - now if self._jobs else None)
                else:
                    poster.close()
                    return
            self._run_steps(poster, sid, steps, url)

    def _run_steps(self, poster: _Poster, sid: str, steps: list[tuple[str, int | None, bool]],
                   url: str | None) -> None:
        for status, error_code, posted in steps:
            with self._lock:
                message = self._messages.get(sid)
                if message is None:
                    return  # cleared meanwhile
                if _RANK[status] > _RANK[message.status]:
                    message.status, message.error_code = status, error_code
                snapshot = dataclasses.replace(message)
            if url is None or not posted or self._stopping.is_set():
                continue
            params = self._callback_params(snapshot, status, error_code)
            for _ in range(2 if self.duplicate_callbacks else 1):
                self._post_counted(poster, url, params)

    def _callback_params(self, m: FakeMessage, status: str, error_code: int | None) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "MessageSid": m.sid, "SmsSid": m.sid,
            "MessageStatus": status, "SmsStatus": status, "To": m.to, "From": m.from_ or self.number,
        }
        if m.messaging_service_sid:
            params["MessagingServiceSid"] = m.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def _post_counted(self, poster: _Poster, url: str, params: dict[str, str]) -> None:
        try:
            status = poster.post(url, params, self.sign(url, params))
        except (OSError, http.client.HTTPException):
            status = None
        with self._lock:
            if status is not None and 200 <= status < 300:
                self.callbacks_posted += 1
            else:
                self.callback_errors += 1

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a POST of ``params`` to ``url``."""
        return self.validator.compute_signature(url, params)

    def send_inbound(self, url: str, from_: str, body: str, *, to: str | None = None) -> int:
        """Post a signed inbound-SMS webhook to ``url`` (as Twilio would); return the HTTP status."""
        sid = "SM" + uuid.uuid4().hex
        params = {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "MessageSid": sid, "SmsSid": sid,
            "SmsMessageSid": sid, "From": from_, "To": to or self.number, "Body": body, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received",
        }
        poster = _Poster()
        try:
            return poster.post(url, params, self.sign(url, params))
        finally:
            poster.close()


def _check_kind(kind: str) -> None:
    if kind not in API_ERRORS and kind not in DELIVERY_ERRORS and kind not in CONNECTION_FAILURES:
        raise ValueError(f"unknown failure kind {kind!r}")


class _Poster:
    """Posts forms over kept-alive connections (one poster per thread)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def post(self, url: str, params: dict[str, str], signature: str) -> int:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        data = urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                   "User-Agent": "TwilioProxy/1.1"}
        key = (parts.scheme, parts.netloc)
        reused = key in self._connections
        try:
            return self._send(key, path, data, headers)
        except (OSError, http.client.HTTPException):
            self._drop(key)
            if not reused:
                raise
            return self._send(key, path, data, headers)  # the kept connection had gone stale

    def _send(self, key: tuple[str, str], path: str, data: bytes, headers: dict[str, str]) -> int:
        connection = self._connections.get(key)
        if connection is None:
            kind = http.client.HTTPSConnection if key[0] == "https" else http.client.HTTPConnection
            connection = self._connections[key] = kind(key[1], timeout=self.timeout)
        connection.request("POST", path, body=data, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.will_close:
            self._drop(key)
        return response.status

    def _drop(self, key: tuple[str, str]) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for key in list(self._connections):
            self._drop(key)


class _Server(TrackingServer):
    request_queue_size = 1024
    fake: FakeTwilio


class _Handler(FakeHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        match = _CREATE.match(self.path)
        if match is None:
            return self._error(404, 20404, "The requested resource was not found")
        if not self._authorized(match.group(1)):
            return
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        if not form.get("To"):
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if fake.latency:
            time.sleep(fake.latency)
        failure = fake._next_failure("create")
        if failure in API_ERRORS:
            return self._api_error(failure, form["To"])
        if failure in ("timeout", "reset"):
            return self._no_answer(failure)
        message = fake._accept(form, failure if failure in DELIVERY_ERRORS else None)
        if failure == "timeout_after_accept":
            return self._no_answer("timeout")
        self._json(201, fake.message_json(message))

    def do_GET(self) -> None:
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        match = _CREATE.match(path) or _FETCH.match(path)
        if match is None:
            return self._error(404, 20404, "The requested resource was not found")
        if not self._authorized(match.group(1)):
            return
        failure = fake._next_failure("read")
        if failure in API_ERRORS:
            return self._api_error(failure, "")
        if failure in CONNECTION_FAILURES:
            return self._no_answer("timeout" if failure != "reset" else "reset")
        if match.re is _FETCH:
            message = fake.message(match.group(2))
            if message is None:
                return self._error(404, 20404, f"The requested resource {path} was not found")
            return self._json(200, fake.message_json(message))
        self._json(200, self._page(fake, path, parse_qs(query)))

    def _page(self, fake: FakeTwilio, path: str, args: dict[str, list[str]]) -> dict:
        to = args.get("To", [None])[-1]
        page_size = max(1, min(int(args.get("PageSize", ["50"])[-1]), 1000))
        found = fake._list(to, page_size)
        uri = f"{path}?{urlencode({k: v[-1] for k, v in args.items()})}"
        return {
            "messages": [fake.message_json(m) for m in found], "page": 0, "page_size": page_size,
            "start": 0, "end": max(len(found) - 1, 0), "uri": uri, "first_page_uri": uri,
            "next_page_uri": None, "previous_page_uri": None,
        }

    def _authorized(self, account_sid: str) -> bool:
        fake = self.server.fake
        if self.headers.get("Authorization") != fake._auth:
            self._error(401, 20003, "Authenticate")
            return False
        if account_sid != fake.account_sid:
            self._error(404, 20404, "The requested resource was not found")
            return False
        return True

    def _api_error(self, kind: str, to: str) -> None:
        status, code, text = API_ERRORS[kind]
        headers = {"Retry-After": str(self.server.fake.retry_after)} if status == 429 else {}
        if code is None:  # not from Twilio itself: an edge proxy's page
            return self._send(status, text.encode(), "text/html", headers)
        self._error(status, code, text.format(to=to), headers)

    def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                            "status": status}, headers)
