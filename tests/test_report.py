"""The monthly report as an office reads it: Indonesian words, Excel's separators, the period asked for."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from fakes.builders import make_case, make_referral, make_resident
from slrt import referrals, reports
from slrt.errors import ValidationError
from slrt.models.enums import Role
from tests.conftest import FROZEN_AT, JAKARTA
from tests.web import Browser

HEADER = ["Bagian", "Nama", "Bidang", "Kasus diterima", "Rujukan dikirim", "Rujukan selesai", "Rujukan ditolak",
          "Rujukan dibatalkan", "Masih menunggu", "Terlambat saat ini", "Median hari kerja sampai selesai"]


@pytest.fixture
def history(district, db_session, frozen):
    """A month of work: October's one referral, November's four (two completed, one refused, one late)."""
    d, back = district, district.user(Role.BACK_OFFICE)

    def at(*moment):
        frozen.move_to(datetime(*moment, tzinfo=JAKARTA))

    at(2026, 10, 5, 9)  # a Monday
    october = make_referral(d)
    at(2026, 10, 8, 11)
    referrals.complete(october, actor=back)  # 3 working days
    at(2026, 11, 2, 9)  # a Monday
    quick, slow = make_referral(d), make_referral(d)
    at(2026, 11, 3, 9)
    palon = d.puskesos[1]
    palon_case = make_case(d, make_resident(d, village=d.villages[1]), unit=palon, services=["bansos"],
                           actor=d.user(Role.FRONT_OFFICE, palon))
    refused = referrals.refer(palon_case, service=d.services["bansos"], actor=back)
    at(2026, 11, 4, 14)
    referrals.complete(quick, actor=back)  # 2 working days
    at(2026, 11, 5, 10)
    referrals.complete(slow, actor=back)  # 3 working days: the median of November is 2,5
    referrals.reject(refused, reason="Bukan sasaran program", actor=back)
    at(2026, 11, 10, 9)
    make_referral(d)  # due after 5 working days (the 17th): overdue on the 24th
    frozen.move_to(FROZEN_AT)
    db_session.commit()
    return d


def _browser(app, district, role=Role.SUPERVISOR, unit=None) -> Browser:
    browser = Browser(app)
    browser.login(district.user(role, unit).username)
    return browser


def _csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    text = body.decode("utf-8-sig")
    assert text.count("\r\n") == text.count("\n") > 1, "CRLF line ends"
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def _rows(table) -> dict[tuple[str, str], list]:
    return {(row[0], row[1]): row[3:] for row in table[1:]}


def test_the_csv_opens_in_indonesian_excel(app, history, db_session):
    response = _browser(app, history).get("/admin/report.csv?month=2026-11")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "filename=slrt-laporan-2026-11.csv" in response.headers["Content-Disposition"]
    table = _csv(response)
    assert table[0] == HEADER
    rows = _rows(table)
    #                                   cases sent done refused cancelled waiting overdue median
    assert rows["Jumlah", "Semua"] == ["4", "4", "2", "1", "0", "1", "1", "2,5"]
    assert rows["Bidang", "Kesehatan"] == ["3", "3", "2", "0", "0", "1", "1", "2,5"]
    assert rows["Bidang", "Sosial"] == ["1", "1", "0", "1", "0", "0", "0", ""]
    assert rows["Bidang", "Pendidikan"] == ["0", "0", "0", "0", "0", "0", "0", ""]
    assert rows["Layanan", "Aktivasi BPJS PBI (KIS)"] == rows["Bidang", "Kesehatan"]
    assert rows["Layanan", "Bantuan sosial"] == rows["Bidang", "Sosial"]
    assert rows["Lembaga", "BPJS Kesehatan Cabang Blora"] == ["", "3", "2", "0", "0", "1", "1", "2,5"]
    assert rows["Lembaga", "Baznas Kabupaten Blora"] == ["", "1", "0", "1", "0", "0", "0", ""]
    assert rows["Unit", "Puskesos Jepon"] == rows["Bidang", "Kesehatan"]
    assert rows["Unit", "Puskesos Palon"] == rows["Bidang", "Sosial"]
    # services carry their domain's name; no code of the vocabulary is shown
    domain_of = {row[1]: row[2] for row in table[1:] if row[0] == "Layanan"}
    assert domain_of == {"Aktivasi BPJS PBI (KIS)": "Kesehatan", "Bantuan sosial": "Sosial"}
    words = {cell for row in table for cell in row[:3]}
    assert not words & {"health", "social", "education", "total", "domain", "service", "agency", "unit"}
    # one period: no month section
    assert not any(row[0] == "Bulan" for row in table)


def test_the_xlsx_holds_the_same_figures_as_number_cells(app, history, db_session):
    browser = _browser(app, history)
    response = browser.get("/admin/report.xlsx?month=2026-11")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename=slrt-laporan-2026-11.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["Laporan", "Keterangan"]
    sheet = book["Laporan"]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == tuple(HEADER) or list(cells[0]) == HEADER
    assert all(cell.font.b for cell in sheet[1]), "a bold header"
    assert sheet.freeze_panes == "A2", "the header stays in view"
    assert sheet.column_dimensions["B"].width >= len("BPJS Kesehatan Cabang Blora")
    total = next(row for row in cells if row[0] == "Jumlah")
    assert total == ["Jumlah", "Semua", None, 4, 4, 2, 1, 0, 1, 1, 2.5]
    assert all(isinstance(value, int) for value in total[3:10]) and isinstance(total[10], float)
    agency = next(row for row in cells if row[1] == "BPJS Kesehatan Cabang Blora")
    assert agency[3] is None and agency[4:] == [3, 2, 0, 0, 1, 1, 2.5]
    # the same figures as the CSV, cell by cell
    table = _csv(browser.get("/admin/report.csv?month=2026-11"))
    assert len(table) == len(cells)
    for row, line in zip(cells[1:], table[1:], strict=True):
        shown = ["" if v is None else str(v).replace(".", ",") for v in row]
        assert shown == line
    notes = dict(book["Keterangan"].iter_rows(values_only=True))
    assert notes["Periode"] == "01-11-2026 - 30-11-2026"
    assert notes["Kasus per bidang (Kesehatan / Sosial / Pendidikan)"] == "3 / 1 / 0"
    assert notes["Unit"] == "Sekretariat SLRT Blora dan unit di bawahnya"


def test_a_month_holds_only_that_month(app, history, db_session):
    browser = _browser(app, history)
    october = _rows(_csv(browser.get("/admin/report.csv?month=2026-10")))
    assert october["Jumlah", "Semua"] == ["1", "1", "1", "0", "0", "0", "0", "3,0"]
    assert ("Layanan", "Bantuan sosial") not in october
    december = _rows(_csv(browser.get("/admin/report.csv?month=2026-12")))
    assert december["Jumlah", "Semua"] == ["0"] * 7 + [""]
    # no period asked: this month (the clock says November)
    response = browser.get("/admin/report.csv")
    assert "filename=slrt-laporan-2026-11.csv" in response.headers["Content-Disposition"]
    assert _rows(_csv(response))["Jumlah", "Semua"][0] == "4"


def test_a_date_range_adds_its_months(app, history, db_session):
    browser = _browser(app, history)
    response = browser.get("/admin/report.csv?from=2026-10-01&to=2026-11-30")
    assert "filename=slrt-laporan-2026-10-01_2026-11-30.csv" in response.headers["Content-Disposition"]
    rows = _rows(_csv(response))
    assert rows["Jumlah", "Semua"] == ["5", "5", "3", "1", "0", "1", "1", "3,0"]  # durations 2, 3, 3
    assert rows["Bulan", "2026-10"][:3] == ["1", "1", "1"] and rows["Bulan", "2026-11"][:3] == ["4", "4", "2"]
    first_days = _rows(_csv(browser.get("/admin/report.csv?from=2026-11-01&to=2026-11-02")))
    assert first_days["Jumlah", "Semua"][:2] == ["2", "2"]
    whole_month = browser.get("/admin/report.xlsx?from=2026-11-01&to=2026-11-30")
    assert "filename=slrt-laporan-2026-11.xlsx" in whole_month.headers["Content-Disposition"]


def test_a_puskesos_reports_its_own_cases_only(app, history, db_session):
    clerk = _browser(app, history, Role.FRONT_OFFICE, history.puskesos[1])  # Palon
    table = _csv(clerk.get("/admin/report.csv?month=2026-11"))
    rows = _rows(table)
    assert rows["Jumlah", "Semua"] == ["1", "1", "0", "1", "0", "0", "0", ""]
    assert {name for section, name in rows if section in ("Unit", "Layanan", "Lembaga")} == {
        "Puskesos Palon", "Bantuan sosial", "Baznas Kabupaten Blora"}
    book = openpyxl.load_workbook(io.BytesIO(clerk.get("/admin/report.xlsx?month=2026-11").get_data()))
    assert not any("Jepon" in str(value) or "BPJS" in str(value)
                   for row in book["Laporan"].iter_rows(values_only=True) for value in row)
    assert "Puskesos Palon dan unit di bawahnya" in dict(book["Keterangan"].iter_rows(values_only=True)).values()
    page = clerk.get("/admin/report/?month=2026-11").get_data(as_text=True)
    assert "Puskesos Palon" in page and "Puskesos Jepon" not in page and "0 / 1 / 0" in page


def test_the_report_screen_picks_a_period_and_offers_both_files(app, history, db_session):
    browser = _browser(app, history)
    page = browser.get("/admin/").get_data(as_text=True)
    assert "/admin/report/" in page
    response = browser.get("/admin/report/?month=2026-11")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'type="month"' in page and 'value="2026-11"' in page and 'type="date"' in page
    assert "Kasus per bidang (Kesehatan / Sosial / Pendidikan)" in page and "<strong>3 / 1 / 0</strong>" in page
    assert "/admin/report.csv?month=2026-11" in page and "/admin/report.xlsx?month=2026-11" in page
    assert "01-11-2026 s.d. 30-11-2026" in page
    assert ">2,5<" in page and ">Kesehatan<" in page and "Median hari kerja sampai selesai" in page
    ranged = browser.get("/admin/report/?from=2026-10-01&to=2026-11-30").get_data(as_text=True)
    assert "/admin/report.csv?from=2026-10-01&amp;to=2026-11-30" in ranged and ">Bulan<" in ranged
    english = browser.get("/admin/report/?month=2026-11&lang=en").get_data(as_text=True)
    assert "Cases per domain (Health / Social / Education)" in english and ">2.5<" in english


@pytest.mark.parametrize("query, message", [
    ("month=2026-13", "Tulis bulan sebagai tahun dan bulan"),
    ("month=november", "Tulis bulan sebagai tahun dan bulan"),
    ("month=1999-12", "Tulis bulan sebagai tahun dan bulan"),
    ("month=%D9%A2%D9%A0%D9%A2%D9%A6-11", "Tulis bulan sebagai tahun dan bulan"),  # Arabic-Indic digits
    ("from=2026-11-01", "Hari terakhir rentang bukan tanggal"),
    ("from=2026-02-30&to=2026-03-01", "Hari pertama rentang bukan tanggal"),
    ("from=2026-11-30&to=2026-11-01", "Rentang berakhir sebelum dimulai"),
    ("from=2025-01-01&to=2026-11-30", "paling lama satu tahun"),
    ("month=2026-11&from=2026-11-01&to=2026-11-30", "Pilih bulan atau rentang tanggal"),
])
@pytest.mark.parametrize("path", ["/admin/report/", "/admin/report.csv", "/admin/report.xlsx"])
def test_a_wrong_period_is_explained_in_indonesian(app, history, db_session, query, message, path):
    response = _browser(app, history).get(f"{path}?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page and 'type="month"' in page


def test_periods_are_read_strictly(app):
    with app.app_context():
        assert reports.parse_period("2026-02") == reports.Period(date(2026, 2, 1), date(2026, 2, 28))
        assert reports.parse_period(" 2024-02 ").last == date(2024, 2, 29)
        assert reports.parse_period("", "2026-01-01", "2026-12-31").name == "2026-01-01_2026-12-31"
        assert reports.parse_period(None, "2026-03-01", "2026-03-31").name == "2026-03"
        for month, first, last, field in [("2026-00", "", "", "month"), ("26-11", "", "", "month"),
                                          ("", "2026-11-01", "", "to"), ("", "", "2026-11-01", "from"),
                                          ("", "01-11-2026", "30-11-2026", "from"),
                                          ("", "2026-11-01", "2100-01-01", "to")]:
            with pytest.raises(ValidationError) as refused:
                reports.parse_period(month, first, last)
            assert refused.value.field == field, (month, first, last)


def test_median_of_counted_durations():
    figures = reports.Figures()
    assert figures.median_days() is None
    figures.durations.update({2: 1, 3: 1})
    assert figures.median_days() == 2.5
    figures.durations.update({10: 1})
    assert figures.median_days() == 3
    figures.durations = reports.Counter({0: 3, 7: 1})
    assert figures.median_days() == 0


def test_a_name_that_looks_like_a_formula_stays_text(app, district, db_session):
    formula = "=cmd|' /C calc'!A0"
    district.services["bansos"].name = formula
    make_referral(district, service="bansos")
    db_session.commit()
    browser = _browser(app, district)
    table = _csv(browser.get("/admin/report.csv"))
    assert ("Layanan", "'" + formula) in _rows(table)
    sheet = openpyxl.load_workbook(io.BytesIO(browser.get("/admin/report.xlsx").get_data()))["Laporan"]
    cell = next(cell for row in sheet.iter_rows() for cell in row if cell.value == formula)
    assert cell.data_type == "s", "text, not a formula"


def test_the_report_needs_a_signed_in_account(app, district, db_session):
    anonymous = app.test_client()
    for path in ("/admin/report/", "/admin/report.csv?month=2026-11", "/admin/report.xlsx?month=2026-11"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
