"""A clerk's path in a real browser: Debian's chromium driven by Playwright, against the real app.

Logs in, runs intake, refers, records the agency's answers, closes the case, opens the slip
and the dashboard. Screenshots of the main screens go to test-artifacts/ for review.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from slrt.extensions import db
from slrt.pii import new_key

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    path = tmp_path_factory.mktemp("live")
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path / 'live.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{path / 'broker.sqlite'}",
        "SLRT_PII_KEY": new_key(), "SECRET_KEY": "browser-test", "SLRT_PASSWORD_HASH": "plaintext",
        "SLRT_SMS_SENDER_NAME": "SLRT Blora",
        # given, so nothing is kept in the repository's instance/ folder (screenshots alone go to test-artifacts/)
        "SLRT_ANDROID_SIGNING_KEY": "browser-test",
    })
    with app.app_context():
        from flask_migrate import upgrade

        from slrt import demo

        upgrade()
        demo.seed(residents=20, random_seed=7)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", f"demo-{username}-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_intake_refer_answer_close_slip_and_dashboard(live_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()

    _login(page, live_url, "frontoffice")
    assert "Dasbor" in page.content()
    _shot(page, "01-dashboard")
    page.goto(f"{live_url}/admin/intake/")
    page.fill("#nik", "3316085503800007")  # a woman born 15-03-1980, Jepon
    page.click(".intake-find button")
    page.wait_for_load_state()
    _shot(page, "02a-intake-lookup")
    page.fill("input[name=name]", "Wartini")
    page.select_option("select[name=sex]", "F")
    page.fill("input[name=birth_date]", "1980-03-15")
    page.fill("input[name=address]", "Dk. Krajan RT 02 RW 01")
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
    for box in refer_form.locator("input[name=documents]").all():
        box.check()
    refer_form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Rujukan dikirim ke" in page.content()
    _shot(page, "03-case-referred")
    page.click("[data-move=accept]")
    page.wait_for_load_state()
    page.click("[data-move=complete]")
    page.wait_for_load_state()
    assert "selesai" in page.content()
    slip_href = page.locator("a", has_text="surat").first.get_attribute("href")
    context.clear_cookies()

    _login(page, live_url, "supervisor")
    page.goto(case_url)
    page.select_option("select[name=outcome]", "fulfilled")
    page.click("[data-move=close]")
    page.wait_for_load_state()
    assert "Kasus ditutup." in page.content()
    _shot(page, "04-case-closed")

    page.goto(f"{live_url}{slip_href}")
    assert "SURAT RUJUKAN" in page.content()
    assert page.locator(".slip").evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(47, 111, 179)"
    _shot(page, "05-slip")

    page.goto(f"{live_url}/admin/")
    assert page.locator("svg.chart rect").count() > 0
    _shot(page, "06-dashboard-supervisor")
    page.goto(f"{live_url}/admin/referral/")
    _shot(page, "07-referrals")
    page.goto(f"{live_url}/admin/resident/")
    _shot(page, "08-residents")
    context.close()
