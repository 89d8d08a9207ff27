"""A clerk's path in a real browser: Debian's chromium driven by Playwright, against the real app.

A clerk's day: logs in, runs intake (the NIK fills in birth date and sex), refers with a
document missing (asked first), records the agency's answers, closes the case with the outcome
the referrals suggest, prints the A6 card and the A4 letter to PDF (one page each, the card in
its colour), downloads the month's report as XLSX and as Indonesian CSV and reads them back,
opens the dashboard, searches a resident by NIK, filters a list, runs a list action and sets up
an authenticator app, all under the app's Content-Security-Policy: any violation the browser
reports fails the test. Screenshots of the main screens go to test-artifacts/ for review.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from slrt.extensions import db
from tests.live import live_app, need_chromium, serving
from tests.test_prints_browser import A4, A6, BLUE, _colours, _is_size, _print

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    need_chromium()
    app = live_app(tmp_path_factory.mktemp("live"), "browser-test", SLRT_SMS_SENDER_NAME="SLRT Blora")
    with app.app_context():
        from slrt import demo

        demo.seed(residents=20, random_seed=7)
        db.session.commit()
    with serving(app) as url:
        yield url


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", f"demo-{username}-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


#: Reports every CSP violation to the console, where the test collects it (Chrome also logs most itself).
REPORT_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.violatedDirective);
  console.error("Content Security Policy violation: " + e.violatedDirective + " " + e.blockedURI + " " +
                (e.sample || ""));
});
"""


