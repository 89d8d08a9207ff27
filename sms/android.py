"""The "SMS Gateway for Android" gateway: a phone with a local SIM, in local-server mode.

Sends through the official client (``android-sms-gateway``, APIClient over requests) to the
phone's REST API (``SLRT_ANDROID_URL``, e.g. ``http://192.168.1.20:8080``). Our reference
("slrt-<id>") is the message id we give the phone, so lookup() asks the phone for exactly
that message instead of matching bodies. Errors map through one table, like sms/twilio.py.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection
from datetime import datetime

import requests
from android_sms_gateway import APIClient, domain
from android_sms_gateway.enums import ProcessState
from android_sms_gateway.errors import APIError
from android_sms_gateway.http import RequestsHttpClient
from requests.adapters import HTTPAdapter

from slrt.models.base import row_id
from slrt.ports import GatewayError
from sms.errors import Policy, mask_phones, network_error, parse_retry_after, unknown_error

log = logging.getLogger("slrt.sms.android")

#: HTTP statuses from the phone's API -> policy (the local server has no error codes of its own).
ERRORS: dict[int, Policy] = {
    # Wrong login/password (the app regenerates them on reinstall): pause until a person acts.
    401: Policy("authentication failed (login or password of the phone's local server)", transient=True,
                effect="pause"),
    403: Policy("the phone refused the request (forbidden)", transient=True, effect="pause"),
    # The phone validates numbers before queueing: sending again cannot help.
    400: Policy("invalid request (bad phone number or message)", transient=False),
    # An id already used: an earlier attempt reached the phone; the outbox looks it up.
    409: Policy("a message with this id already exists on the phone", transient=True),
    429: Policy("too many requests", transient=True),
    500: Policy("the phone's server failed", transient=True),
    502: Policy("bad gateway in front of the phone", transient=True),
    503: Policy("the phone's server is unavailable", transient=True),
    504: Policy("gateway timeout in front of the phone", transient=True),
}

#: Message states that mean the phone did not (and will not) send it; lookup() skips them.
_NOT_SENT = frozenset({ProcessState.Failed, ProcessState.Cancelled, ProcessState.Cancelling})
#: States the outbox records: the phone's words -> ours (Pending/Processed: still "sent" to us).
STATUSES = {
    "Pending": "sent", "Processed": "sent", "Sent": "sent", "Delivered": "delivered",
    "Failed": "failed", "Cancelled": "failed", "Cancelling": "failed",
}
_POOL_SIZE = 64
#: The reference slrt/sending.py gives each send, which the phone keeps as the message's id.
_REFERENCE = re.compile(r"^slrt-([0-9]{1,18})$")


def classify(status: int | None, message: str = "", retry_after: float | None = None) -> GatewayError:
    """Turn an HTTP status from the phone's API into a GatewayError (unknown 5xx: transient)."""
    policy = ERRORS.get(status) if status is not None else None
    if policy is not None:
        return policy.error(f"http-{status}", retry_after)
    return unknown_error(f"http-{status}" if status is not None else "unknown",
                         message or "unknown error from the phone", status, retry_after)


def message_id_of(reference: object) -> int | None:
    """Our message id in an id the phone reports ("slrt-12" -> 12); None for any other id."""
    match = _REFERENCE.match(str(reference or ""))
    try:
        return row_id(match.group(1)) if match else None
    except ValueError:
        return None


def failure(reason: object = None) -> GatewayError:
    """A message the phone could not send (``sms:failed``, or state Failed), with the phone's reason.

    Final, not retried: a resend would carry the same id, which the phone refuses (409).
    """
    text = mask_phones(str(reason or ""))[:200]
    return GatewayError(code="phone-failed", message=text or "the phone could not send the message")


class _TimeoutSession(requests.Session):
    """A session with a default timeout (the client passes none) that keeps the last response headers."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        # A phone on the LAN: proxies from the environment do not apply.
        self.trust_env = False
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=_POOL_SIZE)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._local = threading.local()

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        self._local.headers = None
        response = super().request(method, url, **kwargs)
        self._local.headers = response.headers
        return response

    def last_headers(self):
        """Headers of this thread's last response (empty if it got none)."""
        return getattr(self._local, "headers", None) or {}


