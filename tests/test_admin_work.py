"""A clerk's day through the screens: intake, refer, answers, close; errors shown, nothing lost."""

import re
from datetime import date

import pytest
from sqlalchemy import event, func, select

from fakes.builders import make_case, make_nik, make_referral, make_resident
from slrt import residents
from slrt.codes import format_code
from slrt.extensions import db
from slrt.identity import mask_phone
from slrt.models import Case, Event, Referral, Resident, SmsMessage
from slrt.models.enums import Role
from tests.web import Browser


@pytest.fixture
def clerk(app, district, db_session):
    browser = Browser(app)
    browser.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    return browser


def _flash(html: str) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S))


def test_intake_registers_a_new_resident_and_opens_the_case(clerk, district, db_session):
    nik = make_nik("F", birth=__import__("datetime").date(1975, 3, 9))
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": nik}).get_data(as_text=True)
    assert "2. Daftarkan warga" in page and "bawa:" in page
    response = clerk.post("/admin/intake/", {
        "nik": nik, "name": "Sumarni", "sex": "F", "birth_date": "1975-03-09",
        "village_id": district.villages[0].id, "address": "RT 03 RW 02", "phone": "0813-2555-0177",
        "kk_number": "3316 0120 0510 0007",
        "phone_owner": "own", "unit_id": district.puskesos[0].id, "channel": "walk_in", "urgency": "urgent",
        "summary": "KIS tidak aktif saat berobat", "needs": [str(district.services["bpjs_pbi"].id)]})
    assert response.status_code == 302 and "/admin/case/details/" in response.headers["Location"]
    case = db_session.scalar(select(Case).join(Case.resident).where(Resident.name == "Sumarni"))
    assert case.status == "open" and case.urgency == "urgent" and case.resident.phone == "+6281325550177"
    assert case.resident.household.kk_masked == "3316********0007"
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "dibuka untuk Sumarni" in page and "Surat Keterangan Tidak Mampu" in page
    timeline = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    assert "Membuka kasus" in timeline and "Petugas Front Office" in timeline  # the opening, and who opened it


def test_intake_finds_a_registered_resident_by_nik(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    nik = case.resident.nik
    clerk = Browser(app)
    clerk.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": f"{nik[:4]} {nik[4:8]} {nik[8:]}"}).get_data(
        as_text=True)
    assert "Siti Aminah" in page and "2. Daftarkan warga" not in page


def test_intake_says_the_domain_refusal_for_another_village(clerk, district, db_session):
    palon = make_resident(district, village=district.villages[1], name="Sri Wahyuni")
    residents.register_household(kk_number="3316012005100007", address="Dk. Ngawen", village=district.villages[1],
                                 actor=district.user(Role.FRONT_OFFICE))
    db_session.commit()
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": palon.nik}).get_data(as_text=True)
    assert "Warga ini terdaftar di desa lain." in page and "Sri Wahyuni" not in page
    nik = make_nik("M", birth=date(1960, 1, 2))
    before = db_session.scalar(select(func.count()).select_from(Resident))
    page = clerk.post("/admin/intake/", {
        "nik": nik, "name": "Karno", "sex": "M", "birth_date": "1960-01-02", "village_id": district.villages[0].id,
        "address": "RT 1", "kk_number": "3316012005100007", "phone_owner": "own",
        "unit_id": district.puskesos[0].id, "channel": "walk_in", "summary": "Butuh bantuan",
        "needs": [str(district.services["bansos"].id)]}).get_data(as_text=True)
    assert "Nomor KK ini terdaftar di desa lain." in page
    assert db_session.scalar(select(func.count()).select_from(Resident)) == before


