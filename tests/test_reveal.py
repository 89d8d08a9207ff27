"""Full NIK and KK numbers only on an explicit "Tampilkan NIK"/"Tampilkan KK" (a POST, by role) and, in
exports, only for a manager who gives a reason; every other page and file shows them masked.

Pages and files are scanned for the 16 digits themselves (issue 17, item 2)."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from fakes.builders import make_case, make_referral, make_resident
from slrt import residents
from slrt.access import may_reveal_kk, may_reveal_nik
from slrt.models.enums import Role
from tests.test_admin_matrix import signed_in


@pytest.fixture
def family(district, db_session):
    """A resident of Jepon in a registered household, with an open case."""
    household = residents.register_household(kk_number="3316011203090017", address="RT 02 RW 01",
                                              village=district.villages[0], actor=district.user(Role.FRONT_OFFICE))
    resident = make_resident(district, household=household)
    make_case(district, resident)
    db_session.commit()
    return resident


def _reveal_form(page: str, what: str) -> str | None:
    """The action of the page's "Tampilkan" button for ``what``, or None when the page has none."""
    found = re.search(r'<form method="post" action="([^"]+)" class="reveal[^>]*>(?:(?!</form>).)*name="what" '
                      rf'value="{what}"', page, re.S)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize("role", [Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER])
def test_the_resident_page_masks_the_nik_and_reveals_it_on_the_button(app, district, family, role):
    browser = signed_in(app, district, role)
    page = browser.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and family.nik_masked in page
    assert family.household.kk_number not in page and family.household.kk_masked in page
    action = _reveal_form(page, "nik")
    assert action == f"/admin/resident/reveal/?id={family.id}" and "Tampilkan NIK" in page
    revealed = browser.post(action, {"what": "nik"})
    assert revealed.status_code == 200
    page = revealed.get_data(as_text=True)
    assert f'data-revealed="nik">{family.nik}<' in page
    assert family.household.kk_number not in page  # one number per click
    page = browser.post(_reveal_form(page, "kk"), {"what": "kk"}).get_data(as_text=True)
    assert f'data-revealed="kk">{family.household.kk_number}<' in page and family.nik not in page
    # The next visit shows them masked again.
    page = browser.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and family.household.kk_number not in page


def test_the_household_page_masks_the_kk_and_reveals_it_on_the_button(app, district, family):
    household = family.household
    browser = signed_in(app, district, Role.BACK_OFFICE)
    page = browser.get(f"/admin/household/details/?id={household.id}").get_data(as_text=True)
    assert household.kk_number not in page and household.kk_masked in page and family.nik not in page
    action = _reveal_form(page, "kk")
    assert action == f"/admin/household/reveal/?id={household.id}" and "Tampilkan KK" in page
    page = browser.post(action, {"what": "kk"}).get_data(as_text=True)
    assert f'data-revealed="kk">{household.kk_number}<' in page
    assert browser.post(action, {"what": "nik"}).status_code == 404  # a household has no NIK


def test_the_front_office_gets_no_button_and_the_post_is_refused(app, district, family):
    clerk = signed_in(app, district, Role.FRONT_OFFICE)
    page = clerk.get(f"/admin/resident/details/?id={family.id}").get_data(as_text=True)
    assert family.nik not in page and _reveal_form(page, "nik") is None and _reveal_form(page, "kk") is None
    for what in ("nik", "kk"):
        response = clerk.post(f"/admin/resident/reveal/?id={family.id}", {"what": what})
        assert response.status_code == 403 and family.nik.encode() not in response.data
    response = clerk.post(f"/admin/household/reveal/?id={family.household_id}", {"what": "kk"})
    assert response.status_code == 403 and family.household.kk_number.encode() not in response.data


def test_staff_of_another_village_cannot_reveal(app, district, family):
    palon = district.user(Role.SUPERVISOR, district.puskesos[1])
    assert not may_reveal_nik(palon, palon, family) and not may_reveal_kk(palon, palon, family.household)
    browser = signed_in(app, district, Role.SUPERVISOR, district.puskesos[1])
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik"}).status_code == 404
    assert browser.post(f"/admin/household/reveal/?id={family.household_id}", {"what": "kk"}).status_code == 404


def test_the_reveal_is_a_post_with_its_csrf_token(app, district, family):
    browser = signed_in(app, district, Role.MANAGER)
    assert browser.get(f"/admin/resident/reveal/?id={family.id}&what=nik").status_code == 405
    response = browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik"}, token=False)
    assert response.status_code == 400 and family.nik.encode() not in response.data


@pytest.mark.parametrize("url", ["/admin/resident/reveal/?id=99999999999999999999", "/admin/resident/reveal/?id=abc",
                                 "/admin/resident/reveal/", "/admin/household/reveal/?id=-1"])
def test_junk_reveal_requests_are_not_found(app, district, family, url):
    browser = signed_in(app, district, Role.MANAGER)
    assert browser.post(url, {"what": "nik"}).status_code == 404
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {"what": "nik\x00"}).status_code in (400, 404)
    assert browser.post(f"/admin/resident/reveal/?id={family.id}", {}).status_code == 404


def test_the_referral_letter_shows_the_full_nik_to_who_may_reveal_it(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    resident = referral.case.resident
    back = signed_in(app, district, Role.BACK_OFFICE)
    assert resident.nik in back.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    clerk = signed_in(app, district, Role.FRONT_OFFICE, district.puskesos[0])
    page = clerk.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    assert resident.nik not in page and resident.nik_masked in page


def test_no_list_shows_a_full_nik_or_kk(app, district, family, db_session):
    make_referral(district, family.cases[0] if hasattr(family, "cases") else None)
    db_session.commit()
    manager = signed_in(app, district, Role.MANAGER)
    for url in ("/admin/resident/", "/admin/household/", "/admin/case/", "/admin/referral/", "/admin/followup/",
                "/admin/dtsen-proposal/"):
        page = manager.get(url).get_data(as_text=True)
        assert family.nik not in page and family.household.kk_number not in page, url


def _xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)
