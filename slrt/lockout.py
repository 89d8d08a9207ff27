"""An account's sign-in lock as Flask-Security (through the Staff model) and slrt.sign_in read it.

A leaf module: it imports no model and no other domain module, so slrt.models can use it. The
rules that count failures and set the lock are in slrt.sign_in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from flask_babel import lazy_gettext as _l

from slrt import clock


class Lockable(Protocol):
    locked_until: datetime | None


def message(until: datetime) -> str:
    """The one answer to a sign-in while a lock holds, whatever was typed."""
    minutes = max(1, int((until - clock.now()).total_seconds() // 60) + 1)
    return str(_l("Too many failed sign-ins. Try again in %(minutes)s minutes or ask a manager.", minutes=minutes))


def locked_until(user: Lockable) -> datetime | None:
    """When the account's lock ends, or None when it is not locked."""
    if user.locked_until is not None and user.locked_until > clock.now():
        return user.locked_until
    return None


def lock_message(user: Lockable) -> str | None:
    """Why the account may not sign in now, or None when it is not locked."""
    until = locked_until(user)
    return message(until) if until else None
