"""The Android-phone gateway on the real android-sms-gateway client, against the local fake phone;
the signed sms:received webhook through the app."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from fakes.android import FakeAndroidPhone, sign
from fakes.builders import make_referral
from slrt.codes import format_code
from slrt.models import SmsMessage
from slrt.models.enums import SmsDirection
from slrt.ports import GatewayError
from sms.android import ERRORS, AndroidGateway, classify

TO = "+6281234567890"
TIMEOUT = 0.5
KEY = "test-android-signing-key"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


# ---- the gateway against the fake phone -------------------------------------------------------

@pytest.fixture
def fake():
    with FakeAndroidPhone() as server:
        server.hang = 3 * TIMEOUT
        yield server


@pytest.fixture
def gateway(fake):
    return AndroidGateway(fake.login, fake.password, fake.url, TIMEOUT)


def test_send_hands_the_message_to_the_phone_under_our_reference(fake, gateway):
    provider_id = gateway.send(to=TO, body="Halo dari SLRT", reference="slrt-1", callback_url=None)
    assert provider_id == "slrt-1"
    stored = fake.message("slrt-1")
    assert stored.phone_numbers == [TO] and stored.text == "Halo dari SLRT" and stored.state == "Pending"


def test_lookup_finds_the_message_by_its_id_and_only_that(fake, gateway):
    gateway.send(to=TO, body="Halo", reference="slrt-2", callback_url=None)
    assert gateway.lookup(to=TO, body="Halo", reference="slrt-2", since=SINCE) == "slrt-2"
    assert gateway.lookup(to=TO, body="Halo", reference="slrt-3", since=SINCE) is None
    assert gateway.lookup(to=TO, body="Halo", reference="slrt-2", since=SINCE, exclude={"slrt-2"}) is None
    fake.set_state("slrt-2", "Failed")
    assert gateway.lookup(to=TO, body="Halo", reference="slrt-2", since=SINCE) is None


def test_a_send_that_timed_out_after_the_phone_took_it_is_found_again(fake, gateway):
    fake.fail_next("timeout_after_accept")
    with pytest.raises(GatewayError) as caught:
        gateway.send(to=TO, body="Halo", reference="slrt-4", callback_url=None)
    assert caught.value.transient and caught.value.outcome_unknown and caught.value.code == "timeout"
    assert gateway.lookup(to=TO, body="Halo", reference="slrt-4", since=SINCE) == "slrt-4"


@pytest.mark.parametrize(("kind", "code", "transient", "unknown", "effect"), [
    ("400", "http-400", False, False, None),
    ("401", "http-401", True, False, "pause"),
    ("429", "http-429", True, False, None),
    ("500", "http-500", True, True, None),
    ("502", "http-502", True, True, None),
    ("503", "http-503", True, True, None),
    ("timeout", "timeout", True, True, None),
    ("reset", "network-error", True, True, None),
])
def test_each_failure_maps_to_a_gateway_error(fake, gateway, kind, code, transient, unknown, effect):
    fake.fail_next(kind)
    with pytest.raises(GatewayError) as caught:
        gateway.send(to=TO, body="Halo", reference="slrt-5", callback_url=None)
    error = caught.value
    assert (error.code, error.transient, error.outcome_unknown, error.effect) == (code, transient, unknown, effect)
    assert TO not in str(error)
    if kind == "429":
        assert error.retry_after == fake.retry_after


def test_wrong_credentials_pause_sending(fake):
    gateway = AndroidGateway(fake.login, "wrong-password", fake.url, TIMEOUT)
    with pytest.raises(GatewayError) as caught:
        gateway.send(to=TO, body="Halo", reference="slrt-6", callback_url=None)
    assert caught.value.effect == "pause" and caught.value.transient
    assert fake.messages == []


def test_a_phone_that_is_off_cannot_have_the_message():
    with FakeAndroidPhone() as server:
        url = server.url
    gateway = AndroidGateway("sms", "x", url, TIMEOUT)
    with pytest.raises(GatewayError) as caught:
        gateway.send(to=TO, body="Halo", reference="slrt-7", callback_url=None)
    assert caught.value.transient and not caught.value.outcome_unknown and caught.value.code == "connect-error"


def test_a_failed_lookup_is_transient_and_unknown(fake, gateway):
    fake.fail_next("503", on="read")
    with pytest.raises(GatewayError) as caught:
        gateway.lookup(to=TO, body="Halo", reference="slrt-8", since=SINCE)
    assert caught.value.code == "lookup-failed" and caught.value.transient and caught.value.outcome_unknown


def test_the_error_table_and_unknown_statuses():
    assert ERRORS[400].transient is False and ERRORS[401].effect == "pause"
    assert classify(507).transient and not classify(418).transient and classify(None).code == "unknown"


# ---- the signed sms:received webhook ---------------------------------------------------------

@pytest.fixture
def deliver(app, monkeypatch):
    """Post an sms:received webhook as the phone would (FakeAndroidPhone's body and signature)."""
    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", KEY)
    client = app.test_client()
    phone_app = FakeAndroidPhone()  # never started: only its payloads and signatures are used

    def post(phone, text, *, message_id=None, key=KEY, timestamp=None, headers=None, payload=None):
        raw = json.dumps(payload or phone_app.inbound_payload(phone, text, message_id=message_id)).encode()
        sent = FakeAndroidPhone.signed_headers(key, raw, timestamp) if headers is None else headers
        with app.app_context():
            return client.post("/sms/android/inbound", data=raw, headers=sent)

    yield post
    phone_app.stop()


def _inbound(db_session):
    return db_session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)).all()


