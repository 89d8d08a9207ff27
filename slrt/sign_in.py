"""Sign-in rules: locks after failed attempts, one use per authenticator code, sessions that stay ended.

A failure is a password or an authenticator code that does not match. SLRT_LOGIN_ATTEMPTS of
them in a row lock the account for SLRT_LOCKOUT_MINUTES; SLRT_LOGIN_ADDRESS_ATTEMPTS from one
client address, whatever the accounts, lock that address as long, so one attacker cannot go on
locking account after account. While either lock holds, an attempt is refused before its
password or code is even checked, with one answer whatever was typed (a lock is no password
oracle), and it is not counted, so the lock ends on time however often it is tried. A manager
of the account's unit can unlock it sooner.

Counts are changed by single UPDATE statements, so concurrent attempts in several processes
are all counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from slrt import clock, lockout
from slrt.access import Actor, check_manages_staff
from slrt.extensions import db
from slrt.models import EndedSession, SignInAddress, Staff

#: The counts are changed in the database (several processes count at once); the objects are
#: expired and read back rather than computed in Python.
_UNSYNCED = {"synchronize_session": False}


def _lockout() -> timedelta:
    return timedelta(minutes=current_app.config["SLRT_LOCKOUT_MINUTES"])


def _insert(model):
    """INSERT with ON CONFLICT for the database in use (PostgreSQL or SQLite)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def refusal(user: Staff | None, address: str | None) -> str | None:
    """The one answer to any sign-in attempt while the account or the client address is locked, else None.

    ``user`` is None for a username that matches no account: only the address counts then.
    """
    ends = [lockout.locked_until(user) if user is not None else None]
    if address:
        ends.append(db.session.scalar(select(SignInAddress.locked_until).where(
            SignInAddress.address == address, SignInAddress.locked_until > clock.now())))
    ends = [end for end in ends if end is not None]
    return lockout.message(max(ends)) if ends else None


def record_failure(user: Staff | None, address: str | None) -> None:
    """Count a wrong password or code against the account (if any) and the client address.

    At the limit the account or the address is locked for SLRT_LOCKOUT_MINUTES; failures while
    it is locked (in-flight requests) neither count nor extend the lock.
    """
    now = clock.now()
    if user is not None:
        not_locked = or_(Staff.locked_until.is_(None), Staff.locked_until <= now)
        db.session.execute(update(Staff).where(Staff.id == user.id, not_locked)
                           .values(failed_login_count=Staff.failed_login_count + 1), _UNSYNCED)
        db.session.execute(update(Staff).where(
            Staff.id == user.id, not_locked, Staff.failed_login_count >= current_app.config["SLRT_LOGIN_ATTEMPTS"])
            .values(locked_until=now + _lockout(), failed_login_count=0), _UNSYNCED)
        db.session.expire(user, ["failed_login_count", "locked_until"])  # read back as stored
    if address:
        _count_address(address[:64], now)


def _count_address(address: str, now: datetime) -> None:
    lockout = _lockout()
    row = SignInAddress.__table__.c
    db.session.execute(delete(SignInAddress).where(
        SignInAddress.last_failed_at < now - lockout,
        or_(SignInAddress.locked_until.is_(None), SignInAddress.locked_until < now)))
    counted = _insert(SignInAddress).values(address=address, failed_count=1, last_failed_at=now)
    db.session.execute(counted.on_conflict_do_update(index_elements=[row.address], set_={
        "failed_count": case((row.locked_until > now, row.failed_count),
                             (row.last_failed_at < now - lockout, 1),
                             else_=row.failed_count + 1),
        "last_failed_at": now,
    }))
    db.session.execute(update(SignInAddress).where(
        SignInAddress.address == address,
        or_(SignInAddress.locked_until.is_(None), SignInAddress.locked_until <= now),
        SignInAddress.failed_count >= current_app.config["SLRT_LOGIN_ADDRESS_ATTEMPTS"])
        .values(locked_until=now + lockout, failed_count=0))


def unlock_account(user: Staff, *, actor: Actor) -> None:
    """Let a locked account sign in again at once (a manager who covers its unit and role)."""
    check_manages_staff(actor, unit=user.unit, role=user.role)
    user.failed_login_count = 0
    user.locked_until = None
    db.session.flush()


def claim_totp_step(user: Staff, step: int) -> bool:
    """Accept an authenticator code's time step once: False when that step (or a later one) was used.

    One conditional UPDATE, so two requests with the same code cannot both pass.
    """
    claimed = db.session.execute(update(Staff).where(
        Staff.id == user.id, or_(Staff.tf_totp_last_step.is_(None), Staff.tf_totp_last_step < step))
        .values(tf_totp_last_step=step), _UNSYNCED)
    db.session.expire(user, ["tf_totp_last_step"])
    return claimed.rowcount == 1


def end_session(token: str, *, keep_for: timedelta) -> None:
    """Record that the session carrying ``token`` was signed out; kept ``keep_for`` (its cookie's life)."""
    now = clock.now()
    db.session.execute(delete(EndedSession).where(EndedSession.forget_at < now))
    db.session.execute(_insert(EndedSession).values(token=token, forget_at=now + keep_for)
                       .on_conflict_do_nothing(index_elements=["token"]))


def session_ended(token: str) -> bool:
    return db.session.scalar(select(EndedSession.token).where(EndedSession.token == token)) is not None
