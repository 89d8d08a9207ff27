"""Figures for the dashboard and the monthly report, narrowed to a set of units."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select, text

from slrt import clock
from slrt.extensions import db
from slrt.models import (
    Agency,
    Case,
    CaseNeed,
    CaseTally,
    FollowUp,
    Referral,
    ReferralTally,
    Service,
    SmsMessage,
)
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    CaseStatus,
    Domain,
    FollowUpStatus,
    SmsDirection,
    SmsStatus,
    label_of,
)
from slrt.models.reports import ACTIVE_REFERRAL_SQL


def month_starts(months: int, today: date | None = None) -> list[date]:
    """The first day of each of the last ``months`` months, oldest first, this month included."""
    today = today or clock.today()
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _in_units(query, column, unit_ids):
    return query if unit_ids is None else query.where(column.in_(unit_ids))


def _referrals_in_units(query, unit_ids):
    """Narrow a referral query to cases of ``unit_ids``; the whole district needs no join."""
    if unit_ids is None:
        return query
    return query.join(Referral.case).where(Case.unit_id.in_(unit_ids))


def _not_yet_due(unit_ids: list[int] | None):
    """Active referrals whose due date is still ahead, per agency: few rows, read from a partial index.

    The predicate is spelled as the index's (``ACTIVE_REFERRAL_SQL``), not bound, so PostgreSQL
    can prove the index usable whatever plan it caches.
    """
    query = (select(Referral.agency_id, func.count()).select_from(Referral)
             .where(text(f"referral.{ACTIVE_REFERRAL_SQL}"), Referral.due_at >= clock.now())
             .group_by(Referral.agency_id))
    if unit_ids is not None:
        # A lookup of each row's case, not a join: PostgreSQL would hash the unit's every case.
        query = query.where(select(Case.unit_id).where(Case.id == Referral.case_id).scalar_subquery().in_(unit_ids))
    return dict(db.session.execute(query).all())


def headline(unit_ids: list[int] | None) -> dict[str, int]:
    """Open cases, active, overdue and escalated referrals, residents to call or visit.

    Counts come from the tallies the triggers keep (slrt.models.reports); overdue is the active
    referrals minus those not yet due.
    """
    open_cases = db.session.scalar(_in_units(
        select(func.sum(CaseTally.cases)).where(CaseTally.status.in_((CaseStatus.OPEN, CaseStatus.IN_PROGRESS))),
        CaseTally.unit_id, unit_ids))
    active, escalated = db.session.execute(_in_units(
        select(func.sum(ReferralTally.referrals), func.sum(ReferralTally.escalated))
        .where(ReferralTally.status.in_(REFERRAL_ACTIVE)),
        ReferralTally.unit_id, unit_ids)).one()
    active = int(active or 0)
    overdue = active - sum(_not_yet_due(unit_ids).values())
    unverified = db.session.scalar(_referrals_in_units(
        select(func.count()).select_from(Referral).where(Referral.is_unverified), unit_ids))
    follow_ups = db.session.scalar(_in_units(
        select(func.count()).select_from(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN),
        FollowUp.unit_id, unit_ids))
    return {"open_cases": int(open_cases or 0), "active_referrals": active, "overdue_referrals": overdue,
            "escalated_referrals": int(escalated or 0), "unverified_referrals": unverified or 0,
            "open_follow_ups": follow_ups or 0}


def referrals_per_agency(unit_ids: list[int] | None) -> list[tuple[str, int, int]]:
    """(agency, waiting, of which overdue) for agencies with referrals waiting, most overdue first."""
    waiting = _in_units(
        select(Agency.id, Agency.name, func.sum(ReferralTally.referrals))
        .join(ReferralTally, ReferralTally.agency_id == Agency.id)
        .where(ReferralTally.status.in_(REFERRAL_ACTIVE)).group_by(Agency.id, Agency.name),
        ReferralTally.unit_id, unit_ids)
    not_yet_due = _not_yet_due(unit_ids)
    per_name: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agency_id, name, count in db.session.execute(waiting):
        if count:
            per_name[name][0] += count
            per_name[name][1] += count - not_yet_due.get(agency_id, 0)
    rows = [(name, count, overdue) for name, (count, overdue) in per_name.items() if count]
    return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))


def rebuild_summary() -> None:
    """Recount the dashboard's tallies from the case and referral rows (flushes; the caller commits)."""
    db.session.execute(delete(CaseTally))
    db.session.execute(delete(ReferralTally))
    db.session.execute(insert(CaseTally).from_select(
        ["unit_id", "status", "cases"],
        select(Case.unit_id, Case.status, func.count()).group_by(Case.unit_id, Case.status)))
    db.session.execute(insert(ReferralTally).from_select(
        ["unit_id", "agency_id", "status", "referrals", "escalated"],
        select(Case.unit_id, Referral.agency_id, Referral.status, func.count(), func.count(Referral.escalated_at))
        .join(Referral.case).group_by(Case.unit_id, Referral.agency_id, Referral.status)))
    db.session.flush()


