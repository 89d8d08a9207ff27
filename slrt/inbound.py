"""Acting on SMS commands: residents check their case or opt out; agencies answer referrals.

The webhooks store each received SMS once (slrt.outbox.store_inbound) and hand it here,
in the same transaction. A command goes through the same slrt/ functions the screens use
(slrt.referrals.accept, complete, ...), with the agency contact or the resident's phone as
the actor, so the timeline shows who answered. Whatever happens, the sender gets one
short reply through the outbox; a mistyped code or a refused move changes nothing and says
why. Replies per phone per hour are capped, so two auto-responders cannot loop.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from slrt import audit, clock, commands, notices, outbox, referrals, reminders, residents, staff, text, workflow
from slrt.access import ResidentPhone
from slrt.codes import format_code, parse_code
from slrt.errors import DomainError, ValidationError
from slrt.extensions import db
from slrt.models import AgencyContact, Case, Referral, Resident, SmsMessage, Unit
from slrt.models.enums import (
    AuditAction,
    EventKind,
    ReferralStatus,
    ResidentVerification,
    Role,
    SmsAudience,
    SmsDirection,
)

log = logging.getLogger(__name__)

#: Agency verbs -> the slrt.referrals function that records the answer.
_AGENCY_ACTIONS = {"accept", "in_process", "complete", "reject"}


def receive(*, phone: str, body: str, provider_id: str, gateway: str) -> SmsMessage:
    """Store one received SMS and act on it; a webhook retried by the provider acts once.

    The text is kept whatever it holds: control characters become spaces and it is cut to
    what the column holds (slrt.text.scrub); a provider id longer than its column is refused.
    """
    if not provider_id or len(provider_id) > text.max_length(SmsMessage.provider_id):
        raise ValidationError(_l("The provider's message id is missing or too long."), field="provider_id")
    phone, body = text.scrub(phone, SmsMessage.phone, multiline=False), text.scrub(body, SmsMessage.body)
    existing = outbox.find_inbound(provider_id)
    if existing is not None:
        return existing
    message = outbox.store_inbound(phone=phone, body=body, provider_id=provider_id, gateway=gateway)
    handle(message)
    return message


def handle(message: SmsMessage) -> SmsMessage | None:
    """Read and act on one stored inbound SMS; return the reply queued, if any (flushes only)."""
    command = commands.parse(message.body)
    message.template_key = f"cmd:{command.action}"[:48]
    contacts, people = _contacts(message.phone), _residents(message.phone)
    # A phone registered for an agency speaks for it; resident commands from it are
    # still read as a resident's when the same phone is also a resident's.
    as_agency = bool(contacts) and (command.action in _AGENCY_ACTIONS | {"unknown"} or not people)
    sender = contacts[0] if as_agency else ResidentPhone(message.phone)
    with audit.acting_as(sender):  # what the command changes is the sender's doing
        try:
            key, context = _agency(contacts, command) if as_agency else _resident(message, people, command)
        except DomainError as error:
            key, context = "reply_error", {"error": str(error)}
        message.reply_key = key[:48]
        case = context.get("_case")
        about = [case.resident_id] if case is not None else [] if as_agency else [p.id for p in people]
        audit.record(AuditAction.SMS_COMMAND, record=message, actor=sender, resident_ids=about,
                     detail={"command": command.action, "reply": key})
    audience = SmsAudience.AGENCY if as_agency else SmsAudience.RESIDENT
    return reply(message, key, context, audience=audience)


def reply(inbound: SmsMessage, key: str, context: dict, *, audience: SmsAudience) -> SmsMessage | None:
    """Queue one answer to ``inbound``'s sender, unless the phone had its hourly share already."""
    if replies_last_hour(inbound.phone) >= int(current_app.config["SLRT_REPLY_CAP_PER_HOUR"]):
        log.warning("sms reply withheld: hourly cap reached", extra={"sms_id": inbound.id})
        inbound.error_message = "reply not sent: hourly cap"
        return None
    case = context.pop("_case", None)
    language = _language(inbound)
    number = outbox.help_number(case.unit if case is not None else _sender_unit(inbound.phone))
    if number is None and "reply_to" in notices.template_fields(notices.template_body(key, language)):
        # "Info: " and nothing helps nobody: the operator is told (flask slrt check, the worker's log).
        log.error("sms reply withheld: no number to name; set SLRT_REPLY_NUMBER or the secretariat's phone",
                  extra={"sms_id": inbound.id, "template": key})
        inbound.error_message = outbox.NO_HELP_NUMBER
        return None
    row = outbox.queue(
        audience=audience,
        phone=inbound.phone,
        key=key,
        language=language,
        context={"office": current_app.config["SLRT_SMS_SENDER_NAME"], "reply_to": number or "", **context},
        dedupe_key=f"reply:{inbound.id}",
        contact=inbound.contact,
        case=case,
    )
    # Back through the channel it came in on (the sending policy honours a preset gateway).
    row.gateway = inbound.gateway
    return row


