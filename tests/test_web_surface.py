"""What the web surface shows the outside: URLs and access logs, response headers, CSV files.

- A NIK or KK number typed into a list's search box reaches neither a URL (browser history,
  Referer) nor the access log of a real server, and the search still finds the resident.
- Every page carries the security headers (CSP with a per-request nonce, no framing, no
  sniffing, same-origin referrers, nothing stored in caches; HSTS behind HTTPS).
- Every CSV export, the dashboard's monthly report included, defuses spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from app import create_app
from fakes.builders import make_case, make_district, make_referral, make_resident
from slrt.extensions import db
from slrt.models import Service
from slrt.models.enums import Domain, Role
from slrt.pii import mask, new_key
from tests.live import live_app, serving
from tests.web import PASSWORD, Browser, csrf_token

# ---- item 6: no identifier in a URL or an access log -------------------------------------------


class _Page(HTMLParser):
    """The forms (attributes and fields) and every URL-bearing attribute of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.urls: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("href", "src", "action", "formaction") if attrs.get(name)]
        if tag == "form":
            self.forms.append({"attrs": attrs, "fields": []})
        elif tag in ("input", "button", "select", "textarea") and self.forms and attrs.get("name"):
            if tag in ("input", "button") and attrs.get("type") in ("submit", "button", "checkbox", "radio"):
                return
            self.forms[-1]["fields"].append((attrs["name"], attrs.get("value") or ""))


