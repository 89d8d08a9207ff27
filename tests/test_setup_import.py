"""Bulk set-up from spreadsheets: staff, agencies, contacts and services, by the screen and the CLI."""

from __future__ import annotations

import io

import pytest
import python_calamine
import xlsxwriter
from flask import current_app
from sqlalchemy import func, select

from slrt import access, setup_import
from slrt.errors import DomainError, PermissionDenied
from slrt.extensions import db
from slrt.models import Agency, AgencyContact, Region, Service, Staff, Unit
from slrt.models.enums import AgencyKind, AgencyLevel, Domain, RegionLevel, Role, UnitKind
from tests.web import Browser

STAFF_HEADER = "Nama pengguna;Nama lengkap;Peran;Unit;Telepon"


def _csv(*lines: str, bom: bool = True) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _xlsx(rows: list[list], sheet: str = "Sheet1") -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            worksheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


def _run(data: bytes, actor, name: str = "petugas.csv", **kwargs) -> setup_import.ImportResult:
    return setup_import.import_setup(data, filename=name, actor=actor, **kwargs)


def _errors(result) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


def _count(db_session, model, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def _manager(district, unit=None) -> Staff:
    return district.user(Role.MANAGER, unit)


# --- Puskesos posts -----------------------------------------------------------------------------

UNITS_HEADER = "Nama;Desa/kelurahan (kode atau nama);Desa/kelurahan lain yang dilayani;Alamat;Telepon"


def _more_villages(district) -> dict[str, Region]:
    """Three more villages of the regency, and one of another regency with no secretariat."""
    kecamatan = district.villages[0].parent
    made = {
        "kepoh": Region(code="33.16.01.2003", name="Kepoh", level=RegionLevel.VILLAGE, parent=kecamatan),
        "pelem": Region(code="33.16.01.2004", name="Pelem", level=RegionLevel.VILLAGE, parent=kecamatan),
        "doplang": Region(code="33.16.01.2009", name="Doplang", level=RegionLevel.VILLAGE, parent=kecamatan),
        "elsewhere": Region(code="33.17.01.2001", name="Kepohkidul", level=RegionLevel.VILLAGE),
    }
    db.session.add_all(made.values())
    db.session.commit()
    return made


def test_posts_good_rows_kept_bad_rows_refused_and_a_second_import_changes_nothing(district, db_session):
    villages = _more_villages(district)
    data = _csv(
        UNITS_HEADER,
        "Puskesos Desa Kepoh;33.16.01.2003;Doplang;Balai Desa Kepoh;0812-2555-0188",  # 2 new, serves two
        "puskesos palon;Palon;;Balai Desa Palon;(0296) 531777",  # 3 existing post: address and phone
        "Puskesos Antah;33.99.01.2001;;;",  # 4 unknown village
        "Sekretariat SLRT Blora;33.16.01.2001;;;",  # 5 a secretariat
        "Puskesos Kepohkidul;Kepoh;Kepohkidul;;",  # 6 a village of another regency
        "Puskesos Desa KEPOH;Doplang;;;",  # 7 the same name again
        "Puskesos Luar;Kepohkidul;;;",  # 8 a regency with no secretariat
    )
    result = _run(data, _manager(district), name="unit.csv")
    assert result.kind == "units"
    assert [r.action for r in result.rows] == ["created", "updated", "refused", "refused", "refused", "refused",
                                               "refused"], _errors(result)
    errors = _errors(result)
    assert errors[0][:2] == (4, "Desa/kelurahan (kode atau nama)") and "33.99.01.2001" in errors[0][2]
    assert errors[1][:2] == (5, "Nama") and "sekretariat" in errors[1][2]
    assert errors[2][:2] == (6, "Desa/kelurahan lain yang dilayani") and "Kepohkidul" in errors[2][2]
    assert errors[3][:2] == (7, "Nama") and "baris 2" in errors[3][2]
    assert errors[4][:2] == (8, "Desa/kelurahan (kode atau nama)") and "setup-district" in errors[4][2]
    db_session.commit()
    kepoh = db_session.scalar(select(Unit).where(Unit.name == "Puskesos Desa Kepoh"))
    assert (kepoh.kind, kepoh.parent, kepoh.region, kepoh.villages, kepoh.phone) == (
        UnitKind.PUSKESOS, district.secretariat, villages["kepoh"], [villages["doplang"]], "0812-2555-0188")
    palon = district.puskesos[1]
    db_session.refresh(palon)
    assert (palon.address, palon.phone) == ("Balai Desa Palon", "(0296) 531777")
    assert _count(db_session, Unit, Unit.name.in_(["Puskesos Antah", "Puskesos Kepohkidul", "Puskesos Luar"])) == 0
    again = _run(data, _manager(district), name="unit.csv")
    assert [r.action for r in again.rows][:2] == ["unchanged", "unchanged"]


def test_staff_imported_into_an_imported_post_see_the_villages_it_serves_only(district, db_session):
    villages = _more_villages(district)
    manager = _manager(district)
    _run(_csv(UNITS_HEADER, "Puskesos Desa Kepoh;33.16.01.2003;33.16.01.2009;;"), manager, name="unit.csv")
    staff = _run(_csv(STAFF_HEADER, "tini.kepoh;Tini;Fasilitator;33.16.01.2003;"), manager)
    assert staff.rows[0].action == "created", _errors(staff)
    db_session.commit()
    tini = db_session.scalar(select(Staff).where(Staff.username == "tini.kepoh"))
    assert tini.unit.name == "Puskesos Desa Kepoh"
    assert access.covered_village_ids(tini) == {villages["kepoh"].id, villages["doplang"].id}
    assert not access.covers_village(tini, district.villages[0].id)
    assert access.covers_village(district.user(Role.SUPERVISOR), villages["doplang"].id)


def test_only_a_manager_of_the_secretariat_imports_posts(district, db_session):
    _more_villages(district)
    post_manager = _manager(district, district.puskesos[0])
    result = _run(_csv(UNITS_HEADER, "Puskesos Desa Kepoh;33.16.01.2003;;;"), post_manager, name="unit.csv")
    assert result.rows[0].action == "refused" and "Sekretariat SLRT Blora" in result.errors[0].message
    supervisor = _run(_csv(UNITS_HEADER, "Puskesos Desa Kepoh;33.16.01.2003;;;"), district.user(Role.SUPERVISOR),
                      name="unit.csv")
    assert supervisor.rows[0].action == "refused" and "manajer" in supervisor.errors[0].message
    assert _count(db_session, Unit, Unit.name == "Puskesos Desa Kepoh") == 0


# --- staff --------------------------------------------------------------------------------------

def test_staff_good_rows_kept_bad_rows_refused_with_row_column_and_reason(district, db_session):
    data = _csv(
        STAFF_HEADER,
        "rina.blora;Rina Pratiwi;Front office;Sekretariat SLRT Blora;0812-2555-0199",  # 2 good
        "budi.blora;Budi Santoso;Back office;Kantor Antah;0812-2555-0198",  # 3 unknown unit
        "sari.blora;Sari Dewi;fasilitator;33.16.01.2001;(0296) 531234",  # 4 landline
        "RINA.blora;Rina Lain;Back office;Sekretariat SLRT Blora;",  # 5 same username again
        "tono.blora;Tono;Kepala;Sekretariat SLRT Blora;",  # 6 unknown role
        "dwi.palon;Dwi Astuti;FACILITATOR;33.16.01.2002;081225550197",  # 7 good, unit by region code
    )
    result = _run(data, _manager(district))
    assert [r.action for r in result.rows] == ["created", "refused", "refused", "refused", "refused", "created"]
    errors = _errors(result)
    assert errors[0][:2] == (3, "Unit") and "Kantor Antah" in errors[0][2] and "tidak dikenal" in errors[0][2]
    assert errors[1][:2] == (4, "Telepon") and "nomor telepon rumah/kantor" in errors[1][2]
    assert errors[2][:2] == (5, "Nama pengguna") and "baris 2" in errors[2][2]
    assert errors[3][:2] == (6, "Peran") and "Manajer" in errors[3][2]
    db_session.commit()
    rina = db_session.scalar(select(Staff).where(Staff.username == "rina.blora"))
    assert rina.role == Role.FRONT_OFFICE and rina.phone == "+6281225550199" and rina.is_password_temporary
    assert rina.check_password(result.rows[0].password) and len(result.rows[0].password) >= 10
    dwi = db_session.scalar(select(Staff).where(Staff.username == "dwi.palon"))
    assert dwi.unit == district.puskesos[1] and dwi.role == Role.FACILITATOR
    assert _count(db_session, Staff, Staff.username.in_(["budi.blora", "sari.blora", "tono.blora"])) == 0


def test_puskesos_manager_imports_only_into_their_unit_and_below_their_rank(district, db_session):
    jepon = district.puskesos[0]
    data = _csv(
        STAFF_HEADER,
        "eka.jepon;Eka Putri;Front office;Puskesos Jepon;",  # 2 good
        "fajar.palon;Fajar Nugroho;Front office;Puskesos Palon;",  # 3 another unit
        "gita.jepon;Gita Ayu;Manajer;Puskesos Jepon;",  # 4 a role above theirs
        "hadi.sek;Hadi;Back office;Sekretariat SLRT Blora;",  # 5 the unit above
    )
    result = _run(data, _manager(district, jepon))
    assert [r.action for r in result.rows] == ["created", "refused", "refused", "refused"]
    assert [(e.row, e.column) for e in result.errors] == [(3, "Unit"), (4, "Peran"), (5, "Unit")]
    assert "bukan unit Anda" in result.errors[0].message
    # What applies to the whole district is for the district's managers only.
    with pytest.raises(PermissionDenied):
        _run(_csv("Nama;Jenis;Tingkat;Alamat", "Dinas X;Lainnya;Provinsi;Jl. A"), _manager(district, jepon),
             name="lembaga.csv")


def test_existing_account_is_updated_never_given_a_new_password(district, db_session):
    user = district.user(Role.BACK_OFFICE)
    before = user.password
    data = _csv(STAFF_HEADER, f"{user.username};Petugas Baru;Back office;Sekretariat SLRT Blora;081225550190")
    result = _run(data, _manager(district))
    assert result.rows[0].action == "updated" and result.rows[0].password is None
    assert user.full_name == "Petugas Baru" and user.password == before and not user.is_password_temporary


def test_dry_run_writes_nothing_and_shows_no_password(district, db_session):
    data = _csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Front office;Sekretariat SLRT Blora;",
                f"{district.user(Role.BACK_OFFICE).username};Nama Baru;Back office;Sekretariat SLRT Blora;",
                "x;Salah;Front office;Sekretariat SLRT Blora;")
    result = _run(data, _manager(district), dry_run=True)
    assert [r.action for r in result.rows] == ["created", "updated", "refused"]
    assert result.action_label("created") == "akan dibuat" and all(r.password is None for r in result.rows)
    db_session.commit()
    assert _count(db_session, Staff, Staff.username == "rina.blora") == 0
    db_session.expire_all()
    assert district.user(Role.BACK_OFFICE).full_name != "Nama Baru"


