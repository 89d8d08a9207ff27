"""The one place the domain asks what time it is.

Real time by default (which the tests freeze with time-machine); :func:`stopped_at` sets
it for a block, so the demo writes a year of history through the domain functions, each
step at the moment it happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from flask import current_app

#: The moment the clock is stopped at (set only inside ``stopped_at``), or None: real time.
_stopped: ContextVar[datetime | None] = ContextVar("slrt_clock_stopped", default=None)

#: How screens, slips, exports and messages write a date: day first, as Indonesians do, then the
#: local time of day to the minute or the second.
_FORMATS = {"day": "%d-%m-%Y", "minute": "%d-%m-%Y %H:%M", "second": "%d-%m-%Y %H:%M:%S"}


def now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    stopped = _stopped.get()
    return stopped if stopped is not None else datetime.now(UTC)


@contextmanager
def stopped_at(moment: datetime) -> Iterator[None]:
    """Run the block with :func:`now` (and every timestamp default) answering ``moment``."""
    token = _stopped.set(as_utc(moment))
    try:
        yield
    finally:
        _stopped.reset(token)


def local_zone() -> ZoneInfo:
    """Return the deployment's time zone (Asia/Jakarta by default)."""
    return ZoneInfo(current_app.config["SLRT_TIMEZONE"])


def to_local(moment: datetime) -> datetime:
    """Convert an aware UTC timestamp to the deployment's local time."""
    return as_utc(moment).astimezone(local_zone())


def format_date(value: date | datetime | None, to: Literal["day", "minute", "second"] = "day") -> str:
    """Write ``value`` day first: 24-11-2026, to="minute" 24-11-2026 10:15; None as "-".

    A timestamp is written in the deployment's local time.
    """
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime(_FORMATS[to])


def today() -> date:
    """Return today's date in the deployment's time zone."""
    return now().astimezone(local_zone()).date()


def end_of_local_day(day: date) -> datetime:
    """Return the last second of ``day`` in local time, as aware UTC."""
    return datetime.combine(day, time(23, 59, 59), local_zone()).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """Treat a naive timestamp read back from SQLite as the UTC it was stored as."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
