"""The sending policy: which gateway carries which message, each at its own pace.

Twilio (the local Twilio server) and the Android phone (the local fake phone) side by side,
through the real clients and the real send task.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from slrt import inbound, reminders
from slrt.models import SmsMessage
from slrt.models.enums import SmsAudience, SmsStatus
from sms import kind_of, parse_routes, ratelimit
from sms.android import AndroidGateway
from sms.android_mock import FakeAndroid
from sms.twilio import TwilioGateway
from sms.twilio_mock import FakeTwilio
from tests.builders import make_referral
from tests.conftest import JAKARTA

BPJS_ANI = "+6281225550101"


@pytest.fixture
def two_gateways(app, monkeypatch):
    """Twilio as the primary gateway, the phone beside it; digests and replies by the phone."""
    with FakeTwilio() as twilio, FakeAndroid() as phone:
        tw = TwilioGateway(twilio.account_sid, twilio.auth_token, from_number="+15005550006", timeout=2,
                           api_base=twilio.url)
        android = AndroidGateway(phone.login, phone.password, phone.url, 2)
        monkeypatch.setitem(app.extensions, "slrt_sms_gateway", tw)
        monkeypatch.setitem(app.extensions, "slrt_sms_gateways", {"twilio": tw, "android": android})
        monkeypatch.setitem(app.extensions, "slrt_sms_routes", parse_routes("digest=android", {"twilio", "android"}))
        monkeypatch.setitem(app.extensions, "slrt_sms_limiters", {"twilio": ratelimit.Unlimited(),
                                                                  "android": ratelimit.Unlimited()})
        yield twilio, phone


def _send_all(db_session, send):
    for message_id in db_session.scalars(select(SmsMessage.id).where(SmsMessage.status == SmsStatus.PENDING)):
        send(message_id)


def test_notices_go_by_twilio_digests_and_replies_by_the_phone(district, db_session, send, two_gateways, frozen):
    twilio, phone = two_gateways
    made = []
    for day in (24, 25):
        frozen.move_to(datetime(2026, 11, day, 10, 0, tzinfo=JAKARTA))
        made.append(make_referral(district))
    resident_phone = made[0].case.resident.phone  # (the second one's notice is stale once accepted)
    frozen.move_to(datetime(2026, 12, 1, 10, 0, tzinfo=JAKARTA))
    assert reminders.run_sweep().digests == 2
    inbound.receive(phone=BPJS_ANI, body="TERIMA 2", provider_id="android:in-1", gateway="android")
    _send_all(db_session, send)

    by_phone = {tuple(m.phone_numbers): m.text for m in phone.messages}
    by_twilio = [(m.to, m.body) for m in twilio.messages]
    assert any("rujukan menunggu" in text for text in by_phone.values())  # the digests
    assert any("tercatat" in text for number, text in by_phone.items() if number == (BPJS_ANI,))  # the reply
    assert any(to == resident_phone and "rujukan" in body for to, body in by_twilio)  # resident notices
    assert not any("rujukan menunggu" in body for _, body in by_twilio)
    rows = db_session.scalars(select(SmsMessage).where(SmsMessage.status == SmsStatus.SENT)).all()
    assert {m.gateway for m in rows if m.template_key == "agency_reminder_digest"} == {"android"}
    assert {m.gateway for m in rows if m.template_key == "referral_made"} == {"twilio"}
    # the phone gives no delivery receipts: nothing waits for one
    assert all(m.receipt_due_at is None for m in rows if m.gateway == "android")


def test_a_retry_stays_on_the_gateway_that_had_the_first_attempt(district, db_session, send, two_gateways):
    twilio, phone = two_gateways
    make_referral(district)
    notice = db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == "referral_made"))
    notice.gateway = "android"  # a first attempt went to the phone (a lookup must ask the phone)
    db_session.flush()
    send(notice.id)
    assert len(phone.messages) == 1 and not [m for m in twilio.messages if m.to == notice.phone]


@pytest.mark.parametrize(("key", "audience", "kind"), [
    ("reply_status", SmsAudience.RESIDENT, "reply"),
    ("agency_reminder_digest", SmsAudience.AGENCY, "digest"),
    ("agency_new_referral", SmsAudience.AGENCY, "agency"),
    ("referral_made", SmsAudience.RESIDENT, "resident"),
    ("staff_escalation", SmsAudience.STAFF, "staff"),
])
def test_kinds_of_message(key, audience, kind):
    assert kind_of(key, audience) == kind


@pytest.mark.parametrize("spec", ["digest=android", "bulk=twilio", "reply"])
def test_a_route_to_a_gateway_or_kind_not_configured_is_refused(spec):
    with pytest.raises(RuntimeError, match="SLRT_SMS_ROUTES"):
        parse_routes(spec, {"twilio"})


def test_each_gateway_has_its_own_pace():
    phone = ratelimit.build(100 / 3600, "sqla+sqlite:///x")
    bought = ratelimit.build(50, "sqla+sqlite:///x")
    assert phone is not bought and isinstance(phone, ratelimit.LocalLimiter)
