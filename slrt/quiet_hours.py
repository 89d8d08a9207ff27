"""When SMS may go out: residents are not woken at night; agencies hear from us in office hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app

from slrt import clock, workdays
from slrt.models.enums import SmsAudience


def _hhmm(text: str) -> time:
    hours, minutes = text.strip().split(":")
    return time(int(hours), int(minutes))


def next_window(audience: SmsAudience, now: datetime) -> datetime | None:
    """None when a message to ``audience`` may go now, else the (UTC) moment its window opens."""
    local = clock.to_local(now)
    zone = local.tzinfo
    if audience == SmsAudience.AGENCY:
        start, end = (_hhmm(t) for t in current_app.config["SLRT_OFFICE_HOURS"].split("-"))
        day = local.date()
        if workdays.is_working_day(day) and start <= local.time() < end:
            return None
        if not (workdays.is_working_day(day) and local.time() < start):
            day = workdays.add_working_days(day, 1)
        return datetime.combine(day, start, zone).astimezone(now.tzinfo)
    quiet_from, quiet_to = _hhmm(current_app.config["SLRT_QUIET_FROM"]), _hhmm(current_app.config["SLRT_QUIET_TO"])
    moment = local.time()
    is_quiet = moment >= quiet_from or moment < quiet_to if quiet_from > quiet_to else quiet_from <= moment < quiet_to
    if not is_quiet:
        return None
    day = local.date() + timedelta(days=1) if moment >= quiet_to and quiet_from > quiet_to else local.date()
    return datetime.combine(day, quiet_to, zone).astimezone(now.tzinfo)
