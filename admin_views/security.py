"""Sign-in for staff: Flask-Security-Too with usernames, argon2, TOTP, lockout and idle timeout.

Managers must use an authenticator app (TOTP); anyone may. Failed passwords and codes lock
the account, and the client address, for a while (slrt.sign_in); while locked, an attempt is
refused before its password or code is checked. An authenticator code signs in once. There is
no "remember me". A session ends after SLRT_SESSION_MINUTES without a request, or at sign-out:
each signed-in session carries a random token, and a signed-out token is kept in the database
so a copy of the old cookie signs no one in (the cookie itself is only signed, not stored).
Deactivating an account, changing its role, unit or password change its ``fs_uniquifier`` and
so end all its sessions. Every form carries a CSRF token (Flask-WTF's CSRFProtect covers
Flask-Security, Flask-Admin and our own forms).
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, abort, current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login.signals import user_logged_out
from flask_security import LoginForm, Security, SQLAlchemyUserDatastore, TwoFactorVerifyCodeForm, current_user
from flask_security.signals import password_changed, user_authenticated, user_failed_authn
from flask_security.tf_plugin import tf_clean_session
from flask_security.totp import Totp
from flask_wtf.csrf import CSRFProtect
from passlib.exc import UsedTokenError
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from admin_views.home import PROBES
from slrt import audit, sign_in
from slrt import staff as staff_ops
from slrt.access import Coverage, coverage, staff_and_coverage
from slrt.extensions import db
from slrt.models import Staff
from slrt.models.enums import AuditAction

csrf = CSRFProtect()

#: The session key of the signed-in session's token (see :func:`_session_is_live`).
SESSION_TOKEN = "slrt_session"


class _NoRole:
    """Flask-Security wants a role model; staff have one role column instead (see Staff.role)."""

    name = ""


class StaffDatastore(SQLAlchemyUserDatastore):
    """Flask-Security's store, loading the signed-in account (by ``fs_uniquifier``, every request) with
    its unit and its coverage in one statement; the coverage is kept for the request (:func:`staff_scope`)."""

    def find_user(self, case_insensitive: bool = False, **kwargs):
        if set(kwargs) != {"fs_uniquifier"} or not has_request_context():
            return super().find_user(case_insensitive, **kwargs)
        found = staff_and_coverage(str(kwargs["fs_uniquifier"]))
        if found is None:
            return None
        staff, cover = found
        g.slrt_coverage = (_whose(staff), cover)
        return staff


def staff_scope() -> Coverage:
    """Where the signed-in staff member works: read once per request (with the account, at sign-in's check)."""
    kept = g.get("slrt_coverage")
    if kept is None or kept[0] != _whose(current_user):
        kept = g.slrt_coverage = (_whose(current_user), coverage(current_user))
    return kept[1]


def _whose(staff) -> tuple:
    """What a kept coverage belongs to: the account as it is now (a new unit or role is read anew)."""
    return staff.id, staff.unit_id, staff.role


class StaffLoginForm(LoginForm):
    """Sign in with a username, not an e-mail address."""

    #: Unused (sign-in is by username) but kept: Flask-Security's generic-error handling reads it.
    email = HiddenField()
    username = StringField(_l("Username"), validators=[DataRequired(message=_l("Enter your username."))],
                           render_kw={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"})
    #: No "remember me": a posted ``remember=y`` is ignored (Flask-Security then uses
    #: SECURITY_DEFAULT_REMEMBER_ME, off), so no remember cookie is ever set.
    remember = None

    def validate(self, **kwargs) -> bool:
        if not super(LoginForm, self).validate(**kwargs):  # the fields and the CSRF token alone
            return False
        self.ifield = self.username
        datastore = current_app.extensions["security"].datastore
        self.user = datastore.find_user(case_insensitive=True, username=self.username.data.strip())
        refused = sign_in.refusal(self.user, _client_address())
        if refused:
            # Before the password is checked: the same answer whatever was typed, and not counted.
            self.form_errors.append(refused)
            return False
        valid = super().validate(**kwargs)
        if not valid and self.user is None:
            # A wrong password of an account is counted through user_failed_authn (_failed);
            # an unknown username counts against the client address alone.
            _failed(current_app, None)
        return valid


class StaffCodeForm(TwoFactorVerifyCodeForm):
    """The authenticator code at sign-in: refused while the account or address is locked, like a password."""

    def validate(self, **kwargs) -> bool:
        if self.user is not None and not self.is_setup:
            if not super(TwoFactorVerifyCodeForm, self).validate(**kwargs):  # the fields and the CSRF token
                return False
            refused = sign_in.refusal(self.user, _client_address())
            if refused:
                self.code.errors.append(refused)
                tf_clean_session()  # once the lock is over, sign-in starts again from the password
                return False
        return super().validate(**kwargs)


class StaffTotp(Totp):
    """Authenticator codes with replay protection: each code's 30-second step is accepted once per account."""

    def get_last_counter(self, user: Staff) -> int | None:
        return user.tf_totp_last_step

    def set_last_counter(self, user: Staff, tmatch) -> None:
        # Called on a match, inside Flask-Security's verify: a TokenError here makes it a mismatch.
        if not sign_in.claim_totp_step(user, tmatch.counter):
            raise UsedTokenError()


def _client_address() -> str | None:
    return request.remote_addr if has_request_context() else None


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
    Security(app, StaffDatastore(db, Staff, _NoRole), login_form=StaffLoginForm,
             two_factor_verify_code_form=StaffCodeForm, totp_cls=StaffTotp)
    csrf.init_app(app)
    app.view_functions["security.two_factor_setup"] = _authenticator_at_once(
        app.view_functions["security.two_factor_setup"])
    # No rescue by e-mail (there is no mail here; Flask-Security's "contact administrator" would fail
    # for want of it): a lost phone is reset by a manager or the operator (slrt.staff.reset_second_factor).
    app.view_functions["security.two_factor_rescue"] = _no_rescue

    # A session is the only way in: a user is loaded from a session whose token was not signed
    # out (so neither a remember cookie nor a signed-out session's cookie signs anyone in), never
    # from a bearer token (Flask-Security's auth tokens would outlive sign-out).
    manager = app.login_manager
    by_uniquifier = manager.user_callback
    manager.user_loader(lambda user_id: by_uniquifier(user_id) if _session_is_live() else None)
    manager.request_loader(lambda _request: None)

    @app.before_request
    def _idle_timeout() -> None:
        if request.endpoint in PROBES:
            return  # a monitor's probe: no session, so no cookie and no database read
        # A permanent session expires PERMANENT_SESSION_LIFETIME after the last request.
        session.permanent = True
        # Every request, not only those that load the user: a signed-out session's cookie is
        # emptied in every answer, so no refreshed copy of it outlives its EndedSession row.
        _session_is_live()

    @app.before_request
    def _temporary_password():
        # An account signed in with a one-time password (the set-up import's) reaches nothing
        # but the password change (and sign-out) until it has chosen its own.
        if (request.endpoint or "").startswith("security.") or request.endpoint in ("static", *PROBES):
            return None
        if current_user.is_authenticated and current_user.is_password_temporary:
            flash(_l("Choose your own password before you continue."), "info")
            return redirect(url_for("security.change_password"))
        return None

    password_changed.connect(_password_changed, app)
    user_failed_authn.connect(_failed, app)
    user_authenticated.connect(_succeeded, app)
    user_logged_out.connect(_signed_out, app)


def _no_rescue():
    abort(404)


def _authenticator_at_once(view):
    """At sign-in, an account that must set up its authenticator app gets the QR code and the code field
    on the first screen: with one method there is nothing to choose (Flask-Security would ask first)."""

    @functools.wraps(view)
    def setup():
        state = session.get("tf_state")
        if (request.method != "GET" or current_user.is_authenticated or "tf_user_id" not in session
                or state not in ("setup_from_login", "validating_profile")
                or list(current_app.config["SECURITY_TWO_FACTOR_ENABLED_METHODS"]) != ["authenticator"]):
            return view()  # a signed-in change, or anything unexpected: Flask-Security's own flow
        security = current_app.extensions["security"]
        user = security.datastore.find_user(fs_uniquifier=session["tf_user_id"])
        if user is None:
            return view()
        # The same key on a reload (the app may have scanned it already); Flask-Security then
        # checks the code against it exactly as after its own choice of method.
        secret = session.get("tf_totp_secret") if state == "validating_profile" else None
        secret = secret or security.totp_factory.generate_totp_secret()
        session.update(tf_totp_secret=secret, tf_primary_method="authenticator", tf_state="validating_profile")
        values = security.totp_factory.fetch_setup_values(secret, user)
        return security.render_template(
            "security/two_factor_setup.html",
            two_factor_setup_form=None, two_factor_verify_code_form=StaffCodeForm(formdata=None),
            choices=["authenticator"], chosen_method="authenticator", changing=False, state_token=None,
            two_factor_required=True, authr_qrcode=values["image"], authr_key=values["key"],
            authr_username=values["username"], authr_issuer=values["issuer"])

    return setup


def _session_is_live() -> bool:
    """Whether the request's signed-in session may go on: it carries a token that was not signed out.

    A signed-in session that may not (signed out, or from before tokens, or a remember cookie's)
    is emptied, and the emptied cookie goes back with the answer.
    """
    if "_user_id" not in session:
        return True  # nobody signed in: nothing to end
    token = session.get(SESSION_TOKEN)
    if token and g.get("slrt_live_session") == token:
        return True
    if token and not sign_in.session_ended(token):
        g.slrt_live_session = token
        return True
    session.clear()
    return False


def signed_in_staff() -> Staff | None:
    """The request's signed-in account, or None (the audit log's default actor)."""
    return current_user if current_user.is_authenticated else None


def _failed(app, user: Staff | None, **_extra) -> None:
    sign_in.record_failure(user, _client_address())
    audit.record(AuditAction.SIGN_IN_FAILED, record=user, actor=user or audit.UnknownAccount())
    db.session.commit()


def _succeeded(app, user: Staff, **extra) -> None:
    staff_ops.unlock(user)
    session[SESSION_TOKEN] = secrets.token_urlsafe(32)
    # Committed with the sign-in's tracking columns by Flask-Security's view.
    audit.record(AuditAction.SIGN_IN, record=user, actor=user, detail={"via": list(extra.get("authn_via") or [])})


def _password_changed(app, user: Staff, **_extra) -> None:
    staff_ops.password_changed(user)  # committed with the new password by Flask-Security's view


def _signed_out(app, user: Staff, **_extra) -> None:
    token = session.pop(SESSION_TOKEN, None)
    if token:
        # Kept until every copy of the cookie has expired, with a day to spare.
        sign_in.end_session(token, keep_for=app.permanent_session_lifetime + timedelta(days=1))
    audit.record(AuditAction.SIGN_OUT, record=user, actor=user)
    db.session.commit()