def _search(session: requests.Session, list_url: str, term: str) -> requests.Response:
    """Type ``term`` into the list's search box and submit it, as a browser would."""
    page = session.get(list_url)
    assert page.status_code == 200, page.status_code
    form = next(f for f in _Page(page.text).forms if f["attrs"].get("role") == "search")
    fields = [(name, term if name == "search" else value) for name, value in form["fields"]]
    action = urljoin(page.url, form["attrs"].get("action") or page.url)
    if form["attrs"].get("method", "get").lower() == "post":
        return session.post(action, data=fields)
    return session.get(action, params=fields)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The real app behind a real HTTP server (werkzeug), its access log captured."""
    app = live_app(tmp_path_factory.mktemp("surface"), "surface-test", SLRT_SMS_DISPATCH=False)
    with app.app_context():
        from slrt import residents

        district = make_district()
        found = make_resident(district, name="Wartini Surface")
        other = make_resident(district, name="Wagiyem Lain")
        household = residents.register_household(kk_number="3316011203150007", address="RT 02 RW 01",
                                                 village=district.villages[0],
                                                 actor=district.user(Role.FRONT_OFFICE))
        found.household = household
        other.household = residents.register_household(kk_number="3316011203150008", address="RT 03 RW 01",
                                                       village=district.villages[0],
                                                       actor=district.user(Role.FRONT_OFFICE))
        make_case(district, found)
        make_case(district, other)
        db.session.commit()
        data = {"nik": found.nik, "kk": household.kk_number, "other_kk": other.household.kk_number,
                "supervisor": district.user(Role.SUPERVISOR).username}

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collect(logging.INFO)
    logger = logging.getLogger("werkzeug")
    saved_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with serving(app) as base:
            yield {"base": base, "log": lines, **data}
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        with app.app_context():
            db.engine.dispose()


def _signed_in(live) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{live['base']}/login")
    response = session.post(f"{live['base']}/login", data={
        "username": live["supervisor"], "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.url == f"{live['base']}/admin/", response.url
    return session


def test_a_nik_or_kk_searched_in_a_list_stays_out_of_urls_and_the_access_log(live):
    session = _signed_in(live)
    base = live["base"]
    identifiers = [live["nik"], live["kk"]]

    def leaks(text: str) -> bool:
        digits = re.sub(r"[^\d\n]", "", text)
        return any(number in digits for number in identifiers)

    for list_url, term, shown, not_shown in [
        ("/admin/resident/", live["nik"], "Wartini Surface", "Wagiyem Lain"),
        ("/admin/resident/", live["kk"], "Wartini Surface", "Wagiyem Lain"),
        ("/admin/resident/", f"{live['nik'][:4]} {live['nik'][4:10]} {live['nik'][10:]}", "Wartini Surface",
         "Wagiyem Lain"),
        ("/admin/case/", live["nik"], "Wartini Surface", "Wagiyem Lain"),
        ("/admin/household/", live["kk"], mask(live["kk"]), mask(live["other_kk"])),
        ("/admin/household/", live["nik"], mask(live["kk"]), mask(live["other_kk"])),
    ]:
        response = _search(session, f"{base}{list_url}", term)
        assert response.status_code == 200
        # The search still finds the resident (or their family), and only them.
        assert shown in response.text and not_shown not in response.text, (list_url, term)
        # What the browser history keeps: every address it went through.
        for url in [r.url for r in response.history] + [response.url]:
            assert not leaks(url), url
        # Every link of the result page (pager, sort, filters, export, details): none carries it.
        for url in _Page(response.text).urls:
            assert not leaks(url), url
        assert not leaks("\n".join(live["log"])), "an identifier reached the access log"
        if list_url == "/admin/resident/" and term == live["nik"]:
            export = next(u for u in _Page(response.text).urls if "/export/csv/" in u)
            exported = session.get(urljoin(response.url, export))
            assert exported.status_code == 200
            assert "Wartini Surface" in exported.text and "Wagiyem Lain" not in exported.text
    log = "\n".join(live["log"])
    assert "/admin/resident/" in log and "/admin/household/" in log  # the log was captured
    assert not leaks(log)


def test_a_search_token_means_nothing_in_another_session(live):
    first = _signed_in(live)
    result = _search(first, f"{live['base']}/admin/resident/", live["nik"])
    assert "Wartini Surface" in result.text and "Wagiyem Lain" not in result.text
    second = _signed_in(live)
    replayed = second.get(result.url)  # a URL read from a log or a history, opened elsewhere
    assert replayed.status_code == 200
    # Not the search: the plain list, and a word that the search has to be typed again.
    assert urlsplit(replayed.url).query == ""
    assert "Pencarian ini sudah kedaluwarsa" in replayed.text


def test_an_identifier_in_a_list_address_is_not_searched(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.SUPERVISOR).username)
    response = back.get(f"/admin/resident/?search={case.resident.nik}&sort=0")
    assert response.status_code == 302
    assert case.resident.nik not in response.headers["Location"]
    page = back.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ketik NIK, nomor KK atau nomor HP di kotak pencarian" in page
    # A name still searches from the address bar (and the box still finds a NIK).
    assert "Siti Aminah" in back.get("/admin/resident/?search=siti").get_data(as_text=True)
    assert "Siti Aminah" in back.search("/admin/resident/", case.resident.nik).get_data(as_text=True)


def test_the_search_box_refuses_what_it_cannot_keep(app, district, db_session):
    make_case(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.SUPERVISOR).username)
    response = back.search("/admin/resident/", "x" * 10_000)
    assert response.status_code == 200
    assert "Pencarian tidak dapat dipakai" in response.get_data(as_text=True)
    # A NUL byte is refused for every form before anything reads it (one check, app-wide).
    response = back.search("/admin/resident/", "siti\x00aminah")
    assert response.status_code == 400
    assert "Permintaan tidak dapat diproses" in response.get_data(as_text=True)
    # Without the form's CSRF token the search box posts nothing.
    assert back.post("/admin/resident/search/", {"search": "siti"}, token=False).status_code == 400


# ---- item 7: security headers ------------------------------------------------------------------

def _pages(case, referral) -> list[str]:
    return ["/admin/", "/admin/intake/", "/admin/case/", f"/admin/case/details/?id={case.id}",
            "/admin/referral/", f"/admin/referral/slip/?id={referral.id}",
            f"/admin/referral/letter/?id={referral.id}", "/admin/resident/",
            f"/admin/resident/details/?id={case.resident_id}", f"/admin/resident/edit/?id={case.resident_id}",
            "/admin/household/", "/admin/follow_up/", "/admin/sms/", "/admin/sms_template/",
            "/admin/sms_template/new/", "/admin/service/", "/admin/agency/", "/admin/staff/",
            "/admin/staff/new/", "/admin/report.csv", "/change", "/tf-setup"]


def _manager(app, district) -> Browser:
    """A manager (every screen), signed in with the authenticator app managers must use."""
    from flask import current_app

    security = current_app.extensions["security"]
    secret = security.totp_factory.generate_totp_secret()
    manager = district.user(Role.MANAGER)
    security.datastore.tf_set(manager, "authenticator", totp_secret=secret)
    db.session.commit()
    browser = Browser(app)
    browser.login(manager.username, code=security.totp_factory.generate_totp_password(secret))
    assert browser.get("/admin/staff/").status_code == 200
    return browser


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_every_page_carries_the_security_headers(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    login_page = Browser(app).get("/login")
    boss = _manager(app, district)
    pages = _pages(referral.case, referral)
    for url, response in [("/login", login_page)] + [(url, boss.get(url)) for url in pages]:
        assert response.status_code == 200, (url, response.status_code)
        headers = response.headers
        policy = _directives(headers["Content-Security-Policy"])
        scripts = policy["script-src"]
        nonces = [s for s in scripts if s.startswith("'nonce-")]
        assert len(nonces) == 1 and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, url
        assert not [s for s in sum(policy.values(), []) if s.startswith(("http:", "https:", "*"))], url  # no CDN
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"], url
        assert headers["X-Frame-Options"] == "DENY", url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert headers["Cache-Control"] == "no-store", (url, headers["Cache-Control"])
        assert "Strict-Transport-Security" not in headers, url  # served over plain HTTP here
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            nonce = nonces[0][len("'nonce-"):-1]
            # Every script the page runs is a file of ours or carries this response's nonce.
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert f'nonce="{nonce}"' in tag or re.search(r'\ssrc="/', tag), (url, tag)
            assert not re.search(r"<[^>]+\s(on[a-z]+|style)\s*=", html), (url, "inline handler or style")
    # Two responses, two nonces.
    first, second = (_directives(boss.get("/admin/").headers["Content-Security-Policy"])["script-src"]
                     for _ in range(2))
    assert first != second


def test_login_page_cache_control_is_well_formed(app):
    response = app.test_client().get("/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert "=True" not in str(response.headers)


def test_static_files_stay_cacheable(app):
    client = app.test_client()
    for url in ["/static/slrt.css", "/admin/static/admin/js/helpers.js"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_when_the_public_address_is_https(tmp_path):
    def app_at(public_url):
        return create_app({
            "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'hsts.sqlite'}",
            "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}", "SECRET_KEY": "hsts",
            "SLRT_PII_KEY": new_key(), "SLRT_PUBLIC_URL": public_url, "SLRT_ANDROID_SIGNING_KEY": "hsts",
        })

    secure = app_at("https://slrt.blorakab.go.id").test_client().get("/login")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # A TLS proxy in front: the app itself never redirects to https (the proxy does).
    assert secure.status_code == 200
    assert "Strict-Transport-Security" not in app_at("http://127.0.0.1:5000").test_client().get("/login").headers


# ---- item 8: one CSV writer -------------------------------------------------------------------

FORMULA = "=cmd|' /C calc'!A0"


def _csv_rows(response, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_every_csv_export_defuses_spreadsheet_formulas(app, district, db_session):
    service = Service(code="evil", name=FORMULA, short_name="@SUM(1+1)*cmd", domain=Domain.SOCIAL,
                      default_agency=district.agencies["baznas"], sla_days=5)
    db_session.add(service)
    db_session.flush()
    district.services["evil"] = service
    make_referral(district, service="evil")
    resident = make_resident(district, name="Siti Aminah")
    make_case(district, resident)
    db_session.commit()
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)

    report = boss.get("/admin/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = _csv_rows(report, delimiter=";")  # the report is for Indonesian Excel (tests/test_report.py)
    assert rows[0][:3] == ["Bagian", "Nama", "Bidang"]
    assert "'" + FORMULA in [cell for row in rows for cell in row]
    exported = boss.get("/admin/referral/export/csv/")
    assert exported.status_code == 200
    export_rows = _csv_rows(exported)
    assert "'" + FORMULA in [cell for row in export_rows for cell in row]
    cells = [cell for export in (rows, export_rows) for row in export for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], "a live formula"
    # One writer, one format: UTF-8 with a byte-order mark (spreadsheets then read it as UTF-8), CRLF.
    for response in (report, exported):
        assert response.get_data().startswith(b"\xef\xbb\xbf") and b"\r\n" in response.get_data()


def test_csv_cells_are_defused_one_way():
    from slrt.csvout import cell

    assert cell(FORMULA) == "'" + FORMULA
    assert cell("+62812 5555") == "'+62812 5555"
    assert cell("-1+1") == "'-1+1"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("\t=1") == "'\t=1"
    assert cell("Aktivasi BPJS = gratis") == "Aktivasi BPJS = gratis"
    assert cell(-3) == "-3" and cell(2.5) == "2.5" and cell(None) == ""
