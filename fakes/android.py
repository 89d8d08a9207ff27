"""A local stand-in for a phone running SMS Gateway for Android in local-server mode (tests, benchmarks).

Point :class:`sms.android.AndroidGateway` at ``FakeAndroidPhone.url``. It serves what the official
client uses: ``POST /messages`` (and the older ``/message``) and ``GET /messages/<id>``, with
HTTP basic auth. Accepted messages go "Pending" and are kept. Knobs, settable from any thread:

- ``latency``: seconds added to every send.
- ``fail_next(kind, count, on="send"|"read")``: ``"400"`` (invalid phone number), ``"401"``,
  ``"429"`` (with ``Retry-After: <retry_after>``), ``"500"``, ``"502"`` (an HTML page), ``"503"``,
  ``"timeout"`` (hang ``hang`` seconds, close), ``"timeout_after_accept"`` (store, then hang),
  ``"reset"`` (close without an answer).

:meth:`deliver_inbound` posts an ``sms:received`` webhook signed like the app signs it:
``X-Signature`` = hex HMAC-SHA256(signing key, raw body + ``X-Timestamp``), unix seconds.
:meth:`deliver_status` moves a message on (``sms:sent``, ``sms:delivered``, ``sms:failed``)
and posts that event's webhook the same way; :meth:`set_state` moves it without a webhook
(the phone's webhook was lost: ``GET /messages/<id>`` still tells the state).
Werkzeug serves (:mod:`fakes.server`); requests posts the webhooks.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from fakes.server import FakeServer, client, json_response

#: Failure kinds -> (HTTP status, JSON message or None for an HTML page).
API_ERRORS: dict[str, tuple[int, str | None]] = {
    "400": (400, "invalid phone number"),
    "401": (401, "Unauthorized"),
    "429": (429, "Too Many Requests"),
    "500": (500, "Internal Server Error"),
    "502": (502, None),
    "503": (503, "Service Unavailable"),
}
CONNECTION_FAILURES = frozenset({"timeout", "timeout_after_accept", "reset"})
_SEND = re.compile(r"^/messages?/?$")
#: Webhook events about a message the phone sent -> (its state then, the payload's time field).
_STATUS_EVENTS = {"sms:sent": ("Sent", "sentAt"), "sms:delivered": ("Delivered", "deliveredAt"),
                  "sms:failed": ("Failed", "failedAt")}
_FETCH = re.compile(r"^/messages?/([^/?]+)$")


@dataclass
class FakeAndroidMessage:
    """One message the fake phone accepted (a copy: the fake keeps its own)."""

    id: str
    phone_numbers: list[str]
    text: str
    state: str
    created_at: datetime
    with_delivery_report: bool = True
    ttl: int | None = None
    #: The phone's reason when it could not send the message (state "Failed").
    error: str | None = None


def sign(signing_key: str, raw_body: bytes, timestamp: str) -> str:
    """X-Signature as the app computes it: hex HMAC-SHA256 over the raw body then the timestamp."""
    return hmac.new(signing_key.encode(), raw_body + timestamp.encode(), hashlib.sha256).hexdigest()


class FakeAndroidPhone(FakeServer):
    """The phone's local server on 127.0.0.1, with failure knobs and signed inbound webhooks."""

    name = "fake-android-phone"

    def __init__(self, login: str = "sms", password: str | None = None, port: int = 0, *,
                 host: str = "127.0.0.1", device_id: str | None = None) -> None:
        super().__init__(host, port)
        self.login = login
        self.password = password or uuid.uuid4().hex[:12]
        self.device_id = device_id or uuid.uuid4().hex[:21]
        self.latency = 0.0
        self.retry_after = 1
        self._lock = threading.Lock()
        self._messages: dict[str, FakeAndroidMessage] = {}
        self._failures: dict[str, deque[str]] = {"send": deque(), "read": deque()}
        self._auth = "Basic " + base64.b64encode(f"{self.login}:{self.password}".encode()).decode()

    # ---- knobs and what was accepted -----------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, *, on: str = "send") -> None:
        if kind not in API_ERRORS and kind not in CONNECTION_FAILURES:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._failures[on].extend([kind] * count)

    def _next_failure(self, on: str) -> str | None:
        with self._lock:
            return self._failures[on].popleft() if self._failures[on] else None

    @property
    def messages(self) -> list[FakeAndroidMessage]:
        with self._lock:
            return [dataclasses.replace(m) for m in self._messages.values()]

    def message(self, message_id: str) -> FakeAndroidMessage | None:
        with self._lock:
            found = self._messages.get(message_id)
            return dataclasses.replace(found) if found else None

    def set_state(self, message_id: str, state: str, error: str | None = None) -> None:
        """Move a message on (e.g. "Sent", "Delivered", "Failed" with the phone's reason)."""
        with self._lock:
            self._messages[message_id].state = state
            self._messages[message_id].error = error

    def _accept(self, payload: dict) -> tuple[FakeAndroidMessage | None, int]:
        text = (payload.get("textMessage") or {}).get("text") or payload.get("message")
        numbers = payload.get("phoneNumbers") or []
        if not numbers or not text:
            return None, 400
        message_id = payload.get("id") or uuid.uuid4().hex[:21]
        with self._lock:
            if message_id in self._messages:
                return None, 409
            message = FakeAndroidMessage(id=message_id, phone_numbers=list(numbers), text=text, state="Pending",
                              created_at=datetime.now(UTC), ttl=payload.get("ttl"),
                              with_delivery_report=bool(payload.get("withDeliveryReport", True)))
            self._messages[message_id] = message
            return dataclasses.replace(message), 202

    def state_json(self, m: FakeAndroidMessage) -> dict:
        """The message state as the app renders it."""
        return {
            "id": m.id, "deviceId": self.device_id, "state": m.state, "isHashed": False, "isEncrypted": False,
            "recipients": [{"phoneNumber": n, "state": m.state, "error": m.error} for n in m.phone_numbers],
            "states": {m.state: m.created_at.isoformat()},
        }

    # ---- inbound SMS -----------------------------------------------------------------------------

    def inbound_payload(self, phone: str, text: str, *, message_id: str | None = None,
                        received_at: datetime | None = None) -> dict:
        """An ``sms:received`` webhook body as the app sends it."""
        received = (received_at or datetime.now(UTC)).isoformat()
        return {
            "deviceId": self.device_id, "event": "sms:received", "id": uuid.uuid4().hex[:21],
            "webhookId": "slrt-inbound",
            "payload": {"messageId": message_id or uuid.uuid4().hex[:16], "message": text, "phoneNumber": phone,
                        "sender": phone, "simNumber": 1, "receivedAt": received},
        }

    @staticmethod
    def signed_headers(signing_key: str, raw_body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Content-Type, X-Signature and X-Timestamp for ``raw_body`` (timestamp: now)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {"Content-Type": "application/json", "X-Signature": sign(signing_key, raw_body, stamp),
                "X-Timestamp": stamp}

    def deliver_inbound(self, app_url: str, phone: str, text: str, signing_key: str, *,
                        message_id: str | None = None, timestamp: int | None = None) -> int:
        """POST a signed ``sms:received`` webhook to ``app_url`` (the full URL); return the HTTP status."""
        return self.post(app_url, self.inbound_payload(phone, text, message_id=message_id), signing_key, timestamp)

    def status_payload(self, message_id: str, event: str, *, phone: str | None = None, reason: str | None = None,
                       at: datetime | None = None) -> dict:
        """An ``sms:sent`` / ``sms:delivered`` / ``sms:failed`` webhook body as the app sends it."""
        if event not in _STATUS_EVENTS:
            raise ValueError(f"not a status event: {event!r}")
        if phone is None:
            known = self.message(message_id)
            phone = known.phone_numbers[0] if known else ""
        payload = {"messageId": message_id, "recipient": phone, "phoneNumber": phone, "simNumber": 1,
                   _STATUS_EVENTS[event][1]: (at or datetime.now(UTC)).isoformat()}
        if event == "sms:sent":
            payload["partsCount"] = 1
        if event == "sms:failed":
            payload["reason"] = reason or "RESULT_ERROR_GENERIC_FAILURE"
        return {"deviceId": self.device_id, "event": event, "id": uuid.uuid4().hex[:21],
                "webhookId": "slrt-status", "payload": payload}

    def deliver_status(self, app_url: str, message_id: str, event: str, signing_key: str, *,
                       reason: str | None = None, timestamp: int | None = None) -> int:
        """Move message ``message_id`` on as ``event`` says, then POST its signed webhook; return the status."""
        body = self.status_payload(message_id, event, reason=reason)
        if self.message(message_id) is not None:
            self.set_state(message_id, _STATUS_EVENTS[event][0], body["payload"].get("reason"))
        return self.post(app_url, body, signing_key, timestamp)

    def post(self, app_url: str, body: dict, signing_key: str, timestamp: int | None = None) -> int:
        """POST ``body`` as a webhook signed with ``signing_key`` to ``app_url``; return the HTTP status."""
        raw = json.dumps(body).encode()
        with client() as session:
            return session.post(app_url, data=raw, headers=self.signed_headers(signing_key, raw, timestamp),
                                timeout=10).status_code

    # ---- the API -----------------------------------------------------------------------------

    def respond(self, request: Request) -> Response:
        if request.method == "POST":
            return self._send_message(request)
        if request.method == "GET":
            return self._read(request)
        return Response(status=405)

    def _send_message(self, request: Request) -> Response:
        if not _SEND.match(request.path):
            return json_response(404, {"message": "not found"})
        if not self._authorized(request):
            return json_response(401, {"message": "Unauthorized"})
        try:
            payload = json.loads(request.get_data() or b"{}")
        except ValueError:
            return json_response(400, {"message": "invalid JSON"})
        if self.latency:
            time.sleep(self.latency)
        failure = self._next_failure("send")
        if failure in API_ERRORS:
            return self._api_error(failure)
        if failure in ("timeout", "reset"):
            self.no_answer(request, failure)
        message, status = self._accept(payload)
        if message is None:
            text = "message with this id already exists" if status == 409 else "phoneNumbers and text are required"
            return json_response(status, {"message": text})
        if failure == "timeout_after_accept":
            self.no_answer(request, "timeout")
        return json_response(status, self.state_json(message))

    def _read(self, request: Request) -> Response:
        match = _FETCH.match(request.path)
        if match is None:
            return json_response(404, {"message": "not found"})
        if not self._authorized(request):
            return json_response(401, {"message": "Unauthorized"})
        failure = self._next_failure("read")
        if failure in API_ERRORS:
            return self._api_error(failure)
        if failure in CONNECTION_FAILURES:
            self.no_answer(request, "timeout" if failure != "reset" else "reset")
        message = self.message(match.group(1))
        if message is None:
            return json_response(404, {"message": "message not found"})
        return json_response(200, self.state_json(message))

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == self._auth

    def _api_error(self, kind: str) -> Response:
        status, text = API_ERRORS[kind]
        headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
        if text is None:
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status=status, headers=headers,
                            content_type="text/html")
        return json_response(status, {"message": text}, headers)