def test_resident_edit_goes_through_the_domain(clerk, district, db_session):
    resident = make_resident(district)
    db_session.commit()
    url = f"/admin/resident/edit/?id={resident.id}"
    clerk.get(url)
    form = {"name": "Siti Aminah", "address": "RT 05 RW 01", "phone": "(0296) 531234", "phone_owner": "own",
            "phone_owner_name": "", "language": "en"}
    page = clerk.post(url, form).get_data(as_text=True)
    assert "nomor telepon rumah/kantor" in _flash(page)
    db_session.expire_all()
    assert db_session.get(Resident, resident.id).address == "RT 02 RW 01"
    clerk.get(url)
    assert clerk.post(url, {**form, "phone": "0813-2555-0177"}).status_code == 302
    db_session.expire_all()
    changed = db_session.get(Resident, resident.id)
    assert (changed.address, changed.phone, changed.language) == ("RT 05 RW 01", "+6281325550177", "en")


@pytest.mark.parametrize(("nik", "message"), [("12345", "NIK harus 16 angka"),
                                              ("9916011708450001", "bukan kode provinsi")])
def test_intake_explains_a_wrong_nik(clerk, nik, message):
    clerk.get("/admin/intake/")
    assert message in clerk.post("/admin/intake/", {"step": "find", "nik": nik}).get_data(as_text=True)


def test_intake_keeps_what_was_typed_when_the_phone_is_a_landline(clerk, district, db_session):
    nik = make_nik("M", birth=__import__("datetime").date(1960, 1, 2))
    before = db_session.scalar(select(func.count()).select_from(Resident))
    page = clerk.post("/admin/intake/", {
        "nik": nik, "name": "Karno", "sex": "M", "birth_date": "1960-01-02", "village_id": district.villages[0].id,
        "address": "RT 1", "phone": "(0296) 531234", "phone_owner": "own", "unit_id": district.puskesos[0].id,
        "channel": "walk_in", "summary": "Butuh bantuan", "needs": [str(district.services["bansos"].id)],
    }).get_data(as_text=True)
    assert "nomor telepon rumah/kantor" in page and 'value="Karno"' in page
    assert db_session.scalar(select(func.count()).select_from(Resident)) == before


def test_case_from_referral_to_closure_through_the_screens(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    case_id = case.id
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    page = back.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    assert 'data-refer="bpjs_pbi"' in page
    form = {"service_id": district.services["bpjs_pbi"].id, "agency_id": district.agencies["bpjs"].id,
            "documents": ["sktm", "kk"]}
    # Two documents unticked: the clerk is asked first, told which, and nothing is sent yet.
    page = back.post(f"/admin/case/{case_id}/refer", form).get_data(as_text=True)
    assert "Fotokopi KTP/KIA, Map plastik" in page and 'name="confirm_missing"' in page
    assert db_session.scalar(select(func.count()).select_from(Referral).where(Referral.case_id == case_id)) == 0
    response = back.post(f"/admin/case/{case_id}/refer", {**form, "confirm_missing": "1"})
    assert response.status_code == 302
    page = back.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    assert "Rujukan dikirim ke BPJS Kesehatan Cabang Blora." in page
    referral = db_session.scalar(select(Referral).where(Referral.case_id == case_id))
    assert referral.documents_checked == ["sktm", "kk"]
    page = back.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    assert "Masih kurang: Fotokopi KTP/KIA, Map plastik" in page
    slip = back.get(f"/admin/referral/slip/?id={referral.id}").get_data(as_text=True)
    for name in ("Fotokopi KTP/KIA", "Map plastik"):  # the card marks each document still to bring
        assert f"{name} <em>(belum ada)</em>" in slip
    for move, said in (("accept", "diterima oleh"), ("complete", "diselesaikan oleh")):
        assert back.post(f"/admin/case/referral/{referral.id}/{move}").status_code == 302
        page = back.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
        assert f"Rujukan {format_code(referral.code)} {said} BPJS Kesehatan Cabang Blora." in page
    db_session.expire_all()
    assert db_session.get(Case, case_id).status == "resolved"
    # back office may not close: no button, and the server refuses
    assert 'data-move="close"' not in back.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    back.post(f"/admin/case/{case_id}/close", {"outcome": "fulfilled"})
    db_session.expire_all()
    assert db_session.get(Case, case_id).status == "resolved"
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)
    page = boss.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    assert 'data-move="close"' in page
    assert 'value="fulfilled" checked' in page  # the one referral was completed: the suggested outcome
    # Closing asks first, saying what happens and who gets an SMS (masked), and changes nothing yet.
    page = boss.post(f"/admin/case/{case_id}/close", {"outcome": "fulfilled", "note": "KIS aktif"}).get_data(
        as_text=True)
    phone = db_session.get(Case, case_id).resident.phone
    assert f"SMS ke warga ({mask_phone(phone)})" in page and phone[3:] not in page
    db_session.expire_all()
    assert db_session.get(Case, case_id).status == "resolved"
    boss.post(f"/admin/case/{case_id}/close", {"outcome": "fulfilled", "note": "KIS aktif", "confirmed": "1"})
    page = boss.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    assert f"Kasus {format_code(db_session.get(Case, case_id).ticket)} ditutup: terpenuhi." in page
    db_session.expire_all()
    assert db_session.get(Case, case_id).status == "closed"
    actions = [e.action for e in db_session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id))]
    assert actions == ["open", "refer", "start", "accept", "complete", "resolve", "close"]
    keys = set(db_session.scalars(select(SmsMessage.template_key).where(SmsMessage.case_id == case_id)))
    assert {"case_registered", "referral_made", "referral_completed", "case_closed"} <= keys