def test_a_second_import_of_the_same_file_changes_nothing(district, db_session):
    data = _csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Front office;Sekretariat SLRT Blora;0812-2555-0199",
                "dwi.palon;Dwi Astuti;Fasilitator;Puskesos Palon;")
    first = _run(data, _manager(district))
    db_session.commit()
    password = db_session.scalar(select(Staff.password).where(Staff.username == "rina.blora"))
    second = _run(data, _manager(district))
    assert first.count("created") == 2
    assert second.count("unchanged") == 2 and second.changed_nothing
    assert any("Tidak ada yang diubah" in line for line in setup_import.describe(second))
    assert db_session.scalar(select(Staff.password).where(Staff.username == "rina.blora")) == password


# --- agencies, contacts, services ----------------------------------------------------------------

def test_agencies_by_indonesian_labels_or_codes(district, db_session):
    data = _csv("Nama,Nama di SMS,Jenis,Tingkat,Alamat,Telepon",
                "RSUD Dr. R. Soetijono Blora,RSUD Blora,rumah sakit,Kabupaten/kota,Jl. Dr. Sutomo 42,(0296) 531118",
                "Dinas Kesehatan Kabupaten Blora,,DINAS KESEHATAN,district,Jl. A,",
                "Lembaga Salah,,Pabrik,Kabupaten/kota,Jl. B,",
                "Tanpa Alamat,,hospital,province,,",
                bom=False)
    result = _run(data, _manager(district), name="data.csv")
    assert result.kind == "agencies"
    assert [r.action for r in result.rows] == ["created", "created", "refused", "refused"]
    assert [(e.row, e.column) for e in result.errors] == [(4, "Jenis"), (5, "Alamat")]
    assert "Dinas Kesehatan" in result.errors[0].message  # the accepted values, in Indonesian
    rsud = db_session.scalar(select(Agency).where(Agency.name == "RSUD Dr. R. Soetijono Blora"))
    assert (rsud.kind, rsud.level, rsud.short_name, rsud.phone) == (
        AgencyKind.HOSPITAL, AgencyLevel.DISTRICT, "RSUD Blora", "(0296) 531118")
    dinkes = db_session.scalar(select(Agency).where(Agency.name == "Dinas Kesehatan Kabupaten Blora"))
    assert dinkes.kind == AgencyKind.HEALTH_OFFICE and dinkes.short_name == "Dinas Kesehatan Kabupaten Blora"[:30]
    assert _run(data, _manager(district), name="data.csv").count("unchanged") == 2