def _count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(SmsMessage))


def test_a_residents_cek_through_the_phone_is_answered_through_the_phone(district, db_session, deliver):
    case = make_referral(district).case
    response = deliver(case.resident.phone, f"CEK {format_code(case.ticket)}", message_id="abc123")
    assert response.status_code == 204
    received = [m for m in _inbound(db_session) if m.provider_id == "android:abc123"]
    assert len(received) == 1 and received[0].gateway == "android"
    replies = db_session.scalars(select(SmsMessage).where(
        SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.phone == case.resident.phone,
        SmsMessage.template_key == "reply_status")).all()
    assert len(replies) == 1 and replies[0].gateway == "android"
    assert format_code(case.ticket) in replies[0].body


def test_a_repeated_webhook_is_stored_and_answered_once(district, db_session, deliver):
    case = make_referral(district).case
    for _ in range(2):
        assert deliver(case.resident.phone, f"CEK {format_code(case.ticket)}", message_id="dup1").status_code == 204
    assert len([m for m in _inbound(db_session) if m.provider_id == "android:dup1"]) == 1
    assert len(db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == "reply_status")).all()) == 1


@pytest.mark.parametrize("forgery", ["wrong_key", "stale", "future", "no_signature", "no_timestamp", "no_headers",
                                     "tampered"])
def test_unsigned_forged_or_stale_webhooks_are_refused_and_store_nothing(district, db_session, deliver, forgery):
    case = make_referral(district).case
    db_session.commit()  # a refused webhook rolls its request's session back
    before = _count(db_session)
    text = f"CEK {format_code(case.ticket)}"
    now = int(time.time())
    payload = FakeAndroidPhone().inbound_payload(case.resident.phone, text)
    raw = json.dumps(payload).encode()
    good = FakeAndroidPhone.signed_headers(KEY, raw, now)
    cases = {
        "wrong_key": {"payload": payload, "key": "not-our-key"},
        "stale": {"payload": payload, "timestamp": now - 301},
        "future": {"payload": payload, "timestamp": now + 301},
        "no_signature": {"payload": payload, "headers": {"Content-Type": "application/json",
                                                         "X-Timestamp": good["X-Timestamp"]}},
        "no_timestamp": {"payload": payload, "headers": {"Content-Type": "application/json",
                                                         "X-Signature": good["X-Signature"]}},
        "no_headers": {"payload": payload, "headers": {"Content-Type": "application/json"}},
        # Signed for another text: the body we get is not the body that was signed.
        "tampered": {"payload": {**payload, "payload": {**payload["payload"], "message": "STOP"}},
                     "headers": good},
    }
    response = deliver(case.resident.phone, text, **cases[forgery])
    assert response.status_code == 403
    assert _count(db_session) == before


def test_the_signature_is_hmac_sha256_over_body_then_timestamp():
    import hashlib
    import hmac

    assert sign("k", b'{"a":1}', "1700000000") == hmac.new(b"k", b'{"a":1}1700000000', hashlib.sha256).hexdigest()


def test_other_events_are_acknowledged_and_ignored(district, db_session, deliver):
    db_session.commit()
    before = _count(db_session)
    payload = {"event": "system:ping", "payload": {}, "id": "x", "deviceId": "d", "webhookId": "w"}
    assert deliver("", "", payload=payload).status_code == 204
    assert _count(db_session) == before


def signed_with(key: str, request) -> bool:
    """Is the posted ``request`` signed as the app signs: HMAC-SHA256(key, body + X-Timestamp)?"""
    expected = hmac.new(key.encode(), request.get_data() + request.headers["X-Timestamp"].encode(),
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["X-Signature"])


def test_deliver_inbound_signs_like_the_app(fake, httpserver):
    """FakeAndroidPhone.deliver_inbound posts raw body + X-Timestamp signed with the key (checked by a receiver)."""
    httpserver.expect_request("/sms/android/inbound", method="POST").respond_with_data("", status=204)
    status = fake.deliver_inbound(httpserver.url_for("/sms/android/inbound"), TO, "CEK 123", KEY)
    [(request, _response)] = httpserver.log
    seen = [(json.loads(request.get_data()), signed_with(KEY, request))]
    assert status == 204
    body, valid = seen[0]
    assert valid and body["event"] == "sms:received" and body["payload"]["phoneNumber"] == TO
    assert body["payload"]["message"] == "CEK 123"
