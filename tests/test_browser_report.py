"""The monthly report in a real browser: a month picked on the screen, both files downloaded and read.

Runs on tests/test_browser.py's live app (the demo district's year of history) and chromium,
under the same watch for Content-Security-Policy violations.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest

from tests.test_browser import _login, _shot, _watch_csp, live_url  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


def test_a_supervisor_picks_last_month_and_downloads_it_for_excel(live_url, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID", accept_downloads=True)
    page = context.new_page()
    violations = _watch_csp(context, page)
    _login(page, live_url, "supervisor")
    page.click("a[href='/admin/report/']")
    month = f"{date.today().replace(day=1) - timedelta(days=1):%Y-%m}"
    page.fill("#report-month", month)
    page.click("form:has(#report-month) button[type=submit]")
    page.wait_for_url(f"**/admin/report/?month={month}")
    assert "Kasus per bidang (Kesehatan / Sosial / Pendidikan)" in page.content()
    _shot(page, "report-month")

    with page.expect_download() as download:
        page.click("a:text('XLSX')")
    assert download.value.suggested_filename == f"slrt-laporan-{month}.xlsx"
    with open(download.value.path(), "rb") as fh:  # a download's file has no extension: read it as bytes
        sheet = openpyxl.load_workbook(io.BytesIO(fh.read()))["Laporan"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Bagian", "Nama", "Bidang", "Kasus diterima")
    domains = {row[1]: row for row in rows if row[0] == "Bidang"}
    assert set(domains) == {"Kesehatan", "Sosial", "Pendidikan"}
    total = next(row for row in rows if row[0] == "Jumlah")
    assert total[3] == sum(row[3] for row in domains.values()) and isinstance(total[4], int)

    with page.expect_download() as download:
        page.click("a:text('CSV (titik koma)')")
    assert download.value.suggested_filename == f"slrt-laporan-{month}.csv"
    with open(download.value.path(), encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(io.StringIO(fh.read()), delimiter=";"))
    csv_total = next(row for row in table if row[0] == "Jumlah")
    assert csv_total[3:10] == [str(value) for value in total[3:10]]
    assert csv_total[10] == ("" if total[10] is None else f"{total[10]:.1f}".replace(".", ","))

    page.goto(f"{live_url}/admin/report/?month=2026-13")
    assert "Tulis bulan sebagai tahun dan bulan" in page.content()
    assert violations == []
    context.close()
