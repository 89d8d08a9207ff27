"""Sending the outbox: thin tasks that claim, check, send and record one message each."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from slrt import outbox
from slrt.extensions import begin_write, db, persist
from slrt.ports import GatewayError
from sms import callback_url, gateway, limiter

log = logging.getLogger(__name__)


@shared_task(name="slrt.send_sms", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_sms(message_id: int) -> None:
    """Claim message ``message_id``, send it through the gateway, record what the provider said."""
    message = outbox.claim(message_id)
    if message is None:
        db.session.rollback()
        return  # sent already, not due yet, or another worker has it
    if outbox.hold_reason(message):
        db.session.commit()
        return
    to, body, reference = message.phone, message.body, f"slrt-{message.id}"
    attempt, since, known = message.attempts, message.created_at, [message.provider_id or ""]
    retrying = attempt > 1
    db.session.commit()
    db.session.close()  # no database connection held while the provider answers
    # The cluster's pace, right before the send (so the provider sees it evenly spaced). A long
    # wait could outlast the claim's lease: then make sure the message is still ours.
    if limiter().acquire() > outbox.claim_lease().total_seconds() / 2 and not persist(
            lambda: outbox.renew_claim(message_id, attempt)):
        return
    sms, status_url = gateway(), callback_url(message_id)
    try:
        provider_id = None
        if retrying:  # an earlier attempt may have reached the provider: never send twice
            provider_id = sms.lookup(to=to, body=body, reference=reference, since=since, exclude=known)
        if provider_id is None:  # never reached the provider: (re)send
            provider_id = sms.send(to=to, body=body, reference=reference, callback_url=status_url)
    except GatewayError as error:
        persist(lambda err=error: outbox.record_failure(message_id, sms.name, err))
        log.info("sms failed", extra={"sms_id": message_id, "code": error.code, "transient": error.transient})
        return
    persist(lambda: outbox.record_sent(message_id, sms.name, provider_id, receipts=status_url is not None))


@shared_task(name="slrt.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Queue every message that is due: never picked up (broker down), retry time come, lease lost."""
    begin_write()
    ids = outbox.due_ids()
    db.session.commit()
    for message_id in ids:
        queue_send(message_id)
    return len(ids)


def queue_send(message_id: int) -> None:
    """Queue the send task on this app's own Celery (tests build several apps in one process)."""
    current_app.extensions["celery"].send_task("slrt.send_sms", args=[message_id])


# After a commit that queued messages, queue their send tasks: never before the commit, so a
# rolled-back change sends nothing, and a committed one is sent even if this fails (sweep).
@event.listens_for(Session, "after_commit")
def _dispatch(session):
    ids = outbox.take_committed(session)
    if not ids or not current_app or not current_app.config.get("SLRT_SMS_DISPATCH"):
        return
    for message_id in ids:
        try:
            queue_send(message_id)
        except Exception:  # broker down: the sweep sends it later, nothing is lost
            log.warning("could not queue sms; the sweep will", extra={"sms_id": message_id})
            return


@shared_task(name="slrt.check_receipts", ignore_result=True)
def check_receipts() -> int:
    """Open a follow-up for each resident notice whose delivery receipt never came."""
    begin_write()
    opened = outbox.open_receipt_follow_ups()
    db.session.commit()
    return opened


@shared_task(name="slrt.purge_sms_bodies", ignore_result=True)
def purge_sms_bodies() -> int:
    """Erase message texts past the retention period (the rows stay for the reports)."""
    begin_write()
    purged = outbox.purge_bodies()
    db.session.commit()
    if purged:
        log.info("sms bodies purged", extra={"count": purged})
    return purged