def test_contacts_keyed_by_phone_within_their_agency(district, db_session):
    bpjs = district.agencies["bpjs"]
    header = "Lembaga;Nama;Telepon;Menerima pengingat;Pimpinan"
    data = _csv(header,
                "BPJS Blora;Ani Lestari;0812-2555-0101;tidak;ya",  # 2 the existing contact, changed
                "Baznas Kabupaten Blora;Eko Baznas;0857-2555-0299;Ya;Tidak",  # 3 new
                "Lembaga Antah;Siapa;0812-2555-0300;;",  # 4 unknown agency
                "BPJS Blora;Rumah;(0296) 531234;;",  # 5 landline
                "BPJS Blora;Dobel;+62 812 2555 0101;;",  # 6 same phone in the same agency again
                "BPJS Blora;Ragu;0812-2555-0302;mungkin;")  # 7 not yes or no
    result = _run(data, _manager(district), name="kontak.csv")
    assert [r.action for r in result.rows] == ["updated", "created", "refused", "refused", "refused", "refused"]
    assert [(e.row, e.column) for e in result.errors] == [(4, "Lembaga"), (5, "Telepon"), (6, "Telepon"),
                                                          (7, "Menerima pengingat")]
    ani = db_session.scalar(select(AgencyContact).where(AgencyContact.agency_id == bpjs.id,
                                                        AgencyContact.phone == "+6281225550101"))
    assert ani.is_head and not ani.receives_reminders
    assert _count(db_session, AgencyContact, AgencyContact.agency_id == bpjs.id) == 3