def test_domain_errors_are_shown_as_flash_messages_and_change_nothing(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    back.get(f"/admin/case/details/?id={referral.case_id}")
    back.post(f"/admin/case/referral/{referral.id}/reject", {"note": ""})
    page = back.get(f"/admin/case/details/?id={referral.case_id}").get_data(as_text=True)
    assert "Alasan wajib diisi." in page
    db_session.expire_all()
    assert db_session.get(Referral, referral.id).status == "sent"


def test_duplicate_referral_asks_for_confirmation(app, district, db_session):
    referral = make_referral(district)
    second = make_case(district, referral.case.resident, unit=district.puskesos[1])
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    back.get(f"/admin/case/details/?id={second.id}")
    back.post(f"/admin/case/{second.id}/refer", {"service_id": district.services["bpjs_pbi"].id})
    page = back.get(f"/admin/case/details/?id={second.id}").get_data(as_text=True)
    assert "sudah dirujuk untuk warga ini oleh Puskesos Jepon" in page
    again = {"service_id": district.services["bpjs_pbi"].id, "confirm_duplicate": "1"}
    page = back.post(f"/admin/case/{second.id}/refer", again).get_data(as_text=True)
    assert "Belum dicentang untuk Aktivasi BPJS PBI (KIS)" in page  # then the documents are asked about
    back.post(f"/admin/case/{second.id}/refer", {**again, "confirm_missing": "1"})
    assert db_session.scalar(select(func.count()).select_from(Referral).where(Referral.case_id == second.id)) == 1


def _capture_sql(app, fetch) -> list[str]:
    """The SQL statements ``fetch()`` sends, transaction bookkeeping left out."""
    statements = []

    def grab(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        fetch()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return statements


def _count_queries(app, fetch) -> int:
    return len(_capture_sql(app, fetch))


@pytest.mark.parametrize("view", ["case", "referral", "resident", "sms"])
def test_list_pages_use_a_fixed_number_of_queries(app, district, db_session, view):
    for _ in range(12):
        make_referral(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.SUPERVISOR).username)
    small = _count_queries(app, lambda: back.get(f"/admin/{view}/?page_size=5"))
    large = _count_queries(app, lambda: back.get(f"/admin/{view}/?page_size=50"))
    assert small == large, (small, large)
    statements = _capture_sql(app, lambda: back.get(f"/admin/{view}/"))
    assert not [s for s in statements if "count(" in s.lower() and view in s.lower()], "COUNT on a list page"


def test_resident_search_uses_the_keyed_lookup_not_a_scan(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.SUPERVISOR).username)
    page = None

    def search():
        nonlocal page
        page = back.search("/admin/resident/", case.resident.nik).get_data(as_text=True)  # the box, not the URL

    statements = _capture_sql(app, search)
    assert "Siti Aminah" in page
    listing = [s for s in statements if "FROM resident" in s and "nik_hash" in s]
    assert listing and not any("LIKE" in s.upper() for s in listing)
    phone_page = back.search("/admin/resident/", case.resident.phone.replace("+62", "0"))
    assert "Siti Aminah" in phone_page.get_data(as_text=True)
    assert "Siti Aminah" in back.get("/admin/resident/?search=siti").get_data(as_text=True)
    assert "Siti Aminah" in back.get("/admin/resident/?search=aminah").get_data(as_text=True)  # any word