def _month_key(moment) -> date:
    local = clock.to_local(moment)
    return date(local.year, local.month, 1)


def cases_per_domain_per_month(unit_ids: list[int] | None, months: int = 12) -> dict[date, dict[Domain, int]]:
    """Cases opened per month and domain of their first need, over the last ``months`` months."""
    starts = month_starts(months)
    since = clock.end_of_local_day(starts[0]).replace(hour=0, minute=0, second=0)
    first_need = (select(CaseNeed.case_id, func.min(CaseNeed.id).label("need_id"))
                  .group_by(CaseNeed.case_id).subquery())
    query = _in_units(
        select(Case.opened_at, Service.domain)
        .join(first_need, first_need.c.case_id == Case.id)
        .join(CaseNeed, CaseNeed.id == first_need.c.need_id).join(CaseNeed.service)
        .where(Case.opened_at >= since),
        Case.unit_id, unit_ids)
    table: dict[date, dict[Domain, int]] = {m: {d: 0 for d in Domain} for m in starts}
    for opened_at, domain in db.session.execute(query):
        key = _month_key(opened_at)
        if key in table:
            table[key][Domain(domain)] += 1
    return table


def sms_totals(unit_ids: list[int] | None) -> dict[str, int]:
    """Outbound SMS by outcome, and segments billed."""
    query = select(SmsMessage.status, func.count(), func.coalesce(func.sum(SmsMessage.segments), 0)).where(
        SmsMessage.direction == SmsDirection.OUTBOUND).group_by(SmsMessage.status)
    if unit_ids is not None:
        query = query.where(SmsMessage.case.has(Case.unit_id.in_(unit_ids)))
    totals = defaultdict(int)
    for status, count, segments in db.session.execute(query):
        totals[SmsStatus(status).value] += count
        if status in (SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.UNDELIVERED):
            totals["segments"] += segments
    totals["sent"] += totals["delivered"] + totals["undelivered"]  # every delivered one was sent
    return dict(totals)


def monthly_rows(unit_ids: list[int] | None, months: int = 12) -> Iterator[list[str]]:
    """Rows of the monthly report per domain and service: month, domain, service, referrals by outcome."""
    starts = month_starts(months)
    since = clock.end_of_local_day(starts[0]).replace(hour=0, minute=0, second=0)
    query = _in_units(
        select(Referral.sent_at, Service.domain, Service.name, Referral.status, Referral.completed_at)
        .join(Referral.service).join(Referral.case).where(Referral.sent_at >= since),
        Case.unit_id, unit_ids).execution_options(yield_per=2000)
    counts: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    for sent_at, domain, service, status, completed_at in db.session.execute(query):
        row = counts[(_month_key(sent_at), domain, service)]
        row[0] += 1
        if status == "completed":
            row[1] += 1
            row[5] += (completed_at - sent_at).total_seconds() / 86400
        elif status == "rejected":
            row[2] += 1
        elif status == "cancelled":
            row[3] += 1
        else:
            row[4] += 1
    yield [str(word) for word in (_l("Month"), _l("Domain"), _l("Service"), _l("Referrals"), _l("Completed"),
                                  _l("Rejected"), _l("Cancelled"), _l("Still open"), _l("Average days to complete"))]
    for (month, domain, service), (n, done, rejected, cancelled, open_, days) in sorted(counts.items()):
        yield [month.strftime("%Y-%m"), str(label_of(Domain, domain)), service, str(n), str(done), str(rejected),
               str(cancelled), str(open_), f"{days / done:.1f}" if done else ""]
