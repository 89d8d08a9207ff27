"""Sign-in: usernames, generic errors, lockout, TOTP for managers, idle timeout, CSRF, sign-out."""

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from slrt.models import Staff
from slrt.models.enums import Role
from tests.web import Browser


@pytest.fixture
def browser(app, district, db_session):
    return Browser(app)


def _staff(db_session, username):
    return db_session.scalar(select(Staff).where(Staff.username == username))


def test_anonymous_users_reach_only_the_login_page(app, db_session):
    client = app.test_client()
    for url in ["/admin/", "/admin/case/", "/admin/resident/", "/admin/intake/", "/admin/report.csv",
                "/admin/case/details/?id=1", "/admin/staff/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/slrt.css").status_code == 200


def test_login_page_is_indonesian_with_csrf(browser):
    page = browser.get("/login").get_data(as_text=True)
    assert "Masuk" in page and "Nama pengguna" in page and "Kata sandi" in page
    assert browser.token


def test_sign_in_by_username_lands_on_the_dashboard(browser, db_session):
    response = browser.login("jepon.front_office")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    page = browser.get("/admin/").get_data(as_text=True)
    assert "Dasbor" in page and "Petugas Front Office" in page
    assert _staff(db_session, "jepon.front_office").login_count == 1


@pytest.mark.parametrize(("username", "password"), [("jepon.front_office", "salah-sekali-1"),
                                                    ("tidak.ada", "rahasia-demo-1")])
def test_wrong_credentials_get_one_generic_message(browser, username, password):
    page = browser.post("/login", {"username": username, "password": password}).get_data(as_text=True)
    assert "Nama pengguna atau kata sandi salah." in page
    assert browser.get("/admin/").status_code == 302


def test_five_failures_lock_the_account(browser, db_session, frozen):
    for _ in range(5):
        browser.post("/login", {"username": "jepon.front_office", "password": "salah-sekali-1"})
    user = _staff(db_session, "jepon.front_office")
    assert user.locked_until is not None
    page = browser.post("/login", {"username": "jepon.front_office", "password": "rahasia-demo-1"}).get_data(
        as_text=True)
    assert "Terlalu banyak percobaan masuk yang gagal" in page
    assert browser.get("/admin/").status_code == 302
    frozen.shift(timedelta(minutes=16))
    assert browser.login("jepon.front_office").status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_manager_must_set_up_an_authenticator_app(browser):
    response = browser.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    assert response.status_code == 302 and "tf-setup" in response.headers["Location"]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pasang aplikasi autentikator" in page and 'id="qrcode"' in page  # at once: nothing to choose
    assert browser.get("/admin/").status_code == 302  # not signed in until the second factor


def test_manager_signs_in_with_a_totp_code(app, browser, db_session):
    security = current_app.extensions["security"]
    secret = security.totp_factory.generate_totp_secret()
    security.datastore.tf_set(_staff(db_session, "sek.manager"), "authenticator", totp_secret=secret)
    db_session.commit()
    response = browser.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    assert "tf-validate" in response.headers["Location"]
    browser.get(response.headers["Location"])
    assert "Kode tidak valid" in browser.post("/tf-validate", {"code": "000000"}).get_data(as_text=True) \
        or browser.get("/admin/").status_code == 302
    code = security.totp_factory.generate_totp_password(secret)
    browser.post("/tf-validate", {"code": code})
    assert browser.get("/admin/").status_code == 200


def test_others_may_use_an_authenticator_but_need_not(browser):
    browser.login("sek.back_office")
    assert browser.get("/admin/").status_code == 200
    response = browser.get("/tf-setup")
    if response.status_code == 302:  # Flask-Security asks for the password again first
        assert "/verify" in response.headers["Location"]
        browser.get(response.headers["Location"])
        browser.post("/verify", {"password": "rahasia-demo-1"})
        response = browser.get("/tf-setup")
    assert response.status_code == 200


def test_session_ends_after_30_idle_minutes(browser, frozen):
    browser.login("sek.back_office")
    frozen.shift(timedelta(minutes=20))
    assert browser.get("/admin/").status_code == 200  # activity renews the session
    frozen.shift(timedelta(minutes=20))
    assert browser.get("/admin/").status_code == 200
    frozen.shift(timedelta(minutes=31))
    response = browser.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_out_is_a_post_with_csrf(browser):
    browser.login("sek.back_office")
    assert browser.post("/logout", token=False).status_code == 400
    assert browser.get("/admin/").status_code == 200
    browser.post("/logout")
    assert browser.get("/admin/").status_code == 302


def test_deactivated_account_cannot_sign_in(browser, db_session):
    _staff(db_session, "sek.back_office").active = False
    db_session.commit()
    page = browser.post("/login", {"username": "sek.back_office", "password": "rahasia-demo-1"}).get_data(
        as_text=True)
    # Generic responses (SECURITY_RETURN_GENERIC_RESPONSES): a deactivated account looks like a wrong password.
    assert "Nama pengguna atau kata sandi salah." in page
    assert browser.get("/admin/").status_code == 302


def test_passwords_are_hashed_with_argon2_by_default(tmp_path):
    from app import create_app
    from slrt import staff
    from slrt.access import SYSTEM_ACTOR
    from slrt.extensions import db
    from slrt.models import Unit
    from slrt.models.enums import UnitKind
    from slrt.pii import new_key

    prod = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}", "SLRT_PII_KEY": new_key(),
                       "SECRET_KEY": "x", "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}"})
    with prod.app_context():
        db.create_all()
        from slrt.models import Region
        from slrt.models.enums import RegionLevel

        unit = Unit(name="U", kind=UnitKind.SECRETARIAT,
                    region=Region(code="33.16", name="Blora", level=RegionLevel.REGENCY))
        user = staff.create_staff(username="rina", full_name="Rina P", role=Role.MANAGER, unit=unit,
                                  password="panjang-sekali-1", actor=SYSTEM_ACTOR)
        assert user.password.startswith("$argon2")
        assert user.check_password("panjang-sekali-1") and not user.check_password("panjang-sekali-2")
        db.engine.dispose()
