"""Staff accounts: creation, passwords, second factor (lockout rules: slrt.sign_in)."""

from __future__ import annotations

import re
import uuid

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_security import hash_password
from passlib.totp import TOTP
from sqlalchemy import select

from slrt import audit
from slrt.access import Actor, check_manages_staff
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.identity import normalize_mobile, validate_name
from slrt.models import Staff, Unit
from slrt.models.enums import AuditAction, Role

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(_l("The password needs at least %(n)s characters.", n=MIN_PASSWORD), field="password")


def _hash(password: str) -> str:
    return hash_password(password)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(_l("Choose a role."), field="role") from None


def _language(language: str | None) -> str | None:
    """The screens' language asked for ('id' or 'en'); None when none (or another) is given."""
    return language if language in ("id", "en") else None


def _is_self(actor: Actor, user: Staff) -> bool:
    return isinstance(actor, Staff) and actor.id == user.id


def create_staff(*, username: str, full_name: str, role: Role | str, unit: Unit, password: str, actor: Actor,
                 phone: str | None = None, email: str | None = None, language: str | None = None,
                 password_is_temporary: bool = False) -> Staff:
    """Create a staff account (checked: the actor's units and rank, username free and well-formed, strong password).

    ``password_is_temporary``: a one-time password, to be changed at first sign-in.
    """
    check_manages_staff(actor, unit=unit, role=_role(role))
    _check_open(unit)
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(_l("A username is 3-64 lowercase letters, digits, dots, dashes or underscores, "
                                 "starting with a letter."), field="username")
    if db.session.scalar(select(Staff.id).where(Staff.username == username)):
        raise ValidationError(_l("The username %(name)s is taken.", name=username), field="username")
    role = _role(role)
    check_password_strength(password)
    user = Staff(username=username, full_name=validate_name(full_name, field="full_name"), role=role, unit=unit,
                 phone=normalize_mobile(phone) if phone else None, email=(email or "").strip() or None,
                 active=True, password=_hash(password), fs_uniquifier=uuid.uuid4().hex,
                 language=_language(language) or "id", is_password_temporary=password_is_temporary)
    db.session.add(user)
    db.session.flush()
    return user


def _check_open(unit: Unit) -> None:
    """Refuse placing an account in a closed post (slrt.units.deactivate_post)."""
    if unit.is_active is False:  # None: a unit not yet written, open by default
        raise ValidationError(_l("%(unit)s is closed: choose an open unit.", unit=unit.name), field="unit")


def update_staff(user: Staff, *, actor: Actor, full_name: str, role: Role | str, unit: Unit,
                 phone: str | None = None, language: str | None = None) -> Staff:
    """Change an account's name, role, unit, phone or language (checked like creating it).

    A new role or unit signs the account out everywhere (a new manager must pass the second
    factor first). Nobody changes their own role or unit.
    """
    role = _role(role)
    moved = role != user.role or unit.id != user.unit_id
    if moved and _is_self(actor, user):
        raise PermissionDenied(_l("You cannot change your own role or unit; ask another manager."))
    if not _is_self(actor, user):
        check_manages_staff(actor, unit=user.unit, role=user.role)  # the account as it is
    if moved:
        check_manages_staff(actor, unit=unit, role=role)  # and as it would be
        if unit.id != user.unit_id:
            _check_open(unit)
        sign_out_everywhere(user)
    user.full_name = validate_name(full_name, field="full_name")
    user.phone = normalize_mobile(phone) if phone else None
    user.role, user.unit = role, unit
    user.language = _language(language) or user.language
    db.session.flush()
    return user


def change_password(user: Staff, password: str) -> None:
    """Set a new password; every other session of the account is signed out."""
    check_password_strength(password)
    user.password = _hash(password)
    user.fs_uniquifier = uuid.uuid4().hex
    password_changed(user)
    unlock(user)


def password_changed(user: Staff) -> None:
    """The account's own password is set: a one-time password no longer holds the screens."""
    user.is_password_temporary = False


def sign_out_everywhere(user: Staff) -> None:
    """End every session of the account (its next request must sign in again)."""
    user.fs_uniquifier = uuid.uuid4().hex


def set_active(user: Staff, active: bool, *, actor: Actor) -> None:
    """Activate or deactivate an account; deactivating signs it out everywhere."""
    if not active and _is_self(actor, user):
        raise PermissionDenied(_l("You cannot deactivate your own account."))
    check_manages_staff(actor, unit=user.unit, role=user.role)
    user.active = active
    if not active:
        user.fs_uniquifier = uuid.uuid4().hex


def reset_second_factor(user: Staff, *, actor: Actor) -> None:
    """Forget the authenticator app (a lost phone); a manager must set one up at next sign-in."""
    check_manages_staff(actor, unit=user.unit, role=user.role)
    user.tf_primary_method = None
    user.tf_totp_secret = None
    user.fs_uniquifier = uuid.uuid4().hex
    audit.record(AuditAction.AUTHENTICATOR_RESET, record=user, actor=actor)


def set_authenticator_key(user: Staff, base32_key: str) -> None:
    """Give the account an authenticator app whose key is known beforehand (the demo manager's, printed).

    Stored as Flask-Security stores a key set up on screen: passlib's TOTP, encrypted with
    SECURITY_TOTP_SECRETS, so the sign-in checks its codes the same way."""
    factory = TOTP.using(secrets=current_app.config["SECURITY_TOTP_SECRETS"],
                         issuer=current_app.config["SECURITY_TOTP_ISSUER"])
    user.tf_totp_secret = factory(key=base32_key, format="base32").to_json(encrypt=True)
    user.tf_primary_method = "authenticator"


def unlock(user: Staff) -> None:
    """Clear the failed sign-ins and any lock (slrt.sign_in counts and locks)."""
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
