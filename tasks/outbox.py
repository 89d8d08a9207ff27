"""Sending the outbox: thin tasks that claim, check, send and record one message each."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from slrt import outbox
from slrt.extensions import db
from slrt.ports import GatewayError
from sms import gateway

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
    retrying, since, known = message.attempts > 1, message.created_at, [message.provider_id or ""]
    db.session.commit()
    db.session.close()  # no database connection held while the provider answers
    sms = gateway()
    try:
        provider_id = sms.lookup(to=to, body=body, reference=reference, since=since, exclude=known) if retrying else None
        if provider_id is None:  # never reached the provider: (re)send
            provider_id = sms.send(to=to, body=body, reference=reference, callback_url=None)
    except GatewayError as error:
        _persist(lambda err=error: outbox.record_failure(message_id, sms.name, err))
        log.info("sms failed", extra={"sms_id": message_id, "code": error.code, "transient": error.transient})
        return
    _persist(lambda: outbox.record_sent(message_id, sms.name, provider_id))


def _persist(record, tries: int = 6) -> None:
    """Commit what the provider said, retrying a busy database: the answer must not be lost.

    (SQLite, the embedded default, refuses a second writer at once instead of waiting when
    both had read first; PostgreSQL waits on the row lock.) Should every try fail, the claim's
    lease runs out, the sweep re-queues the message and the lookup finds it sent.
    """
    for attempt in range(tries):
        try:
            record()
            db.session.commit()
            return
        except OperationalError:
            db.session.rollback()
            if attempt == tries - 1:
                raise
            time.sleep(0.05 * 2**attempt)


@shared_task(name="slrt.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Queue every message that is due: never picked up (broker down), retry time come, lease lost."""
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
