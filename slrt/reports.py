"""Figures for the dashboard and the monthly report, narrowed to a set of units."""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, case, cast, column, delete, func, insert, select, text, values
from sqlalchemy.orm import aliased

from slrt import clock, workdays
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import (
    Agency,
    Case,
    CaseNeed,
    CaseTally,
    FollowUp,
    Household,
    Referral,
    ReferralTally,
    Resident,
    Service,
    SmsMessage,
    Unit,
)
from slrt.models.enums import (
    DOMAIN_LABELS,
    REFERRAL_ACTIVE,
    CaseStatus,
    Domain,
    FollowUpStatus,
    ReferralStatus,
    SmsDirection,
    SmsStatus,
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


# The monthly report -------------------------------------------------------------------------------

#: The longest period one report covers: a year, leap years included.
MAX_PERIOD_DAYS = 366
#: The years a report may ask about (the period's bounds stay far from what dates can hold).
FIRST_YEAR, LAST_YEAR = 2000, 2099
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Period:
    """The days a report covers, both ends included, in local time."""

    first: date
    last: date

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @property
    def is_month(self) -> bool:
        return self == Period.of_month(self.first.year, self.first.month)

    @property
    def name(self) -> str:
        """How file names say the period: ``2026-11`` for a month, ``2026-11-01_2026-11-15`` otherwise."""
        if self.is_month:
            return f"{self.first:%Y-%m}"
        return f"{self.first:%Y-%m-%d}_{self.last:%Y-%m-%d}"

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as aware UTC: its first moment, and the first moment after it."""
        zone = clock.local_zone()
        return (datetime.combine(self.first, time(0), zone).astimezone(UTC),
                datetime.combine(self.last + timedelta(days=1), time(0), zone).astimezone(UTC))

    def months(self) -> list[str]:
        """``YYYY-MM`` of every month the period touches, oldest first."""
        months, year, month = [], self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        return months


def parse_period(month: str | None = None, first: str | None = None, last: str | None = None) -> Period:
    """The period a report screen asked for: ``month`` (2026-11) or ``first`` and ``last`` (2026-11-01).

    Neither: this month. Anything else raises ValidationError naming the field (``month``, ``from``, ``to``).
    """
    month, first, last = ((value or "").strip() for value in (month, first, last))
    if month and (first or last):
        raise ValidationError(_l("Choose a month or a date range, not both."), field="month")
    if month:
        number = int(month[5:]) if _MONTH.fullmatch(month) else 0
        if not 1 <= number <= 12 or not FIRST_YEAR <= int(month[:4]) <= LAST_YEAR:
            raise ValidationError(_l("Write the month as year and month, for example 2026-11 (%(first)s to "
                                     "%(last)s).", first=FIRST_YEAR, last=LAST_YEAR), field="month")
        return Period.of_month(int(month[:4]), number)
    if first or last:
        days = {}
        for field_name, value, message in (
                ("from", first, _l("The first day of the range is not a date: write it as 2026-11-01.")),
                ("to", last, _l("The last day of the range is not a date: write it as 2026-11-30."))):
            try:
                day = date.fromisoformat(value) if _DAY.fullmatch(value) else None
            except ValueError:  # 2026-02-30
                day = None
            if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise ValidationError(message, field=field_name)
            days[field_name] = day
        if days["to"] < days["from"]:
            raise ValidationError(_l("The range ends before it starts."), field="to")
        if (days["to"] - days["from"]).days + 1 > MAX_PERIOD_DAYS:
            raise ValidationError(_l("A report covers at most a year (%(days)s days).", days=MAX_PERIOD_DAYS),
                                  field="to")
        return Period(days["from"], days["to"])
    today = clock.today()
    return Period.of_month(today.year, today.month)


@dataclass
class Figures:
    """One line of the report: cases opened in the period, and what became of the referrals sent in it."""

    #: Cases opened in the period (counted under their first need's service and domain).
    cases: int = 0
    referred: int = 0
    completed: int = 0
    rejected: int = 0
    cancelled: int = 0
    #: Sent or accepted today, and of those past their due date.
    waiting: int = 0
    overdue: int = 0
    #: Completed referrals per number of working days from sending to completion.
    durations: Counter = field(default_factory=Counter)

    def median_days(self) -> float | None:
        """Median working days from sending to completion, None when nothing was completed."""
        total = sum(self.durations.values())
        if not total:
            return None
        wanted, seen, middle = {(total - 1) // 2, total // 2}, 0, []
        for days in sorted(self.durations):
            count = self.durations[days]
            middle += [days] * len({p for p in wanted if seen <= p < seen + count})
            seen += count
        return sum(middle) / len(middle)


#: The report's sections, in their order.
SECTIONS = ("total", "domain", "month", "service", "agency", "unit", "desil")
#: The desil lines: DTSEN desil 1 (poorest tenth) to 10, then residents not in DTSEN (or in it unranked).
DESILS: tuple[int | None, ...] = (*range(1, 11), None)


@dataclass
class ReportLine:
    section: str
    name: str
    domain: Domain | None
    figures: Figures


# The report's words, looked up in one place only (columns, sections, domains).
def _columns() -> list[str]:
    return [str(word) for word in (
        _l("Section"), _l("Name"), _l("Domain"), _l("Cases received"), _l("Referrals sent"),
        _l("Referrals completed"), _l("Referrals rejected"), _l("Referrals cancelled"), _l("Still waiting"),
        _l("Overdue now"), _l("Median working days to completion"))]


def section_label(section: str) -> str:
    return str({"total": _l("Total"), "domain": _l("Domain"), "month": _l("Month"), "service": _l("Service"),
                "agency": _l("Agency"), "unit": _l("Unit"), "desil": _l("DTSEN desil")}[section])


def desil_label(desil: int | None) -> str:
    return str(_l("Desil %(desil)s", desil=desil) if desil else _l("Not in DTSEN (no desil)"))


def domain_label(domain: Domain | str) -> str:
    return str(DOMAIN_LABELS[Domain(domain)])


@dataclass
class MonthlyReport:
    """The monthly report of a set of units over a period: one line per total, domain, month (when the
    period spans several), service, agency and unit."""

    period: Period
    lines: list[ReportLine]

    def per_desil(self) -> str:
        """Cases per desil 1 to 10, then not in DTSEN: ``0 / 3 / ... / 1``."""
        return " / ".join(str(line.figures.cases) for line in self.lines if line.section == "desil")

    def per_domain(self) -> str:
        """Cases per domain in the shape reports are read in: ``634 / 207 / 42`` (health / social / education)."""
        return " / ".join(str(line.figures.cases) for line in self.lines if line.section == "domain")

    def domain_names(self) -> str:
        return " / ".join(domain_label(domain) for domain in Domain)

    def table(self) -> Iterator[list]:
        """The header, then one row per line: text, whole numbers, the median as a float (or None)."""
        yield _columns()
        for line in self.lines:
            f = line.figures
            median = f.median_days()
            if line.section == "desil":  # cases only: the referral columns are not broken down by desil
                yield [section_label(line.section), line.name, "", f.cases, *[None] * 7]
                continue
            yield [section_label(line.section), line.name, domain_label(line.domain) if line.domain else "",
                   None if line.section == "agency" else f.cases, f.referred, f.completed, f.rejected,
                   f.cancelled, f.waiting, f.overdue, None if median is None else round(median, 1)]

    def about(self, unit_name: str, made_at: datetime) -> list[tuple[str, str]]:
        """What the figures mean, for the reader of the file (the spreadsheet's second sheet)."""
        return [(str(k), str(v)) for k, v in (
            (_l("Period"), f"{clock.format_date(self.period.first)} - {clock.format_date(self.period.last)}"),
            (_l("Unit"), _l("%(unit)s and the units below it", unit=unit_name)),
            (_l("Made at"), clock.format_date(made_at, "minute")),
            (_l("Cases per domain (%(domains)s)", domains=self.domain_names()), self.per_domain()),
            (_l("Cases per DTSEN desil (1 to 10, then not in DTSEN)"), self.per_desil()),
            (_l("DTSEN desil"), _l("the desil of the resident's family in the DTSEN data held now, not when the "
                                   "case was opened; \"not in DTSEN\" also counts residents in it without a desil")),
            (_l("Cases received"), _l("cases opened in the period, under the service of their first need")),
            (_l("Referrals sent"), _l("referrals sent in the period; the columns after it say what became of "
                                      "them up to now")),
            (_l("Median working days to completion"),
             _l("from sending to completion, weekends, national holidays and collective leave not counted")),
        )]


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _local(column, unit: str):
    """SQL for the local day (a date) or month (``YYYY-MM`` text) of a UTC timestamp column."""
    if _dialect() == "postgresql":
        local = func.timezone(clock.local_zone().key, column)
        return cast(local, Date) if unit == "day" else func.to_char(local, "YYYY-MM")
    # SQLite keeps naive UTC text: shift it by the zone's offset (Indonesia's zones keep one all year).
    offset = f"{int(clock.now().astimezone(clock.local_zone()).utcoffset().total_seconds() // 60):+d} minutes"
    return func.date(column, offset) if unit == "day" else func.strftime("%Y-%m", column, offset)


def _working_day_numbers(first: date, last: date):
    """A calendar as SQL: each day from ``first`` to ``last`` with the working days up to it.

    The working days from one day to a later one are the difference of their numbers
    (slrt.workdays.working_days_between), so the database counts referrals per duration.
    """
    rows, number, day = [], 0, first
    while day <= last:
        number += workdays.is_working_day(day)
        rows.append((day, number))
        day += timedelta(days=1)
    return values(column("day", Date), column("n", Integer), name="calendar").data(rows).cte("calendar")


def monthly_report(period: Period, unit_ids: list[int] | None) -> MonthlyReport:
    """The report of ``unit_ids`` (None: every unit) over ``period``.

    Three grouped queries (cases opened, referrals sent by status, completed referrals by working
    days taken) return a row per unit, service, agency, month and status or duration, never per case;
    they are folded into the report's lines here.
    """
    start, end = period.bounds()
    if _dialect() == "postgresql":
        # Compiling these few large queries (JIT) costs PostgreSQL more than running them.
        db.session.execute(text("SET LOCAL jit = off"))
    month_of = {"case": _local(Case.opened_at, "month"), "referral": _local(Referral.sent_at, "month")}
    # A case counts under its first need (every case has one: slrt.cases.open_case); "no earlier need"
    # lets PostgreSQL hash the needs for a long period instead of looking up each case's.
    earlier = aliased(CaseNeed)
    first_need = ~select(earlier.id).where(earlier.case_id == CaseNeed.case_id, earlier.id < CaseNeed.id).exists()
    case_keys = (Case.unit_id, CaseNeed.service_id, month_of["case"])
    case_rows = db.session.execute(_in_units(
        select(*case_keys, func.count()).join(CaseNeed, CaseNeed.case_id == Case.id)
        .where(Case.opened_at >= start, Case.opened_at < end, first_need).group_by(*case_keys),
        Case.unit_id, unit_ids)).all()

    sent = (Referral.sent_at >= start, Referral.sent_at < end)
    keys = (Case.unit_id, Referral.service_id, Referral.agency_id, month_of["referral"])
    referral_rows = db.session.execute(_in_units(
        select(*keys, Referral.status, func.count(),
               func.sum(case((Referral.due_at < clock.now(), 1), else_=0)))
        .join(Referral.case).where(*sent).group_by(*keys, Referral.status), Case.unit_id, unit_ids)).all()

    days = _working_day_numbers(period.first, max(clock.today(), period.last) + timedelta(days=31))
    sent_day, done_day = days.alias("sent_day"), days.alias("done_day")
    taken = (done_day.c.n - sent_day.c.n).label("days")
    duration_rows = db.session.execute(_in_units(
        select(*keys, taken, func.count())
        .join(Referral.case)
        .join(sent_day, sent_day.c.day == _local(Referral.sent_at, "day"))
        .join(done_day, done_day.c.day == _local(Referral.completed_at, "day"))
        .where(*sent, Referral.status == ReferralStatus.COMPLETED).group_by(*keys, taken),
        Case.unit_id, unit_ids)).all()

    # Cases per desil of the resident's family (None: not in DTSEN, or not ranked), whatever their needs.
    desil_rows = db.session.execute(_in_units(
        select(Resident.dtsen_status.is_not(None), Household.desil, func.count()).select_from(Case)
        .join(Resident, Resident.id == Case.resident_id).outerjoin(Household, Household.id == Resident.household_id)
        .where(Case.opened_at >= start, Case.opened_at < end)
        .group_by(Resident.dtsen_status.is_not(None), Household.desil), Case.unit_id, unit_ids)).all()

    services = {row.id: row for row in db.session.execute(select(Service.id, Service.name, Service.domain))}
    agency_ids = {row[2] for row in referral_rows}
    agencies = dict(db.session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))).all())
    unit_names = dict(db.session.execute(select(Unit.id, Unit.name).where(
        Unit.id.in_({row[0] for row in case_rows} | {row[0] for row in referral_rows}))).all())

    many_months = len(period.months()) > 1
    lines: dict[tuple, Figures] = defaultdict(Figures)
    lines["total", ""] = Figures()
    for domain in Domain:
        lines["domain", domain] = Figures()
    for desil in DESILS:
        lines["desil", desil] = Figures()
    for in_dtsen, desil, count in desil_rows:
        lines["desil", desil if in_dtsen and desil in DESILS else None].cases += count

    def targets(unit_id, service_id, agency_id, month) -> list[Figures]:
        where = [("total", ""), ("unit", unit_id)]
        if service_id is not None:
            where += [("domain", Domain(services[service_id].domain)), ("service", service_id)]
        if agency_id is not None:
            where.append(("agency", agency_id))
        if many_months:
            where.append(("month", month))
        return [lines[key] for key in where]

    for unit_id, service_id, month, count in case_rows:
        for figures in targets(unit_id, service_id, None, month):
            figures.cases += count
    for unit_id, service_id, agency_id, month, status, count, past_due in referral_rows:
        for figures in targets(unit_id, service_id, agency_id, month):
            figures.referred += count
            if status in REFERRAL_ACTIVE:
                figures.waiting += count
                figures.overdue += int(past_due or 0)
            elif status == ReferralStatus.COMPLETED:
                figures.completed += count
            elif status == ReferralStatus.REJECTED:
                figures.rejected += count
            else:
                figures.cancelled += count
    for unit_id, service_id, agency_id, month, taken_days, count in duration_rows:
        for figures in targets(unit_id, service_id, agency_id, month):
            figures.durations[taken_days] += count

    domain_order = list(Domain)

    def place(key: tuple, figures: Figures) -> tuple[tuple, ReportLine]:
        """Where a line goes (section, then domain and name) and the line itself."""
        section, value = key
        if section == "total":
            return (0, 0, ""), ReportLine(section, str(_l("All")), None, figures)
        if section == "domain":
            return (1, domain_order.index(value), ""), ReportLine(section, domain_label(value), value, figures)
        if section == "desil":
            return ((SECTIONS.index(section), DESILS.index(value), ""),
                    ReportLine(section, desil_label(value), None, figures))
        if section == "service":
            service = services[value]
            return ((3, domain_order.index(service.domain), service.name, value),
                    ReportLine(section, service.name, Domain(service.domain), figures))
        name = {"agency": agencies, "unit": unit_names}.get(section, {}).get(value, value)
        return (SECTIONS.index(section), 0, name, value), ReportLine(section, name, None, figures)

    placed = sorted((place(key, figures) for key, figures in lines.items()), key=lambda pair: pair[0])
    return MonthlyReport(period, [report_line for _order, report_line in placed])
