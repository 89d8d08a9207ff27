"""Reminders and escalation (DESIGN.md): digests to agency contacts, then the ladder.

A referral nobody answered (still *sent*) is reminded after the first N working days,
then every M working days, at most K times (the service's schedule, or the agency's
override). Each agency contact gets ONE numbered digest per sweep, oldest first; the
numbering is frozen in ReminderDigest rows, so "SELESAI 2" means what that digest
listed second. Reminders spent or the due date passed, the agency's head is told; a
rung later, the case unit's supervisor. A PROSES answer (``in_process_at``) pauses
the ladder, as does an accepted referral still within its due date.

Domain code: it flushes, never commits (the task does).
"""

from __future__ import annotations

import logging
import time as time_module
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from slrt import clock, gsm, notices, outbox, quiet_hours, runs, staff, workdays, workflow
from slrt.access import REFERRAL_ROLES, SYSTEM_ACTOR, Actor, check_referral_scope, role_of
from slrt.codes import format_code
from slrt.errors import IllegalTransition, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    Referral,
    ReminderDigest,
    ReminderDigestItem,
    Service,
    SmsMessage,
    Staff,
)
from slrt.models.enums import EscalationRung, EventKind, ReferralStatus, Role, SmsAudience

log = logging.getLogger(__name__)
#: The sweep's name among the runs the operator's metrics count (slrt.runs).
SWEEP_RUN = "reminder_sweep"

DIGEST_KEY = "agency_reminder_digest"
#: A digest may take this many SMS segments; referrals that do not fit are counted, not listed.
DIGEST_SEGMENTS = 2
#: Referrals updated per statement when a sweep marks them reminded.
_CHUNK = 500


@dataclass(frozen=True)
class SweepResult:
    digests: int = 0
    referrals: int = 0
    escalations: int = 0


# ---- the schedule -------------------------------------------------------------------------------

def schedule(referral: Referral) -> tuple[int, int, int]:
    """(first, every, max) in working days: the agency's override, else the service's."""
    agency, service = referral.agency, referral.service
    return (
        _pick(agency.reminder_first_days, service.reminder_first_days),
        _pick(agency.reminder_every_days, service.reminder_every_days),
        _pick(agency.reminder_max, service.reminder_max),
    )


def _pick(override: int | None, default: int) -> int:
    return default if override is None else override


def _since(referral_sent_at: datetime, reopened_at: datetime | None) -> date:
    """The local day the referral (last) went to the agency: reopening starts the count again."""
    return clock.to_local(max(referral_sent_at, reopened_at) if reopened_at else referral_sent_at).date()


def _is_due(*, since: date, reminders_sent: int, last_reminded_at: datetime | None,
            first: int, every: int, most: int, today: date, days=None) -> bool:
    if reminders_sent >= most:
        return False
    if last_reminded_at is not None and clock.to_local(last_reminded_at).date() >= today:
        return False
    waited = (days or workdays.working_days_between)(since, today)
    return waited >= first + reminders_sent * every


def due_for_reminder(referral: Referral, today: date | None = None) -> bool:
    """Whether a digest should list ``referral`` today: sent, nobody answered, its time come."""
    if referral.status != ReferralStatus.SENT:
        return False
    first, every, most = schedule(referral)
    return _is_due(since=_since(referral.sent_at, referral.reopened_at), reminders_sent=referral.reminders_sent,
                   last_reminded_at=referral.last_reminded_at, first=first, every=every, most=most,
                   today=today or clock.today())


def days_waiting(referral: Referral, today: date | None = None) -> int:
    return workdays.working_days_between(_since(referral.sent_at, referral.reopened_at), today or clock.today())


# ---- the digest text ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Item:
    referral_id: int
    code: str
    service: str
    days: int