def test_services_with_documents_agency_and_reminders(district, db_session):
    header = ("Kode;Nama;Nama di SMS;Bidang;SLA (hari kerja);Dokumen persyaratan;Lembaga bawaan;"
              "Pengingat pertama setelah (hari kerja);Lalu setiap (hari kerja);Paling banyak")
    data = _csv(header,
                "rs_keringanan;Keringanan biaya rumah sakit;Keringanan RS;Kesehatan;7;"
                "\"sktm; Fotokopi Kartu Keluarga\";"
                "Baznas Kabupaten Blora;2;1;4",
                "bpjs_pbi;Aktivasi BPJS PBI (KIS);;health;3;ktp;;;;",  # existing: SLA and documents change
                "kip;Surat pengantar KIP;;Pendidikan;lima;akta;;;;",  # SLA not a number, unknown document
                "sosial;Bantuan;;Olahraga;5;;Lembaga Antah;;;")  # unknown domain and agency
    result = _run(data, _manager(district), name="layanan.xlsx.csv")
    assert [r.action for r in result.rows] == ["created", "updated", "refused", "refused"]
    assert [(e.row, e.column) for e in result.errors] == [
        (4, "SLA (hari kerja)"), (4, "Dokumen persyaratan"), (5, "Bidang"), (5, "Lembaga bawaan")]
    service = db_session.scalar(select(Service).where(Service.code == "rs_keringanan"))
    assert (service.domain, service.sla_days, service.default_agency, service.reminder_first_days,
            service.reminder_every_days, service.reminder_max) == (
        Domain.HEALTH, 7, district.agencies["baznas"], 2, 1, 4)
    assert [d.code for d in service.documents] == ["sktm", "kk"]
    pbi = district.services["bpjs_pbi"]
    db_session.refresh(pbi)
    assert pbi.sla_days == 3 and [d.code for d in pbi.documents] == ["ktp"]
    assert pbi.short_name == "Aktivasi BPJS PBI"  # an empty cell keeps it
    again = _run(data, _manager(district), name="layanan.csv")
    assert [r.action for r in again.rows] == ["unchanged", "unchanged", "refused", "refused"]