class AndroidGateway:
    """Sends SMS through the SMS Gateway for Android app's local server (official client)."""

    name = "android"
    #: The phone reports delivery by the sms:sent / sms:delivered / sms:failed webhooks registered
    #: on it (sms/webhooks.py), not to a URL sent with each message.
    receipts = "webhook"

    def __init__(self, login: str, password: str, base_url: str, timeout: float = 10.0, *,
                 ttl: int | None = None) -> None:
        if not base_url:
            raise ValueError("base_url is required (the phone's local server, e.g. http://192.168.1.20:8080)")
        self.ttl = ttl
        self.session = _TimeoutSession(timeout)
        self.client = APIClient(login or None, password, base_url=base_url.rstrip("/"),
                                http=RequestsHttpClient(self.session))

    @staticmethod
    def callback_path(message_id: int) -> None:
        return None

    def send(self, *, to: str, body: str, reference: str, callback_url: str | None) -> str:
        """Hand one SMS to the phone under our ``reference`` as its id; return that id, or raise GatewayError."""
        message = domain.Message(phone_numbers=[to], text_message=domain.TextMessage(text=body),
                                 id=reference, with_delivery_report=True, ttl=self.ttl)
        try:
            state = self.client.send(message)
        except APIError as exc:
            error = _api_error(exc, parse_retry_after(self.session.last_headers().get("Retry-After")))
        except requests.RequestException as exc:
            error = network_error(exc, "the phone")
        except (KeyError, TypeError, ValueError) as exc:
            # A 2xx the client could not read: the phone may have queued it.
            error = GatewayError(code="bad-response", transient=True, outcome_unknown=True,
                                 message=f"unreadable answer from the phone ({type(exc).__name__})")
        else:
            log.debug("android accepted %s", state.id, extra={"reference": reference, "sid": state.id})
            return state.id
        log.info("android refused: %s", error.code,
                 extra={"reference": reference, "code": error.code, "transient": error.transient})
        raise error

    def lookup(self, *, to: str, body: str, reference: str, since: datetime,
               exclude: Collection[str] = ()) -> str | None:
        """The id of the message the phone holds as ``reference`` (unless failed or excluded), or None."""
        try:
            state = self.client.get_state(reference)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            cause = f"HTTP {exc.status_code}"
        except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
            cause = type(exc).__name__
        else:
            if state.id in exclude or state.state in _NOT_SENT:
                return None
            log.info("android lookup found %s", state.id, extra={"reference": reference, "sid": state.id})
            return state.id
        log.info("android lookup failed: %s", cause, extra={"reference": reference})
        raise GatewayError(code="lookup-failed", message=f"could not ask the phone for the message ({cause})",
                           transient=True, outcome_unknown=True)

    def status(self, provider_id: str) -> tuple[str | None, GatewayError | None]:
        """The phone's state of message ``provider_id`` (get_state), in our words (``STATUSES``).

        A failed one comes with the phone's reason; (None, None) when the phone does not know
        the id. Raises GatewayError when the phone cannot be asked.
        """
        try:
            state = self.client.get_state(provider_id)
        except APIError as exc:
            if exc.status_code == 404:
                return None, None
            cause = f"HTTP {exc.status_code}"
        except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
            cause = type(exc).__name__
        else:
            status = STATUSES.get(state.state.value)
            if status == "failed":
                return status, failure(next((r.error for r in state.recipients if r.error), None))
            return status, None
        log.info("android status fetch failed: %s", cause, extra={"sid": provider_id})
        raise GatewayError(code="lookup-failed", message=f"could not ask the phone for the message's state ({cause})",
                           transient=True)


def _api_error(exc: APIError, retry_after: float | None = None) -> GatewayError:
    response = exc.response if isinstance(exc.response, dict) else {}
    text = str(response.get("message") or response.get("error") or "")
    error = classify(exc.status_code, mask_phones(text)[:200], retry_after)
    if exc.status_code is not None and exc.status_code >= 500:
        # A 5xx may come after the phone queued the message: look it up before sending again.
        error.outcome_unknown = True
    return error