def test_list_masks_personal_data(app, district, db_session):
    case = make_case(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.FRONT_OFFICE).username)
    page = back.get("/admin/resident/").get_data(as_text=True)
    assert case.resident.nik not in page and case.resident.nik_masked in page
    assert case.resident.phone not in page and case.resident.phone[3:] not in page
    detail = back.get(f"/admin/resident/details/?id={case.resident_id}").get_data(as_text=True)
    assert case.resident.nik not in detail and case.resident.nik_masked in detail  # tests/test_reveal.py


def test_dashboard_and_report(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.SUPERVISOR).username)
    page = back.get("/admin/").get_data(as_text=True)
    assert "<svg" in page and "Kasus per bidang per bulan" in page and "BPJS Kesehatan Cabang Blora" in page
    assert "cdn" not in page.lower()
    assert "/admin/report/" in page  # the monthly report (tests/test_report.py)
    csv_text = back.get("/admin/report.csv").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").strip().splitlines()  # UTF-8 with a byte-order mark
    assert lines[0].startswith("Bagian;Nama;Bidang;Kasus diterima;Rujukan dikirim")
    assert "Layanan;Aktivasi BPJS PBI (KIS);Kesehatan;1;1;0;0;0;1;0;" in lines
    slip = back.get(f"/admin/referral/slip/?id={referral.id}").get_data(as_text=True)
    assert "slip-blue" in slip and "KARTU RUJUKAN" in slip and "Jl. Pemuda 21 Blora" in slip


def test_export_streams_plain_csv(app, district, db_session):
    for _ in range(3):
        make_referral(district)
    db_session.commit()
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)
    response = boss.get("/admin/referral/export/csv/")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 4 and "<span" not in lines[1] and "terkirim" in lines[1]


def test_every_date_filter_answers(app, district, db_session):
    make_referral(district)
    db_session.commit()
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)
    from admin_views.base import _AWARE_FILTERS

    checked = 0
    for view in app.extensions["admin"][0]._views:
        for index, flt in enumerate(getattr(view, "_filters", None) or []):
            if type(flt) not in _AWARE_FILTERS.values():
                continue
            value = "2026-11-01 00:00:00 to 2026-11-30 23:59:59" if "Between" in type(flt).__name__ \
                else "2026-11-24 10:00:00"
            response = boss.get(f"/admin/{view.endpoint}/?flt1_{index}={value}")
            assert response.status_code == 200, (view.endpoint, type(flt).__name__)
            checked += 1
    assert checked >= 10


def test_exports_defuse_spreadsheet_formulas(app):
    class Row:
        name = '=HYPERLINK("http://x")'

    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "resident")
    with app.test_request_context():
        value = view.get_export_value(Row(), "name")
    # Every export goes through slrt.csvout, which defuses the cell.
    from slrt.csvout import cell

    assert cell(value) == '\'=HYPERLINK("http://x")'



def test_names_refuse_formula_and_markup(district, db_session):
    from slrt.errors import ValidationError
    from slrt.identity import validate_name

    for bad in ('=HYPERLINK("x")', "X <b>", "@SUM"):
        with pytest.raises(ValidationError):
            validate_name(bad)
    assert validate_name("Drs. H. Slamet, S.Sos.") == "Drs. H. Slamet, S.Sos."
    assert validate_name("Ni'mah Al-Hasan") == "Ni'mah Al-Hasan"