def test_a_service_code_in_other_letter_case_is_the_same_service(district, db_session):
    """The default catalogue's codes are upper case (BPJS_PBI_AKTIVASI); a file may write them in lower case."""
    header = "Kode;Nama;Bidang;SLA (hari kerja);Lembaga bawaan"
    result = _run(_csv(header, "BPJS_PBI;Aktivasi BPJS PBI (KIS);Kesehatan;5;BPJS Blora",
                       "Bansos;Bantuan sosial;Sosial;10;Baznas"), _manager(district), name="layanan.csv")
    assert [r.action for r in result.rows] == ["unchanged", "unchanged"], _errors(result)
    assert _count(db_session, Service) == 2
    new = _run(_csv(header, "KIP_SD;Pengantar KIP SD;Pendidikan;10;"), _manager(district), name="layanan.csv")
    assert new.rows[0].action == "created"
    assert db_session.scalar(select(Service.code).where(Service.name == "Pengantar KIP SD")) == "KIP_SD"


def test_an_agency_reminder_schedule_is_set_only_by_a_file_that_has_its_columns(district, db_session):
    header = ("Nama;Jenis;Tingkat;Alamat;Pengingat pertama setelah (hari kerja);Lalu setiap (hari kerja);"
              "Paling banyak")
    result = _run(_csv(header, "BPJS Kesehatan Cabang Blora;BPJS Kesehatan;Kabupaten/kota;Jl. Pemuda 21 Blora;"
                               "5;5;2",
                       "Baznas Kabupaten Blora;Baznas;Kabupaten/kota;Jl. Gatot Subroto 5 Blora;x;0;30"),
                  _manager(district), name="lembaga.csv")
    assert [r.action for r in result.rows] == ["updated", "refused"]
    assert [e.column for e in result.errors] == ["Pengingat pertama setelah (hari kerja)",
                                                 "Lalu setiap (hari kerja)", "Paling banyak"]
    bpjs = district.agencies["bpjs"]
    assert (bpjs.reminder_first_days, bpjs.reminder_every_days, bpjs.reminder_max) == (5, 5, 2)
    without = _run(_csv("Nama;Jenis;Tingkat;Alamat",
                        "BPJS Kesehatan Cabang Blora;BPJS Kesehatan;Kabupaten/kota;Jl. Pemuda 21 Blora"),
                   _manager(district), name="lembaga.csv")
    assert without.rows[0].action == "unchanged"
    assert (bpjs.reminder_first_days, bpjs.reminder_every_days, bpjs.reminder_max) == (5, 5, 2)


# --- files --------------------------------------------------------------------------------------

