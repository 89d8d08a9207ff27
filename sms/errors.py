"""What the SMS adapters share about provider errors: the policy per code, network failures, scrubbing.

Each provider maps its own codes (sms/twilio.py ``ERRORS``, sms/android.py ``ERRORS``) to a
:class:`Policy`; a request that got no HTTP answer is classified here, once for every provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ConnectTimeoutError

from slrt.ports import GatewayError

#: Digit runs that may be phone numbers in a provider message (Twilio quotes the To number).
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


@dataclass(frozen=True)
class Policy:
    """What one provider error code means for the message and for sending as a whole."""

    #: Short English meaning, used as the error message when the provider gives none.
    meaning: str
    #: Worth sending again later (with backoff); otherwise the message fails for good.
    transient: bool
    #: A lower cap on attempts for this code (see GatewayError.max_attempts).
    max_attempts: int | None = None
    #: "opt_out", "pause" or "flag_template" (see GatewayError.effect).
    effect: str | None = None

    def error(self, code: str, retry_after: float | None = None) -> GatewayError:
        """The GatewayError for ``code`` under this policy (a Retry-After counts for a retry only)."""
        return GatewayError(code=code, message=self.meaning, transient=self.transient,
                            retry_after=retry_after if self.transient else None,
                            max_attempts=self.max_attempts, effect=self.effect)


def unknown_error(code: str, message: str, http_status: int | None, retry_after: float | None = None) -> GatewayError:
    """An error no policy names: transient on 429 and 5xx, permanent otherwise (or without a status)."""
    transient = http_status is not None and (http_status == 429 or http_status >= 500)
    return GatewayError(code=code, message=message, transient=transient, retry_after=retry_after if transient else None)


def network_error(exc: requests.RequestException, provider: str) -> GatewayError:
    """A request to ``provider`` that got no HTTP answer: transient; outcome unknown unless it never left."""
    if isinstance(exc, requests.ConnectTimeout):
        return GatewayError(code="connect-timeout", message=f"could not connect to {provider} in time", transient=True)
    if isinstance(exc, requests.ReadTimeout):
        return GatewayError(code="timeout", message=f"no answer from {provider} in time (may have been sent)",
                            transient=True, outcome_unknown=True)
    if isinstance(exc, requests.ConnectionError) and never_connected(exc):
        return GatewayError(code="connect-error", message=f"could not connect to {provider}", transient=True)
    # Connection dropped mid-request, broken response...: the provider may have the message.
    return GatewayError(code="network-error", message=f"connection to {provider} lost ({type(exc).__name__})",
                        transient=True, outcome_unknown=True)


def never_connected(exc: requests.ConnectionError) -> bool:
    """True when no request bytes can have reached the provider (refused, DNS, TLS handshake)."""
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return True
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)  # urllib3 MaxRetryError
    # urllib3's NewConnectionError (refused, no route, DNS) is a ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def mask_phones(text: str | None) -> str:
    """A provider's message with phone numbers masked: it is stored and shown to staff."""
    return _PHONE_LIKE.sub("<number>", text or "")
