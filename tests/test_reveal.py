"""Full NIK and KK numbers only on an explicit "Tampilkan NIK"/"Tampilkan KK" (a POST, by role) and, in
exports, only for a manager who gives a reason; every other page and file shows them masked.

Pages and files are scanned for the 16 digits themselves (issue 17, item 2)."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import openpyxl
import pytest
from sqlalchemy import select

from fakes.builders import make_case, make_referral, make_resident
from slrt import dtsen, residents
from slrt.access import may_reveal_kk, may_reveal_nik
from slrt.extensions import db
from slrt.models import AuditEntry
from slrt.models.enums import AuditAction, Role
from tests.test_admin_matrix import signed_in


@pytest.fixture
def family_case(district, db_session):
    """The open case of a resident of Jepon in a registered household, referred and proposed to DTSEN."""
    household = residents.register_household(kk_number="3316011203090017", address="RT 02 RW 01",
                                              village=district.villages[0], actor=district.user(Role.FRONT_OFFICE))
    case = make_case(district, make_resident(district, household=household))
    make_referral(district, case)
    dtsen.propose(case, actor=district.user(Role.FRONT_OFFICE), note="belum terdaftar")
    db_session.commit()
    return case


@pytest.fixture
def family(family_case):
    """What the pages must show or hide of the case's resident (plain values: each request ends the session)."""
    resident = family_case.resident
    return SimpleNamespace(id=resident.id, nik=resident.nik, nik_masked=resident.nik_masked,
                           household_id=resident.household_id, kk=resident.household.kk_number,
                           kk_masked=resident.household.kk_masked)


def _reveal_form(page: str, what: str) -> str | None:
    """The action of the page's "Tampilkan" button for ``what``, or None when the page has none."""
    found = re.search(r'<form method="post" action="([^"]+)" class="reveal[^>]*>(?:(?!</form>).)*name="what" '
                      rf'value="{what}"', page, re.S)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize("role", [Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER])
def test_the_resident_page_masks_the_nik_and_reveals_it_on_the_button(app, district, family, role):
    browser = signed_in(app, district, role)
    page = browser.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and family.nik_masked in page
    assert family.kk not in page and family.kk_masked in page
    action = _reveal_form(page, "nik")
    assert action == f"/admin/resident/reveal/?id={family.id}" and "Tampilkan NIK" in page
    revealed = browser.post(action, {"what": "nik"})
    assert revealed.status_code == 200
    page = revealed.get_data(as_text=True)
    assert f'data-revealed="nik">{family.nik}<' in page
    assert family.kk not in page  # one number per click
    page = browser.post(_reveal_form(page, "kk"), {"what": "kk"}).get_data(as_text=True)
    assert f'data-revealed="kk">{family.kk}<' in page and family.nik not in page
    # The next visit shows them masked again.
    page = browser.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and family.kk not in page


def test_the_household_page_masks_the_kk_and_reveals_it_on_the_button(app, district, family):
    browser = signed_in(app, district, Role.BACK_OFFICE)
    page = browser.get(f"/admin/household/details/?id={family.household_id}").get_data(as_text=True)
    assert family.kk not in page and family.kk_masked in page and family.nik not in page
    action = _reveal_form(page, "kk")
    assert action == f"/admin/household/reveal/?id={family.household_id}" and "Tampilkan KK" in page
    page = browser.post(action, {"what": "kk"}).get_data(as_text=True)
    assert f'data-revealed="kk">{family.kk}<' in page
    assert browser.post(action, {"what": "nik"}).status_code == 404  # a household has no NIK


def test_the_front_office_gets_no_button_and_the_post_is_refused(app, district, family):
    clerk = signed_in(app, district, Role.FRONT_OFFICE)
    page = clerk.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and _reveal_form(page, "nik") is None and _reveal_form(page, "kk") is None
    for what in ("nik", "kk"):
        response = clerk.post(f"/admin/resident/reveal/?id={family.id}", {"what": what})
        assert response.status_code == 403 and family.nik.encode() not in response.data
    response = clerk.post(f"/admin/household/reveal/?id={family.household_id}", {"what": "kk"})
    assert response.status_code == 403 and family.kk.encode() not in response.data