def test_xlsx_with_numbers_for_phones_and_the_kind_from_the_sheet_name(district, db_session):
    data = _xlsx([["Nama", "Telepon", "Lembaga", "Nama pengguna", "Nama lengkap", "Peran", "Unit"],
                  ["", 81225550177, "", "nina.blora", "Nina", "Front office", "Sekretariat SLRT Blora"]],
                 sheet="Petugas")
    result = _run(data, _manager(district), name="upload.xlsx")
    assert result.kind == "staff" and result.rows[0].action == "created", _errors(result)
    assert result.ignored_columns == ["Nama", "Lembaga"]
    assert db_session.scalar(select(Staff.phone).where(Staff.username == "nina.blora")) == "+6281225550177"


@pytest.mark.parametrize(("data", "message"), [
    (_xlsx([["Nama pengguna", "Nama lengkap", "Peran", "Unit"], ["a\x00b", "b", "c", "d"]]), "Excel"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "bukan CSV"),
    (b"PK\x03\x04" + b"\x00" * 200, "bukan CSV"),
    (b"", "kosong"),
    (b"a;b;c\r\n1;2;3\r\n", "tidak dapat diketahui"),
    (b"x" * (setup_import.MAX_BYTES + 1), "terlalu besar"),
    (("Nama pengguna;Nama lengkap;Peran;Unit\r\n" + "a;b;c;d\r\n" * (setup_import.MAX_ROWS + 1)).encode(),
     "lebih dari"),
])
def test_garbage_or_huge_files_are_refused_whole(district, db_session, data, message):
    with pytest.raises(DomainError) as refused:
        _run(data, _manager(district), name="x.bin")
    assert message in str(refused.value)


def test_missing_required_column_is_named(district, db_session):
    with pytest.raises(DomainError) as refused:
        _run(_csv("Nama pengguna;Peran;Unit", "a;b;c"), _manager(district), kind="staff")
    assert "Nama lengkap" in str(refused.value)


def test_templates_have_indonesian_headers_and_no_formulas(app):
    with app.test_request_context("/?lang=en"):  # the templates speak Indonesian whatever the screens do
        _templates()


def _templates():
    rows = setup_import.template_rows("staff")
    assert rows[0] == ["Nama pengguna", "Nama lengkap", "Peran", "Unit", "Telepon"]
    xlsx = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(setup_import.template_xlsx("services")))
    sheet = xlsx.get_sheet_by_index(0).to_python()
    assert sheet[0][0] == "Kode" and sheet[1][4] == "5"  # text, as typed
    assert setup_import.template_csv("contacts").startswith("\ufeff".encode())


# --- the screen ---------------------------------------------------------------------------------

def _signed_in_manager(app, district, unit=None) -> Browser:
    security = current_app.extensions["security"]
    secret = security.totp_factory.generate_totp_secret()
    manager = db.session.get(Staff, _manager(district, unit).id)
    security.datastore.tf_set(manager, "authenticator", totp_secret=secret)
    db.session.commit()
    browser = Browser(app)
    browser.login(manager.username, code=security.totp_factory.generate_totp_password(secret))
    return browser


def _upload(browser, data: bytes, name: str, mode: str = "import", kind: str = ""):
    browser.get("/admin/setup-import/")
    return browser.post("/admin/setup-import/", {"file": (io.BytesIO(data), name), "mode": mode, "kind": kind},
                        content_type="multipart/form-data")


#: A row a manager adds to each downloaded CSV template.
FILLED = {
    "units": "Puskesos Desa Pelem,Pelem,,Balai Desa Pelem,",
    "agencies": "Dinas Sosial Kabupaten Blora,Dinsos Blora,Dinas Sosial,Kabupaten/kota,Jl. Pemuda 5 Blora,",
    "contacts": "RSUD Dr. R. Soetijono Blora,Tri Handayani,0812-2555-0302,Ya,Ya",
    "services": "sktm_sekolah,SKTM untuk sekolah,,Pendidikan,3,sktm,,,,",
    "staff": "wati.jepon,Wati Rahayu,Fasilitator,Puskesos Jepon,0812-2555-0303",
}