def _watch_csp(context, page) -> list[str]:
    """Collect the Content-Security-Policy violations the page reports, with where they happened."""
    violations: list[str] = []
    context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)
    page.on("dialog", lambda dialog: dialog.accept())  # list actions ask "are you sure?"
    return violations


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_intake_refer_answer_close_slip_and_dashboard(live_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    violations = _watch_csp(context, page)

    _login(page, live_url, "frontoffice")
    assert "Dasbor" in page.content()
    # The watch works and the policy holds: an injected inline script is refused and reported.
    page.evaluate("""() => { const s = document.createElement("script");
                             s.textContent = "window.injected = 1"; document.body.appendChild(s); }""")
    assert page.evaluate("() => window.injected") is None  # an appended script runs at once, if allowed
    page.wait_for_function("() => window.cspViolations.length > 0")
    assert violations and "script-src" in violations[0], violations
    violations.clear()
    _shot(page, "01-dashboard")
    page.goto(f"{live_url}/admin/intake/")
    page.fill("#nik", "3316085503800007")  # a woman born 15-03-1980, Jepon
    page.click(".intake-find button")
    page.wait_for_load_state()
    _shot(page, "02a-intake-lookup")
    assert "belum terdaftar: isi data warga" in page.content()
    # Birth date and sex come from the NIK (digits 7-12: 55 = 15 + 40, a woman), for the clerk to confirm.
    assert page.input_value("input[name=birth_date]") == "1980-03-15"
    assert page.input_value("select[name=sex]") == "F"
    # Sent incomplete, the form comes back from the server with every message beside its field, in
    # Indonesian (no browser bubble stops it), and what was typed is still there.
    page.fill("input[name=address]", "Dk. Krajan RT 02 RW 01")
    page.click("[data-intake=open]")
    page.wait_for_selector("[data-error=name]")
    assert page.locator("[data-error=summary]").count() == 1 and page.locator("[data-error=needs]").count() == 1
    assert "Nama wajib diisi." in page.content()
    assert page.input_value("input[name=address]") == "Dk. Krajan RT 02 RW 01"
    assert page.input_value("input[name=birth_date]") == "1980-03-15"
    _shot(page, "02b-intake-errors")
    page.fill("input[name=name]", "Wartini")
    page.fill("input[name=phone]", "0813 2555 0199")
    page.fill("textarea[name=summary]", "Kartu KIS tidak aktif saat berobat ke puskesmas")
    page.locator(".needs label", has_text="BPJS").first.locator("input").check()
    _shot(page, "02-intake")
    page.click("[data-intake=open]")
    page.wait_for_url("**/admin/case/details/**")
    assert "dibuka untuk Wartini" in page.content()
    case_url = page.url
    context.clear_cookies()

    _login(page, live_url, "backoffice")
    page.goto(case_url)
    refer_form = page.locator("form.refer").first
    boxes = refer_form.locator("input[name=documents]").all()
    for box in boxes[:-1]:  # the last document is not there yet
        box.check()
    refer_form.locator("button[type=submit]").click()
    page.wait_for_selector(".confirm-step")
    assert "Belum dicentang" in page.content()
    _shot(page, "03a-refer-missing-document")
    page.click("[data-confirmed]")
    page.wait_for_load_state()
    assert "Rujukan dikirim ke" in page.content() and "Masih kurang" in page.content()
    _shot(page, "03-case-referred")
    page.click("[data-move=accept]")
    page.wait_for_load_state()
    assert "diterima oleh" in page.content()
    page.click("[data-move=complete]")
    page.wait_for_load_state()
    assert "diselesaikan oleh" in page.content()
    slip_href = page.locator("a[data-print-link=slip]").first.get_attribute("href")
    context.clear_cookies()

    _login(page, live_url, "supervisor")
    page.goto(case_url)
    assert page.is_checked("input[name=outcome][value=fulfilled]")  # suggested: its one referral was completed
    page.click("[data-move=close]")
    page.wait_for_selector(".confirm-step")
    assert "SMS ke warga (0813****0199)" in page.content()
    _shot(page, "04a-close-confirm")
    page.click("[data-confirmed]")
    page.wait_for_load_state()
    assert "ditutup: terpenuhi." in page.content()
    _shot(page, "04-case-closed")

    page.goto(f"{live_url}{slip_href}")
    assert "KARTU RUJUKAN" in page.content()
    assert page.locator(".slip").evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(47, 111, 179)"
    _shot(page, "05-slip")
    # Both prints fit one page each, as Ctrl-P prints them: the A6 card in its domain's colour, the A4 letter.
    slip = _print(page, "05a-slip-printed")
    assert len(slip.pages) == 1 and _is_size(slip, A6) and BLUE in _colours(slip)
    page.click("a[href*='/admin/referral/letter/']")
    page.wait_for_url("**/admin/referral/letter/**")
    letter = _print(page, "05b-letter-printed")
    assert len(letter.pages) == 1 and _is_size(letter, A4)
    assert "Wartini" in letter.pages[0].extract_text()

    # The month's report, as Indonesian Excel opens it: the case just closed is in it.
    month = f"{date.today():%Y-%m}"
    page.goto(f"{live_url}/admin/report/?month={month}")
    with page.expect_download() as download:
        page.click("a:text('XLSX')")
    with open(download.value.path(), "rb") as fh:
        rows = list(openpyxl.load_workbook(io.BytesIO(fh.read()))["Laporan"].iter_rows(values_only=True))
    assert rows[0][:4] == ("Bagian", "Nama", "Bidang", "Kasus diterima")
    health = next(row for row in rows if row[:2] == ("Bidang", "Kesehatan"))
    assert health[3] >= 1
    with page.expect_download() as download:
        page.click("a:text('CSV (titik koma)')")
    with open(download.value.path(), encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(io.StringIO(fh.read()), delimiter=";"))
    assert table[0][:4] == ["Bagian", "Nama", "Bidang", "Kasus diterima"]
    assert next(row for row in table if row[:2] == ["Bidang", "Kesehatan"])[3] == str(health[3])
    _shot(page, "05c-report")

    page.goto(f"{live_url}/admin/")
    assert page.locator("svg.chart rect").count() > 0
    _shot(page, "06-dashboard-supervisor")
    page.goto(f"{live_url}/admin/referral/")
    _shot(page, "07-referrals")
    page.goto(f"{live_url}/admin/resident/")
    _shot(page, "08-residents")

    # The search box finds a resident by NIK; the NIK stays out of the address (and the history).
    page.fill("form[role=search] input[name=search]", "3316085503800007")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    assert "Wartini" in page.locator("table.model-list").inner_text()
    assert "3316085503800007" not in page.url and "search=" in page.url
    assert page.input_value("form[role=search] input[name=search]") == "3316085503800007"

    # List filters (Flask-Admin's filter scripts, select2, the date range picker) and a list action.
    page.goto(f"{live_url}/admin/referral/")
    filters = page.locator("li.dropdown", has=page.locator(".field-filters"))
    filters.locator("a.dropdown-toggle").click()
    filters.locator("a.filter", has_text="Dikirim").click()
    page.locator("#filter_form input.filter-val").last.click()
    page.wait_for_selector(".daterangepicker", state="visible")
    page.keyboard.press("Escape")
    page.goto(f"{live_url}/admin/referral/")
    filters.locator("a.dropdown-toggle").click()
    filters.locator("a.filter", has_text="Status").click()
    page.click("#filter_form button[type=submit]")
    page.wait_for_load_state()
    assert "flt" in page.url
    page.goto(f"{live_url}/admin/referral/")
    page.locator("input.action-checkbox").first.check()
    actions = page.locator("li.dropdown", has=page.locator("[data-model-action]"))
    actions.locator("a.dropdown-toggle").click()
    actions.locator("[data-model-action=remind]").click()
    page.wait_for_selector(".alert")  # the action ran and said what it did
    page.goto(f"{live_url}/admin/")
    assert page.locator(".legend .swatch-blue").evaluate("e => getComputedStyle(e).backgroundColor") \
        == "rgb(47, 111, 179)"

    # The authenticator set-up shows its QR code (a data: image) under the policy.
    page.goto(f"{live_url}/tf-setup")
    page.click("form[name=two_factor_setup_form] [type=submit]")  # one button: nothing to choose
    page.wait_for_selector("#qrcode")
    assert page.locator("#qrcode").evaluate("img => img.complete && img.naturalWidth > 0")
    _shot(page, "09-authenticator-setup")

    assert violations == [], violations
    context.close()


def test_demo_manager_signs_in_with_the_printed_key_and_errors_keep_the_layout(live_url, browser):
    from slrt import demo

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    violations = _watch_csp(context, page)
    manager = next(login for login in demo.logins() if login.role == "manager")
    page.goto(f"{live_url}/login")
    page.fill("#username", manager.username)
    page.fill("#password", manager.password)
    page.click("button[type=submit]")
    page.wait_for_selector("#code")
    assert page.locator("button[type=submit]").count() == 1 and page.locator("input[type=radio]").count() == 0
    assert "manajer atau operator TI" in page.inner_text("body") and "Menu" not in page.inner_text("body")
    _shot(page, "10-authenticator-code")
    page.fill("#code", demo.authenticator_code())  # what an app holding the printed key shows
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_url}/admin/")

    # a stale link followed from the case list (the browser sends the list as Referer)
    page.goto(f"{live_url}/admin/case/details/?id=99999999", referer=f"{live_url}/admin/case/?page=1")
    assert "tidak ditemukan atau bukan wilayah unit Anda" in page.inner_text("body")
    assert page.locator("nav.navbar").count() == 1  # the staff layout, with its menu
    page.click("text=Kembali ke halaman sebelumnya")
    page.wait_for_url(f"{live_url}/admin/case/?page=1")
    page.go_back()
    _shot(page, "11-not-found")
    assert violations == [], violations
    context.close()
