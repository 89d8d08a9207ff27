"""Every list pages through its rows exactly once, even when many share the sort value."""

import re

from fakes.builders import make_case
from slrt.models.enums import Role
from tests.web import Browser


def _ids(page: str, view: str) -> list[int]:
    return [int(i) for i in dict.fromkeys(re.findall(rf"/admin/{view}/details/\?id=(\d+)", page))]


def test_cases_opened_the_same_minute_page_through_exactly_once(app, district, db_session):
    cases = [make_case(district) for _ in range(130)]  # the clock is frozen: one opened_at for all
    db_session.commit()
    supervisor = Browser(app)
    supervisor.login(district.user(Role.SUPERVISOR).username)
    seen: list[int] = []
    for page in range(6):
        html = supervisor.get(f"/admin/case/?page={page}&page_size=25").get_data(as_text=True)
        seen += _ids(html, "case")
    assert sorted(seen) == sorted(c.id for c in cases)  # none repeated, none missing
    assert seen == sorted(seen, reverse=True)  # newest first, then by id, as the default sort says
    ascending = []
    for page in range(6):  # sorted by status (all "open"): a column of equal values
        html = supervisor.get(f"/admin/case/?sort=3&page={page}&page_size=25").get_data(as_text=True)
        ascending += _ids(html, "case")
    assert sorted(ascending) == sorted(c.id for c in cases)


def test_search_and_filter_forms_keep_the_lists_sort_and_page_size(app, district, db_session):
    make_case(district)
    db_session.commit()
    supervisor = Browser(app)
    supervisor.login(district.user(Role.SUPERVISOR).username)
    html = supervisor.get("/admin/case/?sort=3&desc=1&page_size=50").get_data(as_text=True)
    for form in ("filter_form", 'role="search"'):
        start = html.index(form)
        body = html[start:html.index("</form>", start)]
        assert '<input type="hidden" name="sort" value="3">' in body
        assert '<input type="hidden" name="desc" value="1">' in body
        assert '<input type="hidden" name="page_size" value="50">' in body