def test_templates_round_trip_through_the_screen(app, district, db_session):
    _more_villages(district)  # the posts' template names Kepoh, Pelem and Doplang
    browser = _signed_in_manager(app, district)
    page = browser.get("/admin/setup-import/")
    assert page.status_code == 200 and "Impor" in page.get_data(as_text=True)
    for extension in ("xlsx", "csv"):
        for kind in ("units", "agencies", "contacts", "services", "staff"):
            template = browser.get(f"/admin/setup-import/template/{kind}.{extension}")
            assert template.status_code == 200 and "attachment" in template.headers["Content-Disposition"]
            data = template.data
            if extension == "csv":  # filled in: the example row (imported already from the XLSX) and a new one
                data = data.rstrip(b"\r\n") + b"\r\n" + FILLED[kind].encode() + b"\r\n"
            response = _upload(browser, data, f"templat.{extension}")
            html = response.get_data(as_text=True)
            assert response.status_code == 200
            assert "dibuat: <strong>1</strong>" in html, (kind, html[html.find("setup-result"):][:2000])
            if extension == "csv":
                assert "tidak berubah: <strong>1</strong>" in html, (kind, html[html.find("setup-result"):][:2000])
    db_session.expire_all()
    assert _count(db_session, Service, Service.code.in_(["rs_keringanan", "sktm_sekolah"])) == 2
    assert _count(db_session, Unit, Unit.name.in_(["Puskesos Desa Kepoh", "Puskesos Desa Pelem"])) == 2
    assert _count(db_session, AgencyContact, AgencyContact.phone == "+6281225550302", AgencyContact.is_head) == 1
    wati = db_session.scalar(select(Staff).where(Staff.username == "wati.jepon"))
    assert wati.unit_id == district.puskesos[0].id and wati.role == Role.FACILITATOR
    user = db_session.scalar(select(Staff).where(Staff.username == "rina.pratiwi"))
    assert user.is_password_temporary and user.unit_id == district.secretariat.id


def test_screen_shows_the_one_time_password_and_row_errors(app, district, db_session):
    browser = _signed_in_manager(app, district)
    data = _csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Front office;Sekretariat SLRT Blora;",
                "budi.blora;Budi;Front office;Kantor Antah;")
    dry = _upload(browser, data, "petugas.csv", mode="dry_run").get_data(as_text=True)
    assert "akan dibuat" in dry and "Kantor Antah" in dry and "<code>" not in dry
    html = _upload(browser, data, "petugas.csv").get_data(as_text=True)
    password = html.split("<code>")[1].split("</code>")[0]
    assert "Kantor Antah" in html and ">3<" in html
    db_session.expire_all()
    assert db_session.scalar(select(Staff).where(Staff.username == "rina.blora")).check_password(password)
    # Shown once: the next page does not carry it.
    assert password not in browser.get("/admin/setup-import/").get_data(as_text=True)


def test_screen_refuses_garbage_and_huge_files_with_a_message(app, district, db_session):
    browser = _signed_in_manager(app, district)
    for data in (b"\x00\xff" * 500, b"x" * (setup_import.MAX_BYTES + 100_000)):
        response = _upload(browser, data, "x.xlsx")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "bukan CSV" in html or "terlalu besar" in html


