"""The SMS gateway interface the domain needs; sms/ implements it (Twilio, Android phone, console) and the send rate."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass
class GatewayError(Exception):
    """A provider refused or failed a send.

    ``transient`` errors are retried with backoff; permanent ones fail the message with
    the provider's ``code``. ``outcome_unknown`` means the request may have reached the
    provider (a timeout after sending): the message is never failed for good on such an
    error before its last attempt, since the next attempt looks it up before sending again
    (slrt.outbox.record_failure, slrt.sending).
    """

    code: str
    message: str = ""
    transient: bool = False
    outcome_unknown: bool = False
    retry_after: float | None = None
    #: A lower cap on attempts for this code (30003 "unreachable" is worth only a few tries).
    max_attempts: int | None = None
    #: What else the failure means for us: "opt_out" (the number unsubscribed), "pause"
    #: (the account is suspended: stop all sending), "flag_template" (filtered as spam).
    effect: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class SmsGateway(Protocol):
    """What the outbox needs from a provider."""

    #: Short name stored on each message (twilio, android, console).
    name: str
    #: How the provider reports delivery: "callback" (to the URL given with each message,
    #: :meth:`callback_path`), "webhook" (to URLs registered with the provider once), or None
    #: (it does not: nobody waits for a receipt from it, nobody asks it about one).
    receipts: str | None

    def callback_path(self, message_id: int) -> str | None:
        """The path on our server where the provider reports this message's status, if it takes one per message."""

    def send(self, *, to: str, body: str, reference: str, callback_url: str | None) -> str:
        """Hand one SMS to the provider; return the provider's id for it, or raise GatewayError."""

    def lookup(self, *, to: str, body: str, reference: str, since: datetime,
               exclude: Collection[str] = ()) -> str | None:
        """The provider's id of a message we sent as ``reference`` since ``since``, or None.

        Asked before any resend whose earlier attempt may have reached the provider. A
        provider that cannot search by our reference matches on recipient, body and time;
        ``exclude`` lists provider ids already recorded (an earlier, undelivered attempt).
        """

    def status(self, provider_id: str) -> tuple[str | None, GatewayError | None]:
        """What the provider knows now of the message it took as ``provider_id``, in our words.

        ("sent" | "delivered" | "undelivered" | "failed", the failure's error or None), or
        (None, None) when the provider cannot tell (an unknown id, a state we do not record).
        Asked when a delivery receipt is late: receipts are dropped on the way. Raises
        GatewayError when the provider could not be asked (network, 5xx, 429).
        """


class RateLimiter(Protocol):
    """A gateway's send rate (sms/ratelimit.py): each send waits for its slot."""

    def acquire(self) -> float:
        """Wait for the next free slot; return the seconds waited."""
