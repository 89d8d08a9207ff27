"""A local stand-in that speaks enough of Twilio's Messages API for the real client (tests, benchmarks).

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
  ``failures_served`` counts the requests that got one.
- ``undeliverable[to] = "30003"``: messages to that number end "undelivered" with that code.
- ``unconfirmed``: numbers whose handsets never confirm delivery: their messages stay "sent",
  at Twilio too (a fetch says "sent").
- ``callback_delay``, ``drop_receipts`` (ratio of messages whose final status callback is lost
  on the way: Twilio still moves the message on, and a fetch of it tells the final status),
  ``duplicate_callbacks``, ``reorder_callbacks``, ``callbacks_enabled``.

Werkzeug serves (:mod:`fakes.server`), ``twilio.request_validator`` signs the callbacks and a
requests session per callback thread posts them.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
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
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Request, Response

from fakes.server import FakeServer, client, json_response

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
class FakeTwilioMessage:
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


class FakeTwilio(FakeServer):
    """Twilio's Messages API on 127.0.0.1, with failure knobs and signed status callbacks."""

    name = "fake-twilio"

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, port: int = 0, *,
                 host: str = "127.0.0.1", number: str = "+15005550006", callback_workers: int = 4) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.number = number
        self.validator = RequestValidator(self.auth_token)
        # Knobs (plain attributes: any thread may set them at any time).
        self.latency = 0.0
        self.retry_after = 1
        self.callback_delay = 0.0
        self.drop_receipts = 0.0
        self.duplicate_callbacks = False
        self.reorder_callbacks = False
        self.callbacks_enabled = True
        self.undeliverable: dict[str, str] = {}
        self.unconfirmed: set[str] = set()
        # Counters.
        self.callback_errors = 0
        self.failures_served = 0  # requests answered with an injected failure
        self.callbacks_posted = 0

        self._lock = threading.Lock()
        self._messages: dict[str, FakeTwilioMessage] = {}
        self._by_to: dict[str, list[str]] = {}
        self._failures: dict[str, deque[str]] = {"create": deque(), "read": deque()}
        self._rates: dict[str, dict[str, float]] = {"create": {}, "read": {}}
        self._jobs: list[tuple[float, int, str, list[tuple[str, int | None, bool]], str | None]] = []
        self._jobs_ready = threading.Condition(self._lock)
        self._seq = itertools.count()
        self._workers: list[threading.Thread] = []
        self._worker_count = callback_workers
        self._auth = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Serve and post callbacks in background threads; returns self."""
        super().start()
        for i in range(self._worker_count):
            worker = threading.Thread(target=self._callback_worker, name=f"fake-twilio-callbacks-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        """Stop serving, end hanging requests, drop pending callbacks."""
        self._stopping.set()
        with self._jobs_ready:
            self._jobs.clear()
            self._jobs_ready.notify_all()
        super().stop()
        for worker in self._workers:
            worker.join(timeout=5)

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
                self.failures_served += 1
                return self._failures[on].popleft()
            for kind, ratio in self._rates[on].items():
                if random.random() < ratio:
                    self.failures_served += 1
                    return kind
        return None

    # ---- what was accepted ------------------------------------------------------------------

    @property
    def messages(self) -> list[FakeTwilioMessage]:
        """Copies of every accepted message, oldest first."""
        with self._lock:
            return [dataclasses.replace(m) for m in self._messages.values()]

    def message(self, sid: str) -> FakeTwilioMessage | None:
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

    def respond(self, request: Request) -> Response:
        if request.method == "POST":
            return self._create(request)
        if request.method == "GET":
            return self._read(request)
        return Response(status=405)

    def _create(self, request: Request) -> Response:
        match = _CREATE.match(request.path)
        if match is None:
            return _error(404, 20404, "The requested resource was not found")
        denied = self._denied(request, match.group(1))
        if denied is not None:
            return denied
        form = {key: values[-1] for key, values in request.form.lists()}
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        if self.latency:
            time.sleep(self.latency)
        failure = self._next_failure("create")
        if failure in API_ERRORS:
            return self._api_error(failure, form["To"])
        if failure in ("timeout", "reset"):
            self.no_answer(request, failure)
        message = self._accept(form, failure if failure in DELIVERY_ERRORS else None)
        if failure == "timeout_after_accept":
            self.no_answer(request, "timeout")
        return json_response(201, self.message_json(message))

    def _read(self, request: Request) -> Response:
        match = _CREATE.match(request.path) or _FETCH.match(request.path)
        if match is None:
            return _error(404, 20404, "The requested resource was not found")
        denied = self._denied(request, match.group(1))
        if denied is not None:
            return denied
        failure = self._next_failure("read")
        if failure in API_ERRORS:
            return self._api_error(failure, "")
        if failure in CONNECTION_FAILURES:
            self.no_answer(request, "timeout" if failure != "reset" else "reset")
        if match.re is _FETCH:
            message = self.message(match.group(2))
            if message is None:
                return _error(404, 20404, f"The requested resource {request.path} was not found")
            return json_response(200, self.message_json(message))
        return json_response(200, self._page(request))

    def _page(self, request: Request) -> dict:
        args = {key: values[-1] for key, values in request.args.lists()}
        page_size = max(1, min(int(args.get("PageSize", "50")), 1000))
        found = self._list(args.get("To"), page_size)
        uri = f"{request.path}?{urlencode(args)}"
        return {
            "messages": [self.message_json(m) for m in found], "page": 0, "page_size": page_size,
            "start": 0, "end": max(len(found) - 1, 0), "uri": uri, "first_page_uri": uri,
            "next_page_uri": None, "previous_page_uri": None,
        }

    def _denied(self, request: Request, account_sid: str) -> Response | None:
        if request.headers.get("Authorization") != self._auth:
            return _error(401, 20003, "Authenticate")
        if account_sid != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        return None

    def _api_error(self, kind: str, to: str) -> Response:
        status, code, text = API_ERRORS[kind]
        headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
        if code is None:  # not from Twilio itself: an edge proxy's page
            return Response(text, status=status, headers=headers, content_type="text/html")
        return _error(status, code, text.format(to=to), headers)

    def _accept(self, form: dict[str, str], delivery_error: str | None) -> FakeTwilioMessage:
        now = time.time()
        message = FakeTwilioMessage(
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

    def _plan(self, message: FakeTwilioMessage, error: str | None) -> list[tuple[str, int | None, bool]]:
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

    def _list(self, to: str | None, page_size: int) -> list[FakeTwilioMessage]:
        with self._lock:
            sids = self._by_to.get(to, []) if to is not None else list(self._messages)
            newest = [self._messages[sid] for sid in reversed(sids[-page_size:])]
            return [dataclasses.replace(m) for m in newest]

    def message_json(self, m: FakeTwilioMessage) -> dict:
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
        session = client()
        while True:
            with self._jobs_ready:
                while not self._stopping.is_set():
                    now = time.monotonic()
                    if self._jobs and self._jobs[0][0] <= now:
                        _, _, sid, steps, url = heapq.heappop(self._jobs)
                        break
                    self._jobs_ready.wait(self._jobs[0][0] - now if self._jobs else None)
                else:
                    session.close()
                    return
            self._run_steps(session, sid, steps, url)

    def _run_steps(self, session: requests.Session, sid: str, steps: list[tuple[str, int | None, bool]],
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
                self._post_counted(session, url, params)

    def _callback_params(self, m: FakeTwilioMessage, status: str, error_code: int | None) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "MessageSid": m.sid, "SmsSid": m.sid,
            "MessageStatus": status, "SmsStatus": status, "To": m.to, "From": m.from_ or self.number,
        }
        if m.messaging_service_sid:
            params["MessagingServiceSid"] = m.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def _post_counted(self, session: requests.Session, url: str, params: dict[str, str]) -> None:
        try:
            status = self._post(session, url, params)
        except requests.RequestException:
            status = None
        with self._lock:
            if status is not None and 200 <= status < 300:
                self.callbacks_posted += 1
            else:
                self.callback_errors += 1

    def _post(self, session: requests.Session, url: str, params: dict[str, str]) -> int:
        """POST ``params`` as a form signed like Twilio signs it; return the HTTP status."""
        headers = {"X-Twilio-Signature": self.sign(url, params), "User-Agent": "TwilioProxy/1.1"}
        return session.post(url, data=params, headers=headers, timeout=10).status_code

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
        with client() as session:
            return self._post(session, url, params)


def _check_kind(kind: str) -> None:
    if kind not in API_ERRORS and kind not in DELIVERY_ERRORS and kind not in CONNECTION_FAILURES:
        raise ValueError(f"unknown failure kind {kind!r}")


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error as Twilio's API renders it."""
    return json_response(status, {"code": code, "message": message,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                         headers)