def compose_digest(items: list[_Item]) -> tuple[str, int]:
    """The digest's ``body`` and how many of ``items`` it lists (the rest: "dan N lainnya").

    As many as fit in DIGEST_SEGMENTS segments once the (possibly edited) template is filled.
    """
    template = notices.template_body(DIGEST_KEY, "id")
    office = current_app.config["SLRT_SMS_SENDER_NAME"]
    fields = notices.template_fields(template)

    def body(listed: int) -> str:
        parts = [f"{len(items)} rujukan menunggu:"]
        parts += [f"{n}) {item.code} {gsm.normalize(item.service)} {item.days}hr"
                  for n, item in enumerate(items[:listed], start=1)]
        rest = len(items) - listed
        if rest:
            parts.append(f"dan {rest} lainnya.")
        parts.append(f"Balas SELESAI {min(2, listed)} atau SELESAI <kode>")
        return " ".join(parts)

    def fits(listed: int) -> bool:
        values = {name: "" for name in fields}
        values.update(office=office, body=body(listed))
        return gsm.segments(gsm.normalize(template.format(**values)))[1] <= DIGEST_SEGMENTS

    listed = 1
    while listed < len(items) and fits(listed + 1):
        listed += 1
    return body(listed), listed


def _write_digest(contact: AgencyContact, items: list[_Item], dedupe_key: str) -> ReminderDigest | None:
    """Queue one digest SMS to ``contact`` and freeze its numbering; None if that SMS exists already."""
    if db.session.scalar(select(SmsMessage.id).where(SmsMessage.dedupe_key == dedupe_key)) is not None:
        return None
    text, listed = compose_digest(items)
    message = outbox.queue(
        audience=SmsAudience.AGENCY,
        phone=contact.phone,
        key=DIGEST_KEY,
        language="id",
        context={"office": current_app.config["SLRT_SMS_SENDER_NAME"], "body": text},
        dedupe_key=dedupe_key,
        contact=contact,
    )
    digest = ReminderDigest(contact=contact, message=message, created_at=clock.now())
    digest.items = [ReminderDigestItem(position=n, referral_id=item.referral_id)
                    for n, item in enumerate(items[:listed], start=1)]
    db.session.add(digest)
    return digest


def _reminder_contacts(agency_ids) -> dict[int, list[AgencyContact]]:
    contacts: dict[int, list[AgencyContact]] = {}
    if not agency_ids:
        return contacts
    for contact in db.session.scalars(
        select(AgencyContact)
        .where(AgencyContact.agency_id.in_(list(agency_ids)), AgencyContact.is_active,
               AgencyContact.receives_reminders)
        .order_by(AgencyContact.id)
    ):
        contacts.setdefault(contact.agency_id, []).append(contact)
    return contacts


def digest_referral(contact: AgencyContact, position: int) -> Referral | None:
    """The referral at ``position`` in the last digest ``contact`` received, if any."""
    last = db.session.scalar(
        select(ReminderDigest.id).where(ReminderDigest.contact_id == contact.id)
        .order_by(ReminderDigest.id.desc()).limit(1)
    )
    if last is None:
        return None
    return db.session.scalar(
        select(Referral).join(ReminderDigestItem, ReminderDigestItem.referral_id == Referral.id)
        .where(ReminderDigestItem.digest_id == last, ReminderDigestItem.position == position)
    )


# ---- the sweep ----------------------------------------------------------------------------------

def run_sweep(now: datetime | None = None) -> SweepResult:
    """Send today's digests and climb the escalation ladder; only in office hours."""
    now = now or clock.now()
    started = time_module.perf_counter()
    if quiet_hours.next_window(SmsAudience.AGENCY, now) is not None:
        # Counted all the same: the operator's "last run" must not look stale every night and weekend.
        runs.record(SWEEP_RUN, seconds=time_module.perf_counter() - started, items=0)
        return SweepResult()
    today = clock.to_local(now).date()
    counter = _DayCounter(today)
    digests, reminded = _send_digests(now, today, counter)
    escalations = _escalate(now, today, counter)
    runs.record(SWEEP_RUN, seconds=time_module.perf_counter() - started, items=reminded + escalations)
    log.info("reminder sweep", extra={"digests": digests, "referrals": reminded, "escalations": escalations})
    return SweepResult(digests=digests, referrals=reminded, escalations=escalations)


