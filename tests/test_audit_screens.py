"""The audit log's screens (issue 17, item 3): the managers' log with filters, keyset pages and export;
"Riwayat akses" on a resident's page for supervisors and managers; one's own activity on the account page."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import openpyxl
import pytest
import requests
from flask import current_app
from sqlalchemy import func, select

from fakes.builders import make_case, make_district, make_resident
from slrt import audit
from slrt.extensions import db
from slrt.models import AuditEntry, Staff
from slrt.models.enums import AuditAction, Role
from tests.conftest import JAKARTA
from tests.live import live_app, serving
from tests.test_admin_matrix import signed_in

URL = "/admin/audit-log/"


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-entry="(\d+)"', page)]


def _older(page: str) -> str | None:
    found = re.search(r'href="([^"]+)" data-page="older"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def _matching(*conditions) -> list[int]:
    return list(db.session.scalars(select(AuditEntry.id).where(*conditions)
                                   .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())))


@pytest.fixture
def day(district, db_session, frozen):
    """A resident, a case, and reads of them by two staff members on two days (24 and 26 November)."""
    case = make_case(district)
    other = make_resident(district, name="Budi Santoso")
    back, supervisor = district.user(Role.BACK_OFFICE), district.user(Role.SUPERVISOR)
    db_session.commit()
    audit.record(AuditAction.VIEW, record=other, resident_ids=[other.id], actor=back)
    frozen.move_to(datetime(2026, 11, 26, 9, 0, tzinfo=JAKARTA))  # the chain's time only goes forward
    for _ in range(3):
        audit.record(AuditAction.VIEW, record=case.resident, resident_ids=[case.resident_id], actor=supervisor)
    audit.record(AuditAction.REVEAL_NIK, record=case.resident, resident_ids=[case.resident_id], actor=back)
    db_session.commit()
    return case, other


@pytest.mark.parametrize(("role", "unit"), [(Role.FRONT_OFFICE, None), (Role.FACILITATOR, None),
                                            (Role.BACK_OFFICE, None), (Role.SUPERVISOR, None), ("puskesos", 0)])
def test_only_the_districts_managers_reach_the_log(app, district, day, role, unit):
    if role == "puskesos":
        role, unit = Role.MANAGER, district.puskesos[unit]
    browser = signed_in(app, district, role, unit)
    for url in (URL, f"{URL}export.csv", f"{URL}export.xlsx"):
        assert browser.get(url).status_code == 403, url
    assert browser.post(f"{URL}resident", {"nik": day[0].resident.nik}).status_code == 403
    assert "audit-log" not in browser.get("/admin/").get_data(as_text=True)


def test_signed_out_goes_to_sign_in(app, db_session):
    response = app.test_client().get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_log_has_no_way_to_change_an_entry(app):
    rules = {rule.rule: rule.methods for rule in app.url_map.iter_rules() if rule.endpoint.startswith("audit_log.")}
    assert set(rules) == {"/admin/audit-log/", "/admin/audit-log/resident", "/admin/audit-log/export.<extension>"}
    assert rules["/admin/audit-log/resident"] >= {"POST"} and "DELETE" not in set().union(*rules.values())


def test_the_manager_filters_the_log(app, district, day):
    case, other = day
    supervisor = district.user(Role.SUPERVISOR)
    manager = signed_in(app, district, Role.MANAGER)
    page = manager.get(URL).get_data(as_text=True)
    assert "Log audit" in page and "menampilkan NIK lengkap" in page and "reveal_nik<" not in page
    assert _ids(page) == _matching()[:50]
    assert f'href="{URL}?staff={supervisor.id}"' in page  # a name narrows the log to that account
    by_staff = manager.get(f"{URL}?staff={supervisor.id}").get_data(as_text=True)
    assert _ids(by_staff) == _matching(AuditEntry.staff_id == supervisor.id) and len(_ids(by_staff)) >= 3
    by_action = manager.get(f"{URL}?action=reveal_nik").get_data(as_text=True)
    assert _ids(by_action) == _matching(AuditEntry.action == AuditAction.REVEAL_NIK)
    by_record = manager.get(f"{URL}?type=resident&record={other.id}").get_data(as_text=True)
    assert _ids(by_record) == _matching(AuditEntry.record_type == "resident", AuditEntry.record_id == other.id)
    by_day = manager.get(f"{URL}?start=2026-11-24&end=24-11-2026").get_data(as_text=True)
    assert _ids(by_day) == _matching(AuditEntry.at < datetime(2026, 11, 25, tzinfo=JAKARTA))[:50]
    assert _ids(by_day) and not set(_ids(by_day)) & set(_ids(by_action))
    from_26 = manager.get(f"{URL}?start=2026-11-26&action=view").get_data(as_text=True)
    assert _ids(from_26) == _matching(AuditEntry.at >= datetime(2026, 11, 26, tzinfo=JAKARTA),
                                      AuditEntry.action == AuditAction.VIEW)
    assert len(_ids(from_26)) >= 3
    # The resident by NIK: a POST, then the resident's id in the URL, never the NIK.
    found = manager.post(f"{URL}resident", {"nik": other.nik, "action": "view"})
    location = found.headers["Location"]
    assert found.status_code == 302 and other.nik not in location and f"resident={other.id}" in location
    by_resident = manager.get(location).get_data(as_text=True)
    assert _ids(by_resident) == _matching(AuditEntry.action == AuditAction.VIEW, audit.concerns(other.id))
    assert _ids(by_resident) and other.nik not in by_resident
    unknown = manager.post(f"{URL}resident", {"nik": "3316015708459999"}).get_data(as_text=True)
    assert "Tidak ada warga dengan NIK ini" in unknown
    assert "16 angka" in manager.post(f"{URL}resident", {"nik": "123"}).get_data(as_text=True)


def test_by_address(app, district, day):
    manager = signed_in(app, district, Role.MANAGER)
    manager.get("/admin/resident/", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    page = manager.get(f"{URL}?ip=10.9.8.7").get_data(as_text=True)
    assert _ids(page) == _matching(AuditEntry.ip == "10.9.8.7") and _ids(page)


def test_pages_have_no_duplicates_or_gaps(app, district, day, db_session):
    clerk = district.user(Role.FRONT_OFFICE)
    for _ in range(120):  # all in the same instant: ties broken by id
        audit.record(AuditAction.LIST, resident_ids=[day[0].resident_id], rows=1, actor=clerk)
    db_session.commit()
    manager = signed_in(app, district, Role.MANAGER)
    seen, url = [], f"{URL}?staff={clerk.id}"
    while url:
        page = manager.get(url).get_data(as_text=True)
        seen += _ids(page)
        url = _older(page)
    assert seen == _matching(AuditEntry.staff_id == clerk.id) and len(seen) == len(set(seen)) >= 120


@pytest.mark.parametrize("query", [
    "staff=99999999999999999999", "staff=abc", "resident=-5", "action=hapus", "type=x" * 30, "record=1e9",
    "type=resident&record=99999999999999999999", "record=5", "start=2026-02-30", "end=0000-01-01",
    "start=9999-12-31", "start=2026-12-01&end=2026-11-01", "ip=999.1.1.1", "ip=%00", "before=abc",
    "before=99999999999999999999999.1", "before=-99999999999999.5", "before=1.99999999999999999999",
])
def test_junk_filters_are_said_not_failed(app, district, day, query):
    manager = signed_in(app, district, Role.MANAGER)
    response = manager.get(f"{URL}?{query}")
    assert response.status_code in (200, 400), query
    for extension in ("csv", "xlsx"):
        assert manager.get(f"{URL}export.{extension}?{query}").status_code in (200, 400), query


def test_the_export_holds_the_filtered_entries_and_is_audited(app, district, day):
    supervisor = district.user(Role.SUPERVISOR)
    manager = signed_in(app, district, Role.MANAGER)
    start = _matching()[0]
    got = manager.get(f"{URL}export.csv?staff={supervisor.id}")
    lines = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    expected = _matching(AuditEntry.staff_id == supervisor.id)
    assert lines[0][0] == "Waktu" and len(lines) == len(expected) + 1
    assert lines[0][1:3] == ["Jenis pelaku", "Pelaku"]
    assert all(line[1:4] == ["petugas", supervisor.full_name, f"#{supervisor.id}"] for line in lines[1:])
    entry, = db.session.scalars(select(AuditEntry).where(AuditEntry.id > start,
                                                         AuditEntry.action == AuditAction.EXPORT))
    assert entry.detail == {"type": "audit", "staff_id": supervisor.id, "format": "csv"}
    assert entry.rows == len(expected) and entry.staff_id == district.user(Role.MANAGER).id
    book = manager.get(f"{URL}export.xlsx?action=reveal_nik")
    rows = list(openpyxl.load_workbook(io.BytesIO(book.data)).active.iter_rows(values_only=True))
    assert len(rows) == len(_matching(AuditEntry.action == AuditAction.REVEAL_NIK)) + 1
    case, other = day
    assert case.resident.nik.encode() not in got.data and other.nik.encode() not in got.data


def test_the_csv_export_streams_whole_through_a_real_server(tmp_path):
    """Behind a real server the view's session is closed once it has answered, while the CSV still
    streams: the export must not hold a cursor of that session (it broke after its header line)."""
    app = live_app(tmp_path, "audit-export")
    with app.app_context():
        district = make_district()
        for _ in range(3):
            make_case(district)
        db.session.commit()
        for number in range(2500):  # more than one batch of the export
            audit.record(AuditAction.VIEW, record=("case", number + 1), actor=district.user(Role.SUPERVISOR))
        db.session.commit()
        manager = district.user(Role.MANAGER)
        security = current_app.extensions["security"]
        secret = security.totp_factory.generate_totp_secret()
        security.datastore.tf_set(db.session.get(Staff, manager.id), "authenticator", totp_secret=secret)
        db.session.commit()
        username = manager.username
        db.session.remove()
    with serving(app) as base, requests.Session() as browser:
        def token(html: str) -> str:
            return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

        page = browser.get(f"{base}/login")
        page = browser.post(f"{base}/login", data={"username": username, "password": "rahasia-demo-1",
                                                   "csrf_token": token(page.text)})
        with app.app_context():
            code = current_app.extensions["security"].totp_factory.generate_totp_password(secret)
        browser.post(f"{base}/tf-validate", data={"code": code, "csrf_token": token(page.text)})
        got = browser.get(f"{base}{URL}export.csv")
    lines = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    with app.app_context():  # every entry, the sign-in's and the export's own included
        total = db.session.scalar(select(func.count()).select_from(AuditEntry))
        db.session.remove()
    assert got.status_code == 200 and lines[0][0] == "Waktu" and total > 2500
    assert len(lines) - 1 == total and len({line[-1] for line in lines[1:]}) == total  # each once


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.MANAGER])
def test_access_history_on_the_residents_page(app, district, day, role):
    case, other = day
    browser = signed_in(app, district, role)
    page = browser.get(f"/admin/resident/details/?id={case.resident_id}").get_data(as_text=True)
    assert "Riwayat akses" in page
    section = page[page.index("access-history"):]
    shown = _ids(section)
    assert shown and set(shown) <= set(_matching(audit.concerns(case.resident_id)))
    assert district.user(Role.SUPERVISOR).username in section and "menampilkan NIK lengkap" in section
    assert not set(shown) & set(_matching(AuditEntry.record_id == other.id, AuditEntry.record_type == "resident"))


@pytest.mark.parametrize("role", [Role.FRONT_OFFICE, Role.FACILITATOR, Role.BACK_OFFICE])
def test_no_access_history_for_other_roles(app, district, day, role):
    browser = signed_in(app, district, role)
    page = browser.get(f"/admin/resident/details/?id={day[0].resident_id}").get_data(as_text=True)
    assert "Riwayat akses" not in page and "access-history" not in page


def test_own_activity_on_the_account_page(app, district, day):
    back = district.user(Role.BACK_OFFICE)
    browser = signed_in(app, district, Role.BACK_OFFICE)
    home = browser.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/account/"' in home and "Akun saya" in home
    page = browser.get("/admin/account/").get_data(as_text=True)
    assert "Aktivitas terakhir saya" in page and back.username in page
    shown = _ids(page)
    assert shown and shown == _matching(AuditEntry.staff_id == back.id)[:30]
    assert not set(shown) & set(_matching(AuditEntry.staff_id != back.id))
