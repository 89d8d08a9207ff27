"""The authenticator step of a manager's sign-in: one clear screen in Indonesian, tried with real TOTP codes."""

import re
from html import unescape

import pytest
from passlib.totp import TOTP
from sqlalchemy import select

from slrt.models import Staff
from tests.web import Browser

#: Words that must not reach a half signed-in manager (Flask-Security's defaults, English or raw).
NOT_SHOWN = ["none", "Menu", "Login", "Trouble Accessing", "Lost Mobile", "Contact Administrator",
             "Two-Factor", "Submit", "authenticator</", 'type="radio"', "e-mail", "email"]


def _text(response) -> str:
    return response.get_data(as_text=True)


def _visible(html: str) -> str:
    """The page without its head, scripts and tags' attributes other than types (what a person reads)."""
    body = html.split("<body", 1)[1]
    return re.sub(r"<(?!input)[^>]+>", " ", body)


def _key(html: str) -> str:
    """The key the screen says to type into the app (when the QR code cannot be scanned)."""
    found = re.search(r'<code class="tf-key">([^<]+)</code>', html)
    assert found, "the set-up shows the key to type"
    return unescape(found.group(1)).replace("-", "").replace(" ", "")


def _code(key: str) -> str:
    """What an authenticator app shows now for ``key`` (passlib, as Flask-Security itself uses)."""
    return TOTP(key=key, format="base32").generate().token


def _buttons(html: str) -> int:
    return len(re.findall(r"<button|<input[^>]*type=\"submit\"", html))


@pytest.mark.parametrize("lang", ["id", "en"])
def test_first_sign_in_of_a_manager_is_one_screen_then_signed_in(app, district, db_session, lang):
    manager = Browser(app)
    manager.get(f"/login?lang={lang}")
    response = manager.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/tf-setup")
    page = manager.get("/tf-setup")
    html = _text(page)
    assert page.status_code == 200 and 'id="qrcode"' in html and 'name="code"' in html
    assert _buttons(html) == 1
    for word in NOT_SHOWN:
        assert word not in _visible(html), word
    if lang == "id":
        assert "Pasang aplikasi autentikator" in html and "Masuk" in _visible(html)
    else:
        assert "Set up your authenticator app" in html
    key = _key(html)
    assert _key(_text(manager.get("/tf-setup"))) == key  # a reload shows the same key (it may be scanned)

    wrong = manager.post("/tf-validate", {"code": f"{(int(_code(key)) + 1) % 1_000_000:06d}"})
    assert wrong.status_code == 200 and ("Kode tidak valid" if lang == "id" else "Invalid code") in _text(wrong)
    assert "Trouble" not in _text(wrong) and 'type="radio"' not in _text(wrong)
    assert manager.get("/admin/").status_code == 302  # still not signed in

    done = manager.post("/tf-validate", {"code": _code(key)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/")
    assert manager.get("/admin/").status_code == 200
    db_session.expire_all()
    staff = db_session.scalar(select(Staff).where(Staff.username == "sek.manager"))
    assert staff.tf_primary_method == "authenticator"


def test_the_code_step_of_a_manager_with_an_app_names_who_to_ask(app, district, db_session):
    manager = Browser(app)
    manager.get("/login")
    manager.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    key = _key(_text(manager.get("/tf-setup")))
    manager.post("/tf-validate", {"code": _code(key)})
    manager.post("/logout")

    again = Browser(app)
    again.get("/login")
    response = again.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    assert "/tf-validate" in response.headers["Location"]
    html = _text(again.get(response.headers["Location"]))
    assert _buttons(html) == 1 and 'name="code"' in html
    for word in NOT_SHOWN:
        assert word not in _visible(html), word
    assert "manajer atau operator TI" in html
    assert 'href="/tf-setup"' not in html  # set up already: nothing to show again
    # the password alone does not let anyone put a new app in place of the manager's
    replaced = again.get("/tf-setup")
    assert 'id="qrcode"' not in _text(replaced) and "tf-key" not in _text(replaced)


def test_a_signed_in_supervisor_adds_an_app_from_the_menu_and_may_stop_using_it(app, district, db_session):
    supervisor = Browser(app)
    supervisor.login("sek.supervisor")
    html = _text(supervisor.get("/tf-setup"))
    assert _buttons(html) == 1 and "Pasang aplikasi autentikator" in html and 'type="radio"' not in html
    for word in NOT_SHOWN:
        assert word not in _visible(html), word
    shown = supervisor.post("/tf-setup", {"setup": "authenticator"})
    html = _text(shown)
    assert shown.status_code == 200 and 'id="qrcode"' in html and _buttons(html) == 1
    action = re.search(r'<form action="([^"]+)" method="post" name="two_factor_verify_code_form"', html).group(1)
    done = supervisor.post(unescape(action), {"code": _code(_key(html))})
    assert done.status_code == 302
    html = _text(supervisor.get("/tf-setup"))
    assert "Pindahkan ke ponsel baru" in html and "Berhenti memakai aplikasi autentikator" in html
    stopped = supervisor.post("/tf-setup", {"setup": "disable"})
    assert stopped.status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(Staff).where(Staff.username == "sek.supervisor")).tf_primary_method is None


def test_there_is_no_rescue_by_e_mail(app, district, db_session):
    manager = Browser(app)
    manager.get("/login")
    manager.post("/login", {"username": "sek.manager", "password": "rahasia-demo-1"})
    manager.get("/tf-setup")
    for choice in ("help", "email"):  # Flask-Security would mail the administrator (there is no mail)
        response = manager.post("/tf-rescue", {"help_setup": choice})
        assert response.status_code == 404


def test_flask_securitys_other_pages_lead_back_to_the_dashboard_not_to_its_english_menu(app, district):
    clerk = Browser(app)
    clerk.login("sek.back_office")
    html = _text(clerk.get("/change"))
    assert "Sign Out" not in html and ">Menu<" not in html
    assert '<a href="/admin/">Kembali ke dasbor</a>' in html
