"""DTSEN at the counter: the status line, the family of the KK, proposals and their export, cases per
desil in the report, and no SMS to a resident DTSEN records as deceased."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from itertools import count

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from fakes.builders import make_case, make_nik, make_referral, make_resident
from slrt import cases, dtsen, outbox, referrals, reports, residents
from slrt.errors import PermissionDenied, ValidationError
from slrt.models import DtsenProposal, Event, SmsMessage
from slrt.models.enums import DtsenStatus, FamilyRelation, Role
from tests.web import Browser

AS_OF = date(2026, 9, 15)
_kk = count(1)


def _household(d, *, desil: int | None = 2, village=None, as_of: date | None = AS_OF):
    household = residents.register_household(kk_number=f"331601200510{next(_kk):04d}", address="RT 02 RW 01",
                                             village=village or d.villages[0], actor=d.user(Role.FRONT_OFFICE))
    household.desil, household.dtsen_as_of = desil, as_of
    return household


def _in_dtsen(resident, household, *, status=DtsenStatus.CONFIRMED, programmes: str = "",
              relation: FamilyRelation | None = FamilyRelation.HEAD, as_of: date | None = AS_OF):
    resident.household = household
    resident.dtsen_status, resident.dtsen_programmes, resident.dtsen_as_of = status, programmes, as_of
    resident.family_relation = relation
    return resident


def _clerk(app, d, unit=None, role=Role.FRONT_OFFICE) -> Browser:
    browser = Browser(app)
    browser.login(d.user(role, unit if unit is not None else d.puskesos[0]).username)
    return browser


def _flash(html: str) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S))


# ---- the status line ------------------------------------------------------------------------------

def test_the_status_line_says_desil_programmes_and_the_month_of_the_data(district, db_session):
    resident = _in_dtsen(make_resident(district), _household(district, desil=2), programmes="pkh pbi_jk")
    with force_locale("id"):
        assert dtsen.status_line(resident) == "DTSEN desil 2 · PKH · PBI-JK · data per 2026-09"
    with force_locale("en"):
        assert dtsen.status_line(resident) == "DTSEN desil 2 · PKH · PBI-JK · data as of 2026-09"


def test_the_status_line_names_a_status_that_is_not_plainly_confirmed(district, db_session):
    deceased = _in_dtsen(make_resident(district), _household(district, desil=1), status=DtsenStatus.DECEASED,
                         programmes="bpnt")
    unconfirmed = _in_dtsen(make_resident(district, name="Parmi"), _household(district, desil=None),
                            status=DtsenStatus.UNCONFIRMED)
    with force_locale("id"):
        assert dtsen.status_line(deceased) == "DTSEN desil 1 · meninggal · BPNT · data per 2026-09"
        line = dtsen.status_line(unconfirmed)
    assert "tidak terkonfirmasi" in line and "desil" in line and "unconfirmed" not in line


def test_someone_not_in_dtsen_can_be_proposed_with_the_date_of_the_latest_data(district, db_session):
    outside = make_resident(district)
    with force_locale("id"):
        assert dtsen.status_line(outside) == "Data DTSEN belum diimpor"
        assert dtsen.status_line(None) == "Data DTSEN belum diimpor"
    _household(district, as_of=date(2026, 8, 1))
    _in_dtsen(make_resident(district, name="Warsini"), _household(district, as_of=None), as_of=date(2026, 10, 3))
    with force_locale("id"):
        assert dtsen.status_line(outside) == "Tidak ada di DTSEN (data per 2026-10): bisa diusulkan"
        assert dtsen.status_line(None) == "Tidak ada di DTSEN (data per 2026-10): bisa diusulkan"


# ---- proposals -------------------------------------------------------------------------------------

def test_a_resident_not_in_dtsen_is_proposed_once(district, db_session):
    case = make_case(district)
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    first = dtsen.propose(case, clerk, note="Rumah tidak layak huni")
    again = dtsen.propose(case, district.user(Role.BACK_OFFICE, district.puskesos[0]), note="lagi")
    assert again is first and first.proposed_by == clerk and first.note == "Rumah tidak layak huni"
    assert db_session.scalar(select(func.count()).select_from(DtsenProposal)) == 1
    assert db_session.scalar(select(func.count()).select_from(Event).where(
        Event.case_id == case.id, Event.action == "dtsen_propose")) == 1
    assert dtsen.withdraw_proposal(case, clerk) is True
    assert dtsen.proposal_of(case) is None and dtsen.withdraw_proposal(case, clerk) is False


def test_proposing_is_refused_for_someone_in_dtsen_and_outside_the_staff_members_units(district, db_session):
    resident = _in_dtsen(make_resident(district), _household(district, desil=3))
    case = make_case(district, resident)
    with force_locale("id"), pytest.raises(ValidationError) as refused:
        dtsen.propose(case, district.user(Role.FRONT_OFFICE, district.puskesos[0]))
    assert "sudah ada di DTSEN" in str(refused.value)
    other = make_case(district)
    with pytest.raises(PermissionDenied):
        dtsen.propose(other, district.user(Role.FRONT_OFFICE, district.puskesos[1]))  # Palon's clerk, Jepon's case
    with pytest.raises(PermissionDenied):
        dtsen.withdraw_proposal(other, district.user(Role.FRONT_OFFICE, district.puskesos[1]))
    assert db_session.scalar(select(func.count()).select_from(DtsenProposal)) == 0


def test_the_proposals_list_holds_the_staff_members_villages_only(district, db_session):
    jepon = make_case(district, make_resident(district, name="Sukinah"))
    palon = make_case(district, make_resident(district, name="Tarmi", village=district.villages[1]),
                      unit=district.puskesos[1])
    dtsen.propose(jepon, district.user(Role.FRONT_OFFICE, district.puskesos[0]))
    dtsen.propose(palon, district.user(Role.FRONT_OFFICE, district.puskesos[1]), note="janda, 3 anak")
    everyone = dtsen.proposals(district.user(Role.MANAGER))
    assert [row.name for row in everyone] == ["Sukinah", "Tarmi"]  # by village: Jepon, Palon
    assert [row.name for row in dtsen.proposals(district.user(Role.MANAGER), village_id=district.villages[1].id)] \
        == ["Tarmi"]
    jepon_clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    assert [row.name for row in dtsen.proposals(jepon_clerk)] == ["Sukinah"]
    assert dtsen.proposals(jepon_clerk, village_id=district.villages[1].id) == []
    row = everyone[1]
    assert row.nik_masked == palon.resident.nik_masked and "*" in row.nik_masked and row.note == "janda, 3 anak"


# ---- the screens ---------------------------------------------------------------------------------

def test_intake_shows_the_dtsen_line_of_a_found_resident_and_of_a_new_nik(app, district, db_session):
    resident = _in_dtsen(make_resident(district), _household(district, desil=2), programmes="pkh pbi_jk")
    db_session.commit()
    clerk = _clerk(app, district)
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": resident.nik}).get_data(as_text=True)
    assert "DTSEN desil 2 · PKH · PBI-JK · data per 2026-09" in page
    page = clerk.post("/admin/intake/", {"step": "find", "nik": make_nik("F", date(1990, 2, 3))}).get_data(
        as_text=True)
    assert "Daftarkan warga" in page and "Tidak ada di DTSEN (data per 2026-09): bisa diusulkan" in page


def test_the_case_page_proposes_and_withdraws(app, district, db_session):
    _household(district)  # some DTSEN data was imported
    case = make_case(district, make_resident(district, name="Sukinah"))
    db_session.commit()
    clerk = _clerk(app, district)
    page = clerk.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert "Tidak ada di DTSEN (data per 2026-09): bisa diusulkan" in page and "Usulkan ke DTSEN" in page
    response = clerk.post(f"/admin/case/dtsen/{case.id}/propose", {"note": "rumah tidak layak"})
    assert response.status_code == 302
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sukinah diusulkan ke DTSEN" in _flash(page)
    proposed = page.split('class="dtsen-proposed', 1)[1].split("</p>", 1)[0]
    assert "Diusulkan ke DTSEN" in proposed and "24-11-2026" in proposed and "Petugas Front Office" in proposed
    assert "rumah tidak layak" in proposed and 'data-dtsen-action="propose"' not in page
    # without the CSRF token nothing happens
    assert clerk.post(f"/admin/case/dtsen/{case.id}/withdraw", token=False).status_code == 400
    assert dtsen.proposal_of(case) is not None
    response = clerk.post(f"/admin/case/dtsen/{case.id}/withdraw")
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "Usulan DTSEN ditarik" in _flash(page) and 'data-dtsen-action="propose"' in page
    db_session.expire_all()
    assert dtsen.proposal_of(case) is None


def test_the_case_page_of_someone_in_dtsen_offers_no_proposal(app, district, db_session):
    resident = _in_dtsen(make_resident(district), _household(district, desil=4), programmes="bpnt")
    case = make_case(district, resident)
    db_session.commit()
    clerk = _clerk(app, district)
    page = clerk.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert "DTSEN desil 4 · BPNT · data per 2026-09" in page and 'data-dtsen-action="propose"' not in page
    response = clerk.post(f"/admin/case/dtsen/{case.id}/propose")
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "sudah ada di DTSEN" in _flash(page)
    assert db_session.scalar(select(func.count()).select_from(DtsenProposal)) == 0


def test_another_units_case_cannot_be_proposed_by_url(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    palon = _clerk(app, district, district.puskesos[1])
    palon.get("/admin/")
    assert palon.post(f"/admin/case/dtsen/{case.id}/propose").status_code == 404
    assert db_session.scalar(select(func.count()).select_from(DtsenProposal)) == 0


def test_the_resident_page_lists_the_family_of_the_kk(app, district, db_session):
    household = _household(district, desil=2)
    head = _in_dtsen(make_resident(district, sex="M", birth=date(1970, 1, 5), name="Suparno"), household,
                     programmes="pkh")
    wife = _in_dtsen(make_resident(district, name="Sumiyati", birth=date(1975, 6, 1)), household,
                     relation=FamilyRelation.SPOUSE)
    _in_dtsen(make_resident(district, sex="M", birth=date(1940, 3, 3), name="Mbah Karto"), household,
              relation=FamilyRelation.PARENT, status=DtsenStatus.DECEASED)
    child = make_resident(district, birth=date(2010, 8, 20), name="Rini", phone=None)
    child.household, child.family_relation = household, FamilyRelation.CHILD  # born after the data: not in DTSEN
    db_session.commit()
    clerk = _clerk(app, district)
    page = clerk.get(f"/admin/resident/details/?id={wife.id}").get_data(as_text=True)
    assert "DTSEN desil 2 · data per 2026-09" in page
    family = page.split('<table class="table table-sm family">', 1)[1].split("</table>", 1)[0]
    names = re.findall(r'<a href="[^"]+">([^<]+)</a>', family)
    assert names == ["Suparno", "Sumiyati", "Rini", "Mbah Karto"]  # head, spouse, child, parent
    assert "kepala keluarga" in family and "istri/suami" in family and "56 tahun" in family
    assert head.nik_masked in family and head.nik not in family
    assert "DTSEN desil 2 · PKH" in family and "meninggal" in family and "tidak ada di DTSEN" in family
    # the household page shows the same table (not a second list of names)
    page = clerk.get(f"/admin/household/details/?id={household.id}").get_data(as_text=True)
    assert page.count('<table class="table table-sm family">') == 1 and "Mbah Karto" in page


def test_the_family_table_leaves_out_members_of_villages_not_covered(app, district, db_session):
    household = _household(district)
    make_resident(district, name="Sukinah", household=household)
    make_resident(district, name="Tarmi", village=district.villages[1], household=household)
    db_session.commit()
    assert [m.name for m in dtsen.family(household, district.user(Role.FRONT_OFFICE, district.puskesos[0]))] \
        == ["Sukinah"]
    assert {m.name for m in dtsen.family(household, district.user(Role.MANAGER))} == {"Sukinah", "Tarmi"}


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


def test_the_proposals_screen_and_its_downloads_for_the_data_operator(app, district, db_session):
    jepon = make_case(district, make_resident(district, name="Sukinah"))
    palon = make_case(district, make_resident(district, name="Tarmi", village=district.villages[1]),
                      unit=district.puskesos[1])
    dtsen.propose(jepon, district.user(Role.FRONT_OFFICE, district.puskesos[0]), note="=HYPERLINK(1)")
    dtsen.propose(palon, district.user(Role.FRONT_OFFICE, district.puskesos[1]))
    db_session.commit()
    secretariat = _clerk(app, district, district.secretariat)
    page = secretariat.get("/admin/").get_data(as_text=True)
    assert "/admin/dtsen-proposals/" in page and "Usulan DTSEN" in page  # in the menu
    page = secretariat.get("/admin/dtsen-proposals/").get_data(as_text=True)
    assert "Sukinah" in page and "Tarmi" in page and jepon.resident.nik not in page
    page = secretariat.get(f"/admin/dtsen-proposals/?village={district.villages[1].id}").get_data(as_text=True)
    assert "Tarmi" in page and "Sukinah" not in page
    response = secretariat.get(f"/admin/dtsen-proposals/export.csv?village={district.villages[1].id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "usul-dtsen-palon" in response.headers["Content-Disposition"]
    table = _csv(response)
    assert table[0] == ["Tiket", "Nama", "NIK", "Desa", "Alamat", "Tanggal diusulkan", "Diusulkan oleh",
                        "Catatan"]
    assert [row[1] for row in table[1:]] == ["Tarmi"]
    assert table[1][2] == palon.resident.nik_masked and table[1][5] == "24-11-2026"
    book = openpyxl.load_workbook(io.BytesIO(secretariat.get("/admin/dtsen-proposals/export.xlsx").get_data()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Tiket" and [row[1] for row in rows[1:]] == ["Sukinah", "Tarmi"]
    assert rows[1][7] == "=HYPERLINK(1)"  # text, not a formula
    assert _csv(secretariat.get("/admin/dtsen-proposals/export.csv"))[1][7] == "'=HYPERLINK(1)"
    # a Puskesos sees its own village only, whatever it asks
    palon_clerk = _clerk(app, district, district.puskesos[1])
    page = palon_clerk.get(f"/admin/dtsen-proposals/?village={district.villages[0].id}").get_data(as_text=True)
    assert "Sukinah" not in page
    assert [row[1] for row in _csv(palon_clerk.get("/admin/dtsen-proposals/export.csv"))[1:]] == ["Tarmi"]
    assert palon_clerk.get("/admin/dtsen-proposals/?village=abc").status_code == 200


# ---- the report --------------------------------------------------------------------------------------

def test_the_report_counts_cases_per_desil(app, district, db_session):
    make_case(district, _in_dtsen(make_resident(district), _household(district, desil=1)))
    make_case(district, _in_dtsen(make_resident(district), _household(district, desil=1)))
    make_case(district, _in_dtsen(make_resident(district), _household(district, desil=7)))
    make_case(district, _in_dtsen(make_resident(district), _household(district, desil=None)))  # not ranked
    make_case(district)  # not in DTSEN
    db_session.commit()
    report = reports.monthly_report(reports.parse_period("2026-11"), None)
    assert report.per_desil() == "2 / 0 / 0 / 0 / 0 / 0 / 1 / 0 / 0 / 0 / 2"
    browser = _clerk(app, district, district.secretariat, Role.SUPERVISOR)
    rows = {(row[0], row[1]): row[3:] for row in list(csv.reader(io.StringIO(
        browser.get("/admin/report.csv?month=2026-11").get_data().decode("utf-8-sig"), newline=""), delimiter=";"))}
    assert rows["Desil DTSEN", "Desil 1"] == ["2", "", "", "", "", "", "", ""]
    assert rows["Desil DTSEN", "Desil 7"][0] == "1" and rows["Desil DTSEN", "Desil 10"][0] == "0"
    assert rows["Desil DTSEN", "Tidak ada di DTSEN (tanpa desil)"][0] == "2"
    page = browser.get("/admin/report/?month=2026-11").get_data(as_text=True)
    assert "Kasus per desil DTSEN" in page and "2 / 0 / 0 / 0 / 0 / 0 / 1 / 0 / 0 / 0 / 2" in page
    book = openpyxl.load_workbook(io.BytesIO(browser.get("/admin/report.xlsx?month=2026-11").get_data()))
    desil_one = next(row for row in book["Laporan"].iter_rows(values_only=True) if row[1] == "Desil 1")
    assert desil_one[3] == 2 and desil_one[4] is None


# ---- no SMS to the deceased ----------------------------------------------------------------------

def _deceased(d):
    return _in_dtsen(make_resident(d), _household(d, desil=1), status=DtsenStatus.DECEASED)


def test_opening_a_case_queues_no_sms_for_a_deceased_resident(district, db_session):
    case = make_case(district, _deceased(district))
    referral = make_referral(district, case)
    messages = db_session.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)).all()
    assert messages and all(m.audience != "resident" for m in messages)  # only the agency's notice
    assert referral.agency.name in {m.referral.agency.name for m in messages}
    alive = make_case(district)
    assert db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.case_id == alive.id, SmsMessage.audience == "resident")) == 1


def test_the_confirmation_line_says_why_no_sms_goes(district, db_session):
    resident = _deceased(district)
    case = make_case(district, resident)
    referral = make_referral(district, case)
    with force_locale("id"):
        line = residents.sms_line(resident, "kasus sudah ditutup.")
        assert line == "Tidak ada SMS: DTSEN mencatat warga ini sudah meninggal."
        said = referrals.move_consequences(referral, "cancel", actor=district.user(Role.BACK_OFFICE),
                                           note="dobel")
    assert line in said
    with force_locale("en"):
        assert residents.sms_line(resident, "x") == "No SMS: DTSEN records the resident as deceased."


def test_a_message_queued_before_the_death_was_recorded_is_dropped(district, db_session, send):
    resident = make_resident(district)
    case = make_case(district, resident)
    message = db_session.scalar(select(SmsMessage).where(SmsMessage.case_id == case.id))
    _in_dtsen(resident, _household(district), status=DtsenStatus.DECEASED)
    db_session.commit()
    assert outbox.held_until(message) is None
    held = outbox.hold_reason(message)
    assert held is not None and held.reason == "deceased"


def test_intake_says_no_sms_goes_to_a_deceased_resident(app, district, db_session):
    resident = _deceased(district)
    db_session.commit()
    clerk = _clerk(app, district)
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": resident.nik}).get_data(as_text=True)
    assert "meninggal" in page
    response = clerk.post("/admin/intake/", {
        "nik": resident.nik, "unit_id": district.puskesos[0].id, "channel": "walk_in", "urgency": "normal",
        "summary": "Keluarga minta santunan kematian", "needs": [str(district.services["bansos"].id)]})
    assert response.status_code == 302
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tidak ada SMS: DTSEN mencatat warga ini sudah meninggal." in _flash(page)
    assert "menerima nomor tiket lewat SMS" not in _flash(page)
    assert db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.resident_id == resident.id)) == 0
    assert cases.open_cases_of(resident, district.user(Role.MANAGER))