def test_staff_of_another_village_cannot_reveal(app, district, family_case, family):
    palon = district.user(Role.SUPERVISOR, district.puskesos[1])
    assert not may_reveal_nik(palon, palon, family_case.resident)
    assert not may_reveal_kk(palon, palon, family_case.resident.household)
    browser = signed_in(app, district, Role.SUPERVISOR, district.puskesos[1])
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik"}).status_code == 404
    assert browser.post(f"/admin/household/reveal/?id={family.household_id}", {"what": "kk"}).status_code == 404


def test_the_reveal_is_a_post_with_its_csrf_token(app, district, family):
    browser = signed_in(app, district, Role.MANAGER)
    assert browser.get(f"/admin/resident/reveal/?id={family.id}&what=nik").status_code == 405
    response = browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik"}, token=False)
    assert response.status_code == 400 and family.nik.encode() not in response.data


@pytest.mark.parametrize("url", ["/admin/resident/reveal/?id=99999999999999999999", "/admin/resident/reveal/?id=abc",
                                 "/admin/resident/reveal/", "/admin/household/reveal/?id=-1"])
def test_junk_reveal_requests_are_not_found(app, district, family, url):
    browser = signed_in(app, district, Role.MANAGER)
    assert browser.post(url, {"what": "nik"}).status_code == 404
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik\x00"}).status_code in (400, 404)
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {}).status_code == 404


def test_the_referral_letter_shows_the_full_nik_to_who_may_reveal_it(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    resident = referral.case.resident
    back = signed_in(app, district, Role.BACK_OFFICE)
    assert resident.nik in back.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    clerk = signed_in(app, district, Role.FRONT_OFFICE, district.puskesos[0])
    page = clerk.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    assert resident.nik not in page and resident.nik_masked in page


def test_no_list_shows_a_full_nik_or_kk(app, district, family):
    manager = signed_in(app, district, Role.MANAGER)
    for url in ("/admin/resident/", "/admin/household/", "/admin/case/", "/admin/referral/", "/admin/follow_up/",
                "/admin/dtsen-proposals/"):
        page = manager.get(url).get_data(as_text=True)
        assert family.nik not in page and family.kk not in page, url


def _xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)


#: Every export a supervisor or manager can download from the lists and the DTSEN proposals.
EXPORTS = ["/admin/resident/export/csv/", "/admin/case/export/csv/", "/admin/referral/export/csv/",
           "/admin/follow_up/export/csv/", "/admin/dtsen-proposals/export.csv", "/admin/dtsen-proposals/export.xlsx",
           "/admin/report.csv", "/admin/report.xlsx"]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.MANAGER])
def test_exports_mask_nik_and_kk(app, district, family, role):
    browser = signed_in(app, district, role)
    for url in EXPORTS:
        response = browser.get(url)
        assert response.status_code == 200, url
        data = _xlsx_text(response.data) if url.endswith("xlsx") else response.get_data(as_text=True)
        assert not re.search(r"\d{16}", data), url
    assert family.nik_masked in browser.get("/admin/resident/export/csv/").get_data(as_text=True)
    assert family.nik_masked in browser.get("/admin/dtsen-proposals/export.csv").get_data(as_text=True)


