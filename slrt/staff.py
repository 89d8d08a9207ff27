"""Staff accounts: creation, passwords, second factor and lockout rules."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.identity import normalize_mobile, validate_name
from slrt.models import Staff, Unit
from slrt.models.enums import Role

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(_l("The password needs at least %(n)s characters.", n=MIN_PASSWORD), field="password")


def _hash(password: str) -> str:
    from flask_security import hash_password

    return hash_password(password)


def create_staff(*, username: str, full_name: str, role: Role | str, unit: Unit, password: str,
                 phone: str | None = None, email: str | None = None) -> Staff:
    """Create a staff account (checked: username free and well-formed, strong password)."""
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(_l("A username is 3-64 lowercase letters, digits, dots, dashes or underscores, "
                                 "starting with a letter."), field="username")
    if db.session.scalar(select(Staff.id).where(Staff.username == username)):
        raise ValidationError(_l("The username %(name)s is taken.", name=username), field="username")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError(_l("Choose a role."), field="role") from None
    check_password_strength(password)
    user = Staff(username=username, full_name=validate_name(full_name, field="full_name"), role=role, unit=unit,
                 phone=normalize_mobile(phone) if phone else None, email=(email or "").strip() or None,
                 active=True, password=_hash(password), fs_uniquifier=uuid.uuid4().hex)
    db.session.add(user)
    db.session.flush()
    return user


def change_password(user: Staff, password: str) -> None:
    """Set a new password; every other session of the account is signed out."""
    check_password_strength(password)
    user.password = _hash(password)
    user.fs_uniquifier = uuid.uuid4().hex
    unlock(user)


def sign_out_everywhere(user: Staff) -> None:
    """End every session of the account (its next request must sign in again)."""
    user.fs_uniquifier = uuid.uuid4().hex


def set_active(user: Staff, active: bool) -> None:
    """Activate or deactivate an account; deactivating signs it out everywhere."""
    user.active = active
    if not active:
        user.fs_uniquifier = uuid.uuid4().hex


def reset_second_factor(user: Staff) -> None:
    """Forget the authenticator app (a lost phone); a manager must set one up at next sign-in."""
    user.tf_primary_method = None
    user.tf_totp_secret = None
    user.fs_uniquifier = uuid.uuid4().hex


def second_factor_required(user: Staff) -> bool:
    """Managers hold every key (staff, catalogue, templates): they must use an authenticator app."""
    return user.role == Role.MANAGER


def lock_message(user: Staff) -> str | None:
    """The reason sign-in is refused now, or None when the account is not locked."""
    if user.locked_until is not None and user.locked_until > clock.now():
        minutes = max(1, int((user.locked_until - clock.now()).total_seconds() // 60) + 1)
        return str(_l("Too many failed sign-ins. Try again in %(minutes)s minutes or ask a manager.",
                      minutes=minutes))
    return None


def record_failed_login(user: Staff) -> None:
    """Count a failed password or code; at the limit, lock the account for a while."""
    user.failed_login_count = (user.failed_login_count or 0) + 1
    if user.failed_login_count >= current_app.config["SLRT_LOGIN_ATTEMPTS"]:
        user.locked_until = clock.now() + timedelta(minutes=current_app.config["SLRT_LOCKOUT_MINUTES"])
        user.failed_login_count = 0


def unlock(user: Staff) -> None:
    user.failed_login_count = 0
    user.locked_until = None


def nearest_with_phone(unit: Unit, role: Role) -> list[Staff]:
    """Active staff of ``role`` with a mobile number in the nearest unit, from ``unit`` upwards, that has any.

    Who is told when a case's unit must act: its facilitators, its supervisor, else the
    secretariat's.
    """
    for candidate in unit.lineage():
        found = list(db.session.scalars(
            select(Staff).where(Staff.unit_id == candidate.id, Staff.role == role, Staff.active.is_(True),
                                Staff.phone.is_not(None), Staff.phone != "").order_by(Staff.id)))
        if found:
            return found
    return []
