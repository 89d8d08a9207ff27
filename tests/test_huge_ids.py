"""A huge number where an id is expected answers 'not found', never 500 (PostgreSQL refuses it as INTEGER)."""

import json

import pytest

from fakes.android import FakeAndroidPhone
from tests.test_admin_matrix import signed_in
from tests.test_delivery import signed  # noqa: F401  (fixture)

HUGE = "99999999999"


def test_a_signed_twilio_callback_for_a_huge_id_is_not_found(signed):  # noqa: F811
    response = signed(f"/sms/twilio/status/{HUGE}", {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert response.status_code == 404


def test_a_signed_phone_receipt_for_a_huge_id_changes_nothing(app, monkeypatch):
    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", "key")
    raw = json.dumps({"event": "sms:delivered", "payload": {"messageId": f"slrt-{HUGE}{HUGE}",
                                                            "deliveredAt": "2026-11-24T10:00:00+07:00"}}).encode()
    with app.app_context():
        response = app.test_client().post("/sms/android/status", data=raw,
                                          headers=FakeAndroidPhone.signed_headers("key", raw))
    assert response.status_code == 204


@pytest.mark.parametrize("view", ["case", "referral", "resident", "household", "sms"])
def test_a_record_page_with_a_huge_id_is_not_found(app, district, db_session, view):
    from slrt.models.enums import Role

    browser = signed_in(app, district, Role.SUPERVISOR)
    assert browser.get(f"/admin/{view}/details/?id={HUGE}").status_code == 404
