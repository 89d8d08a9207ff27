"""List pages run few statements whatever the page, and a deep page shows the rows the plain query would."""

import re

import pytest
import sqlalchemy as sa
from flask_login import login_user
from sqlalchemy import select

from admin_views.security import staff_scope
from fakes.builders import make_case, make_referral, make_resident
from slrt import residents
from slrt.access import coverage, in_scope, staff_and_coverage
from slrt.extensions import db
from slrt.models import Case, Resident
from slrt.models.enums import Role
from tests.test_admin_matrix import signed_in

#: Signing in checks the session's token, then loads the account with its unit and where it works;
#: the list is one more statement, and the transaction's own opening is the fourth.
MAX_STATEMENTS = 4
#: How a request's transaction ends in the tests (the per-test rollback's savepoints): not the page's work.
_TEST_HARNESS = re.compile(r"^\s*(ROLLBACK TO SAVEPOINT|RELEASE SAVEPOINT)", re.I)
#: The page's audit entry (slrt.audit), counted apart: on PostgreSQL one call of the function
#: audit_append (the head moved, the entry inserted, the commit's setting not to wait for the disk); on
#: SQLite the head's read, the insert, the head moved. bench/audit_overhead.py measures what it costs.
_AUDIT = re.compile(r"audit_entry|audit_head|audit_append|synchronous_commit")
MAX_AUDIT_STATEMENTS = {"postgresql": 1, "sqlite": 3}


def _statements(app, browser, url: str) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not _TEST_HARNESS.match(statement):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = browser.get(url)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, url
    return seen


@pytest.fixture
def filled(app, district, db_session):
    for unit in district.puskesos:
        for _ in range(3):
            make_referral(district, make_case(district, unit=unit))
    db_session.commit()
    return district


LISTS = ["case", "case/?page=1", "referral", "referral/?page=2", "follow_up", "resident",
         "household", "service", "document", "agency", "agency_contact", "sms", "sms_template"]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.FRONT_OFFICE])
@pytest.mark.parametrize("page", LISTS)
def test_a_list_page_runs_at_most_four_statements(app, filled, role, page):
    browser = signed_in(app, filled, role, filled.puskesos[0] if role == Role.FRONT_OFFICE else None)
    url = f"/admin/{page}" if "?" in page else f"/admin/{page}/"
    statements = _statements(app, browser, url)
    audited = [s for s in statements if _AUDIT.search(s)]
    page = [s for s in statements if not _AUDIT.search(s)]
    assert len(page) <= MAX_STATEMENTS, "\n".join(statements)
    with app.app_context():
        assert len(audited) <= MAX_AUDIT_STATEMENTS[db.engine.dialect.name], "\n".join(audited)


def test_the_staff_list_of_a_manager_runs_at_most_four_statements_and_the_pause_banner(app, filled):
    browser = signed_in(app, filled, Role.MANAGER)
    statements = _statements(app, browser, "/admin/staff/")
    # Managers' pages also ask whether sending is paused (the banner with its "resume" button).
    page = [s for s in statements if "FROM sms_pause" not in s]
    assert len(page) <= MAX_STATEMENTS, "\n".join(statements)


def test_a_household_page_reads_the_villages_once_for_all_its_members(app, filled, db_session):
    village = filled.villages[0]
    household = residents.register_household(kk_number="3316012345670001", address="RT 1", village=village,
                                             actor=filled.user(Role.FRONT_OFFICE))
    members = [make_resident(filled, village=village, household=household, name=name)
               for name in ("Siti", "Budi", "Ani", "Tono")]
    db_session.commit()
    browser = signed_in(app, filled, Role.FRONT_OFFICE, filled.puskesos[0])
    statements = _statements(app, browser, f"/admin/household/details/?id={household.id}")
    assert not [s for s in statements if "unit.parent_id" in s]  # no walk down the unit tree per member
    page = browser.get(f"/admin/household/details/?id={household.id}").get_data(as_text=True)
    assert all(m.name in page for m in members)


def test_a_deep_page_shows_the_rows_of_the_plain_offset_query(app, district, db_session):
    cases = [make_case(district, unit=district.puskesos[i % 2]) for i in range(90)]  # one opened_at for all
    db_session.commit()
    for role, unit in ((Role.SUPERVISOR, None), (Role.FRONT_OFFICE, district.puskesos[1])):
        browser = signed_in(app, district, role, unit)
        who = district.user(role, unit)
        for sort, order in (("", (Case.opened_at.desc(), Case.id.desc())), ("&sort=3", (Case.status, Case.id))):
            plain = select(Case.id).where(in_scope(who, Case)).order_by(*order)
            for page in (1, 2, 3):
                html = browser.get(f"/admin/case/?page={page}&page_size=25{sort}").get_data(as_text=True)
                shown = [int(i) for i in dict.fromkeys(re.findall(r"/admin/case/details/\?id=(\d+)", html))]
                expected = list(db_session.scalars(plain.limit(25).offset(page * 25)))
                assert shown == expected, (role, sort, page)
    assert len(cases) == 90


def test_coverage_in_one_statement_says_what_the_tree_walk_said(app, district, db_session):
    for unit in (district.secretariat, *district.puskesos):
        for role in (Role.FRONT_OFFICE, Role.MANAGER):
            person = district.user(role, unit)
            cover = coverage(person)
            assert staff_and_coverage(person.fs_uniquifier) == (person, cover)
            below = {unit.id} | ({p.id for p in district.puskesos} if unit is district.secretariat else set())
            assert cover.unit_ids == below
            assert cover.every_unit == (unit is district.secretariat)
            residents = set(db_session.scalars(select(Resident.id).where(in_scope(cover, Resident))))
            assert residents == set(db_session.scalars(select(Resident.id).where(in_scope(person, Resident))))
    assert staff_and_coverage("no-such-account") is None


def test_the_kept_coverage_follows_a_change_of_unit(app, district, db_session):
    """The request's coverage is the account's as it is now: moved to the secretariat, the clerk covers it all."""
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    with app.test_request_context("/admin/"):
        login_user(clerk)
        assert staff_scope().unit_ids == {district.puskesos[0].id}
        clerk.unit = district.secretariat
        db_session.flush()
        assert staff_scope().every_unit
