"""Sign-in as an attacker tries it: lockout, authenticator codes, remember-me, sessions after sign-out.

Each browser comes from a client address of its own (REMOTE_ADDR), as people and attackers do.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from flask_login.utils import encode_cookie
from sqlalchemy import select

from slrt import lockout, sign_in, staff
from slrt.errors import PermissionDenied
from slrt.models import Staff
from slrt.models.enums import Role
from tests.web import PASSWORD, Browser

WRONG = "salah-sekali-1"
LOCKED = "Terlalu banyak percobaan masuk yang gagal"
ATTACKER = "203.0.113.66"


class From(Browser):
    """A browser at one client address."""

    def __init__(self, app, address: str) -> None:
        super().__init__(app)
        self.client.environ_base["REMOTE_ADDR"] = address

    def attempt(self, username: str, password: str) -> str:
        """Post the sign-in form; return its error, or "" when it signed in."""
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        if response.status_code == 302:
            return ""
        errors = re.findall(r'<p class="error" role="alert">([^<]*)</p>', response.get_data(as_text=True))
        assert errors, "a refused sign-in says why"
        return " ".join(errors)

    def signed_in(self) -> bool:
        return self.get("/admin/").status_code == 200

    def cookie(self, name: str = "session") -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found else None


@pytest.fixture
def people(app, district, db_session):
    """Browsers of two different offices, and an attacker's."""
    return From(app, "198.51.100.7"), From(app, "198.51.100.8"), From(app, ATTACKER)


def _staff(db_session, username) -> Staff:
    db_session.expire_all()
    return db_session.scalar(select(Staff).where(Staff.username == username))


def _with_authenticator(db_session, username) -> str:
    """Give the account an authenticator app; return its secret."""
    security = current_app.extensions["security"]
    secret = security.totp_factory.generate_totp_secret()
    security.datastore.tf_set(_staff(db_session, username), "authenticator", totp_secret=secret)
    db_session.commit()
    return secret


def _code(secret: str) -> str:
    return current_app.extensions["security"].totp_factory.generate_totp_password(secret)


