"""The sending policy: which gateway carries which message, each at its own pace.

Twilio (the local Twilio server) and the Android phone (the local fake phone) side by side,
through the real clients and the real send task.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from fakes.android import FakeAndroidPhone
from fakes.builders import make_district, make_referral
from fakes.twilio import FakeTwilio
from slrt import inbound, reminders
from slrt.extensions import db
from slrt.models import SmsMessage
from slrt.models.enums import SmsAudience, SmsStatus
from slrt.pii import new_key
from slrt.sending import Gateways, kind_of, parse_routes
from sms import ratelimit
from sms.android import AndroidGateway
from sms.twilio import TwilioGateway
from tests.conftest import JAKARTA

BPJS_ANI = "+6281225550101"


@pytest.fixture
def two_gateways(app, monkeypatch):
    """Twilio as the primary gateway, the phone beside it; digests and replies by the phone."""
    with FakeTwilio() as twilio, FakeAndroidPhone() as phone:
        tw = TwilioGateway(twilio.account_sid, twilio.auth_token, from_number="+15005550006", timeout=2,
                           api_base=twilio.url)
        android = AndroidGateway(phone.login, phone.password, phone.url, 2)
        monkeypatch.setitem(app.extensions, "slrt_sms", Gateways(
            primary=tw, by_name={"twilio": tw, "android": android}, limiter=ratelimit.Unlimited(),
            limiters={"android": ratelimit.Unlimited()},
            routes=parse_routes("digest=android", {"twilio", "android"})))
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

    by_phone = [(tuple(m.phone_numbers), m.text) for m in phone.messages]  # a number may get several, any order
    by_twilio = [(m.to, m.body) for m in twilio.messages]
    assert any("rujukan menunggu" in text for _, text in by_phone)  # the digests
    assert any("tercatat" in text for number, text in by_phone if number == (BPJS_ANI,))  # the reply
    assert any(to == resident_phone and "rujukan" in body for to, body in by_twilio)  # resident notices
    assert not any("rujukan menunggu" in body for _, body in by_twilio)
    rows = db_session.scalars(select(SmsMessage).where(SmsMessage.status == SmsStatus.SENT)).all()
    assert {m.gateway for m in rows if m.template_key == "agency_reminder_digest"} == {"android"}
    assert {m.gateway for m in rows if m.template_key == "referral_made"} == {"twilio"}
    # these are agency messages (digests, a reply to a contact): none waits for a receipt
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


def test_each_gateway_has_its_own_pace(monkeypatch):
    slept = []
    monkeypatch.setattr(ratelimit.time, "sleep", slept.append)  # the waits are recorded, not slept
    phone = ratelimit.build(100 / 3600, "sqla+sqlite:///x")
    bought = ratelimit.build(50, "sqla+sqlite:///x")
    assert phone.rate == pytest.approx(100 / 3600 * ratelimit.HEADROOM)
    assert bought.rate == pytest.approx(50 * ratelimit.HEADROOM)
    assert phone.acquire() == 0
    # Twilio's sends do not take the phone's slots, nor wait for them
    waits = [bought.acquire() for _ in range(3)]
    assert waits[0] == 0 and max(waits) < 0.1
    # the phone's next slot is still 37 s away (100 an hour, less the headroom)
    assert phone.acquire() == pytest.approx(3600 / 100 / ratelimit.HEADROOM, abs=1)


# ---- the same policy from the settings alone: sms.init_gateways as create_app runs it --------


def _settings(tmp_path, twilio, phone, **overrides):
    """An app's settings: Twilio as SLRT_SMS_GATEWAY, the phone beside it, digests and replies by the phone."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'wired.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        "SECRET_KEY": "test-secret", "SLRT_PII_KEY": new_key(), "SLRT_ANDROID_SIGNING_KEY": "test-signing-key",
        "SLRT_PASSWORD_HASH": "plaintext", "SLRT_SMS_DISPATCH": False,
        "SLRT_SMS_GATEWAY": "twilio", "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM_NUMBER": twilio.number,
        "SLRT_TWILIO_API_BASE": twilio.url, "SLRT_SMS_TIMEOUT": 2,
        "SLRT_ANDROID_URL": phone.url, "SLRT_ANDROID_LOGIN": phone.login, "SLRT_ANDROID_PASSWORD": phone.password,
        # One a second for the phone, no limit for Twilio: the phone's second message waits for its slot.
        "SLRT_ANDROID_RATE_PER_HOUR": 3600, "SLRT_SMS_RATE": 0,
        "SLRT_SMS_ROUTES": "digest=android,reply=android",
        **overrides,
    }


@pytest.fixture
def wired(tmp_path):
    """An app built by create_app from those settings, on its own migrated database."""
    with FakeTwilio() as twilio, FakeAndroidPhone() as phone:
        twilio.callbacks_enabled = False  # nothing listens at SLRT_PUBLIC_URL
        app = create_app(_settings(tmp_path, twilio, phone))
        app.instance_path = str(tmp_path)
        with app.app_context():
            upgrade()
            try:
                yield app, twilio, phone
            finally:
                db.session.remove()
                db.engine.dispose()


