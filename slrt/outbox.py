"""The SMS outbox: messages are written in the caller's transaction, sent after commit.

Domain functions call :func:`queue` while they record a change; the row is flushed with
that change or rolled back with it, so a failed transition leaves no SMS behind and a
committed one never loses its SMS. Sending is the workers' job (tasks/).
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from slrt import clock, notices, quiet_hours
from slrt.codes import format_code
from slrt.extensions import db
from slrt.models import AgencyContact, Case, Event, Referral, Resident, SmsMessage
from slrt.models.enums import PhoneOwner, SmsAudience, SmsDirection, SmsStatus

log = logging.getLogger(__name__)


def queue(
    *,
    audience: SmsAudience,
    phone: str,
    key: str,
    language: str,
    context: dict[str, object],
    dedupe_key: str,
    resident: Resident | None = None,
    case: Case | None = None,
    referral: Referral | None = None,
    contact: AgencyContact | None = None,
    expected_status: str | None = None,
) -> SmsMessage:
    """Write one pending outbound SMS; an existing row with the same dedupe key is returned as is."""
    existing = db.session.scalar(select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    rendered = notices.render(key, language, context)
    message = SmsMessage(
        direction=SmsDirection.OUTBOUND,
        audience=audience,
        phone=phone,
        body=rendered.body,
        template_key=key,
        encoding=rendered.encoding,
        segments=rendered.segments,
        status=SmsStatus.PENDING,
        next_attempt_at=clock.now(),
        dedupe_key=dedupe_key,
        expected_status=expected_status,
        resident=resident,
        case=case,
        referral=referral,
        contact=contact,
    )
    db.session.add(message)
    db.session.info.setdefault(_QUEUED, []).append(message)
    log.info("sms queued", extra={"template": key, "case_id": getattr(case, "id", None)})
    return message


#: session.info keys: messages queued in this transaction, then their ids once flushed.
_QUEUED, _QUEUED_IDS = "slrt_outbox_queued", "slrt_outbox_queued_ids"


@event.listens_for(Session, "after_flush")
def _note_queued_ids(session, _context) -> None:
    queued = session.info.pop(_QUEUED, [])
    if queued:
        session.info.setdefault(_QUEUED_IDS, set()).update(m.id for m in queued if m.id is not None)


@event.listens_for(Session, "after_rollback")
def _forget_queued(session) -> None:
    session.info.pop(_QUEUED, None)
    session.info.pop(_QUEUED_IDS, None)


def take_committed(session) -> list[int]:
    """Ids of the messages the just-committed transaction queued (called once, after commit)."""
    return sorted(session.info.pop(_QUEUED_IDS, set()))


def common_context(case: Case) -> dict[str, object]:
    """Variables every resident notice may use."""
    resident = case.resident
    return {
        "office": current_app.config["SLRT_SMS_SENDER_NAME"],
        "reply_to": reply_number(case),
        "ticket": format_code(case.ticket),
        "first_name": resident.name.split()[0],
        "resident_name": resident.name,
    }


def reply_number(case: Case) -> str:
    """The number residents call or text back: the setting, else the nearest unit's phone."""
    configured = current_app.config.get("SLRT_REPLY_NUMBER")
    if configured:
        return str(configured)
    for unit in case.unit.lineage():
        if unit.phone:
            return unit.phone
    return ""


def notify_resident(case: Case, key: str, event: Event, context: dict[str, object],
                    referral: Referral | None = None) -> SmsMessage | None:
    """Queue notice ``key`` to the case's resident, discreetly if the phone is not theirs.

    Returns None when the resident has no phone: the facilitator is the channel then.
    Opted-out residents still get the row (dropped at send time) so the outbox shows why.
    """
    resident = case.resident
    if not resident.phone:
        return None
    variant = key
    if resident.phone_owner != PhoneOwner.OWN and f"{key}.proxy" in notices.DEFAULTS:
        variant = f"{key}.proxy"
    return queue(
        audience=SmsAudience.RESIDENT,
        phone=resident.phone,
        key=variant,
        language=resident.language,
        context={**common_context(case), **context},
        dedupe_key=f"{key}:e{event.id}:r{resident.id}",
        resident=resident,
        case=case,
        referral=referral,
        expected_status=referral.status.value if referral is not None else None,
    )


