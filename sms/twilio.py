"""The Twilio gateway: sends through the official client, maps Twilio's error codes in one table.

``ERRORS`` and :func:`classify` are shared with the status-callback webhook: a callback for an
undelivered or failed message carries the same error codes as a refused API request.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from slrt.ports import GatewayError
from sms.errors import Policy, mask_phones, network_error, parse_retry_after, unknown_error

log = logging.getLogger("slrt.sms.twilio")


#: Twilio error codes -> policy. API errors (2xxxx) come from a refused create; delivery
#: errors (3xxxx) from a status callback or the Message resource's ``error_code``.
ERRORS: dict[int, Policy] = {
    # Credentials or account state: nothing can be sent until a person acts, so every
    # message waits (transient) while sending is paused; a manager sees a banner.
    10001: Policy("account is not active", transient=True, effect="pause"),
    20003: Policy("authentication failed (account SID or auth token)", transient=True, effect="pause"),
    20403: Policy("account lacks permission (suspended or closed)", transient=True, effect="pause"),
    # Rate limits and full queues: Twilio's capacity, not the message; back off and retry.
    20429: Policy("too many requests", transient=True),
    30001: Policy("queue overflow (too many messages queued for the sender)", transient=True),
    21611: Policy("the sender's outgoing message queue is full", transient=True),
    # Suspended after the message was queued: retry once the account is back, pause meanwhile.
    30002: Policy("account suspended", transient=True, effect="pause"),
    # The handset may come back (switched off, out of coverage); a few tries only.
    30003: Policy("unreachable destination handset", transient=True, max_attempts=3),
    30008: Policy("unknown error from the carrier", transient=True, max_attempts=3),
    # The number itself is wrong for SMS: sending again cannot help.
    21211: Policy("invalid 'To' phone number", transient=False),
    21610: Policy("the recipient unsubscribed (replied STOP)", transient=False, effect="opt_out"),
    21614: Policy("'To' number is not a mobile number", transient=False),
    30005: Policy("unknown destination handset (number does not exist)", transient=False),
    30006: Policy("landline or unreachable carrier", transient=False),
    # The carrier filtered the text as spam: its template needs a person's review.
    30007: Policy("message filtered by the carrier (spam)", transient=False, effect="flag_template"),
}

#: Message statuses that mean the message did not go out; lookup() skips them.
_NOT_SENT = frozenset({"failed", "undelivered", "canceled"})
#: How many recent messages to one number lookup() reads (one page, newest first).
_LOOKUP_LIMIT = 20
#: Connections kept per host: one per sending thread of a Celery worker process.
_POOL_SIZE = 64
#: The client's own prefix on every error message ("Unable to create record: ...").
_CLIENT_PREFIX = re.compile(r"^Unable to \w+ record:?\s*")


#: Twilio's message statuses -> what the outbox records (others, like "receiving", are ignored).
STATUSES = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}


def classify(code: int | str | None, http_status: int | None = None, message: str = "",
             retry_after: float | None = None) -> GatewayError:
    """Turn a Twilio error code (and the HTTP status, if any) into a GatewayError.

    Known codes follow ``ERRORS`` and carry its meaning as their message (stable, in our
    words); ``message`` (the provider's) describes unknown codes. For those the HTTP status
    decides: 429 and 5xx are transient, anything else permanent (a callback's unknown code
    has no status: permanent).
    """
    number = _as_code(code)
    policy = ERRORS.get(number) if number is not None else None
    if policy is not None:
        return policy.error(str(number), retry_after)
    if number is None or (http_status is not None and number == http_status):
        # Twilio's client puts the HTTP status in ``code`` when the body had none.
        label = f"http-{http_status}" if http_status is not None else "unknown"
    else:
        label = str(number)
    return unknown_error(label, message or "unknown provider error", http_status, retry_after)


def _as_code(code: int | str | None) -> int | None:
    if code is None or isinstance(code, bool):
        return None
    text = str(code).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


class _NoCookies(DefaultCookiePolicy):
    """Refuse every cookie: the shared session then holds no state between threads."""

    def set_ok(self, cookie, request) -> bool:
        return False


class PooledHttpClient(TwilioHttpClient):
    """Twilio's HTTP client with a timeout, a pool for many threads and the last response per thread.

    Twilio's exceptions carry no response headers, so the headers of the last response
    (Retry-After on a 429) are kept per thread, where the failed call can read them.
    """

    def __init__(self, timeout: float, pool_size: int = _POOL_SIZE, trust_env: bool = True) -> None:
        super().__init__(pool_connections=True, timeout=timeout, logger=log)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.cookies.set_policy(_NoCookies())
        self.session.trust_env = trust_env
        self._local = threading.local()

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> Response:
        self._local.headers = None
        response = super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)
        self._local.headers = response.headers
        return response

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's last response (empty if it got none)."""
        return getattr(self._local, "headers", None) or {}

    # The stock client logs URLs with query strings (lookup's To number) at INFO: log nothing.
    def log_request(self, kwargs) -> None:
        pass

    def log_response(self, status_code, response) -> None:
        pass


class TwilioGateway:
    """Sends SMS through Twilio's Messages API (official client) and finds earlier sends again."""

    name = "twilio"
    #: Twilio reports each message's delivery to the status callback URL sent with it.
    receipts = "callback"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, timeout: float = 10.0,
                 validity_period: int = 14400, api_base: str | None = None) -> None:
        if bool(from_number) == bool(messaging_service_sid):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.validity_period = validity_period
        # A local api_base (the test server) must not go through proxies from the environment.
        self.http = PooledHttpClient(timeout, trust_env=api_base is None)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        if api_base:
            self._point_at(api_base)
        self._messages = self.client.api.v2010.account.messages

    @staticmethod
    def callback_path(message_id: int) -> str:
        """Where Twilio reports this message's status: sms/webhooks.py twilio_status."""
        return f"/sms/twilio/status/{message_id}"

    def _point_at(self, api_base: str) -> None:
        """Send Api-domain requests (api.twilio.com) to ``api_base``, e.g. the local test server."""
        # Domain.absolute_url() builds every URL from base_url; edge/region (which the client
        # also reads from TWILIO_EDGE/TWILIO_REGION) would rewrite the host again: clear them.
        self.client.api.base_url = api_base.rstrip("/")
        self.client.edge = self.client.region = None

    def send(self, *, to: str, body: str, reference: str, callback_url: str | None) -> str:
        """Hand one SMS to Twilio; return its Message SID, or raise GatewayError."""
        sender = {"from_": self.from_number} if self.from_number else \
            {"messaging_service_sid": self.messaging_service_sid}
        if callback_url:
            sender["status_callback"] = callback_url
        try:
            message = self._messages.create(to=to, body=body, validity_period=self.validity_period, **sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            error = self._rest_error(exc)
        except requests.RequestException as exc:
            error = network_error(exc, "Twilio")
        except (TwilioException, ValueError) as exc:
            # An answer the client could not read (a 2xx that is not JSON...): maybe accepted.
            error = GatewayError(code="bad-response", message=f"unreadable answer from Twilio ({type(exc).__name__})",
                                 transient=True, outcome_unknown=True)
        else:
            log.debug("twilio accepted %s", message.sid, extra={"reference": reference, "sid": message.sid})
            return message.sid
        log.info("twilio refused: %s", error.code,
                 extra={"reference": reference, "code": error.code, "transient": error.transient})
        raise error

    def _rest_error(self, exc: TwilioRestException | TwilioServiceException) -> GatewayError:
        retry_after = parse_retry_after(self.http.last_headers().get("Retry-After"))
        # The Messages API answers in the legacy shape (``msg``); RFC 9457 ones have title/detail.
        text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
        error = classify(exc.code, exc.status, _scrub(text), retry_after)
        if exc.status >= 500:
            # A 5xx may come after Twilio stored the message (a gateway timing out behind
            # the load balancer): look it up before sending again.
            error.outcome_unknown = True
        return error

    def lookup(self, *, to: str, body: str, reference: str, since: datetime,
               exclude: Collection[str] = ()) -> str | None:
        """The SID of a message to ``to`` with this ``body`` created since ``since``, or None.

        Twilio cannot search by our reference: read the newest messages to the number and
        match body and time. Failed, undelivered and canceled messages do not count.
        """
        # date_created has whole seconds; DateSent filters are useless (queued messages have none).
        floor = since.astimezone(UTC).replace(microsecond=0)
        try:
            recent = self._messages.list(to=to, limit=_LOOKUP_LIMIT)
        except (TwilioException, requests.RequestException) as exc:
            cause = _lookup_cause(exc)
            log.info("twilio lookup failed: %s", cause, extra={"reference": reference})
            raise GatewayError(code="lookup-failed", message=f"could not list recent messages ({cause})",
                               transient=True, outcome_unknown=True) from exc
        for message in recent:  # newest first
            if message.sid in exclude or message.status in _NOT_SENT or message.body != body:
                continue
            if message.date_created is not None and message.date_created >= floor:
                log.info("twilio lookup found %s", message.sid, extra={"reference": reference, "sid": message.sid})
                return message.sid
        return None

    def status(self, provider_id: str) -> tuple[str | None, GatewayError | None]:
        """Fetch Message ``provider_id``: its status in our words (``STATUSES``), and its error if it failed.

        Twilio keeps a message's status even when the callback reporting it was lost. (None, None)
        for a SID Twilio does not know (404) or a status we do not record; a failure without an
        error code gets None (the outbox names it). Raises GatewayError if Twilio cannot be asked.
        """
        try:
            message = self._messages(provider_id).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None, None
            cause, retry_header = f"HTTP {exc.status}", self.http.last_headers().get("Retry-After")
        except (TwilioException, requests.RequestException, ValueError) as exc:
            cause, retry_header = _lookup_cause(exc), None
        else:
            status = STATUSES.get(str(message.status or ""))
            error = None
            if status in ("undelivered", "failed") and message.error_code:
                error = classify(message.error_code, message=_scrub(message.error_message))
            return status, error
        log.info("twilio status fetch failed: %s", cause, extra={"sid": provider_id})
        raise GatewayError(code="lookup-failed", message=f"could not fetch the message's status ({cause})",
                           transient=True, retry_after=parse_retry_after(retry_header))


def _lookup_cause(exc: Exception) -> str:
    """HTTP status or exception name; Page raises a bare TwilioException(msg, response) on non-200."""
    if isinstance(exc, TwilioRestException):
        return f"HTTP {exc.status}"
    response = exc.args[1] if isinstance(exc, TwilioException) and len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def _scrub(text: str | None) -> str:
    """Twilio's message without the client's prefix, and with phone numbers masked.

    Twilio quotes the number it refused ("Invalid 'To' Phone Number: +62..."), and the
    message is stored and shown to staff.
    """
    return mask_phones(_CLIENT_PREFIX.sub("", text or ""))