class _DayCounter:
    """working_days_between(day, today), remembered per day: a sweep asks it for many referrals."""

    def __init__(self, today: date) -> None:
        self.today = today
        self._seen: dict[date, int] = {}

    def __call__(self, day: date, today: date | None = None) -> int:
        if today is not None and today != self.today:
            return workdays.working_days_between(day, today)
        if day not in self._seen:
            self._seen[day] = workdays.working_days_between(day, self.today)
        return self._seen[day]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), clock.local_zone()).astimezone(UTC)


def _latest_day_with(working_days: int, today: date) -> date:
    """The latest day D with working_days_between(D, today) >= working_days."""
    day, counted = today, 0
    while counted < working_days:
        if workdays.is_working_day(day):
            counted += 1
        day -= timedelta(days=1)
    return day


def _send_digests(now: datetime, today: date, counter: _DayCounter) -> tuple[int, int]:
    first = func.coalesce(Agency.reminder_first_days, Service.reminder_first_days)
    every = func.coalesce(Agency.reminder_every_days, Service.reminder_every_days)
    most = func.coalesce(Agency.reminder_max, Service.reminder_max)
    # Nothing sent later than the shortest first wait can be due: the sent_at index narrows it.
    shortest = _shortest_first()
    cutoff = _local_midnight(_latest_day_with(shortest, today) + timedelta(days=1))
    rows = db.session.execute(
        select(Referral.id, Referral.code, Referral.agency_id, Referral.sent_at, Referral.reopened_at,
               Referral.reminders_sent, Referral.last_reminded_at, Service.short_name, first, every, most)
        .join(Service, Referral.service_id == Service.id)
        .join(Agency, Referral.agency_id == Agency.id)
        .where(Referral.status == ReferralStatus.SENT, Referral.sent_at < cutoff,
               Referral.reminders_sent < most,
               or_(Referral.last_reminded_at.is_(None), Referral.last_reminded_at < _local_midnight(today)))
    ).all()
    due: dict[int, list[tuple[date, _Item]]] = {}
    for (rid, code, agency_id, sent_at, reopened_at, sent_count, last_at, service, r_first, r_every,
         r_most) in rows:
        since = _since(sent_at, reopened_at)
        if _is_due(since=since, reminders_sent=sent_count, last_reminded_at=last_at, first=r_first,
                   every=r_every, most=r_most, today=today, days=counter):
            due.setdefault(agency_id, []).append((since, _Item(rid, format_code(code), service, counter(since))))
    contacts = _reminder_contacts(due.keys())
    digests, reminded = 0, []
    for agency_id, entries in due.items():
        entries.sort(key=lambda e: (e[0], e[1].referral_id))  # oldest first
        items = [item for _, item in entries]
        wrote = False
        for contact in contacts.get(agency_id, []):
            if _write_digest(contact, items, f"digest:c{contact.id}:{today.isoformat()}") is not None:
                digests += 1
                wrote = True
        if wrote:  # once per referral, however many contacts were told
            reminded.extend(item.referral_id for item in items)
    _mark_reminded(reminded, now)
    return digests, len(reminded)


def _shortest_first() -> int:
    values = [db.session.scalar(select(func.min(Service.reminder_first_days))),
              db.session.scalar(select(func.min(Agency.reminder_first_days)))]
    return max(min((v for v in values if v is not None), default=0), 0)