def replies_last_hour(phone: str) -> int:
    since = clock.now() - timedelta(hours=1)
    return db.session.scalar(
        select(func.count()).select_from(SmsMessage).where(
            SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.phone == phone,
            SmsMessage.template_key.startswith(notices.REPLY_PREFIX, autoescape=True), SmsMessage.created_at >= since)
    ) or 0


# ---- residents ------------------------------------------------------------------------------

def _resident(message: SmsMessage, people: list[Resident], command: commands.Command) -> tuple[str, dict]:
    if command.action == "check":
        return _check(message.phone, command)
    if command.action in ("stop", "start"):
        for person in people:  # one phone may be registered for several family members
            residents.set_sms_opt_out(person, command.action == "stop")
        if not people:
            return "reply_not_registered", {}
        return ("reply_stopped" if command.action == "stop" else "reply_started"), {}
    if command.action == "answer":
        return _verify(message, command.reference == "1")
    return "reply_help_resident", {}


def _check(phone: str, command: commands.Command) -> tuple[str, dict]:
    if not command.reference:
        return "reply_help_resident", {}
    digits = parse_code(command.reference)  # a typo or swapped digits: "not right", nothing found
    case = db.session.scalar(select(Case).where(Case.ticket == digits))
    if case is None:
        referral = db.session.scalar(select(Referral).where(Referral.code == digits))
        case = referral.case if referral is not None else None
    # Only the phone registered on the case learns anything about it.
    if case is None or case.resident.phone != phone:
        return "reply_not_found", {"reference": format_code(digits)}
    parts = []
    for position, referral in enumerate(case.referrals, start=1):
        parts.append(f"{position}) {referral.agency.short_name} {workflow.status_label(referral.status)}")
    summary = " ".join(parts) or str(_l("no referrals yet"))
    return "reply_status", {"ticket": format_code(case.ticket), "status": workflow.status_label(case.status),
                            "referrals": summary, "_case": case}


def _verify(message: SmsMessage, received: bool) -> tuple[str, dict]:
    """The resident answers the completion notice's question: 1 received, 2 not yet (reopen).

    Within the window the question gives (SLRT_VERIFY_DAYS); after it the referral shows
    unverified and a late "1" or "2" gets the help text.
    """
    since = clock.now() - Referral.verification_window()
    referral = db.session.scalar(
        select(Referral).join(Referral.case).join(Case.resident)
        .where(Resident.phone == message.phone, Referral.status == ReferralStatus.COMPLETED,
               Referral.resident_verification != ResidentVerification.NOT_ASKED,
               Referral.verification_asked_at >= since)
        .order_by(Referral.verification_asked_at.desc(), Referral.id.desc()).limit(1))
    if referral is None:
        return "reply_help_resident", {}
    actor = ResidentPhone(message.phone)
    if received:
        referral.resident_verification = ResidentVerification.CONFIRMED
        workflow.record(referral, "verify", actor, kind=EventKind.NOTE,
                        note=str(_l("The resident confirmed by SMS that the service was received.")))
        return "reply_verified", {"code": format_code(referral.code)}
    referrals.reopen(referral, actor=actor, note=str(_l("The resident answered by SMS: not received yet.")))
    _alert_facilitators(referral)
    return "reply_reopened", {"code": format_code(referral.code)}


