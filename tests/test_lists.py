"""Lists a clerk can use: dashboard tiles open the list already filtered, rows open their record,
codes stay whole, and every date and time is shown in local time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from fakes.builders import make_case, make_referral
from slrt import clock, followups
from slrt.codes import format_code
from slrt.models import SmsMessage, SmsTemplate
from slrt.models.enums import FollowUpReason, ReferralStatus, ResidentVerification, Role
from tests.test_admin_matrix import signed_in
from tests.web import Browser

TILE = re.compile(r'<a class="tile[^"]*" href="([^"]+)"><span class="n">(\d+)</span>')


def _rows(page) -> str:
    return page.get_data(as_text=True).split('class="table', 1)[-1]


def test_dashboard_tiles_open_the_lists_filtered(app, district, db_session):
    waiting = make_referral(district)
    overdue = make_referral(district)
    overdue.due_at = clock.now() - timedelta(days=2)
    escalated = make_referral(district)
    escalated.escalated_at, escalated.escalation_rung = clock.now(), 1
    unverified = make_referral(district)
    unverified.status, unverified.completed_at = ReferralStatus.COMPLETED, clock.now() - timedelta(days=30)
    unverified.resident_verification = ResidentVerification.ASKED
    unverified.verification_asked_at = clock.now() - timedelta(days=30)
    unreached = make_case(district)
    db_session.flush()
    notice = db_session.scalar(select(SmsMessage).where(SmsMessage.case_id == unreached.id))
    followups.open_for(notice, FollowUpReason.SMS_FAILED, "30005")
    db_session.commit()
    codes = {r: format_code(r.code) for r in (waiting, overdue, escalated, unverified)}
    tickets = {c: format_code(c.ticket) for c in (unreached, waiting.case)}

    supervisor = Browser(app)
    supervisor.login(district.user(Role.SUPERVISOR).username)
    tiles = TILE.findall(supervisor.get("/admin/").get_data(as_text=True))
    links = [href.replace("&amp;", "&") for href, _n in tiles]
    numbers = [int(n) for _href, n in tiles]
    open_cases, active, late, high, unconfirmed, to_call, _sms = links
    expected = {
        active: {waiting, overdue, escalated},
        late: {overdue},
        high: {escalated},
        unconfirmed: {unverified},
    }
    for link, shown in expected.items():
        assert "flt" in link, link
        listed = _rows(supervisor.get(link))
        assert {r for r, code in codes.items() if code in listed} == shown, link
    assert numbers[1:5] == [3, 1, 1, 1]
    listed = _rows(supervisor.get(to_call))
    assert tickets[unreached] in listed and tickets[waiting.case] not in listed and numbers[5] == 1
    listed = _rows(supervisor.get(open_cases))
    assert tickets[unreached] in listed and tickets[waiting.case] in listed  # open and in progress alike


def test_rows_open_their_record_by_the_code_which_never_wraps(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    clerk = Browser(app)
    clerk.login(district.user(Role.BACK_OFFICE).username)
    case_page = f"/admin/case/details/?id={referral.case_id}"
    cases = _rows(clerk.get("/admin/case/"))
    ticket = format_code(referral.case.ticket)
    assert re.search(rf'<a class="code" href="{re.escape(case_page)}" data-row-open>{ticket}</a>',
                     cases.replace("&amp;", "&"))
    referrals = _rows(clerk.get("/admin/referral/")).replace("&amp;", "&")
    assert re.search(rf'<a class="code" href="{re.escape(case_page)}" data-row-open>{format_code(referral.code)}</a>',
                     referrals)
    css = clerk.get("/static/slrt.css").get_data(as_text=True)
    assert ".code" in css and "white-space: nowrap" in css and "tr:has(td .overdue)" in css


def test_dates_and_times_in_lists_are_local(app, district, db_session):
    clerk = district.user(Role.FRONT_OFFICE)
    clerk.last_login_at = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 08:30 in Jakarta
    template = SmsTemplate(key="case_registered", language="id", body="SLRT: tiket {ticket}",
                           updated_at=datetime(2026, 11, 23, 18, 5, tzinfo=UTC))  # 24-11 01:05 in Jakarta
    db_session.add(template)
    db_session.commit()
    browser = signed_in(app, district, Role.MANAGER)
    staff = _rows(browser.get("/admin/staff/"))
    assert "24-11-2026 08:30" in staff
    templates = _rows(browser.get("/admin/sms_template/"))
    assert "24-11-2026 01:05" in templates and "23-11-2026" not in templates