def test_lookups_are_only_for_those_who_edit(app, district, db_session):
    clerk = Browser(app)
    clerk.login(district.user(Role.FACILITATOR).username)
    assert clerk.get("/admin/service/ajax/lookup/?name=default_agency&query=b").status_code == 403


def test_intake_fills_birth_date_and_sex_from_the_nik_of_a_new_resident(clerk):
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": "3316 0855 0380 0007"}).get_data(as_text=True)
    assert "NIK 3316 0855 0380 0007 belum terdaftar: isi data warga." in page
    assert 'name="birth_date" value="1980-03-15"' in page and '<option value="F" selected>' in page
    assert "diisi dari NIK" in page
    # The browser's own (English) required-field bubbles never stand in for our messages.
    assert page.count("novalidate") == 2 and " required" not in page.split('class="intake"', 1)[1]


def test_intake_says_every_wrong_field_at_once_and_keeps_what_was_typed(clerk, district, db_session):
    nik = make_nik("M", birth=date(1960, 1, 2))
    before = (db_session.scalar(select(func.count()).select_from(Resident)),
              db_session.scalar(select(func.count()).select_from(Case)))
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {
        "nik": nik, "name": "", "sex": "M", "birth_date": "1960-01-02", "village_id": district.villages[0].id,
        "address": "Dk. Krajan RT 1", "phone": "(0296) 531234", "phone_owner": "family", "phone_owner_name": "",
        "unit_id": district.puskesos[0].id, "channel": "phone", "urgency": "urgent", "summary": "",
    }).get_data(as_text=True)
    for field in ("name", "phone", "summary", "needs"):
        assert f'data-error="{field}"' in page, field
    assert "Nama wajib diisi." in page and "nomor telepon rumah/kantor" in page
    assert "Tuliskan kebutuhan warga." in page and "Pilih minimal satu layanan" in page
    assert 'value="Dk. Krajan RT 1"' in page and 'value="(0296) 531234"' in page
    assert '<option value="family" selected>' in page and '<option value="phone" selected>' in page
    assert '<option value="urgent" selected>' in page
    assert (db_session.scalar(select(func.count()).select_from(Resident)),
            db_session.scalar(select(func.count()).select_from(Case))) == before


def test_intake_of_a_resident_with_an_open_case_offers_to_add_to_it(app, district, db_session):
    referral = make_referral(district)
    case = referral.case
    db_session.commit()
    clerk = Browser(app)
    clerk.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    clerk.get("/admin/intake/")
    page = clerk.post("/admin/intake/", {"step": "find", "nik": case.resident.nik}).get_data(as_text=True)
    assert "Kasus warga ini yang masih terbuka" in page and f"Tambahkan pengaduan ke kasus {format_code(case.ticket)}" \
        in page
    assert format_code(referral.code) in page and "BPJS Kesehatan Cabang Blora" in page
    assert "Buka kasus baru" in page
    form = {"nik": case.resident.nik, "unit_id": district.puskesos[0].id, "channel": "walk_in", "urgency": "normal",
            "summary": "Anak perlu bantuan sekolah", "needs": [str(district.services["bansos"].id)]}
    page = clerk.post("/admin/intake/", form).get_data(as_text=True)
    assert 'data-error="case_choice"' in page and "masih punya kasus terbuka" in page
    assert 'value="Anak perlu bantuan sekolah"' in page or "Anak perlu bantuan sekolah</textarea>" in page
    response = clerk.post("/admin/intake/", {**form, "case_choice": str(case.id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"id={case.id}")
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Pengaduan ditambahkan ke kasus {format_code(case.ticket)} atas nama Siti Aminah." in page
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Case).where(Case.resident_id == case.resident_id)) == 1
    assert sorted(n.service.code for n in db_session.get(Case, case.id).needs) == ["bansos", "bpjs_pbi"]
    response = clerk.post("/admin/intake/", {**form, "case_choice": "new"})
    assert response.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Case).where(Case.resident_id == case.resident_id)) == 2


