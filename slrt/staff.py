"""Staff accounts: creation and passwords, with the rules that apply to them."""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

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


def create_staff(*, username: str, full_name: str, role: Role | str, unit: Unit, password: str,
                 phone: str | None = None) -> Staff:
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
                 phone=normalize_mobile(phone) if phone else None, is_active=True)
    user.set_password(password, current_app.config["SLRT_PASSWORD_HASH"])
    db.session.add(user)
    db.session.flush()
    return user


def change_password(user: Staff, password: str) -> None:
    check_password_strength(password)
    user.set_password(password, current_app.config["SLRT_PASSWORD_HASH"])