def test_screen_for_managers_only_and_a_puskesos_manager_imports_staff_only(app, district, db_session):
    for role in (Role.SUPERVISOR, Role.BACK_OFFICE, Role.FRONT_OFFICE, Role.FACILITATOR):
        browser = Browser(app)
        browser.login(district.user(role).username)
        assert browser.get("/admin/setup-import/").status_code == 403
        assert browser.get("/admin/setup-import/template/staff.csv").status_code == 403
    anonymous = Browser(app).get("/admin/setup-import/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    browser = _signed_in_manager(app, district, district.puskesos[0])
    html = browser.get("/admin/setup-import/").get_data(as_text=True)
    assert "template/staff.csv" in html and "template/services.csv" not in html
    response = _upload(browser, _csv("Nama;Jenis;Tingkat;Alamat", "Dinas X;Lainnya;Provinsi;Jl. A"), "lembaga.csv",
                       kind="agencies")
    assert response.status_code == 200 and "Pilih isi berkas" in response.get_data(as_text=True)
    response = _upload(browser, _csv("Nama;Jenis;Tingkat;Alamat", "Dinas X;Lainnya;Provinsi;Jl. A"), "lembaga.csv")
    assert response.status_code == 200 and "manajer" in response.get_data(as_text=True).lower()
    assert _count(db_session, Agency, Agency.name == "Dinas X") == 0


# --- first sign-in ------------------------------------------------------------------------------

def test_one_time_password_must_be_changed_before_any_screen(app, district, db_session):
    result = _run(_csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Back office;Sekretariat SLRT Blora;"),
                  _manager(district))
    db_session.commit()
    password = result.rows[0].password
    browser = Browser(app)
    browser.login("rina.blora", password)
    for url in ("/admin/", "/admin/case/", "/admin/intake/", "/admin/referral/details/?id=1", "/admin/staff/"):
        response = browser.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/change"), url
    page = browser.get("/change")
    assert page.status_code == 200
    response = browser.post("/change", {"password": password, "new_password": "pilihan-sendiri-2026",
                                        "new_password_confirm": "pilihan-sendiri-2026"})
    assert response.status_code == 302
    db_session.expire_all()
    user = db_session.scalar(select(Staff).where(Staff.username == "rina.blora"))
    assert not user.is_password_temporary and user.check_password("pilihan-sendiri-2026")
    browser = Browser(app)
    browser.login("rina.blora", "pilihan-sendiri-2026")
    assert browser.get("/admin/case/").status_code == 200


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_dry_run_then_import_prints_the_passwords(app, district, db_session, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "petugas.csv"
    path.write_bytes(_csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Back office;33.16;",
                          "budi.blora;Budi;Front office;Kantor Antah;"))
    dry = runner.invoke(args=["slrt", "import-setup", str(path), "--dry-run"])
    assert dry.exit_code == 2 and "Baris 3, kolom Unit" in dry.output and "rina.blora\t" not in dry.output
    assert _count(db_session, Staff, Staff.username == "rina.blora") == 0
    done = runner.invoke(args=["slrt", "import-setup", str(path), "--kind", "staff"])
    password = done.output.split("rina.blora\t")[1].split()[0]
    user = db_session.scalar(select(Staff).where(Staff.username == "rina.blora"))
    assert user.check_password(password) and user.is_password_temporary
    # A password the operator sets is the account's own.
    assert runner.invoke(args=["slrt", "set-password", "rina.blora", "--password", "dipilih-operator-1"]).exit_code == 0
    assert not user.is_password_temporary
    garbage = tmp_path / "x.csv"
    garbage.write_bytes(b"\xff\xfe\x00")
    refused = runner.invoke(args=["slrt", "import-setup", str(garbage)])
    assert refused.exit_code == 1 and "bukan CSV" in refused.output


def test_a_posts_head_is_imported_when_the_file_has_the_columns(district, db_session):
    _more_villages(district)
    header = UNITS_HEADER + ";Kepala kantor;NIP kepala"
    result = _run(_csv(header, "Puskesos Desa Kepoh;Kepoh;;;;Sri Wahyuni, S.Sos.;19760312 200501 2 004",
                       "Puskesos Palon;Palon;;;;Budi;1976"), _manager(district), name="unit.csv")
    assert [r.action for r in result.rows] == ["created", "refused"]
    assert [(e.column, "18 angka" in e.message) for e in result.errors] == [("NIP kepala", True)]
    kepoh = db_session.scalar(select(Unit).where(Unit.name == "Puskesos Desa Kepoh"))
    assert (kepoh.head_name, kepoh.head_nip) == ("Sri Wahyuni, S.Sos.", "197603122005012004")
    # the same file again changes nothing; one without the columns keeps the head
    assert _run(_csv(header, "Puskesos Desa Kepoh;Kepoh;;;;Sri Wahyuni, S.Sos.;197603122005012004"),
                _manager(district), name="unit.csv").rows[0].action == "unchanged"
    assert _run(_csv(UNITS_HEADER, "Puskesos Desa Kepoh;Kepoh;;;"), _manager(district),
                name="unit.csv").rows[0].action == "unchanged"
    assert kepoh.head_name == "Sri Wahyuni, S.Sos."