def test_a_manager_exports_full_niks_with_a_reason(app, district, family):
    manager = signed_in(app, district, Role.MANAGER)
    listing = manager.get("/admin/resident/").get_data(as_text=True)
    assert 'href="/admin/resident/export-full/"' in listing and "Ekspor dengan NIK lengkap" in listing
    form = manager.get("/admin/resident/export-full/").get_data(as_text=True)
    assert 'name="reason"' in form and "Alasan" in form
    # No reason, or one too short: the form again with what is wrong, no file.
    for reason in ("", "   ", "perlu"):
        refused = manager.post("/admin/resident/export-full/", {"reason": reason})
        assert refused.status_code == 200 and refused.mimetype == "text/html"
        assert "paling sedikit 10 karakter" in refused.get_data(as_text=True)
        assert family.nik not in refused.get_data(as_text=True)
    too_long = manager.post("/admin/resident/export-full/", {"reason": "x" * 301}).get_data(as_text=True)
    assert "terlalu panjang" in too_long
    got = manager.post("/admin/resident/export-full/", {"reason": "Verifikasi data bersama Disdukcapil"})
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert family.nik in got.get_data(as_text=True)
    # The DTSEN proposals, for the village's data operator.
    page = manager.get("/admin/dtsen-proposals/").get_data(as_text=True)
    assert "/admin/dtsen-proposals/export-full/" in page
    for fmt in ("csv", "xlsx"):
        got = manager.post("/admin/dtsen-proposals/export-full/",
                           {"reason": "Usulan untuk operator desa", "format": fmt})
        assert got.status_code == 200
        data = _xlsx_text(got.data) if fmt == "xlsx" else got.get_data(as_text=True)
        assert family.nik in data, fmt
    refused = manager.post("/admin/dtsen-proposals/export-full/", {"format": "xlsx"})
    assert refused.mimetype == "text/html" and family.nik not in refused.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.FRONT_OFFICE, Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR])
def test_no_one_else_gets_the_full_export(app, district, family, role):
    browser = signed_in(app, district, role)
    listing = browser.get("/admin/resident/").get_data(as_text=True)
    assert "export-full" not in listing
    assert "export-full" not in browser.get("/admin/dtsen-proposals/").get_data(as_text=True)
    for url in ("/admin/resident/export-full/", "/admin/dtsen-proposals/export-full/"):
        assert browser.get(url).status_code == 403, url
        response = browser.post(url, {"reason": "Verifikasi data bersama Disdukcapil", "format": "csv"})
        assert response.status_code == 403 and family.nik.encode() not in response.data, url


def test_the_full_export_keeps_the_lists_filters_and_is_a_post_with_csrf(app, district, family, db_session):
    other = make_resident(district, name="Budi Santoso")
    db_session.commit()
    manager = signed_in(app, district, Role.MANAGER)
    page = manager.search("/admin/resident/", "budi").get_data(as_text=True)
    link = re.search(r'href="(/admin/resident/export-full/\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert other.nik not in link and "budi" not in link.lower()  # the search travels as a token
    manager.get(link)
    got = manager.post(link, {"reason": "Verifikasi data bersama Disdukcapil"}).get_data(as_text=True)
    assert other.nik in got and family.nik not in got
    response = manager.post(link, {"reason": "Verifikasi data bersama Disdukcapil"}, token=False)
    assert response.status_code == 400 and other.nik.encode() not in response.data


# --------------------------------------------------------------------------- the audit of reveals and full exports


def _entries(action: AuditAction, after: int = 0) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action, AuditEntry.id > after)
                                   .order_by(AuditEntry.id)))


def _last_id() -> int:
    return db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0