def _wrong_code(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


# ---- 1. lockout --------------------------------------------------------------------------------


def test_a_locked_account_answers_the_same_whatever_the_password(people):
    _, _, attacker = people
    for _ in range(5):
        assert "Nama pengguna atau kata sandi salah" in attacker.attempt("jepon.front_office", WRONG)
    right = attacker.attempt("jepon.front_office", PASSWORD)
    wrong = attacker.attempt("jepon.front_office", WRONG)
    assert right == wrong and LOCKED in right  # no oracle: the right password is not told apart
    assert not attacker.signed_in()


def test_failures_during_a_lock_do_not_extend_it(people, frozen, db_session):
    clerk, _, attacker = people
    for _ in range(5):
        attacker.attempt("jepon.front_office", WRONG)
    ends = _staff(db_session, "jepon.front_office").locked_until
    for _ in range(3):  # the attacker keeps guessing through the lock, five at a time
        frozen.shift(timedelta(minutes=4))
        for _ in range(5):
            assert LOCKED in attacker.attempt("jepon.front_office", WRONG)
    assert _staff(db_session, "jepon.front_office").locked_until == ends
    frozen.move_to(ends + timedelta(seconds=1))
    assert clerk.attempt("jepon.front_office", PASSWORD) == ""
    assert clerk.signed_in()


def test_one_address_cannot_lock_every_account(people, db_session):
    clerk, colleague, attacker = people
    usernames = [f"{unit}.{role.value}" for unit in ("sek", "jepon", "palon") for role in Role]
    for username in usernames:
        for _ in range(5):
            attacker.attempt(username, WRONG)
    locked = [u for u in usernames if _staff(db_session, u).locked_until is not None]
    # SLRT_LOGIN_ADDRESS_ATTEMPTS (10) failures, then the address itself is refused, uncounted
    assert len(locked) == 2
    assert LOCKED in attacker.attempt("palon.front_office", PASSWORD)  # refused, whatever the password
    assert LOCKED in attacker.attempt("nobody.at.all", WRONG)
    assert clerk.attempt("palon.front_office", PASSWORD) == ""  # its owner, elsewhere, signs in
    assert colleague.attempt("jepon.supervisor", PASSWORD) == ""


def test_unknown_usernames_count_against_the_address(people):
    clerk, _, attacker = people
    for n in range(10):
        assert "Nama pengguna atau kata sandi salah" in attacker.attempt(f"tebak.{n}", WRONG)
    assert LOCKED in attacker.attempt("jepon.front_office", PASSWORD)
    assert not attacker.signed_in()
    assert clerk.attempt("jepon.front_office", PASSWORD) == ""


def test_a_manager_sees_a_locked_account_and_unlocks_it(app, people, db_session):
    clerk, manager, attacker = people
    for _ in range(5):
        attacker.attempt("jepon.front_office", WRONG)
    secret = _with_authenticator(db_session, "sek.manager")
    manager.login("sek.manager", code=_code(secret))
    listing = manager.get("/admin/staff/").get_data(as_text=True)
    assert "Terkunci sampai" in listing
    row = next(r for r in listing.split("<tr") if "jepon.front_office" in r)
    assert "24-11-2026 10:15" in row  # frozen at 10:00 in Jakarta, locked for 15 minutes
    assert LOCKED in clerk.attempt("jepon.front_office", PASSWORD)
    target = _staff(db_session, "jepon.front_office")
    page = manager.post("/admin/staff/action/", {"action": "unlock", "rowid": [target.id]}, follow_redirects=True)
    assert "Kunci akun dibuka." in page.get_data(as_text=True)
    assert clerk.attempt("jepon.front_office", PASSWORD) == ""


def test_only_a_manager_covering_the_unit_unlocks(app, district, db_session, frozen):
    locked = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    for _ in range(5):
        sign_in.record_failure(locked, "203.0.113.9")
    assert lockout.locked_until(locked) is not None
    for actor in (district.user(Role.MANAGER, district.puskesos[1]), district.user(Role.SUPERVISOR)):
        with pytest.raises(PermissionDenied):
            sign_in.unlock_account(locked, actor=actor)
    assert lockout.locked_until(locked) is not None
    sign_in.unlock_account(locked, actor=district.user(Role.MANAGER, district.puskesos[0]))
    assert lockout.locked_until(locked) is None


# ---- 2. authenticator codes --------------------------------------------------------------------


def test_wrong_authenticator_codes_lock_the_account(people, db_session):
    _, _, attacker = people  # has the manager's password, not the phone
    secret = _with_authenticator(db_session, "sek.manager")
    response = attacker.post("/login", {"username": "sek.manager", "password": PASSWORD})
    assert "tf-validate" in response.headers["Location"]
    attacker.get(response.headers["Location"])
    for _ in range(5):
        assert LOCKED not in attacker.post("/tf-validate", {"code": _wrong_code(_code(secret))}).get_data(
            as_text=True)
    assert LOCKED in attacker.post("/tf-validate", {"code": _code(secret)}).get_data(as_text=True)
    assert not attacker.signed_in()
    assert LOCKED in attacker.attempt("sek.manager", PASSWORD)  # and starting again is no way round


def test_an_authenticator_code_signs_in_once(people, db_session):
    manager, _, attacker = people
    secret = _with_authenticator(db_session, "sek.manager")
    code = _code(secret)
    manager.login("sek.manager", code=code)
    assert manager.signed_in()
    attacker.login("sek.manager", code=code)  # seen over the shoulder, typed within the same 30 s
    assert not attacker.signed_in()


# ---- 3. remember me ------------------------------------------------------------------------------


def test_remember_me_sets_no_cookie(people):
    clerk, _, _ = people
    clerk.get("/login")
    response = clerk.post("/login", {"username": "jepon.front_office", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    assert not any("remember_token" in c for c in response.headers.getlist("Set-Cookie"))
    assert clerk.cookie("remember_token") is None


def test_a_remember_cookie_signs_no_one_in(app, people, db_session):
    _, _, attacker = people
    user = _staff(db_session, "jepon.front_office")
    with app.test_request_context():
        forged = encode_cookie(user.fs_uniquifier)  # what a remember-me sign-in used to leave behind
    attacker.client.set_cookie("remember_token", forged)
    assert not attacker.signed_in()


# ---- 4. sessions end on the server ----------------------------------------------------------------


def _replay(app, cookie: str) -> From:
    """A fresh browser that carries only a copied session cookie."""
    thief = From(app, ATTACKER)
    thief.client.set_cookie("session", cookie)
    return thief


def test_sign_out_ends_the_session_on_the_server(app, people):
    clerk, _, _ = people
    clerk.login("jepon.front_office")
    copied = clerk.cookie()
    assert _replay(app, copied).signed_in()  # a copy of the cookie is as good as the browser
    clerk.post("/logout")
    assert not clerk.signed_in()
    assert not _replay(app, copied).signed_in()


def test_a_signed_out_cookie_kept_alive_stays_signed_out(app, people, frozen):
    clerk, _, _ = people
    clerk.login("jepon.front_office")
    copied = clerk.cookie()
    clerk.post("/logout")
    thief = _replay(app, copied)
    for _ in range(80):  # a request every 20 minutes for a day and more: the cookie never idles out
        frozen.shift(timedelta(minutes=20))
        thief.get("/static/slrt.css")
        thief.get("/login")
    assert not thief.signed_in()


def test_an_auth_token_does_not_outlive_sign_out(app, people):
    clerk, _, _ = people
    clerk.get("/login")
    response = clerk.client.post("/login?include_auth_token", json={"username": "jepon.front_office",
                                                                    "password": PASSWORD},
                                 headers={"X-CSRFToken": clerk.token})
    token = response.get_json()["response"]["user"]["authentication_token"]
    clerk.get("/admin/")
    clerk.post("/logout")
    thief = From(app, ATTACKER)
    header = {"Authentication-Token": token}
    with app.app_context():
        assert thief.client.get("/admin/", headers=header).status_code == 302


def test_deactivation_and_a_new_password_end_every_session(app, district, db_session):
    first, second = From(app, "198.51.100.7"), From(app, "198.51.100.8")
    for browser in (first, second):
        browser.login("jepon.back_office")
        assert browser.signed_in()
    first.get("/change")
    first.post("/change", {"password": PASSWORD, "new_password": "kata-sandi-baru-1",
                           "new_password_confirm": "kata-sandi-baru-1"})
    assert first.signed_in() and not second.signed_in()  # who changed it stays signed in

    second.login("jepon.back_office", "kata-sandi-baru-1")
    assert second.signed_in()
    staff.set_active(_staff(db_session, "jepon.back_office"), False, actor=_staff(db_session, "jepon.manager"))
    db_session.commit()
    assert not first.signed_in() and not second.signed_in()


def test_a_new_role_ends_every_session(app, district, db_session):
    browser = From(app, "198.51.100.7")
    browser.login("jepon.back_office")
    assert browser.signed_in()
    user = _staff(db_session, "jepon.back_office")
    staff.update_staff(user, actor=_staff(db_session, "sek.manager"), full_name=user.full_name,
                       role=Role.SUPERVISOR, unit=user.unit)
    db_session.commit()
    assert not browser.signed_in()


def test_a_new_unit_signs_out_and_a_new_name_does_not(district, db_session):
    user, manager = _staff(db_session, "jepon.back_office"), _staff(db_session, "sek.manager")
    key = user.fs_uniquifier
    staff.update_staff(user, actor=manager, full_name="Bu Rina", role=user.role, unit=user.unit, language="en")
    assert user.fs_uniquifier == key and user.language == "en"
    staff.update_staff(user, actor=manager, full_name="Bu Rina", role=user.role, unit=district.puskesos[1])
    assert user.fs_uniquifier != key and user.language == "en"