def _mark_reminded(referral_ids: list[int], now: datetime) -> None:
    for start in range(0, len(referral_ids), _CHUNK):
        chunk = referral_ids[start:start + _CHUNK]
        db.session.execute(
            update(Referral)
            .where(Referral.id.in_(chunk), Referral.status == ReferralStatus.SENT)
            .values(reminders_sent=Referral.reminders_sent + 1, last_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
    if referral_ids:
        wanted = set(referral_ids)
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, Referral) and obj.id in wanted:
                db.session.expire(obj, ["reminders_sent", "last_reminded_at"])


# ---- the escalation ladder ----------------------------------------------------------------------

_ACTIVE = (ReferralStatus.SENT, ReferralStatus.ACCEPTED)


def _rung_suffix(referral: Referral) -> str:
    # a reopened referral climbs the ladder afresh: its SMS must not collide with the old ones
    return f":o{referral.reopened_count}" if referral.reopened_count else ""


def needs_escalation(referral: Referral, now: datetime | None = None, days=None) -> bool:
    """First rung: unanswered and out of reminders, or past its due date; not paused by PROSES."""
    now = now or clock.now()
    if referral.status not in _ACTIVE or referral.escalation_rung != EscalationRung.NONE \
            or referral.in_process_at is not None:
        return False
    if now > referral.due_at:
        return True
    if referral.status != ReferralStatus.SENT:
        return False  # TERIMA within the due date: acknowledged
    _first, every, most = schedule(referral)
    if referral.reminders_sent < most:
        return False
    # the last reminder gets its own interval to be answered before the head hears of it
    last = referral.last_reminded_at
    today = clock.to_local(now).date()
    return last is None or (days or workdays.working_days_between)(clock.to_local(last).date(), today) >= every


#: What an escalation notice reads of each referral (its agency's contacts, its case, resident and
#: unit), loaded with the referrals rather than one query per referral.
_ESCALATION_LOADS = (
    selectinload(Referral.agency).selectinload(Agency.contacts),
    joinedload(Referral.service),
    joinedload(Referral.case).joinedload(Case.resident),
    joinedload(Referral.case).joinedload(Case.unit),
)


def _escalate(now: datetime, today: date, counter: _DayCounter) -> int:
    most = func.coalesce(Agency.reminder_max, Service.reminder_max)
    first_rung = db.session.scalars(
        select(Referral)
        .join(Service, Referral.service_id == Service.id)
        .join(Agency, Referral.agency_id == Agency.id)
        .where(Referral.status.in_(_ACTIVE), Referral.escalation_rung == EscalationRung.NONE,
               Referral.in_process_at.is_(None),
               or_(Referral.due_at < now,
                   (Referral.status == ReferralStatus.SENT) & (Referral.reminders_sent >= most)))
        .options(*_ESCALATION_LOADS)
        .order_by(Referral.id)
    ).all()
    count = 0
    for referral in first_rung:
        if needs_escalation(referral, now, days=counter):
            _to_head(referral, now)
            count += 1
    second_rung = db.session.scalars(
        select(Referral)
        .where(Referral.status.in_(_ACTIVE), Referral.escalation_rung == EscalationRung.AGENCY_HEAD,
               Referral.escalated_at < _local_midnight(today), Referral.in_process_at.is_(None))
        .options(*_ESCALATION_LOADS)
        .order_by(Referral.id)
    ).all()
    for referral in second_rung:
        _first, every, _most = schedule(referral)
        if counter(clock.to_local(referral.escalated_at).date()) >= every:
            _to_supervisor(referral, now)
            count += 1
    return count


def _context(referral: Referral) -> dict[str, object]:
    return {
        **outbox.common_context(referral.case),
        "code": format_code(referral.code),
        "service": referral.service.short_name,
        "agency": referral.agency.short_name,
        "due": notices.short_date(referral.due_at, "id"),
    }


def _to_head(referral: Referral, now: datetime) -> None:
    """First rung: the agency's head contact(s)."""
    heads = [c for c in referral.agency.contacts if c.is_head and c.is_active]
    referral.escalated_at, referral.escalation_rung = now, EscalationRung.AGENCY_HEAD
    names = ", ".join(c.name for c in heads) or "tidak ada kontak pimpinan aktif"
    workflow.record(referral, "escalate", SYSTEM_ACTOR, kind=EventKind.NOTE, at=now,
                    note=f"Eskalasi ke pimpinan lembaga: {names}")
    for contact in heads:
        suffix = "" if len(heads) == 1 else f":c{contact.id}"
        outbox.queue(
            audience=SmsAudience.AGENCY,
            phone=contact.phone,
            key="agency_escalation",
            language="id",
            context=_context(referral),
            dedupe_key=f"escalate:r{referral.id}{_rung_suffix(referral)}:head{suffix}",
            case=referral.case,
            referral=referral,
            contact=contact,
            expected_status=referral.status.value,
        )


def supervisors_for(referral: Referral) -> list[Staff]:
    """The supervisors of the nearest unit above (or at) the case's unit that has any with a phone."""
    return staff.nearest_with_phone(referral.case.unit, Role.SUPERVISOR)


def _to_supervisor(referral: Referral, now: datetime) -> None:
    """Second rung: the case unit's supervisor(s)."""
    supervisors = supervisors_for(referral)
    names = ", ".join(s.full_name for s in supervisors) or "tidak ada supervisor dengan nomor HP"
    referral.escalation_rung = EscalationRung.SUPERVISOR
    workflow.record(referral, "escalate", SYSTEM_ACTOR, kind=EventKind.NOTE, at=now,
                    note=f"Eskalasi ke supervisor: {names}")
    for person in supervisors:
        suffix = "" if len(supervisors) == 1 else f":s{person.id}"
        message = outbox.queue(
            audience=SmsAudience.STAFF,
            phone=person.phone,
            key="staff_escalation",
            language=person.language or "id",
            context=_context(referral),
            dedupe_key=f"escalate:r{referral.id}{_rung_suffix(referral)}:supervisor{suffix}",
            case=referral.case,
            referral=referral,
            expected_status=referral.status.value,
        )
        message.staff_id = person.id


# ---- from the screens ---------------------------------------------------------------------------

def reminded_on(referral: Referral, day: date) -> bool:
    """Whether the agency was reminded of ``referral`` (by the sweep or by staff) on local ``day``."""
    return referral.last_reminded_at is not None and clock.to_local(referral.last_reminded_at).date() == day


def _already_reminded(referral: Referral) -> IllegalTransition:
    return IllegalTransition(_l("The agency was already reminded of this referral today at %(time)s; "
                                "the next reminder can go tomorrow.",
                                time=clock.to_local(referral.last_reminded_at).strftime("%H:%M")))


def send_reminder_now(referral: Referral, actor: Actor) -> list[ReminderDigest]:
    """Staff send the agency's contacts a digest of just this referral, now (office hours permitting).

    At most once per referral per office day (the local date): a second click, a second clerk,
    or the day's sweep having listed it already, is refused. The outbox key carries the day too,
    so two requests racing past the check still queue one SMS per contact.
    """
    if role_of(actor) not in REFERRAL_ROLES:
        raise PermissionDenied(_l("Your role may not %(action)s this.", action=workflow.ACTION_LABELS["remind"]))
    check_referral_scope(actor, referral)
    if not referral.is_active:
        raise IllegalTransition(_l("Cannot %(action)s: it is %(status)s.", action=workflow.ACTION_LABELS["remind"],
                                   status=workflow.status_label(referral.status)))
    contacts = _reminder_contacts([referral.agency_id]).get(referral.agency_id, [])
    if not contacts:
        raise ValidationError(_l("The agency has no active contact that takes SMS reminders."))
    with db.session.begin_nested():
        workflow.lock(referral)
        now = clock.now()
        today = clock.to_local(now).date()
        if reminded_on(referral, today):
            raise _already_reminded(referral)
        workflow.record(referral, "remind", actor, kind=EventKind.NOTE, at=now,
                        note=f"Pengingat dikirim ke {', '.join(c.name for c in contacts)}")
        item = _Item(referral.id, format_code(referral.code), referral.service.short_name,
                     days_waiting(referral, today))
        day_key = f"r{referral.id}{_rung_suffix(referral)}:{today.isoformat()}"
        digests = [d for d in (_write_digest(c, [item], f"digest:c{c.id}:{day_key}") for c in contacts) if d]
        if not digests:  # each contact has today's reminder of it already
            raise IllegalTransition(_l("The agency was already reminded of this referral today; "
                                       "the next reminder can go tomorrow."))
        referral.reminders_sent += 1
        referral.last_reminded_at = now
        db.session.flush()
    return digests
