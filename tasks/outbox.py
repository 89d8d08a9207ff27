"""Sending the outbox: thin tasks that hand ids to slrt.sending and slrt.outbox (one message, or a few).

Their retry policy is the broker's: a task is acknowledged after it ran and delivered again
if its worker was lost (the claim's lease and the lookup before a resend keep that safe). A
failed send is not a failed task: slrt.outbox records it and its backoff, and the sweep
queues it again when its time comes.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from slrt import outbox, sending
from slrt.extensions import begin_write, db, persist
from sms import gateways

log = logging.getLogger(__name__)


@shared_task(name="slrt.send_sms", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_sms(message_id: int) -> None:
    """Claim message ``message_id``, send it through its gateway, record what the provider said."""
    sending.deliver([message_id], gateways())


@shared_task(name="slrt.send_sms_batch", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_sms_batch(message_ids: list[int]) -> None:
    """The same for a few messages queued together: one claim statement, one recording commit."""
    sending.deliver(message_ids, gateways())


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


def init_dispatch(app: Flask) -> None:
    """Queue each message's send task after the commit that wrote it, for this app.

    The hook is attached once per process to SQLAlchemy's Session class (the tests' own
    sessions are plain Sessions too) and acts only for an app that asked for it here.
    """
    app.extensions["slrt_sms_dispatch"] = True
    if not event.contains(Session, "after_commit", _dispatch):
        event.listen(Session, "after_commit", _dispatch)


# After a commit that queued messages, queue their send tasks: never before the commit, so a
# rolled-back change sends nothing, and a committed one is sent even if this fails (sweep).
def _dispatch(session: Session) -> None:
    ids = outbox.take_committed(session)
    if not ids or not has_app_context() or "slrt_sms_dispatch" not in current_app.extensions \
            or not current_app.config.get("SLRT_SMS_DISPATCH"):
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
    opened = outbox.open_receipt_follow_ups(asked=gateways().with_receipts())
    db.session.commit()
    return opened


@shared_task(name="slrt.reconcile_receipts", ignore_result=True)
def reconcile_receipts() -> dict[str, int]:
    """Ask the providers about sent messages whose receipt is late, and record what they say.

    Like a send: take the messages and commit, ask with no database connection held (each
    question at its gateway's pace), then record in one unit of work.
    """
    configured = gateways()
    asked = configured.with_receipts()
    begin_write()
    checks = outbox.take_receipt_checks(asked)
    db.session.commit()
    db.session.close()
    if not checks:
        return {"asked": 0, "settled": 0, "followed_up": 0}
    answers = outbox.ask_providers(checks, asked, pace=lambda name: configured.pace(name).acquire())
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
