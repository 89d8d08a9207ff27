"""The one place the domain asks what time it is (tests freeze it with time-machine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def local_zone() -> ZoneInfo:
    """Return the deployment's time zone (Asia/Jakarta by default)."""
    return ZoneInfo(current_app.config["SLRT_TIMEZONE"])


def to_local(moment: datetime) -> datetime:
    """Convert an aware UTC timestamp to the deployment's local time."""
    return as_utc(moment).astimezone(local_zone())


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
