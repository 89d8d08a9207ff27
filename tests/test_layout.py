"""The screens at 1280 px and on small laptops, in a real browser (Debian's chromium, Playwright).

No page scrolls sideways (the case page with its referral forms, the lists), the top menu
stays on one line, a list row opens its record, overdue rows stand out, the dashboard's tiles
open the lists already filtered, and a case is found by any word of the resident's name.
Screenshots go to test-artifacts/layout-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from slrt.extensions import db
from tests.live import live_app, need_chromium, serving
from tests.test_browser import _login

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow

#: Widths and heights of the screens at the counter: a 1280 monitor, two small laptops.
SCREENS = [(1280, 800), (1366, 768)]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on the demo district, served over HTTP; with an open case to refer and a resident's name."""
    need_chromium()
    app = live_app(tmp_path_factory.mktemp("layout"), "layout-test", SLRT_SMS_SENDER_NAME="SLRT Blora")
    with app.app_context():
        from slrt import demo
        from slrt.models import Case, Resident
        from slrt.models.enums import CaseStatus

        demo.seed(residents=20, random_seed=7)
        db.session.commit()
        case = db.session.scalars(select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id)).first()
        resident = db.session.get(Resident, case.resident_id)
        found = {"case_id": case.id, "name": resident.name, "last_word": resident.name.split()[-1]}
    with serving(app) as url:
        yield {"url": url, **found}


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout-{name}.png"), full_page=True)


def _fits(page) -> None:
    """No sideways scrolling, and the top menu on one line."""
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width[0]} px wide in a {width[1]} px window"
    menu = page.evaluate("""() => {
        const items = [...document.querySelectorAll('nav.navbar .navbar-nav > li, nav.navbar .navbar-brand')];
        const link = document.querySelector('nav.navbar .navbar-nav .nav-link').getBoundingClientRect();
        return {tops: items.map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2)),
                bar: document.querySelector('nav.navbar').getBoundingClientRect().height, line: link.height};
    }""")
    assert max(menu["tops"]) - min(menu["tops"]) <= 4, f"{page.url}: the top menu wraps: {menu}"
    assert menu["bar"] < 2 * menu["line"], f"{page.url}: the top menu is taller than one line: {menu}"


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_no_sideways_scrolling_and_a_one_line_menu(live, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="id-ID")
    page = context.new_page()
    base = live["url"]
    for username in ("backoffice", "supervisor"):
        _login(page, base, username)
        for name, path in [("dashboard", "/admin/"), ("case", f"/admin/case/details/?id={live['case_id']}"),
                           ("cases", "/admin/case/"), ("referrals", "/admin/referral/"),
                           ("follow-ups", "/admin/follow_up/"), ("residents", "/admin/resident/"),
                           ("households", "/admin/household/"), ("outbox", "/admin/sms/"),
                           ("templates", "/admin/sms_template/"), ("services", "/admin/service/"),
                           ("agencies", "/admin/agency/"), ("intake", "/admin/intake/")]:
            page.goto(f"{base}{path}")
            _fits(page)
            if username == "backoffice" and width == 1280:
                _shot(page, f"{width}-{name}")
        context.clear_cookies()
    # The user's own links are one click away, in the menu under their name.
    _login(page, base, "backoffice")
    page.click(".user-menu .dropdown-toggle")
    assert page.locator(".user-menu .dropdown-menu").is_visible()
    assert page.locator(".user-menu button[type=submit]").inner_text().strip() == "Keluar"
    context.close()


def test_rows_tiles_overdue_and_name_search(live, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID")
    page = context.new_page()
    base = live["url"]
    _login(page, base, "supervisor")

    # The overdue tile opens the referral list narrowed to overdue referrals, each row highlighted.
    page.click("a.tile:has-text('rujukan lewat')")
    page.wait_for_load_state()
    assert "flt" in page.url
    rows = page.locator("table.model-list > tbody > tr:has(td.col-code)")
    if rows.count():
        assert rows.count() == page.locator("table.model-list > tbody > tr:has(.overdue)").count()
        assert rows.first.locator("td.col-service").evaluate("td => getComputedStyle(td).backgroundColor") \
            == "rgb(253, 236, 238)"
        code = rows.first.locator("td.col-code")
        assert code.evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"
        _shot(page, "overdue-referrals")
        # A click on the row (not on a link) opens the case the referral belongs to.
        rows.first.locator("td.col-service").click()
        page.wait_for_url("**/admin/case/details/**")

    # A case is found by the last word of the resident's name alone.
    page.goto(f"{base}/admin/case/")
    page.fill("form[role=search] input[name=search]", live["last_word"].lower())
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    listed = page.locator("table.model-list").inner_text()
    assert live["name"] in listed
    _shot(page, "case-search-by-word")
    page.locator("table.model-list > tbody > tr td.col-resident").first.click()
    page.wait_for_url("**/admin/case/details/**")
    context.close()