def test_the_settings_alone_send_digests_by_the_phone_at_its_pace_and_notices_by_twilio(wired, frozen,
                                                                                          monkeypatch):
    app, twilio, phone = wired
    configured = app.extensions["slrt_sms"]
    limiters = configured.limiters
    assert configured.primary.name == "twilio" and set(configured.by_name) == {"twilio", "android"}
    assert configured.route("reply_status", SmsAudience.RESIDENT) == "android"  # when the SMS came in on neither
    assert configured.limiter is limiters["twilio"]
    # the phone keeps its own pace (SLRT_ANDROID_RATE_PER_HOUR), Twilio none (SLRT_SMS_RATE=0)
    assert isinstance(limiters["android"], ratelimit.LocalLimiter)
    assert limiters["android"].rate == pytest.approx(ratelimit.HEADROOM)  # 3600 an hour
    assert isinstance(limiters["twilio"], ratelimit.Unlimited)
    waited = {"twilio": [], "android": []}
    for name, limiter in limiters.items():
        monkeypatch.setattr(limiter, "acquire", _recording(limiter.acquire, waited[name]))

    district = make_district()
    db.session.commit()
    resident_phone = make_referral(district).case.resident.phone
    db.session.commit()
    _send_pending(app)  # the resident's and the agency's notices of the referral
    frozen.move_to(datetime(2026, 12, 1, 10, 0, tzinfo=JAKARTA))  # no answer for a week: digests
    assert reminders.run_sweep().digests == 2  # one to each of the agency's two contacts
    db.session.commit()
    _send_pending(app)

    rows = db.session.scalars(select(SmsMessage).where(SmsMessage.status == SmsStatus.SENT)).all()
    assert sorted((m.template_key, m.gateway) for m in rows if m.template_key != "case_registered") == [
        ("agency_new_referral", "twilio"), ("agency_new_referral", "twilio"),  # agencies: SLRT_SMS_GATEWAY
        ("agency_reminder_digest", "android"), ("agency_reminder_digest", "android"),
        ("referral_made", "twilio")]
    assert len(phone.messages) == 2 and all("rujukan menunggu" in m.text for m in phone.messages)
    assert any(m.to == resident_phone and "rujukan" in m.body for m in twilio.messages)
    assert not any("rujukan menunggu" in m.body for m in twilio.messages)
    # every send took a slot from its own gateway's limiter; the phone's second digest waited for it
    assert len(waited["android"]) == 2 and len(waited["twilio"]) == len(twilio.messages) == 4
    assert waited["android"][0] == 0 and waited["android"][1] > 0.5


def _recording(acquire, waits: list):
    """The limiter's own ``acquire``, noting each wait."""

    def recorded() -> float:
        waits.append(acquire())
        return waits[-1]

    return recorded


def _send_pending(app):
    """Run the send task in this process for every pending message, as a worker would."""
    send = app.extensions["celery"].tasks["slrt.send_sms"]
    for message_id in db.session.scalars(select(SmsMessage.id).where(SmsMessage.status == SmsStatus.PENDING)).all():
        send.apply(args=[message_id])


@pytest.mark.parametrize(("overrides", "refused", "gateways"), [
    ({"SLRT_SMS_ROUTES": "bulk=android"}, "'bulk=android'", "android, twilio"),  # no such kind
    ({"SLRT_SMS_ROUTES": "digest=android", "SLRT_ANDROID_URL": ""}, "'digest=android'", "twilio"),  # no phone
    ({"SLRT_SMS_ROUTES": "digest=console"}, "'digest=console'", "android, twilio"),  # not configured
])
def test_a_policy_naming_a_kind_or_gateway_it_does_not_have_refuses_to_start(tmp_path, overrides, refused,
                                                                              gateways):
    with FakeTwilio() as twilio, FakeAndroidPhone() as phone:
        with pytest.raises(RuntimeError, match="SLRT_SMS_ROUTES") as refusal:
            create_app(_settings(tmp_path, twilio, phone, **overrides))
    # the setting, the part refused, and what this deployment has
    assert refused in str(refusal.value) and f"gateways: {gateways})" in str(refusal.value)
    assert "kinds: resident, agency, staff, digest, reply" in str(refusal.value)


def test_the_phone_is_given_the_validity_period(tmp_path):
    """SLRT_SMS_VALIDITY_SECONDS applies to the phone too: a message stuck on it expires, not arrives late."""
    with FakeTwilio() as twilio, FakeAndroidPhone() as phone:
        app = create_app(_settings(tmp_path, twilio, phone, SLRT_SMS_VALIDITY_SECONDS=600))
        android = app.extensions["slrt_sms"].by_name["android"]
        android.send(to="+6281225550199", body="Tes", reference="slrt-1", callback_url=None)
        assert phone.message("slrt-1").ttl == 600


def test_each_app_reads_the_sending_pause_for_itself(tmp_path, app):
    with FakeTwilio() as twilio, FakeAndroidPhone() as phone:
        other = create_app(_settings(tmp_path, twilio, phone))
    assert other.extensions["slrt_sending_paused"] is not app.extensions["slrt_sending_paused"]
