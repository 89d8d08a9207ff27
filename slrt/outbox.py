"""The SMS outbox: messages are written in the caller's transaction, sent after commit.

Domain functions call :func:`queue` while they record a change; the row is flushed with
that change or rolled back with it, so a failed transition leaves no SMS behind and a
committed one never loses its SMS. Sending is the workers' job (tasks/).
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from slrt import clock, notices
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
    log.info("sms queued", extra={"template": key, "case_id": getattr(case, "id", None)})
    return message


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