def test_reject_asks_first_and_says_who_gets_the_sms(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    url = f"/admin/case/details/?id={referral.case_id}"
    page = back.get(url).get_data(as_text=True)
    assert 'data-move="reject"' in page and " required" not in page.split('class="move move-reject"', 1)[1][:400]
    page = back.post(f"/admin/case/referral/{referral.id}/reject", {"note": "Kuota habis"}).get_data(as_text=True)
    phone = referral.case.resident.phone
    assert f"Catat rujukan {format_code(referral.code)} sebagai ditolak?" in page
    assert f"SMS ke warga ({mask_phone(phone)})" in page and phone[3:] not in page
    assert 'name="note" value="Kuota habis"' in page and 'name="confirmed" value="1"' in page
    db_session.expire_all()
    assert db_session.get(Referral, referral.id).status == "sent"  # asked, not done
    response = back.post(f"/admin/case/referral/{referral.id}/reject", {"note": "Kuota habis", "confirmed": "1"})
    assert response.status_code == 302
    page = back.get(url).get_data(as_text=True)
    assert f"Rujukan {format_code(referral.code)} ditolak oleh BPJS Kesehatan Cabang Blora." in page
    assert "berhasil" not in _flash(page)
    db_session.expire_all()
    assert db_session.get(Referral, referral.id).status == "rejected"
    # The case resolves; its close form suggests "not fulfilled", never "fulfilled".
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)
    page = boss.get(url).get_data(as_text=True)
    assert 'value="unfulfilled" checked' in page and 'value="fulfilled" checked' not in page
    assert "tidak ada kebutuhan yang terpenuhi" in page  # each choice explains itself


def test_cancelling_a_case_asks_first_and_names_its_open_referrals(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    boss = Browser(app)
    boss.login(district.user(Role.SUPERVISOR).username)
    boss.get(f"/admin/case/details/?id={referral.case_id}")
    page = boss.post(f"/admin/case/{referral.case_id}/cancel", {"note": "Pengaduan ganda"}).get_data(as_text=True)
    assert f"Batalkan kasus {format_code(referral.case.ticket)}?" in page
    assert f"ikut dibatalkan: {format_code(referral.code)} (BPJS Kesehatan Cabang Blora)" in page
    db_session.expire_all()
    assert db_session.get(Case, referral.case_id).status == "in_progress"
    boss.post(f"/admin/case/{referral.case_id}/cancel", {"note": "Pengaduan ganda", "confirmed": "1"})
    page = boss.get(f"/admin/case/details/?id={referral.case_id}").get_data(as_text=True)
    assert f"Kasus {format_code(referral.case.ticket)} dibatalkan." in page
    # An empty reason is said at once, with no confirmation page.
    other = make_referral(district)
    db_session.commit()
    boss.get(f"/admin/case/details/?id={other.case_id}")
    response = boss.post(f"/admin/case/{other.case_id}/cancel", {"note": ""})
    assert response.status_code == 302
    assert "Alasan wajib diisi." in boss.get(response.headers["Location"]).get_data(as_text=True)


def test_documents_brought_later_are_noted_from_the_case_page(app, district, db_session):
    referral = make_referral(district, documents_checked=["sktm", "kk", "ktp"])
    db_session.commit()
    clerk = Browser(app)
    clerk.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    url = f"/admin/case/details/?id={referral.case_id}"
    assert "Masih kurang: Map plastik" in clerk.get(url).get_data(as_text=True)
    response = clerk.post(f"/admin/case/referral/{referral.id}/documents", {"documents": ["map"]})
    assert response.status_code == 302
    page = clerk.get(url).get_data(as_text=True)
    assert f"Rujukan {format_code(referral.code)}: Map plastik sudah dibawa." in page
    assert "Masih kurang" not in page
    assert "Masih kurang" not in clerk.get(f"/admin/referral/slip/?id={referral.id}").get_data(as_text=True)
