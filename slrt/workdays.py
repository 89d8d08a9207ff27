"""Working days: weekends, Indonesian national holidays and collective leave skipped.

Holidays come from the ``holidays`` package: its Indonesian calendar's public
category (national holidays) and government category (cuti bersama, collective
leave). Deployments add late decrees and local days with SLRT_EXTRA_HOLIDAYS.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from slrt import clock


@lru_cache(maxsize=64)
def _national(year: int) -> frozenset[date]:
    calendar = holidays.country_holidays(
        "ID", years=year, categories=(holidays.PUBLIC, holidays.GOVERNMENT)
    )
    return frozenset(calendar.keys())


@lru_cache(maxsize=16)
def _extra(spec: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(item.strip()) for item in spec.split(",") if item.strip())


def is_working_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if day in _national(day.year):
        return False
    return day not in _extra(current_app.config.get("SLRT_EXTRA_HOLIDAYS", ""))


def add_working_days(start: date, days: int) -> date:
    """Return the date ``days`` working days after ``start`` (start itself not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    if days == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
    return day


def working_days_between(start: date, end: date) -> int:
    """Count working days after ``start`` up to and including ``end``; negative if end < start."""
    if end < start:
        return -working_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def due_at(sent_day: date, sla_days: int):
    """Return the aware UTC end of the working day an SLA of ``sla_days`` ends on."""
    return clock.end_of_local_day(add_working_days(sent_day, sla_days))


def working_days_left(due) -> int:
    """Working days from today until a due timestamp: 0 on the due day, negative when late."""
    return working_days_between(clock.today(), clock.to_local(due).date())


def due_phrase(due) -> str:
    """Say how a due date stands in working days: "sisa 3 hari kerja", "terlambat 2 hari kerja"."""
    left = working_days_left(due)
    if left > 0:
        return str(lazy_ngettext("%(num)s working day left", "%(num)s working days left", left))
    if left == 0:
        return str(_l("late today") if clock.now() > due else _l("due today"))
    return str(lazy_ngettext("%(num)s working day late", "%(num)s working days late", -left))
