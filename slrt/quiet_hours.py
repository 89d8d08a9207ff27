"""When SMS may go out: residents are not woken at night; agencies hear from us in office hours.

Read from the settings each time it is asked (SLRT_QUIET_FROM, SLRT_QUIET_TO,
SLRT_OFFICE_HOURS): a message held back is not given a fixed time, so a changed setting
applies to the messages already waiting (slrt.outbox.due_ids, held_until).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from slrt import clock, workdays
from slrt.models.enums import SmsAudience

#: Every audience a message can have: the sweep asks which of them may be sent to now.
AUDIENCES = tuple(SmsAudience)

_WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
             _l("Sunday"))


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


def closed_audiences(now: datetime) -> list[SmsAudience]:
    """The audiences no message may go to at ``now`` (a reply excepted: see slrt.outbox.hold_reason)."""
    return [audience for audience in AUDIENCES if next_window(audience, now) is not None]


def say_when(moment: datetime, now: datetime, *, spoken: bool = False) -> str:
    """Say a coming local time the way staff read it: "07:00", "besok 07:00", "Senin 08:00".

    ``spoken`` makes it a phrase for a sentence: "hari ini pukul 07:00", "besok pukul 07:00".
    Beyond the coming week (a long holiday) the date is added: "Senin 04-01-2027 08:00".
    """
    local, today = clock.to_local(moment), clock.to_local(now).date()
    hour = local.strftime("%H:%M")
    ahead = (local.date() - today).days
    if ahead <= 0:
        return str(_l("today at %(time)s", time=hour)) if spoken else hour
    if ahead == 1:
        day = str(_l("tomorrow"))
    else:
        day = str(_WEEKDAYS[local.weekday()])
        if ahead > 6:
            day = f"{day} {clock.format_date(local.date())}"
    return str(_l("%(day)s at %(time)s", day=day, time=hour)) if spoken else f"{day} {hour}"
