"""Sign-in for staff: Flask-Security-Too with usernames, argon2, TOTP, lockout and idle timeout.

Managers must use an authenticator app (TOTP); anyone may. Five failed sign-ins lock
an account for 15 minutes (settings SLRT_LOGIN_ATTEMPTS, SLRT_LOCKOUT_MINUTES). A
session ends after SLRT_SESSION_MINUTES without a request. Every form carries a CSRF
token (Flask-WTF's CSRFProtect covers Flask-Security, Flask-Admin and our own forms).
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, session
from flask_babel import lazy_gettext as _l
from flask_security import LoginForm, Security, SQLAlchemyUserDatastore
from flask_security.signals import user_authenticated, user_failed_authn
from flask_wtf.csrf import CSRFProtect
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from slrt import staff as staff_ops
from slrt.extensions import db
from slrt.models import Staff

csrf = CSRFProtect()


class _NoRole:
    """Flask-Security wants a role model; staff have one role column instead (see Staff.role)."""

    name = ""


class StaffLoginForm(LoginForm):
    """Sign in with a username, not an e-mail address."""

    #: Unused (sign-in is by username) but kept: Flask-Security's generic-error handling reads it.
    email = HiddenField()
    username = StringField(_l("Username"), validators=[DataRequired(message=_l("Enter your username."))],
                           render_kw={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"})

    def validate(self, **kwargs) -> bool:
        if self.username.data:
            self.ifield = self.username
            datastore = current_app.extensions["security"].datastore
            self.user = datastore.find_user(case_insensitive=True, username=self.username.data.strip())
        valid = super().validate(**kwargs)
        if not valid and self.user_authenticated and self.user is not None:
            # Right password on a locked account: say why (generic errors would hide it).
            message = staff_ops.lock_message(self.user)
            if message:
                self.form_errors.append(message)
        return valid


def _derive(secret: str, label: bytes) -> str:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())
    return base64.urlsafe_b64encode(key).decode()


def init_security(app: Flask) -> None:
    """Configure and bind Flask-Security and CSRF protection to ``app``."""
    secret = app.config["SECRET_KEY"]
    defaults = {
        "SECURITY_PASSWORD_HASH": app.config["SLRT_PASSWORD_HASH"],
        "SECURITY_PASSWORD_SALT": _derive(secret, b"slrt-password-salt"),
        "SECURITY_TOTP_SECRETS": {"1": _derive(secret, b"slrt-totp")},
        "SECURITY_TOTP_ISSUER": f"SLRT {app.config['SLRT_SMS_SENDER_NAME']}".replace("SLRT SLRT", "SLRT"),
        "SECURITY_USER_IDENTITY_ATTRIBUTES": [{"username": {"mapper": str.strip, "case_insensitive": True}}],
        "SECURITY_RETURN_GENERIC_RESPONSES": True,
        "SECURITY_TRACKABLE": True,
        "SECURITY_TWO_FACTOR": True,
        "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
        "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE": True,
        "SECURITY_TWO_FACTOR_RESCUE_EMAIL": False,
        "SECURITY_TWO_FACTOR_POST_SETUP_VIEW": "/admin/",
        "SECURITY_CHANGEABLE": True,
        "SECURITY_SEND_PASSWORD_CHANGE_EMAIL": False,
        "SECURITY_PASSWORD_LENGTH_MIN": staff_ops.MIN_PASSWORD,
        "SECURITY_PASSWORD_COMPLEXITY_CHECKER": None,
        "SECURITY_POST_LOGIN_VIEW": "/admin/",
        "SECURITY_POST_LOGOUT_VIEW": "/login",
        "SECURITY_POST_CHANGE_VIEW": "/admin/",
        "SECURITY_LOGOUT_METHODS": ["POST"],
        "SECURITY_DEFAULT_REMEMBER_ME": False,
        "SECURITY_DATETIME_FACTORY": lambda: datetime.now(UTC),
        "SECURITY_LOGIN_USER_TEMPLATE": "security/login.html",
        "SECURITY_FLASH_MESSAGES": True,
        "SECURITY_I18N_DIRNAME": ["builtin", os.path.join(app.root_path, "translations")],
        "SECURITY_JOIN_USER_ROLES": False,
        "SECURITY_URL_PREFIX": None,
        "SECURITY_MSG_INVALID_PASSWORD": (_l("Wrong username or password."), "error"),
        "SECURITY_MSG_USER_DOES_NOT_EXIST": (_l("Wrong username or password."), "error"),
        "SECURITY_MSG_GENERIC_AUTHN_FAILED": (_l("Wrong username or password."), "error"),
        "SECURITY_MSG_DISABLED_ACCOUNT": (_l("This account is not active."), "error"),
        "SECURITY_MSG_LOGIN": (_l("Please sign in to open this page."), "info"),
        "SECURITY_MSG_UNAUTHENTICATED": (_l("Please sign in to open this page."), "error"),
        "WTF_CSRF_TIME_LIMIT": None,
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)
    # Flask's own session settings have defaults of their own, so they are set outright.
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["SLRT_SESSION_MINUTES"]),
        SESSION_REFRESH_EACH_REQUEST=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind HTTPS the session cookie never travels in clear.
        SESSION_COOKIE_SECURE=str(app.config["SLRT_PUBLIC_URL"]).startswith("https://"),
    )
    # One Security object per app: its password context follows that app's settings.
    Security(app, SQLAlchemyUserDatastore(db, Staff, _NoRole), login_form=StaffLoginForm)
    csrf.init_app(app)

    @app.before_request
    def _idle_timeout() -> None:
        # A permanent session expires PERMANENT_SESSION_LIFETIME after the last request.
        session.permanent = True

    user_failed_authn.connect(_failed, app)
    user_authenticated.connect(_succeeded, app)


def _failed(app, user: Staff, **_extra) -> None:
    staff_ops.record_failed_login(user)
    db.session.commit()


def _succeeded(app, user: Staff, **_extra) -> None:
    staff_ops.unlock(user)