def _alert_facilitators(referral: Referral) -> None:
    """Tell the case unit's facilitators (nearest unit first) that a service never came."""
    case = referral.case
    for person in staff.nearest_with_phone(case.unit, Role.FACILITATOR):
        row = outbox.queue(
            audience=SmsAudience.STAFF, phone=person.phone, key="staff_service_not_received", language="id",
            context={**outbox.common_context(case), "code": format_code(referral.code),
                     "agency": referral.agency.short_name},
            dedupe_key=f"not-received:r{referral.id}:n{referral.reopened_count}:s{person.id}",
            case=case, referral=referral)
        row.staff_id = person.id


# ---- agency contacts -----------------------------------------------------------------------

def _agency(contacts: list[AgencyContact], command: commands.Command) -> tuple[str, dict]:
    if command.action not in _AGENCY_ACTIONS or not command.reference:
        return "reply_help_agency", {}
    if command.action == "reject" and not (command.note or "").strip():
        return "reply_error", {"error": str(_l("Write the reason: TOLAK <code> <reason>."))}
    referral, contact = _find_referral(contacts, command)
    note = command.note
    if command.action == "accept":
        referrals.accept(referral, actor=contact, note=note)
    elif command.action == "in_process":
        referrals.mark_in_process(referral, actor=contact, note=note)
    elif command.action == "complete":
        referrals.complete(referral, actor=contact, note=note)
    else:
        referrals.reject(referral, reason=note, actor=contact)
    label = str(_l("in progress")) if command.action == "in_process" else workflow.status_label(referral.status)
    return "reply_done", {"code": format_code(referral.code), "service": referral.service.short_name,
                          "status": label}


def _find_referral(contacts: list[AgencyContact], command: commands.Command) -> tuple[Referral, AgencyContact]:
    """The referral a contact means: a code, or a place in the last digest that contact got."""
    if command.is_position:
        position = int(command.reference)
        for contact in contacts:
            referral = reminders.digest_referral(contact, position)
            if referral is not None:
                return referral, contact
        raise DomainError(_l("No referral number %(n)s in your last reminder. Use the referral code.",
                             n=position))
    digits = parse_code(command.reference)
    referral = db.session.scalar(select(Referral).where(Referral.code == digits))
    contact = next((c for c in contacts if referral is not None and c.agency_id == referral.agency_id), None)
    if referral is None or contact is None:
        # Another agency's referral is "not found" too: a contact learns nothing about it.
        raise DomainError(_l("Referral %(code)s was not found for your agency.", code=format_code(digits)))
    return referral, contact


# ---- who sent it ---------------------------------------------------------------------------

def _contacts(phone: str) -> list[AgencyContact]:
    return list(db.session.scalars(select(AgencyContact).where(
        AgencyContact.phone == phone, AgencyContact.is_active.is_(True)).order_by(AgencyContact.id)))


def _residents(phone: str) -> list[Resident]:
    return list(db.session.scalars(select(Resident).where(Resident.phone == phone).order_by(Resident.id)))


def _language(message: SmsMessage) -> str:
    if message.resident is not None and message.resident.language in ("id", "en"):
        return message.resident.language
    return "id"


def _sender_unit(phone: str) -> Unit | None:
    """The unit of the latest case of a resident with this phone: whose number their help names."""
    return db.session.scalar(
        select(Unit).join(Case, Case.unit_id == Unit.id).join(Resident, Resident.id == Case.resident_id)
        .where(Resident.phone == phone).order_by(Case.opened_at.desc(), Case.id.desc()).limit(1))


