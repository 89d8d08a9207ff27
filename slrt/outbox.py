"""The SMS outbox: messages are written in the caller's transaction, sent after commit.

Domain functions call :func:`queue` while they record a change; the row is flushed with
that change or rolled back with it, so a failed transition leaves no SMS behind and a
committed one never loses its SMS. Sending is the workers' job (tasks/).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import TTLCache, cached
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, func, literal, null, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from slrt import clock, dtsen, followups, gsm, notices, quiet_hours, residents
from slrt.access import Actor, check_active, check_keeps_settings, role_of
from slrt.codes import format_code
from slrt.errors import PermissionDenied
from slrt.extensions import db
from slrt.models import (
    AgencyContact,
    Case,
    Event,
    Referral,
    Resident,
    SmsAttempt,
    SmsMessage,
    SmsPause,
    SmsTemplate,
    Staff,
    Unit,
)
from slrt.models.enums import FollowUpReason, PhoneOwner, Role, SmsAudience, SmsDirection, SmsStatus, UnitKind
from slrt.ports import GatewayError, SmsGateway

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Give ``app`` its sending-pause reader, and track queued messages per transaction.

    The session hooks are attached once per process to SQLAlchemy's Session class, so
    every session sees them (Flask-SQLAlchemy's and the tests' own); they keep their
    state in ``session.info``, nothing across apps.
    """
    app.extensions["slrt_sending_paused"] = pause_reader()
    for name, hook in (("after_flush", _note_queued_ids), ("after_commit", _release_savepoint),
                       ("after_transaction_end", _forget_ended)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


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
    log.debug("sms queued", extra={"template": key, "case_id": getattr(case, "id", None)})
    return message


#: session.info keys: messages queued but not flushed yet; then, once flushed, their ids per
#: transaction (the innermost SAVEPOINT or the root transaction that inserted them).
_QUEUED, _QUEUED_IDS = "slrt_outbox_queued", "slrt_outbox_queued_ids"


# SQLAlchemy fires ``after_commit`` when a SAVEPOINT is released as well as at the real
# commit, and ``after_rollback`` for a SAVEPOINT's rollback too. So queued ids are kept per
# transaction: released with a savepoint they move to the enclosing transaction, rolled
# back with it they are gone, and only the outermost commit hands them to the dispatcher.


def _innermost(session: Session):
    """The transaction an INSERT lands in now: the newest SAVEPOINT, else the root (not a flush's)."""
    return session.get_nested_transaction() or session.get_transaction()


def _note_queued_ids(session, _context) -> None:
    queued = session.info.pop(_QUEUED, [])
    ids = {m.id for m in queued if m.id is not None}
    if ids:
        session.info.setdefault(_QUEUED_IDS, {}).setdefault(_innermost(session), set()).update(ids)


def _release_savepoint(session) -> None:
    """A SAVEPOINT was released: what it queued now stands or falls with the enclosing transaction."""
    savepoint = session.get_nested_transaction()
    pending = session.info.get(_QUEUED_IDS)
    if savepoint is None or not pending or savepoint not in pending:
        return
    enclosing = savepoint.parent
    while enclosing is not None and not enclosing.nested and enclosing.parent is not None:
        enclosing = enclosing.parent  # skip a flush's subtransaction
    if enclosing is not None:
        pending.setdefault(enclosing, set()).update(pending.pop(savepoint))


def _forget_ended(session, transaction) -> None:
    """A transaction is over: a rolled-back savepoint's ids go; at the root, everything left goes."""
    pending = session.info.get(_QUEUED_IDS)
    if pending:
        pending.pop(transaction, None)
    if transaction.parent is None:
        session.info.pop(_QUEUED, None)
        session.info.pop(_QUEUED_IDS, None)


def take_committed(session) -> list[int]:
    """Ids of the messages the outermost transaction, just committed, queued (each once).

    Called from ``after_commit``; a released SAVEPOINT is not a commit and gives nothing.
    """
    if session.in_nested_transaction():
        return []
    pending = session.info.pop(_QUEUED_IDS, {})
    return sorted(set().union(*pending.values())) if pending else []


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
    """The number residents call or text back about ``case`` (see :func:`help_number`)."""
    return help_number(case.unit) or ""


#: Why a reply was withheld when no number could be named (kept on the inbound row).
NO_HELP_NUMBER = "reply not sent: no number to name (SLRT_REPLY_NUMBER, or a unit's phone)"


def help_number(unit: Unit | None = None) -> str | None:
    """The number an SMS names to call or text back: SLRT_REPLY_NUMBER, else the phone of ``unit``
    or of the nearest unit above it, else a secretariat's; None when none of them has one."""
    configured = current_app.config.get("SLRT_REPLY_NUMBER")
    if configured:
        return str(configured)
    for each in unit.lineage() if unit is not None else ():
        if each.phone:
            return each.phone
    return db.session.scalar(
        select(Unit.phone).where(Unit.kind == UnitKind.SECRETARIAT, Unit.is_active,
                                 Unit.phone.is_not(None), Unit.phone != "")
        .order_by(Unit.id).limit(1))


def help_number_problem() -> str | None:
    """What an operator must fix so every SMS names a number to call, or None when nothing.

    Asked by ``flask slrt check`` and at a worker's start. A database with no unit yet
    (before the demo or the first import) has nothing to answer for.
    """
    if help_number() is not None:
        return None
    if db.session.scalar(select(Unit.id).where(Unit.is_active).limit(1)) is None:
        return None
    return ("SLRT_REPLY_NUMBER is not set and no secretariat has a phone: SMS to residents would name no "
            "number to call, and replies that need one (help, not registered) are not sent. Set "
            "SLRT_REPLY_NUMBER, or the secretariat's phone (and each Puskesos's own).")


def notify_resident(case: Case, key: str, event: Event, context: dict[str, object],
                    referral: Referral | None = None) -> SmsMessage | None:
    """Queue notice ``key`` to the case's resident, discreetly if the phone is not theirs.

    Returns None when the resident has no phone (the facilitator is the channel then), or when
    DTSEN records them as deceased (:func:`slrt.dtsen.never_texted`: nothing is ever queued to them).
    Opted-out residents still get the row (dropped at send time) so the outbox shows why.
    """
    resident = case.resident
    if not resident.phone or dtsen.never_texted(resident):
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

#: Transient failures are retried this many times in all, then the message fails.
MAX_ATTEMPTS = 6
#: Backoff after the n-th failed attempt: base (SLRT_SMS_RETRY_BASE_SECONDS) * 2**(n-1),
#: capped, with +-25 % jitter.
BACKOFF_CAP = timedelta(hours=1)


def receipt_wait() -> timedelta:
    """How long a resident notice may go without a delivery receipt (SLRT_RECEIPT_HOURS)."""
    return timedelta(hours=float(current_app.config["SLRT_RECEIPT_HOURS"]))


def claim_lease() -> timedelta:
    """A claimed message not recorded within this time is presumed lost with its worker."""
    return timedelta(seconds=float(current_app.config["SLRT_SMS_CLAIM_LEASE_SECONDS"]))


def claim_many(message_ids: list[int]) -> list[SmsMessage]:
    """Atomically take those of these messages that are due and pending, each for this worker.

    A conditional UPDATE (and the rows back in the same statement, RETURNING): of two
    workers handed the same id, exactly one changes its row. Each row is a claim of its own,
    with its own lease and attempt count; a batch only shares the round trip.
    """
    now = clock.now()
    claimed = db.session.scalars(
        update(SmsMessage)
        .where(
            SmsMessage.id.in_(message_ids),
            SmsMessage.status == SmsStatus.PENDING,
            or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
        )
        .values(status=SmsStatus.SENDING, attempts=SmsMessage.attempts + 1, next_attempt_at=now + claim_lease())
        .returning(SmsMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(claimed, key=lambda m: m.id)


@dataclass(frozen=True)
class HoldFacts:
    """What the send-time checks read for a batch: two queries, however many messages."""

    opted_out: frozenset[int]
    referral_status: dict[int, str]
    #: Residents DTSEN records as deceased since their message was queued (slrt.dtsen.never_texted).
    deceased: frozenset[int] = frozenset()


def hold_facts(messages: list[SmsMessage]) -> HoldFacts:
    resident_ids = {m.resident_id for m in messages if m.audience == SmsAudience.RESIDENT and m.resident_id}
    referral_ids = {m.referral_id for m in messages if m.expected_status and m.referral_id}
    barred = db.session.execute(select(Resident.id, Resident.is_sms_opted_out).where(
        Resident.id.in_(resident_ids), or_(Resident.is_sms_opted_out, dtsen.NEVER_TEXTED_SQL))).all() \
        if resident_ids else []
    statuses = dict(db.session.execute(select(Referral.id, Referral.status).where(
        Referral.id.in_(referral_ids))).all()) if referral_ids else {}
    return HoldFacts(frozenset(rid for rid, opted_out in barred if opted_out),
                     {rid: status.value for rid, status in statuses.items()},
                     deceased=frozenset(rid for rid, opted_out in barred if not opted_out))


def renew_claim(message_id: int, attempt: int) -> bool:
    """Extend a claim still held by this attempt (after a long wait); False if it was lost."""
    return db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, SmsMessage.status == SmsStatus.SENDING, SmsMessage.attempts == attempt)
        .values(next_attempt_at=clock.now() + claim_lease())
        .execution_options(synchronize_session=False)
    ).rowcount == 1


@dataclass(frozen=True)
class Hold:
    """Why a claimed message must not go out now, and what becomes of it."""

    #: paused, deferred (quiet hours, office hours): back to pending; opted_out, stale: dropped for good.
    reason: str
    #: When a held message may be tried again (for a deferred one: when the hours open, as the
    #: settings say now); None for a dropped one.
    until: datetime | None = None
    #: What a dropped message's ``error_message`` says.
    detail: str | None = None


def hold_reason(message: SmsMessage, facts: HoldFacts | None = None) -> Hold | None:
    """Why a claimed message must not go out now, or None to send it; changes nothing (see :func:`hold`)."""
    if sending_paused():
        return Hold("paused", until=clock.now() + PAUSE_RECHECK)
    facts = facts or hold_facts([message])
    if message.audience == SmsAudience.RESIDENT and message.resident_id in facts.opted_out:
        return Hold("opted_out", detail="resident answered STOP")
    if message.audience == SmsAudience.RESIDENT and message.resident_id in facts.deceased:
        return Hold("deceased", detail="DTSEN records the resident as deceased")
    now_status = facts.referral_status.get(message.referral_id) if message.expected_status else None
    if now_status is not None and now_status != message.expected_status:
        return Hold("stale", detail=f"referral is {now_status} now")
    # A reply answers someone who just texted us: it goes now, night or weekend.
    is_reply = notices.is_reply(message.template_key)
    window = None if is_reply else quiet_hours.next_window(message.audience, clock.now())
    if window is not None:
        return Hold("deferred", until=window)
    return None


def hold(message: SmsMessage, held: Hold) -> None:
    """Put a claimed message back in the outbox until ``held.until``, or drop it (flushes nothing).

    A message deferred by the sending hours is due again at once as far as its own schedule
    goes: the sweep leaves it while the hours (read from the settings at each sweep, see
    :func:`due_ids`) keep its audience waiting, so changing SLRT_QUIET_FROM/TO or
    SLRT_OFFICE_HOURS applies to the messages already held, not only to new ones.
    """
    if held.until is not None:
        message.status = SmsStatus.PENDING
        message.next_attempt_at = clock.now() if held.reason == "deferred" else held.until
        message.attempts -= 1  # waiting (for the morning, for the account) is not an attempt
        return
    message.status = SmsStatus.DROPPED
    message.error_code = held.reason
    message.error_message = held.detail
    message.next_attempt_at = None


# ---- why a message waits: what the screens say of the sending hours --------------------------------

#: Outbound messages not yet with a provider: the sending hours may still hold them.
_WAITING = (SmsStatus.PENDING, SmsStatus.SENDING)


def held_until(message: SmsMessage, now: datetime | None = None) -> datetime | None:
    """When the sending hours let this waiting message go (UTC), as the settings say now; None
    when they do not hold it (it may go now, it is no longer waiting, or it is a reply)."""
    if message.direction != SmsDirection.OUTBOUND or message.status not in _WAITING \
            or notices.is_reply(message.template_key):
        return None
    if message.audience == SmsAudience.RESIDENT and message.resident is not None \
            and (message.resident.is_sms_opted_out or dtsen.never_texted(message.resident)):
        return None  # it will not go at all (dropped when its turn comes)
    return quiet_hours.next_window(message.audience, now or clock.now())


def waiting_reason(message: SmsMessage, now: datetime | None = None) -> str | None:
    """Why a message has not gone yet, for the outbox and the timeline: "menunggu jam kirim besok 07:00"."""
    now = now or clock.now()
    until = held_until(message, now)
    if until is None:
        return None
    return str(_l("waiting for sending hours: %(when)s", when=quiet_hours.say_when(until, now)))


def send_time_notice(messages: Collection[SmsMessage], now: datetime | None = None) -> str | None:
    """What to tell staff whose action just wrote ``messages`` when the hours hold them back:
    "SMS terkirim besok pukul 07:00 (menunggu jam kirim)." None when they go now."""
    now = now or clock.now()
    held = sorted((until, m.audience) for m in messages if (until := held_until(m, now)) is not None)
    if not held:
        return None
    until, audience = held[0]
    when = quiet_hours.say_when(until, now, spoken=True)
    if audience == SmsAudience.AGENCY:
        return str(_l("The SMS to the agency goes out %(when)s (outside office hours).", when=when))
    return str(_l("The SMS goes out %(when)s (waiting for sending hours).", when=when))


def waiting_messages(case: Case) -> list[SmsMessage]:
    """The case's outbound messages not yet with a provider, oldest first."""
    return list(db.session.scalars(
        select(SmsMessage).where(SmsMessage.case_id == case.id, SmsMessage.direction == SmsDirection.OUTBOUND,
                                 SmsMessage.status.in_(_WAITING)).order_by(SmsMessage.id)))


def record_sent(message_id: int, gateway: str, provider_id: str, *, receipts: bool = False) -> None:
    """The provider accepted the message. ``receipts``: the gateway reports delivery later.

    A status callback may have come first (the provider is fast, or this worker slow):
    what it recorded stands, only the provider id is filled in.
    """
    now = clock.now()
    table = SmsMessage.__table__
    receipt_due = None
    if receipts:  # only resident notices wait for a receipt (typed: PostgreSQL needs it)
        deadline = literal(now + receipt_wait(), type_=table.c.receipt_due_at.type)
        receipt_due = sql_case((table.c.audience == SmsAudience.RESIDENT, deadline), else_=null())
    # One Core statement, no load: this runs once per SMS on the busiest path. Ours while
    # claimed, or pending with no provider id (our lease ran out); not when a callback got
    # there first (sent, delivered, or pending again for a retry after "undelivered").
    done = db.session.execute(
        update(table)
        .where(table.c.id == message_id,
               or_(table.c.status == SmsStatus.SENDING,
                   and_(table.c.status == SmsStatus.PENDING, table.c.provider_id.is_(None))))
        .values(status=SmsStatus.SENT, gateway=gateway, provider_id=provider_id, sent_at=now,
                next_attempt_at=None, error_code=None, error_message=None, receipt_due_at=receipt_due)
    ).rowcount
    if not done:
        db.session.execute(
            update(table).where(table.c.id == message_id, table.c.provider_id.is_(None))
            .values(provider_id=provider_id, gateway=gateway))


def record_failure(message_id: int, gateway: str, error: GatewayError) -> None:
    """Retry a transient failure later (time kept in the row), or fail the message for good."""
    # Locked: a status callback for this very attempt may be recording "sent" right now.
    message = db.session.get(SmsMessage, message_id, with_for_update=True, populate_existing=True)
    message.gateway = gateway
    if message.status != SmsStatus.SENDING:
        return  # a status callback reported it meanwhile: the provider has it
    _fail(message, error)


def _fail(message: SmsMessage, error: GatewayError) -> None:
    message.error_code = str(error.code)[:16]
    message.error_message = (error.message or "")[:255]
    message.failed_attempts.append(SmsAttempt(
        attempt=message.attempts, gateway=message.gateway, provider_id=message.provider_id,
        error_code=message.error_code, error_message=message.error_message, at=clock.now()))
    limit = min(MAX_ATTEMPTS, error.max_attempts or MAX_ATTEMPTS)
    # An error whose outcome is unknown (a timeout after the request went out) may hide a
    # message the provider took: not final while attempts remain, for the next one looks it up
    # at the provider before sending again (slrt.sending), even if the code alone is permanent.
    if (error.transient or error.outcome_unknown) and message.attempts < limit:
        message.status = SmsStatus.PENDING
        message.next_attempt_at = clock.now() + retry_delay(message.attempts, error.retry_after)
    else:
        message.status = SmsStatus.FAILED
        message.next_attempt_at = None
        message.receipt_due_at = None
    _apply_effect(message, error)
    if message.status == SmsStatus.FAILED and message.audience == SmsAudience.RESIDENT:
        followups.open_for(message, FollowUpReason.SMS_FAILED, str(error))


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with jitter; a provider's Retry-After is respected as a minimum."""
    base = timedelta(seconds=float(current_app.config["SLRT_SMS_RETRY_BASE_SECONDS"]))
    delay = min(base * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    delay = delay * random.uniform(0.75, 1.25)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def due_ids(limit: int = 500) -> list[int]:
    """Pending messages whose time has come, and claimed ones whose worker vanished (lease over).

    Not those the sending hours hold now (quiet hours for residents and staff, office hours
    for agencies), read from the current settings: switched off or shortened, the held
    messages are due at the next sweep.
    """
    now = clock.now()
    if active_pause() is not None:
        return []  # nothing goes out until a manager resumes sending
    expired = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.status == SmsStatus.SENDING, SmsMessage.next_attempt_at < now)
        .values(status=SmsStatus.PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if expired.rowcount:
        log.warning("sms claims expired, back to pending", extra={"count": expired.rowcount})
    due = select(SmsMessage.id).where(
        SmsMessage.status == SmsStatus.PENDING, SmsMessage.direction == SmsDirection.OUTBOUND,
        or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now), *_within_hours(now))
    return list(db.session.scalars(due.order_by(SmsMessage.next_attempt_at).limit(limit)))


@dataclass(frozen=True)
class Backlog:
    """What waits in the outbox: outbound messages not yet sent, and the oldest one already due."""

    waiting: int
    #: When the longest-waiting due message (its time come, its sending hours open) became due.
    oldest_due_at: datetime | None


def backlog() -> Backlog:
    """Count the outbound messages waiting, and find since when the oldest due one has waited.

    A message is due from its retry time, else from its creation; those the sending hours hold now
    (quiet hours, office hours) are waiting but not due.
    """
    now = clock.now()
    outbound = (SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.status.in_(_WAITING))
    waiting = db.session.scalar(select(func.count()).select_from(SmsMessage).where(*outbound))
    since = func.coalesce(SmsMessage.next_attempt_at, SmsMessage.created_at)
    oldest = db.session.scalar(select(func.min(since)).where(
        *outbound, or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
        *_within_hours(now)))
    return Backlog(waiting=waiting or 0, oldest_due_at=clock.as_utc(oldest) if oldest else None)


def _within_hours(now: datetime) -> list:
    """SQL conditions for messages the sending hours let go at ``now``, as the settings say now
    (none when every audience may be sent to); a reply answers someone who just wrote."""
    closed = quiet_hours.closed_audiences(now)
    if not closed:
        return []
    return [or_(SmsMessage.audience.not_in(closed),
                SmsMessage.template_key.startswith(notices.REPLY_PREFIX, autoescape=True))]


# ---- what the provider tells us later: delivery receipts, failures, account trouble ----------

#: How far along a message is; a status callback never moves a message backwards.
_RANK = {SmsStatus.PENDING: 0, SmsStatus.SENDING: 0, SmsStatus.SENT: 1,
         SmsStatus.DELIVERED: 2, SmsStatus.UNDELIVERED: 2, SmsStatus.FAILED: 2}
#: What a gateway may report about a message it took (sms/ maps its provider's words to these).
_REPORTABLE = frozenset({SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED})
#: While the provider has suspended the account, claimed messages wait this long and look again.
PAUSE_RECHECK = timedelta(minutes=5)


def record_status(message_id: int, reported: SmsStatus | str, *, provider_id: str,
                  error: GatewayError | None = None) -> SmsMessage | None:
    """Apply one status report (a callback, a webhook, a lookup); repeated and late ones change nothing.

    Reconciles a message whose worker died after the provider took it (the callback
    URL carries our id). A failed delivery with a retryable code (30003 unreachable
    handset) is sent again later; a permanent one fails and opens a follow-up.
    """
    status = SmsStatus(reported) if reported in _REPORTABLE else None
    message = db.session.get(SmsMessage, message_id, with_for_update=True, populate_existing=True)
    if status is None or message is None or message.direction != SmsDirection.OUTBOUND:
        return None
    if message.provider_id and message.provider_id != provider_id:
        return message  # about an earlier attempt, already settled
    if message.status in (SmsStatus.PENDING, SmsStatus.SENDING) and message.provider_id == provider_id:
        return message  # this attempt failed and a retry is scheduled: late news changes nothing
    if message.status == SmsStatus.DROPPED or _RANK[status] <= _RANK[message.status] and \
            message.status not in (SmsStatus.PENDING, SmsStatus.SENDING):
        return message  # duplicate or out of order: a late "sent" never undoes "delivered"
    now = clock.now()
    message.provider_id = provider_id
    message.sent_at = message.sent_at or now
    if status == SmsStatus.SENT:
        message.status, message.next_attempt_at = SmsStatus.SENT, None
        message.error_code = message.error_message = None  # an earlier attempt's, kept in failed_attempts
        if message.audience == SmsAudience.RESIDENT and message.receipt_due_at is None:
            message.receipt_due_at = now + receipt_wait()
    elif status == SmsStatus.DELIVERED:
        message.status, message.next_attempt_at = SmsStatus.DELIVERED, None
        message.delivered_at, message.receipt_due_at = now, None
        message.error_code = message.error_message = None
    else:
        failure = error or GatewayError(code=status.value, message="no error code given")
        _fail(message, failure)
        if message.status == SmsStatus.FAILED:
            message.status = status  # keep the provider's word: undelivered or failed
    return message


def _apply_effect(message: SmsMessage, error: GatewayError) -> None:
    if error.effect == "opt_out":
        if message.resident is not None and message.audience == SmsAudience.RESIDENT:
            residents.set_sms_opt_out(message.resident)
        elif message.contact is not None:
            message.contact.receives_reminders = False
    elif error.effect == "pause":
        pause_sending(message.gateway or "?", str(error.code), error.message)
    elif error.effect == "flag_template" and message.template_key:
        flag_template(message.template_key, _language_of(message))


def _language_of(message: SmsMessage) -> str:
    if message.audience == SmsAudience.RESIDENT and message.resident is not None:
        return message.resident.language if message.resident.language in ("id", "en") else "id"
    return "id"


def flag_template(key: str, language: str) -> SmsTemplate:
    """The provider filtered a message as spam: mark its template for a manager's review."""
    template = db.session.scalar(select(SmsTemplate).where(SmsTemplate.key == key,
                                                           SmsTemplate.language == language))
    if template is None:
        template = SmsTemplate(key=key, language=language, body=notices.template_body(key, language))
        db.session.add(template)
    if not template.is_flagged:
        template.is_flagged = True
        log.warning("sms template flagged as spam by the provider", extra={"template": key})
    return template


def active_pause() -> SmsPause | None:
    return db.session.scalar(select(SmsPause).where(SmsPause.resumed_at.is_(None)).limit(1))


#: Workers re-read the pause at most this often (it is checked before every send).
PAUSE_CACHE_SECONDS = 2.0


def pause_reader(timer: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """Whether sending is paused, read at most every PAUSE_CACHE_SECONDS of ``timer`` (one per app)."""
    return cached(TTLCache(maxsize=1, ttl=PAUSE_CACHE_SECONDS, timer=timer),
                  lock=threading.Lock())(lambda: active_pause() is not None)


def sending_paused() -> bool:
    """Is sending paused? Read at most every couple of seconds per app (the hot path)."""
    return current_app.extensions["slrt_sending_paused"]()


def _forget_pause() -> None:
    current_app.extensions["slrt_sending_paused"].cache_clear()


def pause_sending(gateway: str, code: str, reason: str | None) -> SmsPause:
    """Stop all sending: the provider suspended the account. A manager resumes it."""
    pause = active_pause()
    if pause is None:
        pause = SmsPause(gateway=gateway, code=code, reason=(reason or "")[:255] or None)
        db.session.add(pause)
        _forget_pause()
        log.error("sms sending paused: the provider suspended the account", extra={"code": code})
    return pause


def resume_sending(*, actor: Actor) -> int:
    """A manager of the whole district lifts the pause (it stops every unit's SMS); waiting messages
    go out at the next sweep. Returns how many wait."""
    check_active(actor)
    if role_of(actor) != Role.MANAGER:
        raise PermissionDenied(_l("Only a manager may resume sending."))
    check_keeps_settings(actor)
    pauses = db.session.scalars(select(SmsPause).where(SmsPause.resumed_at.is_(None))).all()
    if not pauses:
        return 0
    now = clock.now()
    for pause in pauses:  # several workers may each have opened one at the same moment
        pause.resumed_at = now
        pause.resumed_by = actor if isinstance(actor, Staff) else None
    _forget_pause()
    # What the pause held back goes now; a retry waiting out a provider's Retry-After keeps its time.
    waiting = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.status == SmsStatus.PENDING, SmsMessage.direction == SmsDirection.OUTBOUND,
               or_(SmsMessage.next_attempt_at <= now + PAUSE_RECHECK,
                   SmsMessage.error_code.in_([p.code for p in pauses])),
               *_within_hours(now))  # those the night holds still wait for the morning
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.flush()
    return waiting


def open_receipt_follow_ups(limit: int = 500, *, asked: Collection[str] = ()) -> int:
    """Resident notices accepted but never confirmed delivered in time: ask the facilitator.

    Not a resend: a missing receipt does not mean a missing SMS (handsets and networks
    drop receipts), so the message is left as sent. Messages sent through a gateway in
    ``asked`` are left to the reconciliation, which asks their provider once more first
    (:func:`record_receipt_answers`); these are the ones nobody can ask.
    """
    overdue = select(SmsMessage).where(SmsMessage.status == SmsStatus.SENT, SmsMessage.receipt_due_at < clock.now())
    if asked:
        overdue = overdue.where(or_(SmsMessage.gateway.is_(None), SmsMessage.gateway.not_in(list(asked))))
    overdue = db.session.scalars(overdue.order_by(SmsMessage.receipt_due_at).limit(limit)).all()
    for message in overdue:
        _open_no_receipt(message, "")
    return len(overdue)


def _open_no_receipt(message: SmsMessage, why: str) -> None:
    hours = receipt_wait().total_seconds() / 3600
    message.receipt_due_at = message.next_attempt_at = None
    followups.open_for(message, FollowUpReason.NO_RECEIPT, f"no delivery receipt after {hours:g} h{why}")


# ---- reconciling receipts: asking the provider what its lost callbacks would have said ------------

#: Messages one reconciliation run takes; what it leaves is taken by the next run.
RECEIPT_CHECKS_PER_RUN = 200
#: Seconds a run spends asking (at the gateways' pace) before it hands the rest to the next run:
#: less than the beat's interval (tasks/schedule.py), so runs do not pile up behind a slow phone.
RECEIPT_CHECK_BUDGET_SECONDS = 240.0
#: Provider statuses that settle a message (anything else: it is still on its way, or unknown).
_SETTLED = frozenset({SmsStatus.DELIVERED.value, SmsStatus.UNDELIVERED.value, SmsStatus.FAILED.value})


def receipt_check_wait() -> timedelta:
    """How long a sent message waits for its receipt before its provider is asked (SLRT_RECEIPT_CHECK_MINUTES)."""
    return timedelta(minutes=float(current_app.config["SLRT_RECEIPT_CHECK_MINUTES"]))


@dataclass(frozen=True, order=True)
class ReceiptCheck:
    """One sent message to look up at its provider (plain values: no ORM object outlives the read)."""

    id: int
    gateway: str
    provider_id: str


@dataclass(frozen=True)
class ReceiptAnswer:
    """What the provider said of one message."""

    check: ReceiptCheck
    #: Our word for the provider's status ("sent", "delivered", ...), or None if it cannot tell.
    status: str | None = None
    #: Why it failed, when the provider says undelivered or failed.
    error: GatewayError | None = None
    #: The provider could not be asked (network, 5xx): the message is asked again later.
    lookup_error: GatewayError | None = None
    #: False when the run's time was up before this message's turn (asked at the next run).
    asked: bool = True


@dataclass(frozen=True)
class ReceiptTally:
    """What a reconciliation run did: receipts recorded, follow-ups opened, messages to ask again."""

    settled: int = 0
    followed_up: int = 0
    waiting: int = 0


def take_receipt_checks(gateways: Collection[str], limit: int = RECEIPT_CHECKS_PER_RUN) -> list[ReceiptCheck]:
    """Take the sent messages whose provider is due a question: no final receipt yet, sent through a
    gateway in ``gateways`` (those that report delivery) at least SLRT_RECEIPT_CHECK_MINUTES ago.

    Asked about: resident notices until their receipt deadline and once past it (before any
    follow-up), other messages within SLRT_RECEIPT_HOURS of sending. A sent message's
    ``next_attempt_at`` is when to ask next (None: not asked yet); taking one moves it on, like
    a claim (one conditional UPDATE), so a run alongside takes other messages.
    """
    if not gateways:
        return []
    now = clock.now()
    wait = receipt_check_wait()
    due = (SmsMessage.status == SmsStatus.SENT, SmsMessage.direction == SmsDirection.OUTBOUND,
           SmsMessage.gateway.in_(list(gateways)), SmsMessage.provider_id.is_not(None),
           SmsMessage.sent_at <= now - wait,
           or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
           or_(SmsMessage.receipt_due_at.is_not(None), SmsMessage.sent_at > now - receipt_wait()))
    ids = list(db.session.scalars(select(SmsMessage.id).where(*due).order_by(SmsMessage.sent_at).limit(limit)))
    if not ids:
        return []
    taken = db.session.execute(
        update(SmsMessage).where(SmsMessage.id.in_(ids), *due)
        .values(next_attempt_at=now + wait)
        .returning(SmsMessage.id, SmsMessage.gateway, SmsMessage.provider_id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(ReceiptCheck(*row) for row in taken)


def ask_providers(checks: list[ReceiptCheck], gateways: Mapping[str, SmsGateway],
                  pace: Callable[[str], object] = lambda name: None,
                  budget: float = RECEIPT_CHECK_BUDGET_SECONDS) -> list[ReceiptAnswer]:
    """Ask each message's provider for its status, each question at its gateway's ``pace``.

    No database work: call it with no transaction open (the provider may be slow). Once
    ``budget`` seconds are spent no more are asked (the first always is): the rest are
    answered "not asked" and are taken again by the next run.
    """
    started = time.monotonic()
    answers = []
    for check in checks:
        gateway = gateways.get(check.gateway)
        if gateway is None or (answers and time.monotonic() - started > budget):
            answers.append(ReceiptAnswer(check, asked=False))
            continue
        pace(check.gateway)
        try:
            status, error = gateway.status(check.provider_id)
        except GatewayError as exc:
            log.info("receipt lookup failed", extra={"sms_id": check.id, "code": exc.code})
            answers.append(ReceiptAnswer(check, lookup_error=exc))
        else:
            answers.append(ReceiptAnswer(check, status, error))
    return answers


def record_receipt_answers(answers: list[ReceiptAnswer]) -> ReceiptTally:
    """Apply what the providers said: a final status as a receipt (:func:`record_status`: never
    backwards, a failure retried or followed up); otherwise ask again later, at growing intervals.

    Past its receipt deadline, a resident notice the provider cannot confirm either (still
    "sent", unknown, or the provider could not be asked) becomes a follow-up, once.
    """
    now = clock.now()
    settled = followed_up = waiting = 0
    for answer in answers:
        check = answer.check
        if answer.status in _SETTLED:
            record_status(check.id, answer.status, provider_id=check.provider_id, error=answer.error)
            settled += 1
            continue
        message = db.session.get(SmsMessage, check.id, with_for_update=True, populate_existing=True)
        if message is None or message.status != SmsStatus.SENT or message.provider_id != check.provider_id:
            continue  # a receipt came meanwhile
        if not answer.asked:
            message.next_attempt_at = None  # due again at once: the next run takes it
        elif message.receipt_due_at is not None and message.receipt_due_at <= now:
            said = f"could not be asked ({answer.lookup_error.code})" if answer.lookup_error else \
                f"says {answer.status!r}" if answer.status else "cannot tell"
            _open_no_receipt(message, f"; the provider {said}")
            followed_up += 1
        else:
            message.next_attempt_at = next_receipt_check(message, now, failed=answer.lookup_error is not None)
            waiting += 1
    if settled or followed_up:
        log.info("receipts reconciled", extra={"settled": settled, "followed_up": followed_up})
    return ReceiptTally(settled, followed_up, waiting)


def next_receipt_check(message: SmsMessage, now: datetime, *, failed: bool = False) -> datetime:
    """When to ask about a message still unconfirmed: after as long again as it has been on its way
    (15 min, 30 min, 1 h, 2 h, ...), soon after a failed lookup, and never later than its receipt deadline."""
    wait = receipt_check_wait()
    after = wait if failed else max(wait, now - (message.sent_at or now))
    at = now + after
    if message.receipt_due_at is not None and message.receipt_due_at > now:
        at = min(at, message.receipt_due_at)
    return at


def purge_bodies(retention_days: int | None = None, batch: int = 5000) -> int:
    """Erase message texts older than the retention period; the rows stay for the reports."""
    days = retention_days if retention_days is not None else int(current_app.config["SLRT_SMS_RETENTION_DAYS"])
    cutoff = clock.now() - timedelta(days=days)
    ids = select(SmsMessage.id).where(
        SmsMessage.created_at < cutoff, SmsMessage.body.is_not(None),
        SmsMessage.status.not_in([SmsStatus.PENDING, SmsStatus.SENDING]),
    ).limit(batch)
    purged = 0
    while True:
        chunk = list(db.session.scalars(ids))
        if not chunk:
            return purged
        db.session.execute(update(SmsMessage).where(SmsMessage.id.in_(chunk)).values(body=None)
                           .execution_options(synchronize_session=False))
        purged += len(chunk)


def find_inbound(provider_id: str) -> SmsMessage | None:
    """The inbound SMS already stored under the provider's id (the provider retried its webhook)."""
    return db.session.scalar(select(SmsMessage).where(SmsMessage.dedupe_key == f"in:{provider_id}"))


def store_inbound(*, phone: str, body: str, provider_id: str, gateway: str) -> SmsMessage:
    """Keep an SMS a resident or contact sent us (slrt.inbound.receive checks find_inbound first)."""
    contact = db.session.scalar(select(AgencyContact).where(AgencyContact.phone == phone).limit(1))
    resident = None if contact else db.session.scalar(select(Resident).where(Resident.phone == phone).limit(1))
    encoding, segments = gsm.segments(body)
    message = SmsMessage(
        direction=SmsDirection.INBOUND,
        audience=SmsAudience.AGENCY if contact else SmsAudience.RESIDENT,
        phone=phone, body=body, encoding=encoding, segments=segments, status=SmsStatus.RECEIVED,
        gateway=gateway, provider_id=provider_id, dedupe_key=f"in:{provider_id}",
        resident=resident, contact=contact, sent_at=clock.now(),
    )
    db.session.add(message)
    db.session.flush()
    return message
