"""Sending the outbox: which gateway each message takes, and each send from its claim to its record.

The routing policy (SLRT_SMS_ROUTES), the checks at send time, the lookup before a resend
and the claim's renewal are decided here; sms/ only adapts the providers behind
slrt.ports and tasks/ only hands over the ids (Notify's send_to_providers, provider_tasks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from slrt import notices, outbox
from slrt.extensions import db, persist
from slrt.ports import GatewayError, RateLimiter, SmsGateway
from slrt.reminders import DIGEST_KEY

log = logging.getLogger(__name__)

#: Kinds of message a sending policy can route (SLRT_SMS_ROUTES="digest=android,reply=android").
ROUTE_KINDS = ("resident", "agency", "staff", "digest", "reply")


def parse_routes(spec: str, configured: set[str]) -> dict[str, str]:
    """Read ``kind=gateway,...``; refuse a kind or gateway this deployment does not have."""
    routes = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, name = (x.strip() for x in part.partition("="))
        if kind not in ROUTE_KINDS or name not in configured:
            raise RuntimeError(f"SLRT_SMS_ROUTES: {part!r} (kinds: {', '.join(ROUTE_KINDS)}; "
                               f"gateways: {', '.join(sorted(configured))})")
        routes[kind] = name
    return routes


def kind_of(template_key: str | None, audience: str) -> str:
    """The kind of message a route names: a reply, the agency digest, else its audience."""
    if notices.is_reply(template_key):
        return "reply"
    if template_key == DIGEST_KEY:
        return "digest"
    return str(audience)


@dataclass(frozen=True)
class Gateways:
    """The configured gateways, each one's pace and the routing policy (sms.init_gateways builds one per app)."""

    #: The gateway SLRT_SMS_GATEWAY names: messages no route names go out on it.
    primary: SmsGateway
    #: Every configured gateway by name (the primary, and the Android phone beside it when set).
    by_name: Mapping[str, SmsGateway]
    #: The primary's send rate, kept by any gateway without its own.
    limiter: RateLimiter
    #: Each gateway's own send rate, by name (the phone sends about 100 an hour, Twilio what was bought).
    limiters: Mapping[str, RateLimiter] = field(default_factory=dict)
    #: Kind of message -> gateway name (:func:`parse_routes`).
    routes: Mapping[str, str] = field(default_factory=dict)

    def named(self, name: str | None) -> SmsGateway:
        return self.by_name.get(name or "") or self.primary

    def pace(self, name: str) -> RateLimiter:
        return self.limiters.get(name) or self.limiter

    def route(self, template_key: str | None, audience: str, preset: str | None = None) -> str:
        """The gateway a message goes out on: the one it must answer on (a reply), else the policy's."""
        if preset in self.by_name:
            return preset  # a reply goes back on the channel the message came in on; a retry stays put
        # Routes name configured gateways only (parse_routes checked them at start-up).
        return self.routes.get(kind_of(template_key, audience)) or self.primary.name

    def with_receipts(self) -> dict[str, SmsGateway]:
        """The gateways that report delivery, by name: a missing receipt from them means something."""
        return {name: each for name, each in self.by_name.items() if each.receipts}


def callback_url(gateway: SmsGateway, message_id: int) -> str | None:
    """Where the provider reports this message's delivery; None when it takes no per-message URL."""
    if gateway.receipts != "callback":
        return None  # the phone posts to the webhooks registered on it; the console reports nothing
    return f"{current_app.config['SLRT_PUBLIC_URL'].rstrip('/')}{gateway.callback_path(message_id)}"


@dataclass(frozen=True)
class _Outgoing:
    """What a send needs, read while the claim was taken (no ORM object across the provider call)."""

    id: int
    to: str
    body: str
    attempt: int
    created_at: datetime
    provider_id: str | None
    #: The gateway it goes out on (the sending policy, or the channel a reply answers).
    gateway: str


def deliver(message_ids: list[int], gateways: Gateways) -> int:
    """Send these messages, each at most once: claim, check, send, record; return how many the providers took.

    Its own units of work, like a reconciliation run: the claims (and the messages held back
    or dropped) are committed and the session closed before any provider is asked, so no
    database connection is held while a provider answers; what the providers said is then
    recorded in one commit. Each message is claimed for itself (one another worker holds is
    skipped) and sent at its gateway's pace; a batch only shares the database round trips.
    """
    claimed = outbox.claim_many(message_ids)
    if not claimed:
        db.session.rollback()
        return 0  # sent already, not due yet, or another worker has them
    claimed_at = time.monotonic()
    facts = outbox.hold_facts(claimed)
    outgoing = []
    for m in claimed:
        if (held := outbox.hold_reason(m, facts)) is not None:
            outbox.hold(m, held)
            continue
        # The gateway is recorded with the claim: a status callback may beat this worker's
        # own record of the send, and a retry must go out where this attempt went.
        m.gateway = gateways.route(m.template_key, m.audience, m.gateway)
        outgoing.append(_Outgoing(m.id, m.phone, m.body, m.attempts, m.created_at, m.provider_id, m.gateway))
    db.session.commit()
    db.session.close()  # no database connection held while the provider answers
    lease = outbox.claim_lease().total_seconds()
    results = []
    for out in outgoing:
        sms = gateways.named(out.gateway)
        # The gateway's pace, right before the send (so the provider sees it evenly spaced).
        # A claim held past half its lease (slow sends before it, long rate waits) is renewed
        # before use, or given up if it was lost; the lease outlasts a lookup and a send.
        gateways.pace(sms.name).acquire()
        if time.monotonic() - claimed_at > lease / 2 and \
                not persist(lambda out=out: outbox.renew_claim(out.id, out.attempt)):
            continue
        results.append((out.id, sms, *_send_one(sms, out)))
    persist(lambda: _record(results))
    return sum(1 for *_, error in results if error is None)


def _send_one(sms: SmsGateway, out: _Outgoing) -> tuple[str | None, GatewayError | None]:
    """(provider id, None) when the provider has it, (None, error) when it refused or failed."""
    try:
        provider_id = None
        # Any attempt after the first may follow one that reached the provider (a timeout after
        # the request went out, a worker lost after the send): never send twice.
        if out.attempt > 1:
            provider_id = sms.lookup(to=out.to, body=out.body, reference=f"slrt-{out.id}",
                                     since=out.created_at, exclude=[out.provider_id or ""])
        if provider_id is None:
            provider_id = sms.send(to=out.to, body=out.body, reference=f"slrt-{out.id}",
                                   callback_url=callback_url(sms, out.id))
    except GatewayError as error:
        log.info("sms failed", extra={"sms_id": out.id, "code": error.code, "transient": error.transient,
                                      "outcome_unknown": error.outcome_unknown})
        return None, error
    return provider_id, None


def _record(results) -> None:
    for message_id, sms, provider_id, error in results:
        if error is not None:
            outbox.record_failure(message_id, sms.name, error)
        else:
            outbox.record_sent(message_id, sms.name, provider_id, receipts=bool(sms.receipts))
