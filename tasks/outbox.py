"""Sending the outbox: thin tasks that claim, check, send and record (one message, or a few)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from celery import shared_task
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from slrt import outbox
from slrt.extensions import begin_write, db, persist
from slrt.ports import GatewayError
from sms import callback_url, gateway_named, limiter_for, receipt_gateways, reports_delivery, route

log = logging.getLogger(__name__)


@shared_task(name="slrt.send_sms", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_sms(message_id: int) -> None:
    """Claim message ``message_id``, send it through the gateway, record what the provider said."""
    send_messages([message_id])


@shared_task(name="slrt.send_sms_batch", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_sms_batch(message_ids: list[int]) -> None:
    """The same for a few messages queued together: one claim statement, one recording commit.

    Each message is still claimed for itself (a message another worker holds is skipped),
    sent once, at the cluster's pace; only the database round trips are shared.
    """
    send_messages(message_ids)


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


def send_messages(message_ids: list[int]) -> None:
    claimed = outbox.claim_many(message_ids)
    if not claimed:
        db.session.rollback()
        return  # sent already, not due yet, or another worker has them
    claimed_at = time.monotonic()
    facts = outbox.hold_facts(claimed)
    outgoing = []
    for m in claimed:
        if (held := outbox.hold_reason(m, facts)) is not None:
            outbox.hold(m, held)
            continue
        # The gateway is recorded with the claim: a status callback may beat this worker's
        # own record of the send, and a retry must go out where this attempt went.
        m.gateway = route(m.template_key, m.audience, m.gateway)
        outgoing.append(_Outgoing(m.id, m.phone, m.body, m.attempts, m.created_at, m.provider_id, m.gateway))
    db.session.commit()
    db.session.close()  # no database connection held while the provider answers
    lease = outbox.claim_lease().total_seconds()
    results = []
    for out in outgoing:
        sms = gateway_named(out.gateway)
        # The gateway's pace, right before the send (so the provider sees it evenly spaced).
        # A claim held past half its lease (slow sends before it, long rate waits) is renewed
        # before use, or given up if it was lost; the lease outlasts a lookup and a send.
        limiter_for(sms.name).acquire()
        if time.monotonic() - claimed_at > lease / 2 and \
                not persist(lambda out=out: outbox.renew_claim(out.id, out.attempt)):
            continue
        results.append((out.id, sms.name, *_send_one(sms, out)))
    persist(lambda: _record(results))


def _send_one(sms, out: _Outgoing):
    """(provider id, None) when the provider has it, (None, error) when it refused or failed."""
    status_url = callback_url(out.id, sms.name)
    try:
        provider_id = None
        if out.attempt > 1:  # an earlier attempt may have reached the provider: never send twice
            provider_id = sms.lookup(to=out.to, body=out.body, reference=f"slrt-{out.id}",
                                     since=out.created_at, exclude=[out.provider_id or ""])
        if provider_id is None:
            provider_id = sms.send(to=out.to, body=out.body, reference=f"slrt-{out.id}", callback_url=status_url)
    except GatewayError as error:
        log.info("sms failed", extra={"sms_id": out.id, "code": error.code, "transient": error.transient})
        return None, error
    return provider_id, None


def _record(results) -> None:
    for message_id, gateway_name, provider_id, error in results:
        if error is not None:
            outbox.record_failure(message_id, gateway_name, error)
        else:
            outbox.record_sent(message_id, gateway_name, provider_id, receipts=reports_delivery(gateway_name))


@shared_task(name="slrt.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Queue every message that is due: never picked up (broker down), retry time come, lease lost."""
    begin_write()
    ids = outbox.due_ids()
    db.session.commit()
    queue_send(ids)
    return len(ids)


#: Messages per send task when many are due at once (a burst, a sweep after an outage).
BATCH = 10


def queue_send(message_ids: list[int]) -> None:
    """Queue send tasks on this app's own Celery (tests build several apps in one process)."""
    celery = current_app.extensions["celery"]
    for first in range(0, len(message_ids), BATCH):
        chunk = message_ids[first:first + BATCH]
        if len(chunk) == 1:
            celery.send_task("slrt.send_sms", args=[chunk[0]])
        else:
            celery.send_task("slrt.send_sms_batch", args=[chunk])


# After a commit that queued messages, queue their send tasks: never before the commit, so a
# rolled-back change sends nothing, and a committed one is sent even if this fails (sweep).
@event.listens_for(Session, "after_commit")
def _dispatch(session):
    ids = outbox.take_committed(session)
    if not ids or not current_app or not current_app.config.get("SLRT_SMS_DISPATCH"):
        return
    try:
        queue_send(ids)
    except Exception:  # broker down: the sweep sends them later, nothing is lost
        log.warning("could not queue sms; the sweep will", extra={"count": len(ids)})


@shared_task(name="slrt.check_receipts", ignore_result=True)
def check_receipts() -> int:
    """Open a follow-up for each resident notice whose receipt never came and whose provider nobody can ask.

    Those whose provider can be asked are the reconciliation's (it asks once more first).
    """
    begin_write()
    opened = outbox.open_receipt_follow_ups(asked=receipt_gateways())
    db.session.commit()
    return opened


@shared_task(name="slrt.reconcile_receipts", ignore_result=True)
def reconcile_receipts() -> dict[str, int]:
    """Ask the providers about sent messages whose receipt is late, and record what they say.

    Like a send: take the messages and commit, ask with no database connection held (each
    question at its gateway's pace), then record in one unit of work.
    """
    gateways = receipt_gateways()
    begin_write()
    checks = outbox.take_receipt_checks(gateways)
    db.session.commit()
    db.session.close()
    if not checks:
        return {"asked": 0, "settled": 0, "followed_up": 0}
    answers = outbox.ask_providers(checks, gateways, pace=lambda name: limiter_for(name).acquire())
    tally = persist(lambda: outbox.record_receipt_answers(answers))
    return {"asked": len(answers), "settled": tally.settled, "followed_up": tally.followed_up}


@shared_task(name="slrt.purge_sms_bodies", ignore_result=True)
def purge_sms_bodies() -> int:
    """Erase message texts past the retention period (the rows stay for the reports)."""
    begin_write()
    purged = outbox.purge_bodies()
    db.session.commit()
    if purged:
        log.info("sms bodies purged", extra={"count": purged})
    return purged