def notify_agency(referral: Referral, key: str, event: Event, context: dict[str, object]) -> list[SmsMessage]:
    """Queue notice ``key`` to every active contact of the referral's agency that takes SMS."""
    messages = []
    for contact in referral.agency.contacts:
        if not (contact.is_active and contact.receives_reminders):
            continue
        messages.append(
            queue(
                audience=SmsAudience.AGENCY,
                phone=contact.phone,
                key=key,
                language="id",
                context={**common_context(referral.case), **context},
                dedupe_key=f"{key}:e{event.id}:c{contact.id}",
                case=referral.case,
                referral=referral,
                contact=contact,
                expected_status=referral.status.value,
            )
        )
    return messages



# ---- sending: claimed by one worker, checked, sent, recorded ------------------------------------

#: A claimed message not recorded within this time is presumed lost with its worker.
CLAIM_LEASE = timedelta(minutes=5)
#: Transient failures are retried this many times in all, then the message fails.
MAX_ATTEMPTS = 6
#: Backoff after the n-th failed attempt: base * 2**(n-1), capped, with +-25 % jitter.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def claim(message_id: int) -> SmsMessage | None:
    """Atomically take one due pending message for sending; None when it is not ours to send.

    A conditional UPDATE: of two workers handed the same id, exactly one changes the row.
    """
    now = clock.now()
    result = db.session.execute(
        update(SmsMessage)
        .where(
            SmsMessage.id == message_id,
            SmsMessage.status == SmsStatus.PENDING,
            or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
        )
        .values(status=SmsStatus.SENDING, attempts=SmsMessage.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return db.session.get(SmsMessage, message_id, populate_existing=True)


def hold_reason(message: SmsMessage) -> str | None:
    """Why a claimed message must not go out now (it is dropped or deferred), or None to send it."""
    from slrt.models.enums import SmsAudience

    if message.audience == SmsAudience.RESIDENT and message.resident is not None \
            and message.resident.is_sms_opted_out:
        return _drop(message, "opted_out", "resident answered STOP")
    if message.expected_status and message.referral is not None \
            and message.referral.status.value != message.expected_status:
        return _drop(message, "stale", f"referral is {message.referral.status.value} now")
    window = quiet_hours.next_window(message.audience, clock.now())
    if window is not None:
        message.status = SmsStatus.PENDING
        message.next_attempt_at = window
        message.attempts -= 1  # waiting for the morning is not an attempt
        return "deferred"
    return None


def _drop(message: SmsMessage, code: str, why: str) -> str:
    message.status = SmsStatus.DROPPED
    message.error_code = code
    message.error_message = why
    message.next_attempt_at = None
    return code


def record_sent(message_id: int, gateway: str, provider_id: str) -> None:
    message = db.session.get(SmsMessage, message_id, populate_existing=True)
    message.status = SmsStatus.SENT
    message.gateway = gateway
    message.provider_id = provider_id
    message.sent_at = clock.now()
    message.next_attempt_at = None
    message.error_code = message.error_message = None


def record_failure(message_id: int, gateway: str, error) -> None:
    """Retry a transient failure later (time kept in the row), or fail the message for good."""
    message = db.session.get(SmsMessage, message_id, populate_existing=True)
    message.gateway = gateway
    message.error_code = str(error.code)[:16]
    message.error_message = (error.message or "")[:255]
    if error.transient and message.attempts < MAX_ATTEMPTS:
        message.status = SmsStatus.PENDING
        message.next_attempt_at = clock.now() + retry_delay(message.attempts, error.retry_after)
    else:
        message.status = SmsStatus.FAILED
        message.next_attempt_at = None


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with jitter; a provider's Retry-After is respected as a minimum."""
    delay = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    delay = delay * random.uniform(0.75, 1.25)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def due_ids(limit: int = 500) -> list[int]:
    """Pending messages whose time has come, and claimed ones whose worker vanished (lease over)."""
    now = clock.now()
    expired = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.status == SmsStatus.SENDING, SmsMessage.next_attempt_at < now)
        .values(status=SmsStatus.PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if expired.rowcount:
        log.warning("sms claims expired, back to pending", extra={"count": expired.rowcount})
    return list(db.session.scalars(
        select(SmsMessage.id)
        .where(SmsMessage.status == SmsStatus.PENDING, SmsMessage.direction == SmsDirection.OUTBOUND,
               or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now))
        .order_by(SmsMessage.next_attempt_at)
        .limit(limit)
    ))