def test_each_reveal_writes_one_entry(app, district, family):
    supervisor = district.user(Role.SUPERVISOR)
    browser = signed_in(app, district, Role.SUPERVISOR)
    start = _last_id()
    url = f"/admin/resident/reveal/?id={family.id}"
    browser.post(url, {"what": "nik"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}, headers={"User-Agent": "Uji/1.0"})
    browser.post(url, {"what": "nik"})
    browser.post(url, {"what": "kk"})
    browser.post(f"/admin/household/reveal/?id={family.household_id}", {"what": "kk"})
    niks, kks = _entries(AuditAction.REVEAL_NIK, start), _entries(AuditAction.REVEAL_KK, start)
    assert len(niks) == 2 and len(kks) == 2  # one per click
    first = niks[0]
    assert (first.staff_id, first.actor_label, first.record_type, first.record_id, first.resident_ids) == (
        supervisor.id, supervisor.username, "resident", family.id, [family.id])
    assert (first.ip, first.user_agent) == ("10.1.2.3", "Uji/1.0")
    assert all((e.record_type, e.record_id, e.resident_ids) == ("household", family.household_id, [family.id])
               for e in kks)
    assert not _entries(AuditAction.VIEW, start)  # the page answering the button is the reveal, not a view
    # refused reveals write nothing
    clerk = signed_in(app, district, Role.FRONT_OFFICE)
    start = _last_id()
    clerk.post(url, {"what": "nik"})
    assert not _entries(AuditAction.REVEAL_NIK, start) and not _entries(AuditAction.REVEAL_KK, start)
    # no full number in any entry
    for entry in db.session.scalars(select(AuditEntry)):
        assert family.nik not in str(entry.detail) and family.kk not in str(entry.detail)


def test_printing_the_letter_with_the_full_nik_is_a_reveal(app, district, family_case):
    referral = family_case.referrals[0]
    back = signed_in(app, district, Role.BACK_OFFICE)
    start = _last_id()
    back.get(f"/admin/referral/letter/?id={referral.id}")
    entry, = _entries(AuditAction.REVEAL_NIK, start)
    assert (entry.record_type, entry.record_id, entry.detail["referral_id"]) == (
        "resident", family_case.resident_id, referral.id)
    assert entry.detail["letter"].endswith("/SLRT/XI/2026") and not _entries(AuditAction.VIEW, start)
    clerk = signed_in(app, district, Role.FRONT_OFFICE, district.puskesos[0])
    start = _last_id()
    clerk.get(f"/admin/referral/letter/?id={referral.id}")
    assert not _entries(AuditAction.REVEAL_NIK, start)
    view, = _entries(AuditAction.VIEW, start)
    assert (view.record_type, view.record_id) == ("referral", referral.id)


def test_a_full_export_writes_one_entry_with_its_reason(app, district, family):
    manager = signed_in(app, district, Role.MANAGER)
    start = _last_id()
    manager.post("/admin/resident/export-full/", {"reason": "perlu"})  # refused: no entry
    assert not _entries(AuditAction.EXPORT, start)
    manager.post("/admin/resident/export-full/", {"reason": "Verifikasi data bersama Disdukcapil"}).get_data()
    entry, = _entries(AuditAction.EXPORT, start)
    assert entry.staff_id == district.user(Role.MANAGER).id and family.id in entry.resident_ids
    assert entry.detail["full"] is True and entry.detail["reason"] == "Verifikasi data bersama Disdukcapil"
    start = _last_id()
    manager.post("/admin/resident/export-full/", {"reason": f"Cek NIK {family.nik} di Disdukcapil"}).get_data()
    entry, = _entries(AuditAction.EXPORT, start)
    assert entry.detail["reason"] == f"Cek NIK {family.nik_masked} di Disdukcapil"  # no NIK kept in the log
    start = _last_id()
    manager.post("/admin/dtsen-proposals/export-full/", {"reason": "Usulan untuk operator desa", "format": "csv"})
    entry, = _entries(AuditAction.EXPORT, start)
    assert entry.resident_ids == [family.id] and entry.rows == 1
    assert (entry.detail["full"], entry.detail["reason"], entry.detail["type"]) == (
        True, "Usulan untuk operator desa", "dtsen_proposal")
    start = _last_id()
    manager.get("/admin/dtsen-proposals/export.xlsx")  # masked: an export entry without "full"
    entry, = _entries(AuditAction.EXPORT, start)
    assert entry.resident_ids == [family.id] and "full" not in entry.detail
